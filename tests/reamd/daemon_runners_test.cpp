// reamd's runners and job bookkeeping under stress (issue 14, item 7), against the real
// daemon: a job's lease is renewed on the heartbeat's clock, not whenever a job is
// submitted; a run whose lease was taken by another owner stops and writes no final
// state; an exception out of a job's run fails the job and the daemon carries on; an
// idempotency key's request digest is committed with the job, so two requests racing
// with one key never both create or replay. To keep a job running for as long as a test
// needs, a streamed chat holds the engine's only sequence (engine.max_num_seqs: 1; chats
// outrank jobs) and the job's prompt waits behind it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "daemon_harness.h"

namespace ream::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// One statement on the daemon's database, waiting for its locks.
std::string sql(const std::string& db, const std::string& statement) {
  sqlite3* h = nullptr;
  std::string out;
  if (sqlite3_open(db.c_str(), &h) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, statement.c_str(), -1, &st, nullptr) == SQLITE_OK) {
      if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      }
    } else {
      out = std::string("SQL ERROR: ") + sqlite3_errmsg(h);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

// A streamed chat that keeps the engine busy until it is closed.
class EngineHold {
 public:
  explicit EngineHold(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const std::string body = json{{"messages", {{{"role", "user"}, {"content", "Go on."}}}},
                                  {"stream", true}, {"max_tokens", 200000}, {"ignore_eos", true}}
                                 .dump();
    const std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    EXPECT_EQ(send(fd_, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
    std::string got;
    char buf[4096];
    while (got.find("\"content\":\"") == std::string::npos) {  // generating
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    started_ = got.find("\"content\":\"") != std::string::npos;
  }
  ~EngineHold() { release(); }
  bool started() const { return started_; }
  void release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool started_ = false;
};

json summarize_body(std::mt19937& rng, int priority = 0) {
  static const char* kW[] = {"lease", "beat", "notice", "term", "fee", "party", "clause", "river"};
  std::string text;
  for (int i = 0; i < 40; ++i) text += std::string(kW[rng() % 8]) + (i % 8 == 7 ? ". " : " ");
  return {{"workflow", "summarize"},
          {"priority", priority},
          {"inputs", {{"documents", json::array({{{"text", text}, {"name", "n.md"}}})},
                      {"max_words", 10}, {"max_tokens", 4}}}};
}

int64_t submit(const Daemon& d, const json& body) {
  auto r = d.post("/v1/jobs", body);
  EXPECT_EQ(r.status, 202u) << r.body;
  return r.status == 202 ? r.json()["id"].get<int64_t>() : 0;
}

bool wait_status(const Daemon& d, int64_t id, const std::string& status, double bound_s = 60) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(bound_s);
  while (Clock::now() < deadline) {
    if (d.get("/v1/jobs/" + std::to_string(id)).json().value("status", "") == status) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Submissions wake the runners, not the heartbeat: while a job runs and others are
// submitted, its lease is not renewed before heartbeat_s has passed (each renewal was a
// write, and a "lease no longer held" warning for every job that had just finished).
TEST(DaemonRunners, SubmissionsDoNotWakeTheHeartbeat) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "queue:\n  runners: 1\n  lease_s: 120\n  heartbeat_s: 60\n");
  d.add_engine_setting("max_num_seqs: 1");
  ASSERT_TRUE(d.start()) << d.log();
  std::mt19937 rng(std::random_device{}());
  EngineHold hold(d.port());
  ASSERT_TRUE(hold.started()) << d.log();
  const int64_t running = submit(d, summarize_body(rng));
  ASSERT_TRUE(wait_status(d, running, "running")) << d.log();
  const std::string lease = "SELECT lease_expires_at FROM jobs WHERE id = " + std::to_string(running);
  const std::string before = sql(d.db_path(), lease);
  ASSERT_FALSE(before.empty() || before == "0") << before;
  std::vector<int64_t> queued;
  for (int i = 0; i < 12; ++i) {
    queued.push_back(submit(d, summarize_body(rng)));
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  EXPECT_EQ(sql(d.db_path(), lease), before) << "a submission renewed the running job's lease";
  hold.release();
  for (int64_t id : queued) EXPECT_EQ(wait_job(d, id).value("status", ""), "succeeded") << id;
  EXPECT_EQ(wait_job(d, running).value("status", ""), "succeeded");
  EXPECT_EQ(d.log().find("lease no longer held"), std::string::npos) << d.log();
  EXPECT_EQ(d.log().find("heartbeat failed"), std::string::npos) << d.log();
  EXPECT_EQ(d.log().find("lease lost"), std::string::npos) << d.log();
}

// A heartbeat that finds the lease taken by another owner stops the run here: the job is
// neither finished nor failed by this process, and the runner is free for the next job.
TEST(DaemonRunners, ALostLeaseStopsTheRunAndLeavesTheJobToItsHolder) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "queue:\n  runners: 1\n  lease_s: 4\n  heartbeat_s: 1\n");
  d.add_engine_setting("max_num_seqs: 1");
  ASSERT_TRUE(d.start()) << d.log();
  std::mt19937 rng(std::random_device{}());
  auto hold = std::make_unique<EngineHold>(d.port());
  ASSERT_TRUE(hold->started()) << d.log();
  const int64_t job = submit(d, summarize_body(rng));
  ASSERT_TRUE(wait_status(d, job, "running")) << d.log();
  const std::string other = "otherhost:4242:1";
  const std::string id = std::to_string(job);
  sql(d.db_path(), "UPDATE jobs SET lease_owner = '" + other +
                       "', lease_expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 3600000 "
                       "WHERE id = " + id);
  // The run stops while the engine is still held: its waiting prompt is cancelled, it does
  // not wait for a reply it no longer has the right to commit.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (d.log().find("job " + id + ": abandoned here") == std::string::npos && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(d.log().find("job " + id + ": lease lost (now held by " + other), std::string::npos) << d.log();
  EXPECT_NE(d.log().find("job " + id + ": abandoned here"), std::string::npos) << d.log();
  hold.reset();
  // One runner: the next job runs only once the abandoned run has ended.
  const int64_t next = submit(d, summarize_body(rng));
  EXPECT_EQ(wait_job(d, next).value("status", ""), "succeeded") << d.log();
  EXPECT_EQ(sql(d.db_path(), "SELECT status || ' ' || lease_owner FROM jobs WHERE id = " + id), "running " + other);
  EXPECT_EQ(sql(d.db_path(), "SELECT COUNT(*) FROM job_events WHERE job_id = " + id +
                                 " AND type IN ('job_succeeded', 'job_failed', 'job_cancelled')"),
            "0");
}

// An exception thrown while a job runs (here: a job row whose inputs are not JSON, as a
// damaged database or a hand edit leaves it) fails that job; the runner and the daemon go on.
TEST(DaemonRunners, AnExceptionInAJobRunFailsTheJobAndTheDaemonCarriesOn) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "queue:\n  runners: 1\n");
  ASSERT_TRUE(d.start()) << d.log();
  std::mt19937 rng(std::random_device{}());
  const int64_t job = submit(d, summarize_body(rng));
  ASSERT_EQ(wait_job(d, job).value("status", ""), "succeeded");
  d.signal(SIGTERM);
  ASSERT_EQ(d.wait_exit(), 0) << d.log();
  sql(d.db_path(), "UPDATE jobs SET status = 'queued', inputs_json = '{\"documents\": [', started_at = 0, "
                   "finished_at = 0, lease_owner = '' WHERE id = " + std::to_string(job));
  ASSERT_TRUE(d.start()) << d.log();
  json failed = wait_job(d, job);
  ASSERT_TRUE(failed.is_object()) << d.log();
  EXPECT_EQ(failed.value("status", ""), "failed") << failed.dump();
  EXPECT_NE(failed.value("error", "").find("internal error"), std::string::npos) << failed.dump();
  EXPECT_EQ(d.get("/healthz").status, 200u);
  const int64_t next = submit(d, summarize_body(rng));
  EXPECT_EQ(wait_job(d, next).value("status", ""), "succeeded") << d.log();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.log();
}

