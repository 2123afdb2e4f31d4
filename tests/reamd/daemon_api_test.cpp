// The REST API against the real reamd on loopback: job lifecycle with the CPU
// engine and a tiny random model, SSE order and resumption, idempotency, cancel,
// uploads, the bad-request catalogue (each with its documented status, code and
// field), slowloris, chat completions, metrics.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "daemon_harness.h"
#include "make_pdf.h"

namespace ream::testing {
namespace {

using nlohmann::json;

std::string random_text(std::mt19937& rng, int words) {
  static const char* kWords[] = {"contract", "party",   "shall",    "terminate", "notice",
                                 "payment",  "liability", "license", "clause",    "term",
                                 "agreement", "renewal", "fee",      "warranty",  "breach"};
  std::string s;
  for (int i = 0; i < words; ++i) {
    s += kWords[rng() % 15];
    s += (i % 12 == 11) ? ".\n" : " ";
  }
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
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      if (!cur.type.empty() || !data.empty()) {
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

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rng_ = new std::mt19937(std::random_device{}());
    tmp_ = new TempDir();
    docs_ = tmp_->path() + "/docs";
    std::filesystem::create_directories(docs_);
    for (const char* name : {"a.md", "b.md", "c.txt"}) {
      std::ofstream(docs_ + "/" + name) << random_text(*rng_, 120);
    }
    ASSERT_FALSE(tiny_model_dir().empty()) << "ream init-model failed";
    daemon_ = new Daemon(tmp_->path() + "/data",
                         "documents:\n  allowed_roots: [" + docs_ + "]\n"
                         "http:\n  header_timeout_s: 1.5\n  max_body_bytes: 1048576\n"
                         "  max_header_bytes: 8192\n"
                         "queue:\n  runners: 2\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    daemon_->signal(SIGTERM);
    EXPECT_EQ(daemon_->wait_exit(), 0) << daemon_->log();
    delete daemon_;
    delete tmp_;
    delete rng_;
  }
  static json summarize(const json& docs, int max_tokens = 12) {
    return {{"workflow", "summarize"},
            {"inputs", {{"documents", docs}, {"max_words", 20}, {"max_tokens", max_tokens}}}};
  }
  static void expect_error(const HttpResult& r, unsigned status, const std::string& code,
                           const std::string& message_part, const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.body;
    json j = r.json();
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
    EXPECT_EQ(j["error"]["code"], code) << r.body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(message_part), std::string::npos)
        << r.body;
    if (!field.empty()) EXPECT_EQ(j["error"].value("field", ""), field) << r.body;
  }

  static std::mt19937* rng_;
  static TempDir* tmp_;
  static std::string docs_;
  static Daemon* daemon_;
};
std::mt19937* ApiTest::rng_ = nullptr;
TempDir* ApiTest::tmp_ = nullptr;
std::string ApiTest::docs_;
Daemon* ApiTest::daemon_ = nullptr;

TEST_F(ApiTest, JobLifecycleResultAndEventsInOrder) {
  std::string text = random_text(*rng_, 80);
  auto up = http_request(daemon_->port(), "POST", "/v1/documents?name=up.md", text,
                         {{"Content-Type", "text/markdown"}});
  ASSERT_EQ(up.status, 201u) << up.body;
  std::string doc_id = up.json()["id"];
  auto r = daemon_->post("/v1/jobs", summarize({{{"document_id", doc_id}}, docs_ + "/b.md"}));
  ASSERT_EQ(r.status, 202u) << r.body;
  int64_t id = r.json()["id"];
  EXPECT_EQ(r.json()["status"], "queued");
  EXPECT_EQ(r.headers["location"], "/v1/jobs/" + std::to_string(id));
  json job = wait_job(*daemon_, id);
  ASSERT_TRUE(job.is_object()) << daemon_->log();
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  EXPECT_EQ(job["workflow"], "summarize");
  EXPECT_GT(job["usage"]["prompt_tokens"].get<int64_t>(), 0);
  EXPECT_GT(job["usage"]["completion_tokens"].get<int64_t>(), 0);
  EXPECT_FALSE(job["finished_at"].is_null());

  auto res = daemon_->get("/v1/jobs/" + std::to_string(id) + "/result");
  ASSERT_EQ(res.status, 200u);
  EXPECT_TRUE(res.json().contains("outputs")) << res.body;
  auto md = daemon_->get("/v1/jobs/" + std::to_string(id) + "/result?format=md");
  ASSERT_EQ(md.status, 200u);
  EXPECT_EQ(md.headers["content-type"], "text/markdown; charset=utf-8");
  EXPECT_FALSE(md.body.empty());

  auto ev = daemon_->get("/v1/jobs/" + std::to_string(id) + "/events");
  ASSERT_EQ(ev.status, 200u);
  EXPECT_EQ(ev.headers["content-type"], "text/event-stream");
  auto events = parse_sse(ev.body);
  ASSERT_GE(events.size(), 4u) << ev.body;
  EXPECT_EQ(events.front().type, "job_queued");
  EXPECT_EQ(events.back().type, "job_succeeded");
  int started = -1, first_step = -1;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) EXPECT_GT(events[i].id, events[i - 1].id);
    EXPECT_EQ(events[i].data["job_id"], id);
    if (events[i].type == "job_started" && started < 0) started = static_cast<int>(i);
    if (events[i].type.rfind("step_", 0) == 0 && first_step < 0) first_step = static_cast<int>(i);
  }
  EXPECT_GE(started, 1);
  EXPECT_GT(first_step, started);
  // Reconnecting with Last-Event-ID resumes after that event.
  auto again = daemon_->get("/v1/jobs/" + std::to_string(id) + "/events",
                            {{"Last-Event-ID", std::to_string(events[1].id)}});
  auto tail = parse_sse(again.body);
  ASSERT_EQ(tail.size(), events.size() - 2);
  EXPECT_EQ(tail.front().id, events[2].id);
}

