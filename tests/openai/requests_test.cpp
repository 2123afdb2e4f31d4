// Chat and completions request bodies against the real Qwen3 tokenizer: every field is
// honoured or refused with a 400 naming it; forced tool calls get a schema a real JSON Schema
// validator (ajv, npm, through tests/node/validate_json_schema.cjs) holds documents against.
#include "openai/requests.h"

#include <gtest/gtest.h>

#include "ajv.h"
#include "openai/tokenize.h"

namespace ream::openai {
namespace {

const ModelInfo& model() {
  static ModelInfo m = [] {
    ModelInfo info;
    auto tok = Tokenizer::load(REAM_TOKENIZER_DIR);
    EXPECT_TRUE(tok.ok()) << tok.status().to_string();
    info.tokenizer = tok.value();
    info.names = {"qwen3-test", "alias"};
    info.max_model_len = 4096;
    info.vocab_size = 151936;
    info.eos_token_ids = {151645};
    return info;
  }();
  return m;
}

Json user(const std::string& text) { return Json::array({{{"role", "user"}, {"content", text}}}); }

Json chat_body(Json extra = Json::object()) {
  Json b = {{"model", "qwen3-test"}, {"messages", user("hello")}};
  for (auto& [k, v] : extra.items()) b[k] = v;
  return b;
}

Error parse_chat(const Json& body, ChatRequest* out = nullptr) {
  ChatRequest scratch;
  return parse_chat_request(body, model(), out ? out : &scratch);
}

void expect_error(const Error& e, const std::string& code, const std::string& param, const std::string& says = "") {
  ASSERT_TRUE(e.has_value()) << "expected " << code << " for " << param;
  EXPECT_EQ(e->code, code) << e->message;
  EXPECT_EQ(e->param, param) << e->message;
  if (!says.empty()) EXPECT_NE(e->message.find(says), std::string::npos) << e->message;
}

Json weather_tool() {
  return Json::parse(R"({"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
                   "required": ["city"], "additionalProperties": false}}})");
}

TEST(ChatRequestFields, AnUnknownFieldIsRefusedAsOpenAIRefusesIt) {
  expect_error(parse_chat(chat_body({{"temprature", 0.5}})), "unknown_parameter", "temprature",
               "Unrecognized request argument supplied: temprature");
  expect_error(parse_chat(chat_body({{"messages", Json::array({{{"role", "user"}, {"content", "x"}, {"reasoning_content", "y"}}})}})),
               "unknown_parameter", "messages[0].reasoning_content");
}

TEST(ChatRequestFields, UnsupportedFieldsAreRefusedUnlessTheyAskForNothing) {
  expect_error(parse_chat(chat_body({{"audio", {{"voice", "alloy"}}}})), "unsupported_parameter", "audio");
  expect_error(parse_chat(chat_body({{"store", true}})), "unsupported_parameter", "store");
  expect_error(parse_chat(chat_body({{"service_tier", "flex"}})), "unsupported_parameter", "service_tier");
  expect_error(parse_chat(chat_body({{"reasoning_effort", "low"}})), "unsupported_parameter", "reasoning_effort");
  expect_error(parse_chat(chat_body({{"functions", Json::array()}})), "unsupported_parameter", "functions");
  EXPECT_FALSE(parse_chat(chat_body({{"store", false}, {"modalities", {"text"}}, {"service_tier", "auto"},
                                     {"user", "u-1"}, {"metadata", {{"k", "v"}}}, {"audio", nullptr}})));
  expect_error(parse_chat(chat_body({{"metadata", {{"k", 1}}}})), "invalid_request", "metadata.k");
}

