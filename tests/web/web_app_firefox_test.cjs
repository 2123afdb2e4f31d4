// reamd's web app in Firefox: Debian's firefox-esr, headless, driven by puppeteer-core over
// WebDriver BiDi (tests/node, pinned; no browser download), against real reamd daemons on
// the tiny random-weight model. It runs the Chromium test's tour (web_app_test.cjs) in the
// other engine, each scenario written against puppeteer's API:
//   - a contract uploaded through the file picker; keyword_spotting from the form, followed
//     live; a verified finding highlighted, focused, at reamd's offset;
//   - chat: a streamed reply with its counts, kept across a reload, a follow-up from the
//     prefix cache, stopped;
//   - keyboard only: run a workflow, open a finding at its passage, open the file picker;
//   - the originals beside the text: a 10-K in its frame, a real PDF's page by pdf.js,
//     the passage highlighted in each;
//   - documents: a PDF dropped, listed, paged through in the viewer, removed;
//   - a daemon with API keys: the page asks, refuses a wrong key, works with the right one;
//   - schedules made from the inputs form, paused, deleted; the jobs list; operators;
//   - legal_review: findings filtered, unverified quotes marked; the downloads (JSON equal
//     to the API's result, Markdown naming each finding, SARIF valid against 2.1.0);
//   - a source tree: code_audit's downloads; keyword_spotting's findings at file and line.
// axe-core runs on each view. Not here: the checks of the app's files' headers (made with
// Node's fetch, the same whatever the browser: the Chromium test has them); screenshots.
// Any script error or CSP violation fails it. Run by CTest (tests/web/CMakeLists.txt).
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const puppeteer = require("puppeteer-core");
const { CONTRACT, TREE_FILES, makeTree, makeWorkDir, startDaemon } = require("./reamd.cjs");
const { tabTo } = require("./keyboard.cjs");
// SARIF 2.1.0's JSON schema, checked by ajv (tests/node/validate_sarif.cjs).
const { validateSarif } = require(path.join(process.env.REAM_SOURCE_DIR, "tests/node/validate_sarif.cjs"));

const env = process.env;
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const TENK = path.join(env.REAM_SOURCE_DIR, "tests/data/documents/edgar/aapl-10-k-2024-11-01.html");
const SPEC_PDF = path.join(env.REAM_SOURCE_DIR, "tests/data/documents/pdf/shared-mime-info-spec.pdf");
const KEY = crypto.randomBytes(24).toString("hex");
let dir, daemon, short, keyed, browser, TREE;
const daemons = [];

before(async () => {
  assert.ok(fs.existsSync(env.FIREFOX), `firefox-esr not found at ${env.FIREFOX} (scripts/setup.sh installs Debian's firefox-esr)`);
  dir = makeWorkDir();
  TREE = makeTree(dir);
  // As in the Chromium test: `short` has a 4,096-token context, so that keyword_spotting
  // over the 10-K and the PDF locates its occurrences without prefilling them on the CPU.
  const started = await Promise.allSettled([startDaemon(dir, "firefox", { roots: [TREE] }), startDaemon(dir, "short", { maxModelLen: 4096 }),
    startDaemon(dir, "keyed", { key: KEY })]);
  for (const s of started) if (s.status === "fulfilled") daemons.push(s.value);
  for (const s of started) if (s.status === "rejected") throw s.reason;
  [daemon, short, keyed] = started.map((s) => s.value);
  browser = await puppeteer.launch({ browser: "firefox", executablePath: env.FIREFOX, headless: true });
});