TEST_F(ApiTest, IdempotencyKeyReplaysOrConflicts) {
  std::string key = "key-" + std::to_string((*rng_)());
  auto body = summarize({docs_ + "/a.md"});
  auto a = daemon_->post("/v1/jobs", body, {{"Idempotency-Key", key}});
  auto b = daemon_->post("/v1/jobs", body, {{"Idempotency-Key", key}});
  ASSERT_EQ(a.status, 202u) << a.body;
  ASSERT_EQ(b.status, 202u) << b.body;
  EXPECT_EQ(a.json()["id"], b.json()["id"]);
  EXPECT_EQ(b.headers["idempotent-replayed"], "true");
  auto other = summarize({docs_ + "/c.txt"});
  expect_error(daemon_->post("/v1/jobs", other, {{"Idempotency-Key", key}}), 409, "conflict",
               "was used for a different request", "Idempotency-Key");
  wait_job(*daemon_, a.json()["id"]);
}

TEST_F(ApiTest, CancelARunningJob) {
  auto r = daemon_->post("/v1/jobs", summarize({docs_ + "/a.md", docs_ + "/b.md", docs_ + "/c.txt"}, 3000));
  ASSERT_EQ(r.status, 202u);
  int64_t id = r.json()["id"];
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto d = http_request(daemon_->port(), "DELETE", "/v1/jobs/" + std::to_string(id));
  ASSERT_TRUE(d.status == 200 || d.status == 202) << d.body;
  json job = wait_job(*daemon_, id, 60);
  ASSERT_TRUE(job.is_object());
  EXPECT_EQ(job["status"], "cancelled");
  expect_error(http_request(daemon_->port(), "DELETE", "/v1/jobs/" + std::to_string(id)), 409,
               "conflict", "already been cancelled");
}