TEST(ChatRequestFields, WrongTypesAndRangesNameTheField) {
  expect_error(parse_chat(chat_body({{"temperature", "hot"}})), "invalid_request", "temperature", "[0, 100]");
  expect_error(parse_chat(chat_body({{"top_logprobs", 21}, {"logprobs", true}})), "invalid_request", "top_logprobs", "0..20");
  expect_error(parse_chat(chat_body({{"top_logprobs", 2}})), "invalid_request", "top_logprobs", "logprobs");
  expect_error(parse_chat(chat_body({{"n", 0}})), "invalid_request", "n", "1..128");
  expect_error(parse_chat(chat_body({{"stream_options", {{"include_usage", true}}}})), "invalid_request", "stream_options");
  expect_error(parse_chat(chat_body({{"stream", true}, {"stream_options", {{"include_usage", "yes"}}}})), "invalid_request",
               "stream_options.include_usage");
  expect_error(parse_chat(chat_body({{"messages", Json::array({{{"role", "user"}, {"content", 5}}})}})), "invalid_request",
               "messages[0].content");
  expect_error(parse_chat(chat_body({{"messages", Json::array({{{"role", "robot"}, {"content", "x"}}})}})), "invalid_request",
               "messages[0].role");
  expect_error(parse_chat(chat_body({{"messages", Json::array({{{"role", "user"},
                                                                 {"content", {{{"type", "image_url"}, {"image_url", "x"}}}}}})}})),
               "unsupported_value", "messages[0].content[0].type");
  expect_error(parse_chat(chat_body({{"max_completion_tokens", 5000}})), "invalid_request", "max_completion_tokens",
               "context tokens");
}

TEST(ChatRequestFields, LogitBiasErrorsNameTheKey) {
  expect_error(parse_chat(chat_body({{"logit_bias", {{"abc", 1}}}})), "invalid_request", "logit_bias.abc", "'abc'");
  expect_error(parse_chat(chat_body({{"logit_bias", {{"151936", 1}}}})), "invalid_request", "logit_bias.151936");
  expect_error(parse_chat(chat_body({{"logit_bias", {{"050", 1}}}})), "invalid_request", "logit_bias.050");
  expect_error(parse_chat(chat_body({{"logit_bias", {{"-1", 1}}}})), "invalid_request", "logit_bias.-1");
  expect_error(parse_chat(chat_body({{"logit_bias", {{"50", 200}}}})), "invalid_request", "logit_bias.50", "[-100, 100]");
  ChatRequest r;
  ASSERT_FALSE(parse_chat(chat_body({{"logit_bias", {{"50", -100}, {"7", 2.5}}}}), &r));
  const auto& lb = r.params.sampling.logit_bias;
  ASSERT_EQ(lb.size(), 2u);
  EXPECT_EQ(lb[0], (std::pair<int32_t, float>{50, -100.0f}));
  EXPECT_EQ(lb[1], (std::pair<int32_t, float>{7, 2.5f}));
}

TEST(ChatRequestFields, ModelMustBeTheServedOne) {
  expect_error(parse_chat(chat_body({{"model", "gpt-4o"}})), "model_not_found", "model", "gpt-4o");
  EXPECT_EQ(parse_chat(chat_body({{"model", "gpt-4o"}}))->status, 404u);
  EXPECT_FALSE(parse_chat(chat_body({{"model", "alias"}})));
  Json no_model = chat_body();
  no_model.erase("model");
  EXPECT_FALSE(parse_chat(no_model));
}

TEST(ChatRequestFields, ResponseFormatBecomesTheConstraint) {
  ChatRequest r;
  ASSERT_FALSE(parse_chat(chat_body({{"response_format", {{"type", "json_object"}}}}), &r));
  EXPECT_EQ(r.params.sampling.constraint.kind, Constraint::Kind::kJsonObject);
  const Json schema = {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}, {"required", {"a"}}};
  ChatRequest s;
  ASSERT_FALSE(parse_chat(chat_body({{"response_format", {{"type", "json_schema"},
                                                           {"json_schema", {{"name", "thing"}, {"schema", schema}, {"strict", true}}}}}}),
                          &s));
  EXPECT_EQ(s.params.sampling.constraint.kind, Constraint::Kind::kJsonSchema);
  EXPECT_EQ(Json::parse(s.params.sampling.constraint.source), schema);
  ChatRequest t;
  ASSERT_FALSE(parse_chat(chat_body({{"response_format", {{"type", "text"}}}}), &t));
  EXPECT_EQ(t.params.sampling.constraint.kind, Constraint::Kind::kNone);
  expect_error(parse_chat(chat_body({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"schema", schema}}}}}})),
               "invalid_request", "response_format.json_schema.name");
  expect_error(parse_chat(chat_body({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}}}}}})),
               "invalid_request", "response_format.json_schema.schema");
  expect_error(parse_chat(chat_body({{"response_format", {{"type", "yaml"}}}})), "unsupported_value", "response_format.type");
  expect_error(parse_chat(chat_body({{"response_format", {{"type", "json_object"}, {"schema", schema}}}})),
               "unknown_parameter", "response_format.schema");
  expect_error(parse_chat(chat_body({{"response_format", "json"}})), "invalid_request", "response_format");
}

