// Progress of long work through the real reamd (issue 13, section 3), with the tiny
// random model on the CPU and prefill chunks of 32 tokens, so a document of a few
// thousand tokens is prefilled over many engine steps: the job resource shows live
// numbers while the job runs, the SSE stream carries `progress` events whose counts
// only rise and end at the job's usage, and the metrics' token counters move by the
// job's numbers. The per-chunk events themselves are tested at the engine
// (tests/engine/engine_progress_test.cpp).
#include <arpa/inet.h>
#include <gtest/gtest.h>
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

std::string words(std::mt19937& rng, int n) {
  static const char* kW[] = {"lessor", "tenant", "shall", "notice", "premises", "rent", "term", "default",
                             "assignment", "insurance", "indemnify", "covenant"};
  std::string s;
  for (int i = 0; i < n; ++i) s += std::string(kW[rng() % 12]) + (i % 14 == 13 ? ".\n" : " ");
  return s;
}

struct SseEvent {
  int64_t id = 0;
  std::string type;
  json data;
};

std::vector<SseEvent> parse_sse(const std::string& body) {
  std::vector<SseEvent> out;
  SseEvent cur;
  std::string data;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) {
      if (!cur.type.empty()) {
        cur.data = json::parse(data, nullptr, false);
        out.push_back(cur);
      }
      cur = {};
      data.clear();
    } else if (line.rfind("id: ", 0) == 0) {
      cur.id = std::stoll(line.substr(4));
    } else if (line.rfind("event: ", 0) == 0) {
      cur.type = line.substr(7);
    } else if (line.rfind("data: ", 0) == 0) {
      data += line.substr(6);
    }
  }
  return out;
}

// The value of one series in Prometheus text ("name{labels} value"); 0 when absent.
double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

// Progress events of one stream: each must only rise; the last one is returned.
json check_progress_events(const std::vector<SseEvent>& events, int64_t job_id, size_t* count,
                           const std::string& body) {
  std::vector<json> progress;
  for (const SseEvent& e : events) {
    if (e.type != "progress") continue;
    EXPECT_EQ(e.id, 0) << "progress events are not stored, so they carry no id";
    EXPECT_TRUE(e.data.is_object()) << body;
    if (!e.data.is_object()) continue;
    EXPECT_EQ(e.data["job_id"], job_id);
    EXPECT_EQ(e.data["type"], "progress");
    progress.push_back(e.data);
  }
  for (size_t i = 1; i < progress.size(); ++i) {
    for (const char* k : {"prompt_tokens_total", "prompt_tokens_prefilled", "tokens_generated", "prompts_total",
                          "prompts_done", "runs_done", "steps_done"}) {
      EXPECT_GE(progress[i][k].get<int64_t>(), progress[i - 1][k].get<int64_t>()) << k << " went back: " << body;
    }
  }
  *count = progress.size();
  // The last progress event comes right before the job's final event, with eta 0.
  if (events.size() < 2 || events[events.size() - 2].type != "progress") {
    ADD_FAILURE() << "no progress event before the final event: " << body;
    return json::object();
  }
  const json& last = events[events.size() - 2].data;
  EXPECT_EQ(last["eta_s"], 0) << last.dump();
  return last;
}

// A streamed chat completion on a raw socket, returned once its first chunk arrived (the
// request is in the engine); closing the socket cancels it. EOS is biased away, so it
// runs until then (or its max_tokens).
int open_chat(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{120, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  const std::string body = json{{"model", "tiny"},
                                {"messages", {{{"role", "user"}, {"content", "Say anything, at length."}}}},
                                {"max_tokens", 20000},
                                {"stream", true},
                                {"logit_bias", {{"151643", -100}, {"151645", -100}}}}
                               .dump();
  const std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return -1;
  }
  std::string got;
  char buf[4096];
  while (got.find("data: {") == std::string::npos) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      close(fd);
      return -1;
    }
    got.append(buf, static_cast<size_t>(n));
  }
  return fd;
}

class ProgressTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    ASSERT_FALSE(tiny_model_dir().empty()) << "ream init-model failed";
    daemon_ = new Daemon(tmp_->path() + "/data");
    daemon_->add_engine_setting("max_batch_tokens: 32");
    daemon_->add_engine_setting("max_num_seqs: 1");  // a running chat holds the only place in a step
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    daemon_->signal(SIGTERM);
    EXPECT_EQ(daemon_->wait_exit(), 0) << daemon_->log();
    delete daemon_;
    delete tmp_;
  }
  static TempDir* tmp_;
  static Daemon* daemon_;
  std::mt19937 rng_{std::random_device{}()};
};
TempDir* ProgressTest::tmp_ = nullptr;
Daemon* ProgressTest::daemon_ = nullptr;