TEST_F(ApiTest, UploadsDeduplicateRawAndMultipart) {
  std::string text = random_text(*rng_, 40);
  std::string mp = "--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"n.md\"\r\n"
                   "Content-Type: text/markdown\r\n\r\n" + text + "\r\n--BOUND--\r\n";
  auto a = http_request(daemon_->port(), "POST", "/v1/documents", mp,
                        {{"Content-Type", "multipart/form-data; boundary=BOUND"}});
  ASSERT_EQ(a.status, 201u) << a.body;
  auto b = http_request(daemon_->port(), "POST", "/v1/documents?name=n.md", text,
                        {{"Content-Type", "text/plain"}});
  ASSERT_EQ(b.status, 200u) << b.body;
  EXPECT_EQ(a.json()["id"], b.json()["id"]);
  EXPECT_TRUE(b.json()["deduplicated"].get<bool>());
  expect_error(http_request(daemon_->port(), "POST", "/v1/documents", std::string("bin\0ary", 7),
                            {{"Content-Type", "application/octet-stream"}}),
               400, "invalid_request", "neither UTF-8 text nor a PDF");
}

// Reports name an upload by the file name it was uploaded under, not by the stored
// <sha256>.txt path. The same content uploaded again under another name keeps its
// id; jobs submitted after that show the new name, and earlier jobs keep theirs.
TEST_F(ApiTest, ReportsNameUploadsByTheirUploadedFileName) {
  std::string text = random_text(*rng_, 60);
  std::string mp = "--BOUND\r\nContent-Disposition: form-data; name=\"file\"; "
                   "filename=\"master-services-agreement.txt\"\r\nContent-Type: text/plain\r\n\r\n" +
                   text + "\r\n--BOUND--\r\n";
  auto up = http_request(daemon_->port(), "POST", "/v1/documents", mp,
                         {{"Content-Type", "multipart/form-data; boundary=BOUND"}});
  ASSERT_EQ(up.status, 201u) << up.body;
  const std::string doc_id = up.json()["id"];
  auto first = daemon_->post("/v1/jobs", summarize({{{"document_id", doc_id}}}));
  ASSERT_EQ(first.status, 202u) << first.body;
  auto again = http_request(daemon_->port(), "POST", "/v1/documents?name=msa-v2.txt", text,
                            {{"Content-Type", "text/plain"}});
  ASSERT_EQ(again.status, 200u) << again.body;
  ASSERT_EQ(again.json()["id"], doc_id);
  auto second = daemon_->post("/v1/jobs", summarize({{{"document_id", doc_id}},
                                                     {{"text", random_text(*rng_, 30)}, {"name", "notes.md"}}}));
  ASSERT_EQ(second.status, 202u) << second.body;
  auto result = [&](const HttpResult& job, const std::string& format) {
    const int64_t id = job.json()["id"];
    json done = wait_job(*daemon_, id);
    EXPECT_EQ(done.value("status", ""), "succeeded") << done.dump() << daemon_->log();
    return daemon_->get("/v1/jobs/" + std::to_string(id) + "/result" + format);
  };
  auto md1 = result(first, "?format=md");
  ASSERT_EQ(md1.status, 200u) << md1.body;
  EXPECT_NE(md1.body.find("`master-services-agreement.txt`"), std::string::npos) << md1.body;
  EXPECT_EQ(md1.body.find(doc_id), std::string::npos) << md1.body;
  EXPECT_EQ(md1.body.find("msa-v2.txt"), std::string::npos) << md1.body;
  auto json1 = result(first, "").json();
  ASSERT_EQ(json1["documents"].size(), 1u) << json1.dump();
  EXPECT_EQ(json1["documents"][0]["name"], "master-services-agreement.txt");
  EXPECT_EQ(std::filesystem::path(json1["documents"][0].value("path", "")).filename(), doc_id + ".txt");
  auto md2 = result(second, "?format=md");
  EXPECT_NE(md2.body.find("`msa-v2.txt`"), std::string::npos) << md2.body;
  EXPECT_NE(md2.body.find("`notes.md`"), std::string::npos) << md2.body;
  EXPECT_EQ(md2.body.find(doc_id), std::string::npos) << md2.body;
}