// Two requests with one Idempotency-Key, sent at once: with the same body one job is
// created and the other replays it; with different bodies one is created and the other
// is a 409. Never two jobs, never a replay of another request's job.
TEST(DaemonRunners, RacingRequestsWithOneIdempotencyKeyCreateOneJob) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "queue:\n  runners: 1\n");
  ASSERT_TRUE(d.start()) << d.log();
  std::mt19937 rng(std::random_device{}());
  constexpr int kKeys = 24;
  for (int k = 0; k < kKeys; ++k) {
    const bool same = k % 3 == 0;
    const std::string key = "race-" + std::to_string(k) + "-" + std::to_string(rng());
    json a = summarize_body(rng, 1);
    json b = same ? a : summarize_body(rng, 2);
    std::atomic<bool> go{false};
    HttpResult ra, rb;
    std::thread ta([&] {
      while (!go) std::this_thread::yield();
      ra = d.post("/v1/jobs", a, {{"Idempotency-Key", key}});
    });
    std::thread tb([&] {
      while (!go) std::this_thread::yield();
      rb = d.post("/v1/jobs", b, {{"Idempotency-Key", key}});
    });
    go = true;
    ta.join();
    tb.join();
    const std::string jobs = sql(d.db_path(), "SELECT COUNT(*) FROM jobs WHERE idempotency_key = '" + key + "'");
    EXPECT_EQ(jobs, "1") << key;
    if (same) {
      EXPECT_EQ(ra.status, 202u) << ra.body;
      EXPECT_EQ(rb.status, 202u) << rb.body;
      EXPECT_EQ(ra.json().value("id", -1), rb.json().value("id", -2)) << ra.body << rb.body;
      EXPECT_EQ(ra.headers.count("idempotent-replayed") + rb.headers.count("idempotent-replayed"), 1u);
    } else {
      std::multiset<unsigned> codes = {ra.status, rb.status};
      EXPECT_EQ(codes, (std::multiset<unsigned>{202u, 409u})) << ra.body << rb.body;
      const HttpResult& won = ra.status == 202 ? ra : rb;
      const json& body = ra.status == 202 ? a : b;
      const std::string prio = sql(d.db_path(), "SELECT priority FROM jobs WHERE idempotency_key = '" + key + "'");
      EXPECT_EQ(prio, std::to_string(body["priority"].get<int>())) << "the 202 names the job its own request made";
      EXPECT_EQ(won.json().value("id", -1), std::stoll(sql(d.db_path(), "SELECT id FROM jobs WHERE idempotency_key = '" + key + "'")));
    }
  }
  EXPECT_EQ(sql(d.db_path(), "SELECT COUNT(*) FROM jobs WHERE idempotency_key IS NOT NULL AND idempotency_hash = ''"), "0");
}

}  // namespace
}  // namespace ream::testing