TEST(ChatRequestTools, ToolsAreRenderedAsSentAndChoicesChecked) {
  ChatRequest r;
  ASSERT_FALSE(parse_chat(chat_body({{"tools", {weather_tool()}}}), &r));
  EXPECT_EQ(r.tools.choice, ToolChoice::kAuto);
  const std::string prompt = model().tokenizer->decode(r.prompt);
  EXPECT_NE(prompt.find("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": "
                        "\"Weather in a city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": "
                        "{\"type\": \"string\"}, \"unit\": {\"enum\": [\"C\", \"F\"]}}"),
            std::string::npos)
      << prompt;
  EXPECT_EQ(r.params.sampling.constraint.kind, Constraint::Kind::kNone) << "auto does not constrain";
  ChatRequest none;
  ASSERT_FALSE(parse_chat(chat_body({{"tools", {weather_tool()}}, {"tool_choice", "none"}}), &none));
  EXPECT_EQ(model().tokenizer->decode(none.prompt).find("<tools>"), std::string::npos) << "none hides the tools";
  expect_error(parse_chat(chat_body({{"tool_choice", "auto"}})), "invalid_request", "tool_choice", "'tools'");
  expect_error(parse_chat(chat_body({{"tools", {weather_tool()}}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}})),
               "invalid_request", "tool_choice.function.name", "nope");
  Json custom = {{"type", "custom"}, {"custom", {{"name", "x"}}}};
  expect_error(parse_chat(chat_body({{"tools", {custom}}})), "unsupported_value", "tools[0].type");
  Json bad_name = weather_tool();
  bad_name["function"]["name"] = "get weather";
  expect_error(parse_chat(chat_body({{"tools", {bad_name}}})), "invalid_request", "tools[0].function.name");
  expect_error(parse_chat(chat_body({{"tools", {weather_tool(), weather_tool()}}})), "invalid_request", "tools[1].function.name");
}

TEST(ChatRequestTools, AssistantToolCallsAndToolResultsAreRendered) {
  Json messages = Json::parse(R"([
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"}])");
  ChatRequest r;
  ASSERT_FALSE(parse_chat(chat_body({{"messages", messages}, {"tools", {weather_tool()}}}), &r));
  const std::string prompt = model().tokenizer->decode(r.prompt);
  EXPECT_NE(prompt.find("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n"
                        "</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n-3 C\n</tool_response><|im_end|>\n"
                        "<|im_start|>assistant\n"),
            std::string::npos)
      << prompt;
  Json no_id = messages;
  no_id[2].erase("tool_call_id");
  expect_error(parse_chat(chat_body({{"messages", no_id}})), "invalid_request", "messages[2].tool_call_id");
  Json bad_args = messages;
  bad_args[1]["tool_calls"][0]["function"]["arguments"] = 5;
  expect_error(parse_chat(chat_body({{"messages", bad_args}})), "invalid_request", "messages[1].tool_calls[0].function.arguments");
}

TEST(ChatRequestTools, AForcedCallIsConstrainedToTheCallSchema) {
  Json search = {{"type", "function"}, {"function", {{"name", "search"}, {"parameters", {{"type", "object"}}}}}};
  ChatRequest r;
  ASSERT_FALSE(parse_chat(chat_body({{"tools", {weather_tool(), search}}, {"tool_choice", "required"}}), &r));
  ASSERT_EQ(r.params.sampling.constraint.kind, Constraint::Kind::kJsonSchema);
  Json schema = Json::parse(r.params.sampling.constraint.source);
  ASSERT_TRUE(schema.contains("anyOf"));
  EXPECT_EQ(schema["anyOf"].size(), 2u);
  ChatRequest named;
  ASSERT_FALSE(parse_chat(chat_body({{"tools", {weather_tool(), search}},
                                     {"tool_choice", {{"type", "function"}, {"function", {{"name", "search"}}}}}}),
                          &named));
  Json one = Json::parse(named.params.sampling.constraint.source);
  EXPECT_EQ(one["properties"]["name"]["const"], "search");
  expect_error(parse_chat(chat_body({{"tools", {weather_tool()}}, {"tool_choice", "required"},
                                     {"response_format", {{"type", "json_object"}}}})),
               "invalid_request", "response_format");
}