TEST_F(ApiTest, PdfUploadsAreIngestedPageByPageAndBrokenOnesRefused) {
  const std::string word = random_text(*rng_, 1);
  const std::string pdf = ingest::testing::make_pdf({{"Page one says " + word + "."}, {"Page two."}});
  auto up = http_request(daemon_->port(), "POST", "/v1/documents?name=brief.pdf", pdf,
                         {{"Content-Type", "application/pdf"}});
  ASSERT_EQ(up.status, 201u) << up.body;
  auto sub = daemon_->post("/v1/jobs", summarize(json::array({{{"document_id", up.json()["id"]}}})));
  ASSERT_EQ(sub.status, 202u) << sub.body;
  json job = wait_job(*daemon_, sub.json()["id"]);
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  auto result = daemon_->get("/v1/jobs/" + std::to_string(sub.json()["id"].get<int64_t>()) + "/result");
  ASSERT_EQ(result.status, 200u);
  EXPECT_EQ(result.json()["documents"][0]["media_type"], "application/pdf") << result.body;
  // A PDF that cannot be opened is refused at the upload, with the reason.
  expect_error(http_request(daemon_->port(), "POST", "/v1/documents?name=bad.pdf",
                            pdf.substr(0, pdf.size() / 2), {{"Content-Type", "application/pdf"}}),
               400, "invalid_request", "bad.pdf");
  // An id nothing was uploaded under, beside the stored ones, is refused by name.
  const std::string none(64, 'e');
  expect_error(daemon_->post("/v1/jobs", summarize(json::array({{{"document_id", none}}}))), 400,
               "invalid_request", "no uploaded document " + none, "inputs.documents[0]");
}

// The documents of a job are read when a runner takes it, not while POST /v1/jobs waits
// (issue 14: a 30 MB inline text was ingested inside the request). So a document that
// cannot be read is no longer a 400 at the submission: the job is accepted, the reason is
// a document_failed event naming the document, and a job left without any document ends
// failed with that reason. Its good documents go on.
TEST_F(ApiTest, DocumentsAreReadWhenTheJobRunsAndOneThatCannotBeReadFailsItsJob) {
  const std::string pdf = ingest::testing::make_pdf({{"Page one."}, {"Page two."}});
  const std::string broken = docs_ + "/broken-" + std::to_string((*rng_)()) + ".pdf";
  std::ofstream(broken, std::ios::binary) << pdf.substr(0, pdf.size() / 2);

  auto alone = daemon_->post("/v1/jobs", summarize({broken}));
  ASSERT_EQ(alone.status, 202u) << alone.body;
  const int64_t id = alone.json()["id"];
  json job = wait_job(*daemon_, id);
  ASSERT_TRUE(job.is_object()) << daemon_->log();
  EXPECT_EQ(job["status"], "failed") << job.dump();
  EXPECT_NE(job.value("error", "").find(broken), std::string::npos) << job.dump();
  auto events = parse_sse(daemon_->get("/v1/jobs/" + std::to_string(id) + "/events").body);
  std::vector<std::string> types;
  for (const SseEvent& e : events) types.push_back(e.type);
  ASSERT_GE(types.size(), 3u);
  EXPECT_EQ(types.front(), "job_queued");
  EXPECT_EQ(types.back(), "job_failed");
  const auto failed = std::find(types.begin(), types.end(), "document_failed");
  ASSERT_NE(failed, types.end());
  EXPECT_EQ(events[failed - types.begin()].data["path"], broken);
  // Read by the runner that took the job (its log line), not by the request.
  EXPECT_NE(daemon_->log().find("job " + std::to_string(id) + ": reading 1 document"), std::string::npos)
      << daemon_->log();

  // Beside a good document, the broken one is left out and the job runs.
  auto mixed = daemon_->post("/v1/jobs", summarize({broken, docs_ + "/a.md"}));
  ASSERT_EQ(mixed.status, 202u) << mixed.body;
  const int64_t mixed_id = mixed.json()["id"];
  json done = wait_job(*daemon_, mixed_id);
  ASSERT_TRUE(done.is_object()) << daemon_->log();
  EXPECT_EQ(done["status"], "succeeded") << done.dump();
  EXPECT_EQ(done["inputs"]["documents"], json::array({"doc-1"})) << done.dump();
  auto mixed_events = parse_sse(daemon_->get("/v1/jobs/" + std::to_string(mixed_id) + "/events").body);
  int ingested = 0, left_out = 0;
  for (const SseEvent& e : mixed_events) {
    ingested += e.type == "document_ingested";
    left_out += e.type == "document_failed";
  }
  EXPECT_EQ(ingested, 1);
  EXPECT_EQ(left_out, 1);
}

