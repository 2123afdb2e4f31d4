// The official `openai` npm client (pinned in tests/node) against a real reamd serving the
// tiny random-weight model: models, chat (streamed and not, n, logprobs, json_schema, tools),
// completions, errors raised as the client's error classes, the seed call, and the
// real Qwen3 chat template rendered by @huggingface/jinja (transformers.js's Jinja) against
// reamd's own rendering. If reamd's shapes drift from OpenAI's, the client or an assert fails.
//
// Run by CTest (tests/openai/CMakeLists.txt sets the environment): REAMD, REAM, REAM_SOURCE_DIR,
// REAM_PLUGIN_DIR, REAM_TOKENIZER_DIR and NODE_PATH (tests/node/node_modules).
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn, execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const OpenAI = require("openai");
const Ajv = require("ajv/dist/2020");
const { Template } = require("@huggingface/jinja");

const { freePort } = require("../node/free_port.cjs");

const env = process.env;
const MODEL = "ream-node-test";
const KEY = crypto.randomBytes(24).toString("hex");

let dir, daemon, base, client, log = "";

async function rest(method, route, body) {
  const r = await fetch(base + route, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, text, json: () => JSON.parse(text) };
}

async function metric(name) {
  const r = await rest("GET", "/metrics");
  const line = r.text.split("\n").find((l) => l.startsWith(name + " "));
  return line === undefined ? -1 : Number(line.split(" ")[1]);
}

// Waits (bounded) until the engine has nothing running or waiting.
async function engineIdle() {
  for (let i = 0; i < 600; i++) {
    if ((await metric("reamd_engine_requests_running")) === 0 && (await metric("reamd_engine_requests_waiting")) === 0) {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ream-openai-client-"));
  execFileSync(env.REAM, ["init-model", "--shape", "tiny", "--out", path.join(dir, "tiny")], { stdio: "ignore" });
  const port = await freePort();
  const digest = crypto.createHash("sha256").update(KEY).digest("hex");
  fs.writeFileSync(path.join(dir, "reamd.yaml"), [
    `data_dir: ${dir}/data`,
    "engine:",
    `  model: ${dir}/tiny`,
    "  threads: 1",
    `  served_model_name: ${MODEL}`,
    `workflows: [${env.REAM_SOURCE_DIR}/workflows]`,
    `plugins: [${env.REAM_PLUGIN_DIR}]`,
    "auth:",
    "  keys:",
    "    - name: tester",
    `      sha256: "${digest}"`,
    "      role: submit",
    "",
  ].join("\n"));
  daemon = spawn(env.REAMD, ["--config", path.join(dir, "reamd.yaml"), "--listen", `127.0.0.1:${port}`]);
  daemon.stdout.on("data", (d) => (log += d));
  daemon.stderr.on("data", (d) => (log += d));
  base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await rest("GET", "/readyz")).status === 200) break;
    } catch (e) { /* not listening yet */ }
    if (i > 900 || daemon.exitCode !== null) throw new Error("reamd did not come up:\n" + log);
    await new Promise((r) => setTimeout(r, 100));
  }
  client = new OpenAI({ apiKey: KEY, baseURL: `${base}/v1`, maxRetries: 0, timeout: 120000 });
});

after(() => {
  if (daemon) daemon.kill("SIGKILL");
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const user = (text) => [{ role: "user", content: text }];

test("models: list and retrieve carry the served name and the context length", async () => {
  const list = await client.models.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].id, MODEL);
  assert.equal(list.data[0].object, "model");
  assert.equal(list.data[0].max_model_len, 262144);
  const one = await client.models.retrieve(MODEL);
  assert.equal(one.id, MODEL);
  await assert.rejects(client.models.retrieve("gpt-4o"), (e) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found");
});

test("chat: a plain reply and the same greedy reply streamed", async () => {
  const req = { model: MODEL, messages: user("Name a river."), max_tokens: 8, temperature: 0 };
  const r = await client.chat.completions.create(req);
  assert.equal(r.object, "chat.completion");
  assert.equal(r.model, MODEL);
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(["length", "stop"].includes(r.choices[0].finish_reason));
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  assert.equal(typeof r.usage.prompt_tokens_details.cached_tokens, "number");
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null, finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? "";
      finish = c.finish_reason ?? finish;
    }
  }
  assert.equal(text, r.choices[0].message.content);
  assert.equal(finish, r.choices[0].finish_reason);
  assert.deepEqual(usage.completion_tokens, r.usage.completion_tokens);
  // The client's own stream helper assembles the same message.
  const helper = client.chat.completions.stream(req);
  const final = await helper.finalChatCompletion();
  assert.equal(final.choices[0].message.content, r.choices[0].message.content);
});