// The call schema, with $defs moved to the root and refs rewritten, judged by ajv (npm, draft
// 2020-12, strict: it must compile): the documents the tool's own schema accepts, as calls,
// pass; the others fail.
TEST(ChatRequestTools, CallSchemaAcceptsWhatTheParametersAcceptPerAjv) {
  const Json params = Json::parse(R"({"type": "object", "$defs": {"node": {"type": "object",
      "properties": {"v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}},
      "required": ["v", "next"], "additionalProperties": false}},
    "properties": {"head": {"$ref": "#/$defs/node"}, "self": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
    "required": ["head"], "additionalProperties": false})");
  ToolPlan plan;
  plan.tools.push_back({"walk", "", params});
  plan.tools.push_back({"get_weather", "", weather_tool()["function"]["parameters"]});
  plan.choice = ToolChoice::kRequired;
  const Json cases = Json::parse(R"([
    [true,  {"name": "walk", "arguments": {"head": {"v": 1, "next": {"v": 2, "next": null}}}}],
    [true,  {"name": "walk", "arguments": {"head": {"v": 1, "next": null}, "self": {"head": {"v": 3, "next": null}}}}],
    [false, {"name": "walk", "arguments": {"head": {"v": "1", "next": null}}}],
    [false, {"name": "walk", "arguments": {"head": {"v": 1, "next": null}, "self": {"head": {"v": 1}}}}],
    [true,  {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "C"}}],
    [false, {"name": "get_weather", "arguments": {"unit": "C"}}],
    [false, {"name": "get_weather", "arguments": {"city": "Oslo"}, "extra": 1}],
    [false, {"name": "walk", "arguments": {"city": "Oslo"}}],
    [false, {"name": "other", "arguments": {}}]])");
  nlohmann::json run = {{"schemas", {{"call", nlohmann::json::parse(dump(tool_call_schema(plan)))}}},
                        {"instances", nlohmann::json::array()}};
  for (const Json& c : cases) run["instances"].push_back({{"schema", "call"}, {"data", nlohmann::json::parse(dump(c[1]))}});
  const nlohmann::json out = test::run_ajv(run);
  ASSERT_TRUE(out.is_object());
  ASSERT_EQ(out["schemas"]["call"], "ok") << run["schemas"]["call"].dump(1);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(out["instances"][i]["ok"], cases[i][0].get<bool>()) << dump(cases[i][1]) << " " << out["instances"][i]["errors"];
  }
}

TEST(ChatRun, ChoicesGetDerivedSeedsAndTheirOwnIndex) {
  ChatRequest r;
  ASSERT_FALSE(parse_chat(chat_body({{"n", 3}, {"seed", 18446744073709551615ull}}), &r));
  RunSpec spec = chat_run(std::move(r), model(), "req-1", 1);
  ASSERT_EQ(spec.requests.size(), 3u);
  EXPECT_EQ(spec.requests[0].sampling.seed, 18446744073709551615ull);
  EXPECT_EQ(spec.requests[1].sampling.seed, 0u) << "seed + i wraps";
  EXPECT_EQ(spec.requests[2].sampling.seed, 1u);
  EXPECT_EQ(spec.choices[2].index, 2);
  EXPECT_EQ(spec.model, "qwen3-test");
  EXPECT_EQ(spec.requests[0].sampling.max_tokens, 4096 - static_cast<int>(spec.requests[0].prompt.size()) < 4096
                                                      ? 4096 - static_cast<int>(spec.requests[0].prompt.size())
                                                      : 4096);
}

Error parse_completion(const Json& body, CompletionRequest* out = nullptr) {
  CompletionRequest scratch;
  return parse_completion_request(body, model(), out ? out : &scratch);
}