after(async () => {
  if (browser) await browser.close();
  for (const d of daemons) d.proc.kill("SIGKILL");
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// A page that records script errors and CSP violations (the page reports each one as a
// securitypolicyviolation event; the listener is installed before the app's scripts run).
async function newPage(d = daemon) {
  const page = await browser.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") page.problems.push(m.text()); });
  await page.evaluateOnNewDocument(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(d.base + "/");
  return page;
}

// axe-core's rules on the page as it is: no serious or critical violation (frames, which
// hold an original document rather than the app, left out).
async function checkA11y(page, what) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE);
  const bad = await page.evaluate(async () => (await window.axe.run({ include: [document], exclude: [["iframe"]] },
    { resultTypes: ["violations"], iframes: false })).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`));
  assert.deepEqual(bad, [], `axe-core in Firefox, ${what}`);
}

// Runs `workflow` from the run form on daemon `d`, `fill` filling its inputs; waits for its end.
async function runJob(page, d, workflow, fill) {
  await page.goto(d.base + "/#/run");
  await page.waitForSelector("#workflow-select option");
  await page.select("#workflow-select", workflow);
  await page.waitForSelector("#run-form");
  await fill();
  await page.click("#run-submit");
  await page.waitForSelector("#findings-table", { timeout: 120000 });
  assert.equal(await page.$eval("#job-status", (h) => h.dataset.status), "succeeded");
  return Number(page.url().match(/#\/jobs\/(\d+)/)[1]);
}

// Types `value` into the field `sel` in place of what it held.
async function fill(page, sel, value) {
  await page.$eval(sel, (i) => { i.value = ""; });
  await page.type(sel, value);
}

// Ticks the document checkbox whose label names `name` (in a fieldset or list `scope`).
async function tick(page, scope, name) {
  await page.waitForSelector(`${scope} input[type="checkbox"]`);
  const ok = await page.$$eval(`${scope} label`, (ls, n) => {
    const l = ls.find((x) => x.textContent.includes(n));
    if (l) l.querySelector("input").click();
    return !!l;
  }, name);
  assert.ok(ok, `a checkbox for ${name}`);
}

async function assertClean(page) {
  assert.deepEqual(await page.evaluate(() => window.cspViolations), [], "CSP violations");
  assert.deepEqual(page.problems, []);
}

const hasText = (page, text) => page.waitForFunction((t) => document.body.textContent.includes(t), {}, text);

test("Firefox: upload, run keyword_spotting from the form, a finding highlighted at its offset", async () => {
  const page = await newPage();
  await page.waitForSelector("#documents-table");
  await (await page.$("#doc-files")).uploadFile(CONTRACT);
  await hasText(page, "1 of 1 uploaded.");
  await page.waitForFunction(() => document.querySelectorAll("#documents-table tbody tr[data-id]").length === 1);
  assert.equal(await page.$eval("#documents-table tbody tr td", (td) => td.textContent), path.basename(CONTRACT));

  await page.goto(daemon.base + "/#/run");
  await page.waitForSelector("#workflow-select option");
  await page.select("#workflow-select", "keyword_spotting");
  await page.waitForSelector('fieldset[data-input="documents"] input[type="checkbox"]');
  await page.click('fieldset[data-input="documents"] input[type="checkbox"]');
  await page.type("#in-keyword", "Consultant");
  await page.click("#run-submit");
  await page.waitForSelector("#findings-table", { timeout: 120000 });
  assert.equal(await page.$eval("#job-status", (h) => h.dataset.status), "succeeded");
  assert.match(await page.$eval("#job-events", (e) => e.textContent), /job_succeeded/);

  await page.select("#f-verified", "verified");
  assert.ok((await page.$$("#findings-table tbody tr")).length >= 3);
  await page.click("#findings-table tbody tr:nth-child(3) button.link");
  await page.waitForSelector("#finding-viewer mark.hit");
  const mark = await page.$eval("#finding-viewer mark.hit", (m) => {
    const before = document.createRange();
    before.setStart(m.closest("pre"), 0);
    before.setEndBefore(m);
    return { text: m.textContent, offset: [...before.toString()].length, focused: document.activeElement === m };
  });
  const jobId = Number(page.url().match(/#\/jobs\/(\d+)/)[1]);
  const fid = Number(page.url().match(/findings\/(\d+)/)[1]);
  const result = await (await fetch(`${daemon.base}/v1/jobs/${jobId}/result`)).json();
  const ev = result.findings.find((f) => f.id === fid).evidence[0];
  assert.deepEqual(mark, { text: "Consultant", offset: ev.start, focused: true });

  await page.evaluate(AXE);
  const a11y = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`));
  assert.deepEqual(a11y, [], "axe-core in Firefox, the findings view");
  await assertClean(page);
  await page.close();
});

