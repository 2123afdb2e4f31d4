// Health and readiness never wait behind work (issue 14, item 4): with every handler
// thread of the real reamd held by job submissions that wait for the database (the test
// holds SQLite's write lock from its own connection, as another process writing the same
// file would), /healthz and /readyz still answer, and they answer while every one of
// those submissions is still in flight, which a route queued behind the handler pool
// could not do. Once the lock is released the submissions are all accepted. No timing is
// asserted: only the order of events.
#include <gtest/gtest.h>
#include <sched.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "daemon_harness.h"

namespace ream::testing {
namespace {

using nlohmann::json;

// The test's own connection holding the database's write lock until release().
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    ok_ = sqlite3_open(path.c_str(), &db_) == SQLITE_OK;
    sqlite3_busy_timeout(db_, 10000);
    ok_ = ok_ && sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~WriteLock() {
    release();
    sqlite3_close(db_);
  }
  bool ok() const { return ok_; }
  void release() {
    if (ok_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    ok_ = false;
  }

 private:
  sqlite3* db_ = nullptr;
  bool ok_ = false;
};

TEST(DaemonHealth, HealthAndReadinessAnswerWhileEveryHandlerThreadIsBusy) {
  TempDir tmp;
  constexpr int kHandlers = 2;
  Daemon d(tmp.path() + "/data", "http:\n  handler_threads: " + std::to_string(kHandlers) + "\n");
  ASSERT_TRUE(d.start()) << d.log();
  std::mt19937 rng(std::random_device{}());

  WriteLock lock(d.db_path());
  ASSERT_TRUE(lock.ok());
  // Twice as many submissions as handler threads: each writes its document and job, so
  // each waits for the lock, holding its handler thread; the rest queue for the pool.
  std::atomic<int> answered{0};
  std::vector<std::future<HttpResult>> submissions;
  for (int i = 0; i < 2 * kHandlers; ++i) {
    const json body = {{"workflow", "summarize"},
                       {"inputs",
                        {{"documents", {{{"text", "note " + std::to_string(rng()) + " shall renew."},
                                         {"name", "n" + std::to_string(i) + ".txt"}}}},
                         {"max_tokens", 4}}}};
    submissions.push_back(std::async(std::launch::async, [&, body] {
      HttpResult r = d.post("/v1/jobs", body);
      ++answered;
      return r;
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let them reach the pool

  const HttpResult health = d.get("/healthz");
  const HttpResult ready = d.get("/readyz");
  const int answered_meanwhile = answered.load();
  EXPECT_EQ(health.status, 200u) << health.body;
  EXPECT_EQ(ready.status, 200u) << ready.body;
  EXPECT_EQ(ready.json()["checks"]["store"], "writable") << ready.body;
  EXPECT_EQ(answered_meanwhile, 0) << "a submission was answered while the write lock was held";

  lock.release();
  for (auto& s : submissions) {
    HttpResult r = s.get();
    EXPECT_EQ(r.status, 202u) << r.body;
  }
}

// A thread's nice value: /proc/PID/task/TID/stat, field 19 (fields counted from the
// process's name, whose closing parenthesis ends field 2).
int task_nice(const std::filesystem::path& task) {
  std::ifstream stat(task / "stat");
  std::string line;
  std::getline(stat, line);
  std::istringstream rest(line.substr(line.rfind(')') + 2));  // from field 3
  std::string skipped;
  for (int field = 3; field < 19; ++field) rest >> skipped;
  int nice = -100;  // no such value: fails every comparison below
  rest >> nice;
  return nice;
}

// Each thread of a process by name: `value` of each (given /proc/PID/task/TID).
template <class Value>
std::map<std::string, std::vector<int>> by_thread_name(pid_t pid, Value value) {
  std::map<std::string, std::vector<int>> out;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream comm(t.path() / "comm");
    std::string name;
    std::getline(comm, name);
    out[name].push_back(value(t.path()));
  }
  return out;
}

// Every thread named `name` in `by_name` (at least `at_least` of them) has `value`.
void expect_each(const std::map<std::string, std::vector<int>>& by_name, const std::string& name, int value,
                 size_t at_least) {
  auto it = by_name.find(name);
  ASSERT_NE(it, by_name.end()) << "no thread named " << name;
  EXPECT_GE(it->second.size(), at_least) << name;
  for (int v : it->second) EXPECT_EQ(v, value) << name;
}

// Each thread of a process by name: their nice values.
std::map<std::string, std::vector<int>> thread_nice_by_name(pid_t pid) { return by_thread_name(pid, task_nice); }

// http.worker_nice: the handler threads and the runners run that many nice steps below
// the I/O threads (issue 14, item 4: health never waits behind work, CPU included). The
// I/O threads keep reamd's own priority. So would a CUDA engine, whose launches a GPU
// waits for; the CPU engine here (its loop and its pool's workers) computes on the
// cores the I/O threads share, and runs lowered with the workers.
TEST(DaemonHealth, HandlersRunnersAndACpuEngineRunBelowTheIoThreads) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "http:\n  handler_threads: 3\n  worker_nice: 7\n");
  d.set_engine_threads(3);  // the engine loop and two pool workers
  ASSERT_TRUE(d.start()) << d.log();
  const auto threads = thread_nice_by_name(d.pid());
  // reamd's own priority: its main thread's (task PID), which nothing lowers.
  const int base = task_nice("/proc/" + std::to_string(d.pid()) + "/task/" + std::to_string(d.pid()));
  ASSERT_GE(base, -20) << "no nice value read for reamd's main thread";
  const int lowered = std::min(19, base + 7);
  expect_each(threads, "reamd-io", base, 2);
  expect_each(threads, "reamd-handler", lowered, 3);
  expect_each(threads, "reamd-runner", lowered, 1);
  expect_each(threads, "ream-engine", lowered, 1);
  expect_each(threads, "ream-cpu-pool", lowered, 2);
}

// Whether this process may give a thread a real-time policy (CAP_SYS_NICE): tried on a
// thread of its own that ends at once.
bool can_run_realtime() {
  bool ok = false;
  std::thread([&] {
    sched_param rr{};
    rr.sched_priority = 1;
    ok = sched_setscheduler(0, SCHED_RR, &rr) == 0;
  }).join();
  return ok;
}

// Each thread of a process by name: its scheduling policy (SCHED_OTHER, SCHED_RR, ...).
std::map<std::string, std::vector<int>> thread_policy_by_name(pid_t pid) {
  return by_thread_name(pid, [](const std::filesystem::path& task) {
    return sched_getscheduler(static_cast<pid_t>(std::stol(task.filename().string())));
  });
}

// Started real-time (systemd's CPUSchedulingPolicy=rr, as etc/reamd.service does), reamd
// keeps that policy for its I/O threads, which then answer /healthz before anything
// time-shared; every thread that computes (handlers, runners, the engine loop and its
// pool) leaves it and runs time-shared at the lowered nice value, so none can hold a core
// from the rest. Before, every thread inherited SCHED_RR: the handlers, runners and the
// CPU engine would have run real-time too.
TEST(DaemonHealth, StartedRealTimeOnlyTheIoThreadsKeepIt) {
  if (!can_run_realtime()) GTEST_SKIP() << "no real-time policy for this process here (CAP_SYS_NICE)";
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "http:\n  handler_threads: 3\n  worker_nice: 7\n");
  d.set_engine_threads(3);
  d.set_realtime();
  ASSERT_TRUE(d.start()) << d.log();
  const auto policies = thread_policy_by_name(d.pid());
  const auto nices = thread_nice_by_name(d.pid());
  const int base = task_nice("/proc/" + std::to_string(d.pid()) + "/task/" + std::to_string(d.pid()));
  ASSERT_GE(base, -20) << "no nice value read for reamd's main thread";
  expect_each(policies, "reamd-io", SCHED_RR, 2);
  for (const char* worker : {"reamd-handler", "reamd-runner", "ream-engine", "ream-cpu-pool"}) {
    expect_each(policies, worker, SCHED_OTHER, 1);
    expect_each(nices, worker, std::min(19, base + 7), 1);
  }
  EXPECT_EQ(d.get("/healthz").status, 200u);
}

TEST(DaemonHealth, AWorkerNiceOutsideItsRangeIsRefusedByName) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "http:\n  worker_nice: 20\n");
  ASSERT_FALSE(d.start(false, 30)) << "reamd started with http.worker_nice 20";
  EXPECT_NE(d.log().find("http.worker_nice: 0..19"), std::string::npos) << d.log();
}

}  // namespace
}  // namespace ream::testing