test("the seed user's call: stream=True, max_tokens=8192, temperature=0.7; leaving cancels it", async () => {
  const stream = await client.chat.completions.create({
    model: MODEL, messages: user("Review this clause."), stream: true, max_tokens: 8192, temperature: 0.7,
  });
  let chunks = 0, text = "";
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (++chunks === 48) break;  // the whole 8192 tokens take ~40 s on one CPU thread; leave instead
  }
  assert.equal(chunks, 48);
  assert.ok(text.length > 0);
  assert.ok(await engineIdle(), "breaking out of the stream cancelled the engine request");
});

test("n: independent choices, seeds seed + i, usage summed", async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: user("Hi"), n: 3, seed: 11, max_tokens: 5, temperature: 1 });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
  const second = await client.chat.completions.create({ model: MODEL, messages: user("Hi"), seed: 12, max_tokens: 5, temperature: 1 });
  assert.equal(r.choices[1].message.content, second.choices[0].message.content);
  const stream = await client.chat.completions.create({ model: MODEL, messages: user("Hi"), n: 3, seed: 11, max_tokens: 5,
    temperature: 1, stream: true });
  const texts = ["", "", ""];
  for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.delta.content ?? "";
  assert.deepEqual(texts, r.choices.map((c) => c.message.content));
});

test("logprobs: OpenAI's chat shape, streamed too", async () => {
  const req = { model: MODEL, messages: user("Count"), max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 2 };
  const r = await client.chat.completions.create(req);
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  for (const t of content) {
    assert.equal(typeof t.token, "string");
    assert.ok(t.logprob <= 0);
    assert.ok(Array.isArray(t.bytes));
    assert.equal(t.top_logprobs.length, 2);
    assert.equal(t.top_logprobs[0].token, t.token);
  }
  const stream = await client.chat.completions.create({ ...req, stream: true });
  const streamed = [];
  for await (const chunk of stream) for (const c of chunk.choices) streamed.push(...(c.logprobs?.content ?? []));
  assert.deepEqual(streamed, content);
});

// Enums and bounded numbers: a random-weight model under a free-string constraint may take
// hundreds of tokens to happen on a closing quote.
const schema = {
  type: "object",
  properties: { river: { enum: ["Nile", "Amazon", "Danube"] }, length_km: { type: "integer", minimum: 0, maximum: 9999 },
    navigable: { type: "boolean" } },
  required: ["river", "length_km", "navigable"],
  additionalProperties: false,
};

test("response_format json_schema is accepted with OpenAI's request shape", async () => {
  const r = await client.chat.completions.create({
    model: MODEL, messages: user("A river as JSON"), max_tokens: 4,
    response_format: { type: "json_schema", json_schema: { name: "river", schema, strict: true } },
  });
  assert.equal(r.choices[0].message.role, "assistant");
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: user("x"),
    response_format: { type: "json_schema", json_schema: { schema } } }),
  (e) => e instanceof OpenAI.BadRequestError && e.param === "response_format.json_schema.name");
});

test("response_format json_schema: the reply parses and validates (ajv)", async () => {
  const validate = new Ajv().compile(schema);
  for (const stream of [false, true]) {
    const req = { model: MODEL, messages: user("A river as JSON"), max_tokens: 1000, temperature: 1, n: 2,
      response_format: { type: "json_schema", json_schema: { name: "river", schema, strict: true } } };
    let texts;
    if (stream) {
      texts = ["", ""];
      for await (const chunk of await client.chat.completions.create({ ...req, stream })) {
        for (const c of chunk.choices) texts[c.index] += c.delta.content ?? "";
      }
    } else {
      texts = (await client.chat.completions.create(req)).choices.map((c) => c.message.content);
    }
    for (const text of texts) assert.ok(validate(JSON.parse(text)), text + " " + JSON.stringify(validate.errors));
  }
});

