// A reamd with no model of its own (engine.backend: upstreams) fronting two real upstream
// reamds, each running the tiny random-weight model on the CPU engine. Where a request went
// is read from the upstreams' own /metrics (their chat_completions request counts and prefix
// cache counters), not from the front's; the front's reamd_upstream_* metrics are checked
// against them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "daemon_harness.h"

namespace ream::testing {
namespace {

using nlohmann::json;

// A metric's value on one series: `name{labels}` exactly as rendered, or `name` alone.
double metric(const Daemon& d, const std::string& series) {
  auto m = d.get("/metrics");
  std::istringstream in(m.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

double chats_served(const Daemon& upstream) {
  return metric(upstream, "reamd_http_requests_total{route=\"chat_completions\",method=\"POST\",code=\"200\"}");
}

std::string random_words(std::mt19937& rng, int words) {
  static const char* kWords[] = {"lessor", "tenant", "premises", "term", "rent", "notice", "default", "clause",
                                 "party", "agreement", "warranty", "liability", "indemnity", "breach", "cure",
                                 "period", "assignment", "sublease", "insurance", "repair", "deposit", "waiver"};
  std::uniform_int_distribution<size_t> pick(0, std::size(kWords) - 1);
  std::string out;
  for (int i = 0; i < words; ++i) out += std::string(i ? " " : "") + kWords[pick(rng)];
  return out;
}

// A streamed call read as it comes, over a raw socket, so the test can act mid-stream.
class Stream {
 public:
  Stream(uint16_t port, const json& body) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const std::string b = body.dump();
    const std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(b.size()) + "\r\n\r\n" + b;
    EXPECT_EQ(send(fd_, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  }
  ~Stream() { close(fd_); }
  // Reads until `needle` occurs `count` times in all that came (or the peer closed).
  const std::string& read_until(const std::string& needle, int count = 1) {
    char buf[4096];
    while (occurrences(needle) < count) {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got_.append(buf, static_cast<size_t>(n));
    }
    return got_;
  }
  int occurrences(const std::string& needle) const {
    int n = 0;
    for (size_t at = got_.find(needle); at != std::string::npos; at = got_.find(needle, at + 1)) ++n;
    return n;
  }
  const std::string& got() const { return got_; }

 private:
  int fd_ = -1;
  std::string got_;
};

class Upstreams : public ::testing::Test {
 protected:
  void SetUp() override {
    rng_.seed(std::random_device{}());
    for (const char* name : {"a", "b"}) {
      auto d = std::make_unique<Daemon>(tmp_.path() + "/" + name);
      d->add_engine_setting("served_model_name: gpu-" + std::string(name));
      ups_.push_back(std::move(d));
    }
    // Both start at once: two daemons on two loaded cores.
    std::thread other([&] { ASSERT_TRUE(ups_[1]->start()) << ups_[1]->log(); });
    ASSERT_TRUE(ups_[0]->start()) << ups_[0]->log();
    other.join();
    std::string yaml = "upstreams:\n";
    for (size_t i = 0; i < ups_.size(); ++i) {
      yaml += "  - name: " + std::string(i == 0 ? "a" : "b") + "\n    url: http://127.0.0.1:" +
              std::to_string(ups_[i]->port()) + "/v1\n    max_concurrent: 4\n    health_interval_s: 0.5\n";
    }
    front_ = std::make_unique<Daemon>(tmp_.path() + "/front", yaml + "queue:\n  runners: 2\n");
    front_->add_engine_setting("backend: upstreams");
    front_->add_engine_setting("served_model_name: fleet");
    ASSERT_TRUE(front_->start()) << front_->log();
  }

  json chat(const std::string& document, const std::string& question, int max_tokens = 2) {
    json body = {{"model", "fleet"},
                 {"messages", {{{"role", "system"}, {"content", "Answer from the document."}},
                               {{"role", "user"}, {"content", document + "\n\nQuestion: " + question}}}},
                 {"max_tokens", max_tokens},
                 {"temperature", 0}};
    auto r = front_->post("/v1/chat/completions", body);
    EXPECT_EQ(r.status, 200u) << r.body << front_->log();
    return r.json();
  }

  TempDir tmp_;
  std::mt19937 rng_;
  std::vector<std::unique_ptr<Daemon>> ups_;
  std::unique_ptr<Daemon> front_;
};

TEST_F(Upstreams, SameDocumentRequestsLandOnTheSameUpstreamAndHitItsPrefixCache) {
  int64_t prompt = 0, cached = 0;
  for (int doc = 0; doc < 3; ++doc) {
    const std::string document = random_words(rng_, 300);
    const double before[2] = {chats_served(*ups_[0]), chats_served(*ups_[1])};
    for (int q = 0; q < 3; ++q) {
      json r = chat(document, random_words(rng_, 6) + "?");
      ASSERT_TRUE(r.is_object() && r.contains("usage")) << r.dump();
      EXPECT_EQ(r["model"], "fleet") << r.dump();
      const int64_t p = r["usage"]["prompt_tokens"], c = r["usage"]["prompt_tokens_details"]["cached_tokens"];
      prompt += p;
      cached += c;
      // The first question prefills the document; the next ones find it cached where they land.
      if (q > 0) EXPECT_GT(c, 0) << "question " << q << " over document " << doc << " missed the prefix cache";
    }
    const double served[2] = {chats_served(*ups_[0]) - before[0], chats_served(*ups_[1]) - before[1]};
    EXPECT_TRUE((served[0] == 3 && served[1] == 0) || (served[0] == 0 && served[1] == 3))
        << "document " << doc << " was split: a served " << served[0] << ", b " << served[1];
  }
  const double ratio = static_cast<double>(cached) / static_cast<double>(prompt);
  std::printf("prefix-cache hit rate over 3 documents x 3 questions: %.3f (%lld of %lld prompt tokens)\n", ratio,
              static_cast<long long>(cached), static_cast<long long>(prompt));
  RecordProperty("prefix_cache_hit_rate", std::to_string(ratio));
  // The front counted the same tokens the upstreams reported, per upstream.
  const double front_prompt = metric(*front_, "reamd_upstream_prompt_tokens_total{upstream=\"a\"}") +
                              metric(*front_, "reamd_upstream_prompt_tokens_total{upstream=\"b\"}");
  const double front_cached = metric(*front_, "reamd_upstream_cached_prompt_tokens_total{upstream=\"a\"}") +
                              metric(*front_, "reamd_upstream_cached_prompt_tokens_total{upstream=\"b\"}");
  EXPECT_EQ(front_prompt, static_cast<double>(prompt));
  EXPECT_EQ(front_cached, static_cast<double>(cached));
  EXPECT_EQ(metric(*front_, "reamd_upstream_requests_total{upstream=\"a\"}"), chats_served(*ups_[0]));
  EXPECT_EQ(metric(*front_, "reamd_upstream_requests_total{upstream=\"b\"}"), chats_served(*ups_[1]));
}

TEST_F(Upstreams, KillingAnUpstreamMidStreamFailsOnlyItsRequestAndMovesNewOnesToTheOther) {
  // Streams are opened one at a time, each over a fresh document, until both upstreams have
  // one in flight (the front's in-flight gauges say where each went).
  std::vector<std::unique_ptr<Stream>> streams;
  std::vector<int> on;  // the upstream each stream went to
  auto in_flight = [&](int i) {
    return metric(*front_, std::string("reamd_upstream_in_flight{upstream=\"") + (i == 0 ? "a" : "b") + "\"}");
  };
  for (int tries = 0; tries < 12 && (std::count(on.begin(), on.end(), 0) == 0 || std::count(on.begin(), on.end(), 1) == 0);
       ++tries) {
    const double before[2] = {in_flight(0), in_flight(1)};
    json body = {{"model", "fleet"},
                 {"messages", {{{"role", "user"}, {"content", random_words(rng_, 40)}}}},
                 {"max_tokens", 4000},
                 {"ignore_eos", true},
                 {"stream", true}};
    streams.push_back(std::make_unique<Stream>(front_->port(), body));
    streams.back()->read_until("\"content\":", 2);  // the role chunk, then a token
    ASSERT_GE(streams.back()->occurrences("\"content\":"), 2) << streams.back()->got() << front_->log();
    on.push_back(in_flight(0) > before[0] ? 0 : 1);
    ASSERT_EQ(in_flight(0) + in_flight(1), before[0] + before[1] + 1);
  }
  ASSERT_TRUE(std::count(on.begin(), on.end(), 0) > 0 && std::count(on.begin(), on.end(), 1) > 0)
      << "twelve fresh documents all went to one upstream";
  const int victim = on.front(), survivor = 1 - victim;
  ups_[victim]->kill9();
  for (size_t i = 0; i < streams.size(); ++i) {
    if (on[i] == victim) {
      // The cut stream ends with an error event in OpenAI's shape, then [DONE].
      const std::string& got = streams[i]->read_until("data: [DONE]");
      const size_t err = got.find("data: {\"error\"");
      ASSERT_NE(err, std::string::npos) << got.substr(got.size() > 2000 ? got.size() - 2000 : 0);
      EXPECT_NE(got.find("the reply was cut", err), std::string::npos) << got.substr(err);
      EXPECT_NE(got.find("upstream_failed", err), std::string::npos) << got.substr(err);
    } else {
      // Streams on the survivor go on: more tokens arrive after the kill, and no error.
      const int had = streams[i]->occurrences("\"content\":");
      streams[i]->read_until("\"content\":", had + 3);
      EXPECT_GE(streams[i]->occurrences("\"content\":"), had + 3) << streams[i]->got().substr(0, 500);
      EXPECT_EQ(streams[i]->got().find("\"error\""), std::string::npos);
    }
  }
  streams.clear();  // the survivor's streams end (the client leaving cancels them)
  EXPECT_GE(metric(*front_, std::string("reamd_upstream_errors_total{upstream=\"") + (victim == 0 ? "a" : "b") +
                                "\",kind=\"cut\"}"),
            1);
  // The survivor's streams, cancelled, are counted when they close: wait for that (bounded).
  for (int i = 0; i < 200 && metric(*ups_[survivor], "reamd_http_streams") > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(metric(*ups_[survivor], "reamd_http_streams"), 0) << "the survivor's streams did not end";
  // New requests, over fresh documents, all succeed on the survivor.
  const double served_before = chats_served(*ups_[survivor]);
  for (int i = 0; i < 4; ++i) {
    json r = chat(random_words(rng_, 40), "why?");
    EXPECT_EQ(r["choices"][0]["finish_reason"], "length") << r.dump();
  }
  EXPECT_EQ(chats_served(*ups_[survivor]) - served_before, 4) << front_->log();
  // A cut stream does not mark its upstream down (only a refused connection does); the
  // health check does, at its next run (every 0.5 s here). The checks above can all fall
  // within one interval after the kill, and a check answered just before it reads healthy:
  // wait for the next one (bounded).
  const std::string healthy = std::string("reamd_upstream_healthy{upstream=\"") + (victim == 0 ? "a" : "b") + "\"}";
  for (int i = 0; i < 100 && metric(*front_, healthy) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(metric(*front_, healthy), 0) << front_->log();
}

TEST_F(Upstreams, AWorkflowJobThroughTheFrontSucceeds) {
  auto up = http_request(front_->port(), "POST", "/v1/documents?name=contract.md", random_words(rng_, 250),
                         {{"Content-Type", "text/markdown"}});
  ASSERT_EQ(up.status, 201u) << up.body;
  const double before = chats_served(*ups_[0]) + chats_served(*ups_[1]);
  auto r = front_->post("/v1/jobs", json{{"workflow", "summarize"},
                                         {"inputs",
                                          {{"documents", json::array({{{"document_id", up.json()["id"]}}})},
                                           {"max_words", 20},
                                           {"max_tokens", 12}}}});
  ASSERT_EQ(r.status, 202u) << r.body;
  json job = wait_job(*front_, r.json()["id"].get<int64_t>(), 120);
  ASSERT_TRUE(job.is_object()) << front_->log();
  EXPECT_EQ(job["status"], "succeeded") << job.dump() << front_->log();
  EXPECT_GT(job["usage"]["prompt_tokens"].get<int64_t>(), 0) << job.dump();
  EXPECT_GT(job["usage"]["completion_tokens"].get<int64_t>(), 0) << job.dump();
  EXPECT_GE(chats_served(*ups_[0]) + chats_served(*ups_[1]) - before, 1);
  EXPECT_EQ(metric(*front_, "reamd_upstream_completion_tokens_total{upstream=\"a\"}") +
                metric(*front_, "reamd_upstream_completion_tokens_total{upstream=\"b\"}"),
            job["usage"]["completion_tokens"].get<double>());
}

TEST_F(Upstreams, NoReachableUpstreamIsAClear503AndAnUnknownModelA404) {
  ups_[0]->kill9();
  ups_[1]->kill9();
  auto r = front_->post("/v1/chat/completions",
                        json{{"model", "fleet"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 2}});
  EXPECT_EQ(r.status, 503u) << r.body;
  const std::string message = r.json()["error"]["message"];
  EXPECT_TRUE(message.find("no healthy upstream") != std::string::npos ||
              message.find("cannot connect") != std::string::npos)
      << message;
  auto bad = front_->post("/v1/chat/completions",
                          json{{"model", "gpu-a"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  EXPECT_EQ(bad.status, 404u) << bad.body;
  EXPECT_EQ(bad.json()["error"]["code"], "model_not_found") << bad.body;
}

// Upstream settings a front cannot work with are refused at start, the entry and key named.
// An https upstream: a reamd serving TLS with a fresh self-signed certificate for
// 127.0.0.1. A front trusting that certificate (ca_file) sends its chats there; a front
// trusting only the system's CAs refuses the connection and says why.
TEST(UpstreamTls, HttpsUpstreamIsUsedWhenItsCertificateVerifiesAndRefusedWhenNot) {
  TempDir tmp;
  const std::string cert = tmp.path() + "/cert.pem", key = tmp.path() + "/key.pem";
  ASSERT_TRUE(make_loopback_certificate(tmp.path()));
  Daemon up(tmp.path() + "/up", "tls:\n  cert_file: " + cert + "\n  key_file: " + key + "\n");
  up.add_engine_setting("served_model_name: gpu-tls");
  up.start(false, 1);  // its readiness probe speaks plain HTTP; the fronts' health checks speak TLS
  const std::string url = "https://127.0.0.1:" + std::to_string(up.port()) + "/v1";
  auto front_with = [&](const std::string& name, const std::string& ca_line) {
    auto d = std::make_unique<Daemon>(tmp.path() + "/" + name, "upstreams:\n  - name: tls\n    url: " + url + "\n" +
                                                                   ca_line + "    health_interval_s: 0.5\n");
    d->add_engine_setting("backend: upstreams");
    d->add_engine_setting("served_model_name: fleet");
    return d;
  };
  auto trusting = front_with("trusting", "    ca_file: " + cert + "\n");
  ASSERT_TRUE(trusting->start()) << trusting->log();
  const json body = {{"model", "fleet"},
                     {"messages", {{{"role", "user"}, {"content", "Say something."}}}},
                     {"max_tokens", 2},
                     {"temperature", 0}};
  HttpResult r;
  for (int i = 0; i < 200; ++i) {  // until the first TLS health check has found it up
    r = trusting->post("/v1/chat/completions", body);
    if (r.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(r.status, 200u) << r.body << trusting->log() << up.log();
  EXPECT_EQ(metric(*trusting, "reamd_upstream_requests_total{upstream=\"tls\"}"), 1) << trusting->get("/metrics").body;

  // Without the certificate among its CAs the front never sends a request: the health
  // check's handshake fails, the upstream stays down, and the log says why.
  auto wary = front_with("wary", "");
  ASSERT_TRUE(wary->start()) << wary->log();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto refused = wary->post("/v1/chat/completions", body);
  EXPECT_NE(refused.status, 200u) << refused.body;
  EXPECT_NE(wary->log().find("certificate verify failed"), std::string::npos) << wary->log();
  EXPECT_EQ(metric(*wary, "reamd_upstream_requests_total{upstream=\"tls\"}"), 0);
}

TEST(UpstreamConfig, BadEntriesAreRefusedNamingTheKey) {
  TempDir tmp;
  const std::string key_file = tmp.path() + "/key";
  std::ofstream(key_file) << "sk-test\n";
  const std::string good = "\n  - {name: a, url: \"http://127.0.0.1:9/v1\", api_key_file: " + key_file + "}";
  const std::pair<std::string, std::string> cases[] = {
      {"engine: {backend: upstreams}\n", "engine.backend: upstreams needs at least one entry"},
      {"upstreams:" + good + "\n", "upstreams: are used only with engine.backend: upstreams"},
      {"engine: {backend: remote}\n", "engine.backend: local or upstreams"},
      {"engine: {backend: upstreams}\nupstreams:\n  - {url: \"ftp://gpu1:8080\"}\n", "is not an http:// or https:// URL"},
      {"engine: {backend: upstreams}\nupstreams:\n  - {url: \"http://gpu1:8080\", ca_file: /etc/hostname}\n",
       "upstreams[].ca_file: only for an https:// url"},
      {"engine: {backend: upstreams}\nupstreams:\n  - {url: \"https://gpu1:8080\", ca_file: /nonexistent/ca.pem}\n",
       "upstreams[].ca_file: cannot read '/nonexistent/ca.pem'"},
      {"engine: {backend: upstreams}\nupstreams:\n  - {name: a}\n", "upstreams[].url: missing"},
      {"engine: {backend: upstreams}\nupstreams:\n  - {url: \"http://x:1\", api_key_env: REAM_TEST_UNSET_KEY}\n",
       "environment variable REAM_TEST_UNSET_KEY is not set"},
      {"engine: {backend: upstreams}\nupstreams:" + good + good + "\n", "two upstreams are named 'a'"},
      {"engine: {backend: upstreams}\nupstreams:\n  - {url: \"http://x:1\", max_concurrent: 0}\n",
       "upstreams[0] (upstream-1).max_concurrent: 1..4096"},
      {"engine: {backend: upstreams}\nupstreams:\n  - {url: \"http://x:1\", max_conc: 3}\n", "upstreams[].max_conc: unknown key"},
  };
  for (const auto& [yaml, expected] : cases) {
    SCOPED_TRACE(yaml);
    const std::string cfg = tmp.path() + "/c.yaml", out = tmp.path() + "/out";
    std::ofstream(cfg) << "data_dir: " << tmp.path() << "\n" << yaml;
    const std::string cmd = "env -u REAM_TEST_UNSET_KEY " + reamd_path() + " --config " + cfg +
                            " --check-config 2>" + out;
    EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
    std::ifstream in(out);
    std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(msg.find(expected), std::string::npos) << msg;
  }
  const std::string cfg = tmp.path() + "/ok.yaml";
  std::ofstream(cfg) << "data_dir: " << tmp.path() << "\nengine: {backend: upstreams}\nupstreams:" << good << "\n";
  EXPECT_EQ(WEXITSTATUS(std::system((reamd_path() + " --config " + cfg +
                                     " --check-config >/dev/null 2>&1").c_str())),
            0);
}

}  // namespace
}  // namespace ream::testing
