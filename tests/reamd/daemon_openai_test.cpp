// The OpenAI-compatible API of a real reamd (tiny random-weight model, CPU engine): response
// shapes, n with derived seeds, logprobs, stop, completions prompts, tokenize, the served
// model name, errors in OpenAI's shape, non-streamed replies that hold no handler thread, and
// a client leaving cancelling its engine requests in both modes. The official `openai` npm
// client drives the same API in tests/openai/openai_client_test.mjs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <sstream>
#include <thread>

#include "daemon_harness.h"

namespace ream::testing {
namespace {

using nlohmann::json;

// Tests that need the engine to enforce SamplingParams::constraint and logit_bias (issue 12's
// grammar work) skip while it does not; tests/CMakeLists.txt holds the switch.
// The data lines of an SSE body: parsed JSON, and whether it ended with [DONE].
std::vector<json> sse_data(const std::string& body, bool* done) {
  std::vector<json> out;
  *done = false;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("data: ", 0) != 0) continue;
    if (line == "data: [DONE]") {
      *done = true;
      continue;
    }
    EXPECT_FALSE(*done) << "data after [DONE]";
    out.push_back(json::parse(line.substr(6)));
  }
  return out;
}

int64_t metric(const Daemon& d, const std::string& name) {
  auto m = d.get("/metrics");
  std::istringstream in(m.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stoll(line.substr(name.size() + 1));
  }
  return -1;
}