test("response_format json_schema: free strings close within a small max_tokens, and the reply parses", async () => {
  // The random model never closes a free string by itself; the engine closes it in time.
  const notes = { type: "object", properties: { title: { type: "string" }, points: { type: "array", items: { type: "string" } } },
    required: ["title", "points"], additionalProperties: false };
  const validate = new Ajv().compile(notes);
  for (const stream of [false, true]) {
    const req = { model: MODEL, messages: user("Notes as JSON"), max_tokens: 40, temperature: 1, n: 2,
      response_format: { type: "json_schema", json_schema: { name: "notes", schema: notes, strict: true } } };
    let texts, reasons;
    if (stream) {
      texts = ["", ""];
      reasons = [null, null];
      for await (const chunk of await client.chat.completions.create({ ...req, stream })) {
        for (const c of chunk.choices) {
          texts[c.index] += c.delta.content ?? "";
          if (c.finish_reason) reasons[c.index] = c.finish_reason;
        }
      }
    } else {
      const r = await client.chat.completions.create(req);
      texts = r.choices.map((c) => c.message.content);
      reasons = r.choices.map((c) => c.finish_reason);
      assert.ok(r.usage.completion_tokens <= 80, JSON.stringify(r.usage));
    }
    for (const [i, text] of texts.entries()) {
      assert.ok(["stop", "length"].includes(reasons[i]), String(reasons[i]));
      assert.ok(validate(JSON.parse(text)), text + " " + JSON.stringify(validate.errors));
    }
  }
});

test("response_format json_schema: a keyword the engine cannot enforce is a 400 naming the field", async () => {
  const loose = { type: "object", patternProperties: { "^x": { type: "integer" } } };
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: user("x"), max_tokens: 4,
    response_format: { type: "json_schema", json_schema: { name: "loose", schema: loose } } }),
  (e) => e instanceof OpenAI.BadRequestError && e.param === "response_format.json_schema.schema" &&
    /patternProperties/.test(e.message));
});

const weather = {
  type: "function",
  function: {
    name: "get_weather", description: "Weather in a city",
    parameters: { type: "object", properties: { city: { enum: ["Oslo", "Paris"] }, days: { type: "integer", minimum: 1, maximum: 7 } },
      required: ["city"], additionalProperties: false },
  },
};

test("tools: auto is accepted, and a tool conversation renders", async () => {
  const r = await client.chat.completions.create({
    model: MODEL, max_tokens: 4, tools: [weather], tool_choice: "auto",
    messages: [
      { role: "user", content: "Weather in Oslo?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function",
        function: { name: "get_weather", arguments: "{\"city\": \"Oslo\"}" } }] },
      { role: "tool", tool_call_id: "call_1", content: "-3 C" },
    ],
  });
  assert.ok(["stop", "length", "tool_calls"].includes(r.choices[0].finish_reason));
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: user("x"), tools: [weather],
    tool_choice: { type: "function", function: { name: "nope" } } }),
  (e) => e instanceof OpenAI.BadRequestError && e.param === "tool_choice.function.name");
});

test("tools: a forced call is a valid call, whole and streamed", async () => {
  const validate = new Ajv().compile(weather.function.parameters);
  for (const tool_choice of ["required", { type: "function", function: { name: "get_weather" } }]) {
    const req = { model: MODEL, messages: user("Weather in Oslo?"), tools: [weather], tool_choice, max_tokens: 1000 };
    const r = await client.chat.completions.create(req);
    assert.equal(r.choices[0].finish_reason, "tool_calls");
    const call = r.choices[0].message.tool_calls[0];
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, "get_weather");
    assert.ok(validate(JSON.parse(call.function.arguments)), call.function.arguments);
    const final = await client.chat.completions.stream(req).finalChatCompletion();
    const streamed = final.choices[0].message.tool_calls[0];
    assert.equal(streamed.function.name, "get_weather");
    assert.ok(validate(JSON.parse(streamed.function.arguments)), streamed.function.arguments);
  }
});

test("logit_bias steers the sampled tokens", async () => {
  const id = (await rest("POST", "/tokenize", { prompt: " river" })).json().tokens[0];
  const r = await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 5, temperature: 1, logprobs: 0,
    logit_bias: { [String(id)]: 100 } });
  for (const t of r.choices[0].logprobs.tokens) assert.equal(t, " river");
});