TEST(CompletionRequestFields, PromptsAsTextListsAndTokenIds) {
  CompletionRequest a;
  ASSERT_FALSE(parse_completion({{"prompt", "Hello world"}}, &a));
  ASSERT_EQ(a.prompts.size(), 1u);
  EXPECT_EQ(a.prompts[0], model().tokenizer->encode("Hello world", true));
  EXPECT_EQ(a.params.sampling.max_tokens, 16) << "OpenAI's default for completions";
  CompletionRequest b;
  ASSERT_FALSE(parse_completion({{"prompt", {"one", "two"}}, {"n", 2}}, &b));
  EXPECT_EQ(b.prompts.size(), 2u);
  RunSpec spec = completion_run(std::move(b), model(), "r", 1);
  ASSERT_EQ(spec.choices.size(), 4u);
  EXPECT_EQ(spec.choices[3].index, 3);
  EXPECT_EQ(spec.prompt_of, (std::vector<int>{0, 0, 1, 1}));
  CompletionRequest c;
  ASSERT_FALSE(parse_completion({{"prompt", {9707, 1879}}, {"echo", true}}, &c));
  EXPECT_EQ(c.prompts[0], (std::vector<TokenId>{9707, 1879}));
  EXPECT_EQ(c.prompt_texts[0], model().tokenizer->decode({9707, 1879}));
  CompletionRequest d;
  ASSERT_FALSE(parse_completion({{"prompt", {{1, 2}, {3}}}}, &d));
  EXPECT_EQ(d.prompts.size(), 2u);
  expect_error(parse_completion({{"prompt", {"a", 1}}}), "invalid_request", "prompt[1]");
  expect_error(parse_completion({{"prompt", {1, 2, 151936}}}), "invalid_request", "prompt[2]");
  expect_error(parse_completion({{"prompt", {{1}, {-1}}}}), "invalid_request", "prompt[1][0]");
  expect_error(parse_completion({{"prompt", ""}}), "invalid_request", "prompt");
  expect_error(parse_completion({{"prompt", 5}}), "invalid_request", "prompt");
  expect_error(parse_completion({{"prompt", "x"}, {"best_of", 3}}), "unsupported_value", "best_of");
  expect_error(parse_completion({{"prompt", "x"}, {"echo", true}, {"logprobs", 1}}), "unsupported_value", "echo");
  expect_error(parse_completion({{"prompt", "x"}, {"suffix", "y"}}), "unsupported_parameter", "suffix");
  expect_error(parse_completion({{"prompt", "x"}, {"logprobs", true}}), "invalid_request", "logprobs");
  expect_error(parse_completion({{"prompt", "x"}, {"messages", user("y")}}), "unknown_parameter", "messages");
  expect_error(parse_completion({{"prompt", "x"}, {"max_tokens", 5000}}), "invalid_request", "max_tokens", "context tokens");
}

TEST(Tokenize, TextAndChatFormsWithTokenStrings) {
  Json out;
  ASSERT_FALSE(tokenize({{"prompt", "Hello world"}, {"return_token_strs", true}}, model(), &out));
  EXPECT_EQ(out["tokens"], Json(model().tokenizer->encode("Hello world", true)));
  EXPECT_EQ(out["count"], out["tokens"].size());
  EXPECT_EQ(out["max_model_len"], 4096);
  EXPECT_EQ(out["token_strs"], Json({"Hello", "\xC4\xA0world"}));
  Json chat;
  ASSERT_FALSE(tokenize({{"messages", user("hi")}, {"add_generation_prompt", false}}, model(), &chat));
  EXPECT_EQ(chat["token_strs"], nullptr);
  Json back;
  ASSERT_FALSE(detokenize({{"tokens", chat["tokens"]}}, model(), &back));
  EXPECT_EQ(back["prompt"], "<|im_start|>user\nhi<|im_end|>\n");
  expect_error(tokenize({{"prompt", "x"}, {"messages", user("y")}}, model(), &out), "invalid_request", "prompt");
  expect_error(tokenize({{"messages", user("y")}, {"chat_template", "{{x}}"}}, model(), &out), "unsupported_parameter",
               "chat_template");
  expect_error(detokenize({{"tokens", {1, -2}}}, model(), &out), "invalid_request", "tokens[1]");
  expect_error(detokenize({{"tokens", {1}}, {"model", "other"}}, model(), &out), "model_not_found", "model");
}

}  // namespace
}  // namespace ream::openai