test("Firefox: a streamed chat reply with its token counts, kept across a reload, a follow-up from the prefix cache; stop", async () => {
  const page = await newPage();
  await page.goto(daemon.base + "/#/chat");
  await page.waitForSelector("#chat-docs input");
  await tick(page, "#chat-docs", path.basename(CONTRACT));
  await fill(page, "#chat-max-tokens", "16");
  await page.type("#chat-input", "Who are the parties?");
  await page.click("#chat-send");
  const replies = (n) => page.waitForFunction((k) => !document.querySelector(".msg.streaming") && document.querySelectorAll(".msg.assistant").length === k, {}, n);
  await replies(1);
  assert.match(await page.$eval("#chat-stats", (s) => s.textContent),
    /^[\d,]+ prompt tokens \([\d,]+ cached\) · \d+ reply tokens · [\d.,]+ tok\/s · first token [\d.]+ s · (length|stop)$/);
  const reply = await page.$eval(".msg.assistant .md", (m) => m.textContent);
  assert.ok(reply.length > 0);
  await checkA11y(page, "the chat view");
  await page.reload();
  await page.waitForSelector(".msg.assistant");
  assert.equal(await page.$eval(".msg.user p", (p) => p.textContent), "Who are the parties?");
  assert.equal(await page.$eval(".msg.assistant .md", (m) => m.textContent), reply);
  await fill(page, "#chat-input", "And the term?");
  await page.click("#chat-send");
  await replies(2);
  const cached = Number((await page.$eval("#chat-stats", (s) => s.textContent)).match(/\(([\d,]+) cached\)/)[1].replace(/,/g, ""));
  assert.ok(cached > 1000, `the follow-up found the contract in the prefix cache: ${cached} cached tokens`);
  await fill(page, "#chat-max-tokens", "4000");
  await fill(page, "#chat-input", "When does it end?");
  await page.click("#chat-send");
  await page.waitForFunction(() => (document.querySelector(".msg.streaming .md") || {}).textContent?.length > 0);
  await page.click("#chat-stop");
  await page.waitForFunction(() => !document.querySelector(".msg.streaming"));
  assert.match(await page.$eval("#chat-stats", (s) => s.textContent), /stopped/);
  await assertClean(page);
  await page.close();
});

test("Firefox: keyboard only: upload, run a workflow and open a finding at its passage", async () => {
  const page = await newPage();
  const note = path.join(dir, "kbd-note.txt");
  fs.writeFileSync(note, "Supply terms.\nThe Supplier shall keep a checksum of every delivery.\n");
  await page.waitForSelector("#documents-table");
  const focused = (sel) => document.activeElement && document.activeElement.matches(sel);
  await tabTo(page, "the skip link", focused, "a.skip");
  // The file picker is opened from the keyboard at the end: after Firefox's file dialog
  // (as puppeteer intercepts it) a Space no longer ticks a checkbox in that page.
  await (await page.$("#doc-files")).uploadFile(note);
  await hasText(page, "1 of 1 uploaded.");
  await tabTo(page, "the Run link", focused, 'nav a[data-view="run"]');
  await page.keyboard.press("Enter");
  await page.waitForSelector("#workflow-select option");
  await tabTo(page, "the workflow list", focused, "#workflow-select");
  for (let i = 0; i < 20 && (await page.$eval("#workflow-select", (s) => s.value)) !== "keyword_spotting"; i++) await page.keyboard.press("ArrowDown");
  await page.waitForSelector("#in-keyword");
  await tabTo(page, "the note's checkbox", () => {
    const a = document.activeElement;
    return a && a.type === "checkbox" && a.closest("label").textContent.includes("kbd-note.txt");
  });
  await page.keyboard.press(" ");  // Space
  await page.waitForFunction(() => document.activeElement.checked, { timeout: 5000 });
  await tabTo(page, "the keyword", focused, "#in-keyword");
  await page.keyboard.type("checksum");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => /#\/jobs\/\d+/.test(location.hash), { timeout: 10000 }).catch(async () => {
    throw new Error(`the form was not submitted: ${await page.evaluate(() => JSON.stringify({ text: document.querySelector("main").innerText.slice(-400), boxes: [...document.querySelectorAll("#run-form input[type=checkbox]")].map((c) => c.checked), kw: document.getElementById("in-keyword").value, active: document.activeElement.outerHTML.slice(0, 120) }))}`);
  });
  await page.waitForSelector("#findings-table", { timeout: 120000 });
  assert.equal(await page.$eval("#job-status", (h) => h.dataset.status), "succeeded");
  await tabTo(page, "a finding", focused, "#findings-table tbody button.link");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#finding-viewer mark.hit");
  assert.deepEqual(await page.evaluate(() => [document.activeElement.tagName, document.activeElement.textContent]), ["MARK", "checksum"]);
  // The file picker, from the keyboard: Tab to its button, Enter.
  await tabTo(page, "the Documents link", focused, 'nav a[data-view="documents"]');
  await page.keyboard.press("Enter");
  await page.waitForSelector("#documents-table tbody tr[data-id]");
  await tabTo(page, "the file picker's button", focused, "#choose-files");
  const [chooser] = await Promise.all([page.waitForFileChooser({ timeout: 20000 }), page.keyboard.press("Enter")]);
  await chooser.accept([CONTRACT]);
  await hasText(page, "1 of 1 uploaded.");
  await assertClean(page);
  await page.close();
});