// A chat holds the engine (one sequence a step, interactive first), so the job's prompt
// waits, sent but not prefilled: the test looks at the job resource and the metrics in
// that state for as long as it likes. Then the chat is closed and the job's ~2,000-token
// prompt is prefilled in 32-token chunks and answered; its stream, open from the start,
// carries progress events that only rise and end at the job's usage.
TEST_F(ProgressTest, JobResourceSseAndMetricsShowTheEnginesProgress) {
  const std::string before = daemon_->get("/metrics").body;
  const std::string kPrefilled = "reamd_job_prompt_tokens_prefilled_total{workflow=\"summarize\"}";
  const std::string kGenerated = "reamd_job_generated_tokens_total{workflow=\"summarize\"}";
  const int chat = open_chat(daemon_->port());
  ASSERT_GE(chat, 0) << daemon_->log();
  json body = {{"workflow", "summarize"},
               {"inputs", {{"documents", json::array({{{"text", words(rng_, 1800)}, {"name", "lease.md"}}})},
                           {"max_words", 20}, {"max_tokens", 48}}}};
  auto r = daemon_->post("/v1/jobs", body);
  ASSERT_EQ(r.status, 202u) << r.body;
  const int64_t id = r.json()["id"];
  const std::string self = "/v1/jobs/" + std::to_string(id);
  HttpResult stream;
  std::thread reader([&] { stream = daemon_->get(self + "/events"); });

  // Running, its prompt sent and waiting; a second of it, so the stream (polled every
  // 0.25 s) has seen it run.
  json waiting;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       std::chrono::steady_clock::now() < until;) {
    json job = daemon_->get(self).json();
    ASSERT_TRUE(job.is_object());
    ASSERT_TRUE(job["status"] == "queued" || job["status"] == "running") << job.dump();
    const json& p = job["progress"];
    if (job["status"] == "running" && p.value("prompt_tokens_total", 0) > 0 && p.value("elapsed_s", 0.0) >= 1.0) {
      waiting = job;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(waiting.is_object()) << "never saw the job running with its prompt sent";
  const json& p = waiting["progress"];
  EXPECT_EQ(p["steps_total"], 1) << p.dump();
  EXPECT_EQ(p["runs_total"], 1);
  EXPECT_EQ(p["prompts_total"], 1);
  EXPECT_EQ(p["prompts_done"], 0);
  const int64_t prompt_tokens = p["prompt_tokens_total"];
  EXPECT_GT(prompt_tokens, 1800) << p.dump();
  EXPECT_EQ(p["prompt_tokens_prefilled"], 0) << "the chat holds the engine: " << p.dump();
  EXPECT_EQ(p["tokens_generated"], 0);
  EXPECT_TRUE(p["eta_s"].is_null()) << "no rate yet: " << p.dump();
  const std::string held = daemon_->get("/metrics").body;
  EXPECT_EQ(metric(held, "reamd_jobs_running"), 1);
  EXPECT_EQ(metric(held, "reamd_jobs_prompt_tokens_pending"), prompt_tokens) << held;

  close(chat);  // the chat is cancelled; the job goes on
  reader.join();
  ASSERT_EQ(stream.status, 200u) << stream.body;
  const auto events = parse_sse(stream.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "job_succeeded") << stream.body;
  size_t count = 0;
  const json last = check_progress_events(events, id, &count, stream.body);
  ASSERT_FALSE(last.empty());
  EXPECT_GE(count, 2u) << "one while it waited, one final: " << stream.body;
  for (const SseEvent& e : events) {
    // Before the prompt is sent its length is not counted yet; after, it never changes.
    if (e.type == "progress" && e.data["prompt_tokens_total"] != 0)
      EXPECT_EQ(e.data["prompt_tokens_total"], prompt_tokens) << e.data.dump();
  }
  json job = wait_job(*daemon_, id);
  ASSERT_TRUE(job.is_object());
  const json& u = job["usage"];
  EXPECT_EQ(last["prompt_tokens_total"], u["prompt_tokens"]) << last.dump() << job.dump();
  EXPECT_EQ(last["prompt_tokens_prefilled"], u["prompt_tokens"]);
  EXPECT_EQ(last["tokens_generated"], u["completion_tokens"]);
  EXPECT_EQ(last["prompts_total"], u["prompts"]);
  EXPECT_EQ(last["prompts_done"], u["prompts"]);
  EXPECT_EQ(last["runs_done"], 1);
  EXPECT_EQ(last["steps_done"], 1);
  EXPECT_GT(last["prefill_tokens_per_s"].get<double>(), 0);
  // The resource keeps the final numbers after the end.
  EXPECT_EQ(job["progress"]["tokens_generated"], u["completion_tokens"]) << job.dump();
  EXPECT_EQ(job["progress"]["prompt_tokens_prefilled"], u["prompt_tokens"]);
  // Opened after the end: the stored events only, no progress.
  auto replay = parse_sse(daemon_->get(self + "/events").body);
  ASSERT_FALSE(replay.empty());
  for (const SseEvent& e : replay) EXPECT_NE(e.type, "progress");

  // The counters moved by exactly this job's numbers (the only job), the engine's by at
  // least its prompt tokens not served from the cache.
  const std::string after = daemon_->get("/metrics").body;
  EXPECT_EQ(metric(after, kPrefilled) - metric(before, kPrefilled), last["prompt_tokens_prefilled"].get<double>())
      << after;
  EXPECT_EQ(metric(after, kGenerated) - metric(before, kGenerated), last["tokens_generated"].get<double>());
  EXPECT_GE(metric(after, "reamd_engine_prefilled_tokens_total") - metric(before, "reamd_engine_prefilled_tokens_total"),
            u["prompt_tokens"].get<double>() - u["cached_prompt_tokens"].get<double>());
  EXPECT_EQ(metric(after, "reamd_jobs_prompt_tokens_pending"), 0);
  EXPECT_EQ(metric(after, "reamd_jobs_running"), 0);
}

}  // namespace
}  // namespace ream::testing
