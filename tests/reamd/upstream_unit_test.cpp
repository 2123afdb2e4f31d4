// Units of daemon/src/upstream: URLs, the SSE reader fed in random pieces, the OpenAI body a
// workflow step becomes (its constraint as response_format), and what the affinity key covers.
// The pool, the client and the proxy are tested with real upstream reamds in
// daemon_upstreams_test.cpp.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "upstream/http_client.h"
#include "upstream/model_client.h"
#include "upstream/pool.h"

namespace ream::upstream {
namespace {

using nlohmann::json;

TEST(UpstreamEndpoint, ParsesHostPortAndBaseAndRefusesWhatItCannotServe) {
  Endpoint e;
  EXPECT_EQ(parse_endpoint("http://gpu1.internal:8080", &e), "");
  EXPECT_EQ(e.host, "gpu1.internal");
  EXPECT_EQ(e.port, 8080);
  EXPECT_EQ(e.base_path, "");
  EXPECT_EQ(parse_endpoint("http://10.0.0.7:9000/v1/", &e), "");  // OpenAI clients' base URL
  EXPECT_EQ(e.base_path, "");
  EXPECT_EQ(parse_endpoint("http://[::1]:8000/proxy/v1", &e), "");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 8000);
  EXPECT_EQ(e.base_path, "/proxy");
  EXPECT_EQ(parse_endpoint("http://host", &e), "");
  EXPECT_EQ(e.port, 80);
  EXPECT_FALSE(e.tls);
  EXPECT_EQ(parse_endpoint("https://gpu1:8080/v1", &e), "");
  EXPECT_TRUE(e.tls);
  EXPECT_EQ(e.host, "gpu1");
  EXPECT_EQ(e.port, 8080);
  EXPECT_EQ(parse_endpoint("https://gpu1", &e), "");
  EXPECT_EQ(e.port, 443);
  EXPECT_NE(parse_endpoint("gpu1:8080", &e).find("not an http:// or https:// URL"), std::string::npos);
  EXPECT_NE(parse_endpoint("http://gpu1:99999", &e).find("not a port number"), std::string::npos);
  EXPECT_NE(parse_endpoint("http://:8080", &e).find("names no host"), std::string::npos);
}

TEST(UpstreamSse, EventsComeWholeHoweverTheBytesAreSplit) {
  std::mt19937 rng(std::random_device{}());
  std::vector<std::string> sent;
  std::string wire = ": comment\r\n\r\n";
  for (int i = 0; i < 50; ++i) {
    std::string data = "{\"i\":" + std::to_string(rng() % 100000) + ",\"t\":\"" + std::string(rng() % 40, 'x') + "\"}";
    sent.push_back(data);
    wire += (i % 3 == 0 ? "data:" : "data: ") + data + (i % 2 ? "\r\n\r\n" : "\n\n");
  }
  wire += "event: x\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n";
  sent.push_back("line1\nline2");
  sent.push_back("[DONE]");
  SseReader reader;
  std::vector<std::string> got;
  for (size_t at = 0; at < wire.size();) {
    size_t n = std::min(wire.size() - at, static_cast<size_t>(1 + rng() % 17));
    reader.feed(std::string_view(wire).substr(at, n), [&](const std::string& d) {
      got.push_back(d);
      return true;
    });
    at += n;
  }
  EXPECT_EQ(got, sent);
}

TEST(UpstreamBody, AStepBecomesAStreamedChatWithItsSamplingAndSchema) {
  flow::ModelRequest r;
  r.messages = {{"system", "Be brief."}, {"user", "Summarise: ..."}};
  r.sampling.temperature = 0.3f;
  r.sampling.top_k = 20;
  r.sampling.seed = 7;
  r.sampling.has_seed = true;
  r.sampling.stop = {"</s>"};
  const json schema = {{"type", "object"}, {"properties", {{"summary", {{"type", "string"}}}}}, {"required", {"summary"}}};
  r.sampling.constraint = {Constraint::Kind::kJsonSchema, schema.dump()};
  auto b = request_body(r, 77);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ((*b)["messages"][1]["content"], "Summarise: ...");
  EXPECT_EQ((*b)["max_tokens"], 77);
  EXPECT_FLOAT_EQ((*b)["temperature"].get<float>(), 0.3f);
  EXPECT_EQ((*b)["top_k"], 20);
  EXPECT_EQ((*b)["seed"], 7);
  EXPECT_EQ((*b)["stop"], json::array({"</s>"}));
  EXPECT_FALSE(b->contains("min_p"));  // off: not sent, for servers without vLLM's extensions
  EXPECT_EQ((*b)["response_format"]["type"], "json_schema");
  EXPECT_EQ((*b)["response_format"]["json_schema"]["schema"], schema);
  EXPECT_EQ((*b)["response_format"]["json_schema"]["strict"], true);
  EXPECT_EQ((*b)["stream"], true);
  EXPECT_EQ((*b)["stream_options"]["include_usage"], true);

  r.sampling.constraint = {Constraint::Kind::kJsonObject, ""};
  EXPECT_EQ((*request_body(r, 5))["response_format"], json({{"type", "json_object"}}));
  r.sampling.constraint = {Constraint::Kind::kRegex, "[a-z]+"};
  auto refused = request_body(r, 5);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("regex constraint cannot be sent"), std::string::npos);
}