const squeeze = (t) => t.replace(/\s+/g, "");

test("Firefox: the original beside the text: a 10-K in its frame and a real PDF by pdf.js, the passage highlighted", async () => {
  const page = await newPage(short);
  await page.waitForSelector("#documents-table");
  await (await page.$("#doc-files")).uploadFile(TENK, SPEC_PDF);
  await hasText(page, "2 of 2 uploaded.");
  // The 7th "iPhone" of the 10-K, marked in the filing at that occurrence.
  let jobId = await runJob(page, short, "keyword_spotting", async () => {
    await tick(page, 'fieldset[data-input="documents"]', path.basename(TENK));
    await page.type("#in-keyword", "iPhone");
  });
  let result = await (await fetch(`${short.base}/v1/jobs/${jobId}/result`)).json();
  const f = result.findings.filter((x) => x.evidence.length && x.evidence[0].verified)[6];
  await page.select("#f-verified", "verified");
  await page.click(`#findings-table tr[data-finding="${f.id}"] button.link`);
  const frameSel = "#doc-original iframe.original-frame";
  await page.waitForFunction((sel) => document.querySelector(sel)?.contentDocument?.querySelector("mark.ream-hit"), { timeout: 30000 }, frameSel);
  const shown = await page.$eval(frameSel, (fr) => {
    const d = fr.contentDocument, m = d.querySelector("mark.ream-hit");
    const before = d.createRange();
    before.setStart(d.body, 0);
    before.setEndBefore(m);
    const r = m.getBoundingClientRect();
    return { sandbox: fr.getAttribute("sandbox"), text: m.textContent, before: before.toString().replace(/\s+/g, "").slice(-40),
      inView: r.top >= 0 && r.bottom <= fr.contentWindow.innerHeight, scripts: d.scripts.length,
      headerHidden: getComputedStyle(d.querySelector("ix\\:header").closest("div")).display === "none" };
  });
  const doc = await (await fetch(`${short.base}/v1/jobs/${jobId}/documents/${f.evidence[0].document}`)).json();
  const text = [...doc.text];
  assert.deepEqual(shown, { sandbox: "allow-same-origin", text: "iPhone",
    before: squeeze(text.slice(Math.max(0, f.evidence[0].start - 300), f.evidence[0].start).join("")).slice(-40),
    inView: true, scripts: 0, headerHidden: true });
  await checkA11y(page, "the 10-K's original");

  // A "glob" on page 3 or later of the PDF: that page drawn, the word marked in its text layer.
  jobId = await runJob(page, short, "keyword_spotting", async () => {
    await tick(page, 'fieldset[data-input="documents"]', path.basename(SPEC_PDF));
    await page.type("#in-keyword", "glob");
  });
  result = await (await fetch(`${short.base}/v1/jobs/${jobId}/result`)).json();
  const g = result.findings.find((x) => x.evidence.length && x.evidence[0].verified && x.evidence[0].location.page >= 3);
  await page.select("#f-verified", "verified");
  await page.click(`#findings-table tr[data-finding="${g.id}"] button.link`);
  await page.waitForSelector("#doc-original .pdf-page mark.hit", { timeout: 30000 });
  const drawn = await page.$eval("#doc-original .pdf-page", (box) => {
    const c = box.querySelector("canvas");
    const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && px[i] + px[i + 1] + px[i + 2] < 600) ink++;
    return { page: Number(box.dataset.page), ink, text: [...box.querySelectorAll("mark.hit")].map((x) => x.textContent).join("") };
  });
  assert.equal(drawn.page, g.evidence[0].location.page);
  assert.equal(drawn.text.toLowerCase(), "glob");
  assert.ok(drawn.ink > 1000, `the page is drawn: ${drawn.ink} dark pixels`);
  await checkA11y(page, "the PDF's original");
  await assertClean(page);
  await page.close();
});