TEST_F(ApiTest, BadRequestCatalogue) {
  uint16_t p = daemon_->port();
  auto post_raw = [&](const std::string& body) { return http_request(p, "POST", "/v1/jobs", body); };
  expect_error(post_raw("{\"workflow\": "), 400, "invalid_json", "not valid JSON");
  // A number past a double's range is refused like any bad JSON (it ended reamd: fuzz_job_body).
  expect_error(post_raw(R"({"workflow": "summarize", "priority": 47e679})"), 400, "invalid_json",
               "number overflow parsing '47e679'");
  expect_error(post_raw("[1, 2]"), 400, "invalid_request", "must be a JSON object");
  expect_error(post_raw("{\"workflow\": 5}"), 400, "invalid_request", "must be a string", "workflow");
  expect_error(post_raw("{\"inputs\": {}}"), 400, "invalid_request", "missing field 'workflow'", "workflow");
  expect_error(post_raw(R"({"workflow": "summarize", "inputs": []})"), 400, "invalid_request",
               "'inputs' must be an object", "inputs");
  expect_error(post_raw(R"({"workflow": "summarize", "priority": "high"})"), 400,
               "invalid_request", "'priority' must be an integer", "priority");
  expect_error(post_raw(R"({"workflow": "summarize", "colour": 1})"), 400, "invalid_request",
               "unknown field 'colour'", "colour");
  expect_error(post_raw(R"({"workflow": "nope"})"), 400, "invalid_request",
               "unknown workflow 'nope'", "workflow");
  expect_error(daemon_->post("/v1/jobs", {{"workflow", "long_qa"},
                                          {"inputs", {{"document", docs_ + "/a.md"}}}}),
               400, "invalid_request", "missing required input 'questions'", "inputs.questions");
  expect_error(daemon_->post("/v1/jobs", {{"workflow", "long_qa"},
                                          {"inputs", {{"document", docs_ + "/a.md"},
                                                      {"questions", "one"}}}}),
               400, "invalid_request", "input 'questions' must be a list", "inputs.questions");
  expect_error(daemon_->post("/v1/jobs", summarize({"/etc/passwd"})), 403, "forbidden_path",
               "outside the allowed document roots", "inputs.documents");
  expect_error(daemon_->post("/v1/jobs", summarize({docs_ + "/../../../etc/passwd"})), 403,
               "forbidden_path", "outside the allowed document roots", "inputs.documents");
  expect_error(daemon_->post("/v1/jobs", summarize({"relative.md"})), 400, "invalid_request",
               "must be absolute", "inputs.documents");
  expect_error(http_request(p, "POST", "/v1/jobs", "{}", {{"Content-Type", "text/plain"}}), 415,
               "unsupported_media_type", "application/json");
  expect_error(http_request(p, "POST", "/v1/jobs", std::string(2 << 20, 'x')), 413,
               "payload_too_large", "exceeds 1048576 bytes");
  expect_error(http_request(p, "GET", "/v1/jobs", "", {{"X-Big", std::string(10000, 'h')}}), 431,
               "headers_too_large", "exceed 8192");
  expect_error(daemon_->get("/v1/nothing"), 404, "not_found", "no route for /v1/nothing");
  expect_error(daemon_->get("/v1/jobs/999999"), 404, "not_found", "no job 999999");
  expect_error(daemon_->get("/v1/jobs/abc"), 400, "invalid_request", "not a number", "id");
  auto m = http_request(p, "PUT", "/v1/jobs/1");
  expect_error(m, 405, "method_not_allowed", "PUT is not allowed");
  EXPECT_EQ(m.headers["allow"], "GET, DELETE");
  expect_error(daemon_->get("/v1/jobs?status=done"), 400, "invalid_request", "status must be",
               "status");
  // ...and the daemon still serves.
  EXPECT_EQ(daemon_->get("/healthz").status, 200u);
}