TEST(UpstreamAffinity, CoversTheSystemPromptWholeThenTheDocumentsStart) {
  const std::string system(3000, 's');  // longer than the window: still all in the key
  const std::string doc = "DOC-" + std::string(2000, 'd');
  auto body = [&](const std::string& sys, const std::string& question) {
    return json{{"messages", {{{"role", "system"}, {"content", sys}}, {{"role", "user"}, {"content", doc + question}}}}};
  };
  const std::string a = affinity_text(body(system, "Who?"), 1024);
  EXPECT_EQ(a, affinity_text(body(system, "When, and where?"), 1024));  // the question is past the window
  EXPECT_NE(a, affinity_text(body(system + "x", "Who?"), 1024));
  EXPECT_EQ(a.size(), system.size() + 1 + 1024);
  EXPECT_EQ(affinity_text(json{{"prompt", std::string(5000, 'p')}}, 100), std::string(100, 'p'));
  EXPECT_EQ(affinity_text(json{{"prompt", json::array({"first", "second"})}}, 100), "first");
}

// Routing without a network: the pool is not started, so no health check runs and every
// upstream counts as healthy until mark_down().
TEST(UpstreamPoolRouting, AffinityHoldsSpillsWhenFullSkipsTheDownAndAWaitCanBeCancelled) {
  std::vector<UpstreamSpec> specs(3);
  for (size_t i = 0; i < specs.size(); ++i) {
    specs[i].name = "u" + std::to_string(i);
    specs[i].url = "http://127.0.0.1:1";
    specs[i].max_concurrent = 1;
  }
  metrics::Registry registry;
  UpstreamPool pool(specs, &registry);
  auto never = [] { return false; };
  std::mt19937_64 rng(std::random_device{}());
  const uint64_t key = pool.affinity("document " + std::to_string(rng()));
  size_t home;
  {
    auto a = pool.acquire(key, {}, 1, never);
    ASSERT_TRUE(a.ok());
    home = a->index();
  }
  for (int i = 0; i < 5; ++i) {
    auto again = pool.acquire(key, {}, 1, never);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->index(), home);  // the same document, the same upstream
  }
  // Keys spread: among many fresh ones every upstream is someone's home.
  std::set<size_t> homes;
  for (int i = 0; i < 200; ++i) homes.insert(pool.acquire(pool.affinity(std::to_string(rng())), {}, 1, never)->index());
  EXPECT_EQ(homes.size(), 3u);
  {
    auto held = pool.acquire(key, {}, 1, never);
    auto spilled = pool.acquire(key, {}, 1, never);  // home is full: another takes it
    ASSERT_TRUE(spilled.ok());
    EXPECT_NE(spilled->index(), home);
  }
  pool.mark_down(home, "test");
  auto moved = pool.acquire(key, {}, 1, never);
  ASSERT_TRUE(moved.ok());
  EXPECT_NE(moved->index(), home);
  // Every healthy upstream full: the wait ends when the waiter is cancelled.
  const size_t other = 3 - home - moved->index();
  auto last = pool.acquire(key, {}, 1, never);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->index(), other);
  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancelled = true;
    pool.wake();
  });
  auto waited = pool.acquire(key, {}, 60, [&] { return cancelled.load(); });
  canceller.join();
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.status().code(), StatusCode::kCancelled);
  // With every healthy one excluded or down, the error names each upstream's state.
  pool.mark_down(other, "connection refused");
  auto none = pool.acquire(key, {moved->index()}, 1, never);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no healthy upstream"), std::string::npos) << none.status().message();
  EXPECT_NE(none.status().message().find("connection refused"), std::string::npos) << none.status().message();
}

// A health check answered 200 after a request marked the upstream down (the check's
// answer was on its way when the upstream died) leaves it down: only a check that began
// after the failure may bring it back. (Seen as a flaky daemon_upstreams_test: the killed
// upstream showed healthy.)
TEST(UpstreamPoolHealth, ACheckThatBeganBeforeAFailureDoesNotUndoIt) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  // Answers each GET with 200 once `go` is set for it; says when a request came in.
  std::promise<void> first_request, release_first;
  std::thread server([&] {
    for (int n = 0; n < 2; ++n) {
      const int c = ::accept(listener, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string got;
      while (got.find("\r\n\r\n") == std::string::npos) {
        const ssize_t k = ::read(c, buf, sizeof buf);
        if (k <= 0) break;
        got.append(buf, static_cast<size_t>(k));
      }
      if (n == 0) {
        first_request.set_value();
        release_first.get_future().wait();
      }
      const std::string body = R"({"data": [{"id": "m"}]})";
      const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      (void)!::write(c, reply.data(), reply.size());
      ::close(c);
    }
  });
  UpstreamSpec spec;
  spec.name = "u";
  spec.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  metrics::Registry registry;
  UpstreamPool pool({spec}, &registry);
  std::thread check([&] { pool.check_one(0); });
  first_request.get_future().wait();  // the check is under way
  pool.mark_down(0, "the reply was cut");
  release_first.set_value();  // and now its 200 arrives
  check.join();
  EXPECT_FALSE(pool.state(0).healthy) << "a check older than the failure marked it healthy";
  EXPECT_EQ(pool.state(0).health_error, "the reply was cut");
  pool.check_one(0);  // a check begun after the failure
  EXPECT_TRUE(pool.state(0).healthy) << pool.state(0).health_error;
  server.join();
  ::close(listener);
}

}  // namespace
}  // namespace ream::upstream