test("Firefox: documents dropped and listed, a PDF's pages in the viewer, one removed", async () => {
  const page = await newPage();
  await page.waitForSelector("#documents-table");
  const pdf = fs.readFileSync(SPEC_PDF).toString("base64");
  await page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], "spec.pdf", { type: "application/pdf" }));
    document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, pdf);
  await hasText(page, "1 of 1 uploaded.");
  await page.waitForFunction(() => [...document.querySelectorAll("#documents-table tbody tr")].some((tr) => tr.textContent.includes("spec.pdf")));
  const row = await page.$$eval("#documents-table tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent))
    .find((r) => r[0] === "spec.pdf"));
  assert.deepEqual(row.slice(1, 4), ["application/pdf", "137.1 KB", "17"]);
  await page.$$eval("#documents-table button.link", (bs) => bs.find((b) => b.textContent === "spec.pdf").click());
  await page.waitForSelector("#doc-original .pdf-page canvas");
  assert.equal(await page.$eval("#doc-original .original-bar span", (s) => s.textContent), "page 1 of 17");
  await page.click('#doc-original button[aria-label="Next page"]');
  await page.waitForSelector('#doc-original .pdf-page[data-page="2"]');
  await checkA11y(page, "the documents view with a PDF open");
  page.once("dialog", (d) => d.accept());
  await page.click('button[aria-label="Remove spec.pdf"]');
  await page.waitForFunction(() => ![...document.querySelectorAll("#documents-table tbody tr")].some((tr) => tr.textContent.includes("spec.pdf")));
  await assertClean(page);
  await page.close();
});

test("Firefox: a daemon with API keys: the page asks, refuses a wrong key, then works (an original read with the key)", async () => {
  const page = await newPage(keyed);
  await page.waitForSelector("#key-dialog[open]");
  assert.match(await page.$eval("#key-reason", (p) => p.textContent), /needs an API key/);
  await page.type("#key-input", "not-the-key");
  await page.click("#key-save");
  await page.waitForFunction(() => /not valid/.test(document.getElementById("key-error").textContent));
  await checkA11y(page, "the key dialog");
  await fill(page, "#key-input", KEY);
  await page.click("#key-save");
  await page.waitForFunction(() => !document.getElementById("key-dialog").open);
  await hasText(page, "No documents yet");
  await (await page.$("#doc-files")).uploadFile(SPEC_PDF);
  await hasText(page, "1 of 1 uploaded.");
  await page.waitForSelector("#documents-table tbody tr[data-id] button.link");
  await page.click("#documents-table tbody tr[data-id] button.link");
  await page.waitForSelector("#doc-original .pdf-page canvas");
  // Page errors only: the refused calls before the key was given are the point of this test.
  assert.deepEqual(await page.evaluate(() => window.cspViolations), [], "CSP violations");
  assert.deepEqual(page.problems.filter((p) => p.startsWith("page error")), []);
  await page.close();
});