TEST_F(ApiTest, SlowlorisHeadersAreCutOffWhileOthersAreServed) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(daemon_->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto t0 = std::chrono::steady_clock::now();
  const std::string head = "GET /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  bool closed = false;
  for (size_t i = 0; i < 100 && !closed; ++i) {
    char c = i < head.size() ? head[i] : 'a';
    if (send(fd, &c, 1, MSG_NOSIGNAL) < 0) closed = true;
    // Meanwhile a well-behaved client is served.
    if (i == 3) EXPECT_EQ(daemon_->get("/healthz").status, 200u);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    char buf[16];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) closed = true;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  close(fd);
  EXPECT_TRUE(closed);
  EXPECT_LT(secs, 4.0);  // header_timeout_s is 1.5
  EXPECT_EQ(daemon_->get("/healthz").status, 200u);
}

TEST_F(ApiTest, CatalogHealthAndMetrics) {
  // This test's own traffic feeds the request counters checked below, so it holds when
  // CTest runs it alone in its own process.
  EXPECT_EQ(daemon_->get("/healthz").status, 200u);
  auto w = daemon_->get("/v1/workflows");
  ASSERT_EQ(w.status, 200u);
  std::set<std::string> names;
  json listed = w.json();
  for (const auto& x : listed["workflows"]) names.insert(x["name"].get<std::string>());
  EXPECT_TRUE(names.count("summarize") && names.count("long_qa")) << w.body;
  auto one = daemon_->get("/v1/workflows/long_qa");
  ASSERT_EQ(one.status, 200u);
  EXPECT_NE(one.json()["source"].get<std::string>().find("long_qa"), std::string::npos);
  auto pl = daemon_->get("/v1/plugins");
  ASSERT_EQ(pl.status, 200u);
  EXPECT_GE(pl.json()["plugins"].size(), 2u);
  EXPECT_EQ(daemon_->get("/v1/schedules").status, 200u);
  auto ready = daemon_->get("/readyz");
  EXPECT_EQ(ready.status, 200u);
  EXPECT_EQ(ready.json()["checks"]["store"], "writable");
  auto met = daemon_->get("/metrics");
  ASSERT_EQ(met.status, 200u);
  for (const char* series : {"reamd_jobs{status=\"succeeded\"}", "reamd_queue_depth ",
                             "reamd_http_requests_total{route=\"healthz\",method=\"GET\",code=\"200\"}",
                             "reamd_engine_kv_blocks_total ", "reamd_engine_prefix_cache_hit_ratio ",
                             "reamd_http_request_duration_seconds_bucket"}) {
    EXPECT_NE(met.body.find(series), std::string::npos) << series;
  }
}

TEST_F(ApiTest, ChatCompletionsPlainAndStreamed) {
  json req = {{"model", "tiny"},
              {"messages", {{{"role", "user"}, {"content", random_text(*rng_, 5)}}}},
              {"max_tokens", 8},
              {"seed", 7},
              {"temperature", 0}};
  auto r = daemon_->post("/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200u) << r.body;
  json j = r.json();
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_LE(j["usage"]["completion_tokens"].get<int>(), 8);
  req["stream"] = true;
  req["stream_options"] = {{"include_usage", true}};
  auto s = daemon_->post("/v1/chat/completions", req);
  ASSERT_EQ(s.status, 200u);
  std::string text;
  bool done = false, usage = false;
  std::istringstream in(s.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    if (line == "data: [DONE]") {
      done = true;
      continue;
    }
    json c = json::parse(line.substr(6));
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    if (c.contains("usage")) usage = true;
    if (!c["choices"].empty() && c["choices"][0]["delta"].contains("content")) {
      text += c["choices"][0]["delta"]["content"].get<std::string>();
    }
  }
  EXPECT_TRUE(done);
  EXPECT_TRUE(usage);
  // Greedy with the same prompt: the stream says what the plain call said.
  EXPECT_EQ(text, j["choices"][0]["message"]["content"].get<std::string>());
  expect_error(daemon_->post("/v1/chat/completions", {{"messages", json::array()}}), 400,
               "invalid_request", "'messages' must be a non-empty array", "messages");
}

}  // namespace
}  // namespace ream::testing