test("completions: text, token ids, streamed, with logprobs", async () => {
  const r = await client.completions.create({ model: MODEL, prompt: "Once upon", max_tokens: 5, temperature: 0, logprobs: 2 });
  assert.equal(r.object, "text_completion");
  assert.equal(r.choices[0].logprobs.tokens.length, 5);
  assert.equal(r.choices[0].logprobs.text_offset[0], 0);
  const ids = (await rest("POST", "/tokenize", { prompt: "Once upon" })).json().tokens;
  const byIds = await client.completions.create({ model: MODEL, prompt: ids, max_tokens: 5, temperature: 0 });
  assert.equal(byIds.choices[0].text, r.choices[0].text);
  let text = "";
  for await (const chunk of await client.completions.create({ model: MODEL, prompt: "Once upon", max_tokens: 5,
    temperature: 0, stream: true })) {
    text += chunk.choices[0]?.text ?? "";
  }
  assert.equal(text, r.choices[0].text);
  const many = await client.completions.create({ model: MODEL, prompt: ["a", "b"], n: 2, max_tokens: 2 });
  assert.deepEqual(many.choices.map((c) => c.index), [0, 1, 2, 3]);
});

test("errors: the client raises BadRequestError, NotFoundError and AuthenticationError", async () => {
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: user("x"), temperature: "hot" }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === "temperature" &&
      e.type === "invalid_request_error" && /temperature/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: user("x"), frobnicate: true }),
    (e) => e instanceof OpenAI.BadRequestError && /Unrecognized request argument supplied: frobnicate/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: user("x"), audio: { voice: "alloy", format: "mp3" } }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === "unsupported_parameter" && e.param === "audio");
  await assert.rejects(client.chat.completions.create({ model: "gpt-4o", messages: user("x") }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found" && e.param === "model");
  const stranger = new OpenAI({ apiKey: "not-a-key", baseURL: `${base}/v1`, maxRetries: 0 });
  await assert.rejects(stranger.chat.completions.create({ model: MODEL, messages: user("x") }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(stranger.models.list(), (e) => e instanceof OpenAI.AuthenticationError);
});

// The real Qwen3 template (tokenizer_config.json) rendered by @huggingface/jinja; reamd's
// rendering is read back through /tokenize and /detokenize.
test("chat template: reamd renders tools, tool calls and tool results as the real template does", async () => {
  const config = JSON.parse(fs.readFileSync(path.join(env.REAM_TOKENIZER_DIR, "tokenizer_config.json"), "utf8"));
  const template = new Template(config.chat_template);
  const lookup = { type: "function", function: { name: "lookup", description: "Find a clause; \"quoted\" ünïcode",
    parameters: { type: "object", properties: { q: { type: "string" }, limit: { type: "integer", minimum: 1 } }, required: ["q"] } } };
  const conversations = [
    { messages: [{ role: "user", content: "Hi" }] },
    { messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }], tools: [lookup, weather] },
    { messages: [{ role: "user", content: "Hi" }], tools: [lookup] },
    { tools: [lookup, weather], messages: [
      { role: "system", content: "You review contracts." },
      { role: "user", content: "Who may terminate?" },
      { role: "assistant", content: "", tool_calls: [
        { id: "a", type: "function", function: { name: "lookup", arguments: "{\"q\": \"terminate\"}" } },
        { id: "b", type: "function", function: { name: "get_weather", arguments: { city: "Oslo" } } }] },
      { role: "tool", tool_call_id: "a", content: "Either party, on 30 days' notice." },
      { role: "tool", tool_call_id: "b", content: "-3 C" },
      { role: "assistant", content: "Let me check more.", tool_calls: [
        { id: "c", type: "function", function: { name: "lookup", arguments: "{\"q\": \"notice\", \"limit\": 2}" } }] },
      { role: "tool", tool_call_id: "c", content: "Notice in writing." },
    ] },
  ];
  for (const conv of conversations) {
    const want = template.render({ messages: conv.messages, tools: conv.tools, add_generation_prompt: true });
    const body = { model: MODEL, messages: conv.messages };
    if (conv.tools) body.tools = conv.tools;
    const tok = await rest("POST", "/tokenize", body);
    assert.equal(tok.status, 200, tok.text);
    const got = (await rest("POST", "/detokenize", { tokens: tok.json().tokens })).json().prompt;
    assert.equal(got, want);
  }
});