test("Firefox: schedules from cron, time zone and the inputs form, paused, deleted; the jobs list; operators", async () => {
  const page = await newPage();
  await page.goto(daemon.base + "/#/schedules");
  await page.waitForSelector("#sch-workflow option");
  await page.select("#sch-workflow", "summarize");
  await fill(page, "#sch-cron", "30 6 * * mon-fri");
  await fill(page, "#sch-tz", "America/New_York");
  await fill(page, "#sch-id", "ff-digest");
  await page.waitForSelector("#sch-in-max_words");
  await fill(page, "#sch-in-documents-paths", CONTRACT);
  await fill(page, "#sch-in-max_words", "120");
  await page.click("#sch-create");
  await page.waitForFunction(() => document.querySelector(".status")?.textContent);
  assert.equal(await page.$eval(".status", (x) => x.textContent), "Created ff-digest.");
  const api = await (await fetch(`${daemon.base}/v1/schedules/ff-digest/upcoming?count=5`)).json();
  await page.waitForFunction(() => document.querySelectorAll("#sch-upcoming li").length > 1);
  const shown = await page.$$eval("#sch-upcoming li", (l) => l.slice(1).map((x) => x.textContent.match(/\((.*)\)$/)[1]));
  assert.deepEqual(shown, api.fire_times);
  const made = await (await fetch(`${daemon.base}/v1/schedules/ff-digest`)).json();
  assert.deepEqual([made.inputs.documents, made.inputs.max_words, made.timezone], [[CONTRACT], 120, "America/New_York"]);
  await page.waitForSelector('tr[data-schedule="ff-digest"]');
  await page.$$eval('tr[data-schedule="ff-digest"] button', (bs) => bs.find((b) => b.textContent === "Pause").click());
  await page.waitForFunction(() => [...document.querySelectorAll('tr[data-schedule="ff-digest"] button')].some((b) => b.textContent === "Resume"));
  assert.equal((await (await fetch(`${daemon.base}/v1/schedules/ff-digest`)).json()).paused, true);
  await checkA11y(page, "the schedules view");
  page.once("dialog", (d) => d.accept());
  await page.click('button[aria-label="Delete ff-digest"]');
  await page.waitForFunction(() => !document.querySelector('tr[data-schedule="ff-digest"]'));
  assert.equal((await fetch(`${daemon.base}/v1/schedules/ff-digest`)).status, 404);

  await page.goto(daemon.base + "/#/jobs");
  await page.waitForSelector("#jobs-table tbody tr");
  await checkA11y(page, "the jobs list");
  await page.goto(daemon.base + "/#/operators");
  await page.waitForSelector("#ops-tiles .tile");
  const tiles = await page.$$eval("#ops-tiles dt", (d) => d.map((x) => x.textContent));
  for (const t of ["Tokens/s", "KV cache used", "Prefix-cache hit rate", "Queue depth"]) assert.ok(tiles.includes(t), t);
  await checkA11y(page, "the operators view");
  await assertClean(page);
  await page.close();
});

// The page's downloads as it hands them to the browser to save: each Blob it makes a URL
// of, named by the download link it clicks. (puppeteer cannot yet wait for a download in
// Firefox; this reads what the page gave, from outside the app's code.)
async function captureDownloads(page) {
  await page.evaluate(() => {
    window.saved = [];
    const make = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (b) => { const u = make(b); window.saved.push({ url: u, blob: b }); return u; };
    document.addEventListener("click", (e) => {
      const a = e.target.closest && e.target.closest("a[download]");
      const s = a && window.saved.find((x) => x.url === a.href);
      if (s) s.name = a.download;
    }, true);
  });
}

async function save(page, button) {
  const n = await page.evaluate(() => window.saved.length);
  await page.click(button);
  await page.waitForFunction((k) => window.saved.length > k && window.saved[k].name, {}, n);
  return page.evaluate(async (k) => ({ name: window.saved[k].name, text: await window.saved[k].blob.text() }), n);
}

// The result's three downloads: the JSON is the API's result, the Markdown names every
// finding, the SARIF is valid SARIF 2.1.0 with a result per finding with a file and line.
async function checkDownloads(page, d, jobId, workflow) {
  await captureDownloads(page);
  const api = await (await fetch(`${d.base}/v1/jobs/${jobId}/result`)).json();
  const json = await save(page, "#dl-json");
  assert.equal(json.name, `job-${jobId}.json`);
  assert.deepEqual(JSON.parse(json.text), api);
  const md = await save(page, "#dl-md");
  assert.match(md.text, new RegExp(`^# ${workflow} — job ${jobId}\n`));
  for (const f of api.findings) assert.ok(md.text.includes(f.title), `the Markdown names finding ${f.id}`);
  const sarifFile = await save(page, "#dl-sarif");
  assert.equal(sarifFile.name, `job-${jobId}.sarif`);
  const sarif = JSON.parse(sarifFile.text);
  assert.equal(validateSarif(sarif), "", "the SARIF download against the SARIF 2.1.0 schema");
  const located = api.findings.filter((f) => f.details && f.details.file && f.details.line >= 1);
  assert.equal(sarif.runs[0].results.length, located.length);
  assert.equal(sarif.runs[0].automationDetails.id, `${workflow}/${jobId}`);
}