// Waits (bounded) until no engine request runs or waits; false if they never drain.
bool engine_idle(const Daemon& d, double timeout_s = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (metric(d, "reamd_engine_requests_running") == 0 && metric(d, "reamd_engine_requests_waiting") == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// A raw connection that sends a request and may leave before the answer.
class RawClient {
 public:
  RawClient(uint16_t port, const std::string& target, const json& body) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const std::string b = body.dump();
    const std::string req = "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(b.size()) + "\r\n\r\n" + b;
    EXPECT_EQ(send(fd_, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  }
  ~RawClient() { leave(); }
  // Reads until `needle` arrived (or the peer closed); returns what came.
  std::string read_until(const std::string& needle) {
    std::string got;
    char buf[4096];
    while (got.find(needle) == std::string::npos) {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  void leave() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

class OpenAiApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    // One handler thread: a non-streamed reply that held it would stall every other request.
    daemon_ = new Daemon(tmp_->path() + "/data", "http:\n  handler_threads: 1\n");
    daemon_->add_engine_setting("served_model_name: [ream-test, tiny-alias]");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete tmp_;
  }
  static json chat_body(json extra = json::object()) {
    json b = {{"model", "ream-test"}, {"messages", {{{"role", "user"}, {"content", "Name three rivers."}}}}, {"max_tokens", 6}};
    b.update(extra);
    return b;
  }
  static json post_ok(const std::string& target, const json& body) {
    auto r = daemon_->post(target, body);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
  }
  static TempDir* tmp_;
  static Daemon* daemon_;
};
TempDir* OpenAiApi::tmp_ = nullptr;
Daemon* OpenAiApi::daemon_ = nullptr;

TEST_F(OpenAiApi, ChatReplyCarriesTheServedNameAndOpenAIShape) {
  json j = post_ok("/v1/chat/completions", chat_body({{"model", "tiny-alias"}}));
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "ream-test") << "responses carry the first served name";
  EXPECT_TRUE(j["created"].is_number_integer());
  ASSERT_EQ(j["choices"].size(), 1u);
  const json& c = j["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["message"]["role"], "assistant");
  EXPECT_TRUE(c["message"]["content"].is_string());
  EXPECT_EQ(c["logprobs"], nullptr);
  EXPECT_TRUE(c["finish_reason"] == "length" || c["finish_reason"] == "stop");
  const json& u = j["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(u["total_tokens"], u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_TRUE(u["prompt_tokens_details"]["cached_tokens"].is_number_integer());
}

TEST_F(OpenAiApi, ModelsListAndRetrieveAndUnknownModels) {
  json list = daemon_->get("/v1/models").json();
  ASSERT_EQ(list["data"].size(), 2u);
  EXPECT_EQ(list["data"][0]["id"], "ream-test");
  EXPECT_EQ(list["data"][1]["id"], "tiny-alias");
  EXPECT_EQ(list["data"][0]["max_model_len"], 262144) << "the tiny model's max_position_embeddings";
  auto one = daemon_->get("/v1/models/tiny-alias");
  EXPECT_EQ(one.status, 200u);
  EXPECT_EQ(one.json()["id"], "tiny-alias");
  for (const std::string target : {"/v1/models/tiny", "/v1/models/Qwen%2FQwen3-4B"}) {
    auto r = daemon_->get(target);
    EXPECT_EQ(r.status, 404u) << target;
    EXPECT_EQ(r.json()["error"]["code"], "model_not_found") << r.body;
  }
  auto chat = daemon_->post("/v1/chat/completions", chat_body({{"model", "tiny"}}));
  EXPECT_EQ(chat.status, 404u);
  json e = chat.json()["error"];
  EXPECT_EQ(e["code"], "model_not_found");
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["param"], "model");
}

TEST_F(OpenAiApi, ErrorsComeInOpenAIShapeNamingTheField) {
  auto r = daemon_->post("/v1/chat/completions", chat_body({{"temperature", "hot"}}));
  EXPECT_EQ(r.status, 400u);
  json e = r.json()["error"];
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["param"], "temperature");
  EXPECT_EQ(e["code"], "invalid_request");
  EXPECT_NE(e["message"].get<std::string>().find("temperature"), std::string::npos);
  auto u = daemon_->post("/v1/chat/completions", chat_body({{"frobnicate", 1}}));
  EXPECT_EQ(u.status, 400u);
  EXPECT_EQ(u.json()["error"]["message"], "Unrecognized request argument supplied: frobnicate");
  auto lb = daemon_->post("/v1/completions", {{"prompt", "x"}, {"logit_bias", {{"nine", 1}}}});
  EXPECT_EQ(lb.json()["error"]["param"], "logit_bias.nine") << lb.body;
  auto tools = daemon_->post("/v1/chat/completions", chat_body({{"tools", {{{"type", "function"}, {"function", {{"name", 7}}}}}}}));
  EXPECT_EQ(tools.json()["error"]["param"], "tools[0].function.name") << tools.body;
}

TEST_F(OpenAiApi, NChoicesUseSeedPlusIndexAndUsageSums) {
  const uint64_t seed = 4242;
  json three = post_ok("/v1/chat/completions", chat_body({{"n", 3}, {"seed", seed}, {"temperature", 1.0}}));
  ASSERT_EQ(three["choices"].size(), 3u);
  int64_t completion = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(three["choices"][i]["index"], i);
    json alone = post_ok("/v1/chat/completions", chat_body({{"seed", seed + i}, {"temperature", 1.0}}));
    EXPECT_EQ(three["choices"][i]["message"]["content"], alone["choices"][0]["message"]["content"]) << "choice " << i;
    completion += alone["usage"]["completion_tokens"].get<int64_t>();
  }
  EXPECT_EQ(three["usage"]["completion_tokens"], completion);
  json one = post_ok("/v1/chat/completions", chat_body({{"seed", seed}}));
  EXPECT_EQ(three["usage"]["prompt_tokens"], one["usage"]["prompt_tokens"]) << "the prompt counts once";
}

TEST_F(OpenAiApi, ChatLogprobsStreamedAndWholeAgree) {
  json body = chat_body({{"logprobs", true}, {"top_logprobs", 3}, {"temperature", 0}, {"max_tokens", 8}});
  json whole = post_ok("/v1/chat/completions", body);
  const json& content = whole["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), whole["usage"]["completion_tokens"].get<size_t>()) << "no EOS within 8 tokens of a random model";
  for (const json& t : content) {
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    // Greedy: the token is the most likely one.
    EXPECT_EQ(t["token"], t["top_logprobs"][0]["token"]);
    EXPECT_NEAR(t["logprob"].get<double>(), t["top_logprobs"][0]["logprob"].get<double>(), 1e-6);
    EXPECT_GE(t["top_logprobs"][0]["logprob"].get<double>(), t["top_logprobs"][1]["logprob"].get<double>());
    std::string bytes;
    for (const json& b : t["bytes"]) bytes += static_cast<char>(b.get<int>());
    if (t["token"].get<std::string>().find("\xEF\xBF\xBD") == std::string::npos) EXPECT_EQ(bytes, t["token"]);
  }
  body["stream"] = true;
  auto s = daemon_->post("/v1/chat/completions", body);
  bool done = false;
  std::string text;
  json streamed = json::array();
  for (const json& c : sse_data(s.body, &done)) {
    ASSERT_EQ(c["choices"].size(), 1u);
    const json& ch = c["choices"][0];
    if (ch["delta"].contains("content")) text += ch["delta"]["content"].get<std::string>();
    if (!ch["logprobs"].is_null()) {
      for (const json& t : ch["logprobs"]["content"]) streamed.push_back(t);
    }
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(text, whole["choices"][0]["message"]["content"]);
  EXPECT_EQ(streamed, content);
}

TEST_F(OpenAiApi, CompletionsTakeTextListsAndTokenIdsWithLogprobs) {
  json text = post_ok("/v1/completions", {{"model", "ream-test"}, {"prompt", "Once upon"}, {"max_tokens", 5},
                                          {"logprobs", 2}, {"temperature", 0}});
  EXPECT_EQ(text["object"], "text_completion");
  const json& c = text["choices"][0];
  const json& lp = c["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 5u);
  int64_t offset = 0;
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(lp["text_offset"][i], offset);
    const std::string tok = lp["tokens"][i];
    for (unsigned char ch : tok) offset += (ch & 0xC0) != 0x80;
    EXPECT_TRUE(lp["top_logprobs"][i].contains(tok)) << "the sampled token is among top_logprobs";
    EXPECT_LE(lp["top_logprobs"][i].size(), 3u);
  }
  // Token ids, and an echo of them.
  auto ids = daemon_->post("/tokenize", {{"prompt", "Once upon"}}).json()["tokens"];
  json echoed = post_ok("/v1/completions", {{"prompt", ids}, {"max_tokens", 5}, {"temperature", 0}, {"echo", true}});
  EXPECT_EQ(echoed["choices"][0]["text"], "Once upon" + c["text"].get<std::string>()) << "same tokens, same greedy reply";
  // Several prompts times n: indices prompt * n + i; each prompt counted once.
  json many = post_ok("/v1/completions", {{"prompt", {"a b c", "d e f g"}}, {"n", 2}, {"max_tokens", 3}});
  ASSERT_EQ(many["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(many["choices"][i]["index"], i);
  const int64_t p0 = daemon_->post("/tokenize", {{"prompt", "a b c"}}).json()["count"];
  const int64_t p1 = daemon_->post("/tokenize", {{"prompt", "d e f g"}}).json()["count"];
  EXPECT_EQ(many["usage"]["prompt_tokens"], p0 + p1);
  json nested = post_ok("/v1/completions", {{"prompt", {ids, ids}}, {"max_tokens", 2}});
  EXPECT_EQ(nested["choices"].size(), 2u);
}

TEST_F(OpenAiApi, StopStringsCutTheReply) {
  json greedy = post_ok("/v1/completions", {{"prompt", "The list:"}, {"max_tokens", 12}, {"temperature", 0}});
  const std::string full = greedy["choices"][0]["text"];
  ASSERT_GE(full.size(), 6u);
  const std::string stop = full.substr(full.size() / 2, 3);
  json cut = post_ok("/v1/completions", {{"prompt", "The list:"}, {"max_tokens", 12}, {"temperature", 0}, {"stop", {stop}}});
  EXPECT_EQ(cut["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(cut["choices"][0]["text"], full.substr(0, full.find(stop)));
}

TEST_F(OpenAiApi, TokenizeAndDetokenizeRoundTripAConversationWithTools) {
  // Sent as text: the tool is rendered with its keys in the order sent.
  auto r = http_request(daemon_->port(), "POST", "/tokenize",
                        R"({"messages": [{"role": "user", "content": "hi"}], "return_token_strs": true,
                            "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]})");
  ASSERT_EQ(r.status, 200u) << r.body;
  json t = r.json();
  EXPECT_EQ(t["count"], t["tokens"].size());
  EXPECT_EQ(t["token_strs"].size(), t["tokens"].size());
  EXPECT_EQ(t["max_model_len"], 262144);
  json back = post_ok("/detokenize", {{"tokens", t["tokens"]}});
  const std::string prompt = back["prompt"];
  EXPECT_EQ(prompt.rfind("<|im_start|>system\n# Tools\n", 0), 0u) << prompt;
  EXPECT_NE(prompt.find("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"lookup\", \"parameters\": {\"type\": \"object\"}}}\n</tools>"),
            std::string::npos)
      << prompt;
}

// A non-streamed reply waits off the handler pool: with one handler thread, other requests
// are answered while it is being made.
TEST_F(OpenAiApi, NonStreamedRepliesHoldNoHandlerThread) {
  ASSERT_TRUE(engine_idle(*daemon_));
  RawClient slow(daemon_->port(), "/v1/completions", {{"prompt", "x"}, {"max_tokens", 4000}, {"ignore_eos", true}});
  RawClient slower(daemon_->port(), "/v1/completions", {{"prompt", "y"}, {"max_tokens", 4000}, {"ignore_eos", true}});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (metric(*daemon_, "reamd_engine_requests_running") < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto models = daemon_->get("/v1/models");
  EXPECT_EQ(models.status, 200u);
  EXPECT_GE(metric(*daemon_, "reamd_engine_requests_running") + metric(*daemon_, "reamd_engine_requests_waiting"), 1)
      << "the replies were still being made";
  slow.leave();
  slower.leave();
  EXPECT_TRUE(engine_idle(*daemon_)) << "closing the connections cancels both";
}

TEST_F(OpenAiApi, AClientLeavingCancelsItsEngineRequests) {
  ASSERT_TRUE(engine_idle(*daemon_));
  {  // streamed, n = 2: leave after the first tokens
    RawClient c(daemon_->port(), "/v1/chat/completions",
                chat_body({{"stream", true}, {"n", 2}, {"max_tokens", 8000}, {"ignore_eos", true}}));
    const std::string got = c.read_until("\"content\":\"");
    EXPECT_NE(got.find("text/event-stream"), std::string::npos) << got;
    c.leave();
    EXPECT_TRUE(engine_idle(*daemon_)) << "the stream's two engine requests go when the client does";
  }
  {  // not streamed: leave while the reply is being made
    RawClient c(daemon_->port(), "/v1/chat/completions", chat_body({{"max_tokens", 8000}, {"ignore_eos", true}}));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (metric(*daemon_, "reamd_engine_requests_running") < 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    c.leave();
    EXPECT_TRUE(engine_idle(*daemon_)) << "a non-streamed request goes when its client does";
  }
  EXPECT_NE(daemon_->log().find("POST /v1/chat/completions 499"), std::string::npos) << "logged as 499";
}

// Issue 14, item 6: a non-streamed chat whose client has gone stops generating. The engine's
// own count of generated tokens says how far it got: far short of max_tokens, whatever the
// speed of the machine (a chat left running would count them all, or still be running).
TEST_F(OpenAiApi, ANonStreamedChatStopsGeneratingWhenItsClientLeaves) {
  ASSERT_TRUE(engine_idle(*daemon_));
  constexpr int kMaxTokens = 100000;
  const int64_t before = metric(*daemon_, "reamd_engine_generated_tokens_total");
  ASSERT_GE(before, 0);
  RawClient c(daemon_->port(), "/v1/chat/completions", chat_body({{"max_tokens", kMaxTokens}, {"ignore_eos", true}}));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (metric(*daemon_, "reamd_engine_generated_tokens_total") <= before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(metric(*daemon_, "reamd_engine_generated_tokens_total"), before) << "the chat never started generating";
  c.leave();
  EXPECT_TRUE(engine_idle(*daemon_, 60)) << "the chat is still generating after its client left";
  const int64_t generated = metric(*daemon_, "reamd_engine_generated_tokens_total") - before;
  EXPECT_LT(generated, kMaxTokens / 2) << "generated " << generated << " tokens for a client that had gone";
  EXPECT_NE(daemon_->log().find("POST /v1/chat/completions 499"), std::string::npos) << "logged as 499";
}

TEST_F(OpenAiApi, LogitBiasSteersEveryToken) {
  const int token = daemon_->post("/tokenize", {{"prompt", " river"}}).json()["tokens"][0];
  json j = post_ok("/v1/completions", {{"prompt", "x"}, {"max_tokens", 6}, {"temperature", 1.0},
                                       {"logit_bias", {{std::to_string(token), 100}}}, {"logprobs", 0}});
  for (const json& t : j["choices"][0]["logprobs"]["tokens"]) EXPECT_EQ(t, " river");
}

TEST_F(OpenAiApi, AForcedToolCallIsAValidCall) {
  json tool = {{"type", "function"},
               {"function", {{"name", "get_weather"},
                             // An enum: a random-weight model may write long before closing a free string.
                             {"parameters", {{"type", "object"}, {"properties", {{"city", {{"enum", {"Oslo", "Paris"}}}}}},
                                             {"required", {"city"}}, {"additionalProperties", false}}}}}};
  for (const json& choice : {json("required"), json{{"type", "function"}, {"function", {{"name", "get_weather"}}}}}) {
    json j = post_ok("/v1/chat/completions", chat_body({{"tools", {tool}}, {"tool_choice", choice}, {"max_tokens", 1000}}));
    const json& c = j["choices"][0];
    EXPECT_EQ(c["finish_reason"], "tool_calls") << j.dump();
    ASSERT_EQ(c["message"]["tool_calls"].size(), 1u) << j.dump();
    EXPECT_EQ(c["message"]["tool_calls"][0]["function"]["name"], "get_weather");
    json args = json::parse(c["message"]["tool_calls"][0]["function"]["arguments"].get<std::string>());
    EXPECT_TRUE(args["city"] == "Oslo" || args["city"] == "Paris") << args.dump();
  }
}

}  // namespace
}  // namespace ream::testing