test("Firefox: legal_review from the form, findings filtered, unverified quotes marked, the downloads", async () => {
  const page = await newPage();
  const name = path.basename(CONTRACT);
  await page.waitForSelector("#documents-table");
  await (await page.$("#doc-files")).uploadFile(CONTRACT);  // (already stored if an earlier test sent it)
  await hasText(page, "1 of 1 uploaded.");
  const jobId = await runJob(page, daemon, "legal_review", async () => {
    await tick(page, 'fieldset[data-input="contracts"]', name);
    await fill(page, "#in-categories", "Governing Law");
    await fill(page, "#in-categories_per_prompt", "1");
    await fill(page, "#in-max_tokens", "256");
    await page.$eval("#in-executive_summary", (c) => { if (c.checked) c.click(); });
  });
  assert.match(await page.$eval("#job-events", (e) => e.textContent), /job_started[\s\S]*step_succeeded[\s\S]*job_succeeded/);
  await page.waitForSelector("#findings-table tbody tr");
  await page.select("#f-category", await page.$eval("#f-category option:nth-child(2)", (o) => o.value));
  const cat = await page.$eval("#f-category", (s) => s.value);
  const cats = await page.$$eval("#findings-table tbody tr td:nth-child(2)", (t) => t.map((x) => x.textContent));
  assert.ok(cats.length >= 1 && cats.every((c) => c === cat), cats.join());
  await page.click("#findings-table tbody tr button.link");
  await page.waitForSelector("#finding-viewer #doc-text");
  const opened = await page.$eval("#finding-viewer header h3", (h) => h.textContent);
  assert.ok(opened.includes(name), `the contract opened: ${opened}`);
  assert.match(await page.$eval("#finding-viewer #doc-text", (t) => t.textContent), /CONSULTING AGREEMENT/i);
  const unverified = await page.$$eval(".evidence li.unverified", (l) => l.length);
  const verified = await page.$$eval(".evidence li.verified", (l) => l.length);
  if (unverified > 0) assert.match(await page.$eval(".evidence li.unverified", (l) => l.textContent), /unverified/);
  assert.equal(await page.$$eval("#finding-viewer mark.hit", (m) => m.length), verified);
  await checkA11y(page, "the findings view");
  await checkDownloads(page, daemon, jobId, "legal_review");
  await assertClean(page);
  await page.close();
});

test("Firefox: a source tree: code_audit's downloads; keyword_spotting's findings open their file at the cited line", async () => {
  const page = await newPage();
  let jobId = await runJob(page, daemon, "code_audit", async () => {
    await fill(page, "#in-source-paths", TREE);
    await fill(page, "#in-max_tokens", "64");
  });
  await checkDownloads(page, daemon, jobId, "code_audit");
  jobId = await runJob(page, daemon, "keyword_spotting", async () => {
    await fill(page, "#in-documents-paths", TREE);
    await page.type("#in-keyword", "checksum");
  });
  const result = await (await fetch(`${daemon.base}/v1/jobs/${jobId}/result`)).json();
  const found = result.findings.filter((f) => f.evidence.some((e) => e.verified));
  const expected = [];
  for (const [name, lines] of Object.entries(TREE_FILES)) lines.forEach((l, i) => { if (l.includes("checksum")) expected.push(`${name}:${i + 1}`); });
  assert.deepEqual(found.map((f) => `${f.evidence[0].location.source}:${f.evidence[0].location.line}`).sort(), expected.sort());
  await page.select("#f-verified", "verified");
  for (const f of found) {
    await page.evaluate(() => document.querySelectorAll("#finding-viewer article").forEach((a) => (a.dataset.stale = "1")));
    await page.click(`#findings-table tr[data-finding="${f.id}"] button.link`);
    await page.waitForSelector("#finding-viewer article:not([data-stale]) mark.hit");
    const shown = await page.$eval("#finding-viewer mark.hit", (m) => {
      const part = m.closest("section.part");
      const before = document.createRange();
      before.setStart(m.closest("pre"), 0);
      before.setEndBefore(m);
      const line = before.toString().split("\n").length;
      return { file: part.querySelector(".part-name").textContent, line, text: m.textContent,
        number: part.querySelector("pre.gutter").textContent.split("\n")[line - 1], focused: document.activeElement === m };
    });
    const loc = f.evidence[0].location;
    assert.deepEqual(shown, { file: loc.source, line: loc.line, text: "checksum", number: String(loc.line), focused: true });
  }
  await checkA11y(page, "a source tree's finding");
  await assertClean(page);
  await page.close();
});
