// ream_queue_bench: how fast the job queue hands out jobs (issue 17), on SQLite and on
// PostgreSQL, through the Store interface reamd's runners use (store/store.h).
//
//   ream_queue_bench [--backend sqlite|postgresql|both] [--jobs J] [--hosts 1,2,4]
//                    [--runners 1,2,4] [--depths 1000,100000] [--depth-claims K]
//                    [--skip-drain] [--skip-depth] [--hold]
//
// Drain (every H in --hosts, every R in --runners): J jobs are queued, then H "hosts"
// each open their own Store on the same database (their own connection pool, as H reamd
// processes would: a PostgreSQL store keeps up to 4 connections, a SQLite store one
// writer), and each host runs R threads that loop
//     id = lease_next(owner, 60 s); finish_job(id, "succeeded", owner)
// until lease_next finds no job. Printed: claims/s (J over the time from the start of
// the first claim to the end of the last thread), and p50/p99 of one lease_next call and
// of one finish_job call (the last, empty lease_next of each thread is not counted).
// Jobs do nothing, so this is the queue's own ceiling: a real job also writes its
// start, its step runs, findings and events, and holds its runner for seconds to hours.
//
// Depth (every N in --depths): N jobs are queued and one host with one runner claims and
// finishes K of them. The lease query orders the runnable jobs by priority and id, so
// this shows what a long queue costs each claim compared with a short one.
//
// Every setting gets a fresh database: a SQLite file in a temporary directory, or a new
// database on a private PostgreSQL server started for this process
// (tests/daemon/pg_cluster.h: Unix socket only, fsync=off and synchronous_commit=off, as
// in the tests, so commits cost no disk flush). --hold keeps the last database and the
// server until a line is read from stdin, to look at them with sqlite3 or psql.
//
// It prints figures and asserts nothing about time; bench/NOTES.md records them.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pg_cluster.h"
#include "store/store.h"

using namespace ream;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + name) return argv[i + 1];
  return fallback;
}

bool has_flag(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i)
    if (argv[i] == "--" + name) return true;
  return false;
}

std::vector<int> int_list(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = std::min(s.find(',', pos), s.size());
    if (comma > pos) out.push_back(std::atoi(s.substr(pos, comma - pos).c_str()));
    pos = comma + 1;
  }
  return out;
}

[[noreturn]] void die(const std::string& what) {
  std::cerr << "ream_queue_bench: " << what << "\n";
  std::exit(1);
}

// The p-th percentile (0..100) of `v`, sorted here.
double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  return v[i];
}

// Makes fresh databases of one backend.
class Backend {
 public:
  explicit Backend(std::string name) : name_(std::move(name)) {
    if (name_ == "postgresql") {
      auto& cluster = test::PgCluster::shared();
      if (!cluster.error().empty()) die("PostgreSQL: " + cluster.error());
      return;
    }
    char templ[] = "/tmp/ream-queue-bench-XXXXXX";
    if (mkdtemp(templ) == nullptr) die("cannot make a temporary directory");
    dir_ = templ;
  }
  ~Backend() {
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  const std::string& name() const { return name_; }

  // A new, empty database: what Store::open takes.
  std::string fresh() {
    if (name_ == "postgresql") {
      std::string url = test::PgCluster::shared().create_database();
      if (url.empty()) die("cannot create a PostgreSQL database");
      return url;
    }
    return dir_ + "/queue" + std::to_string(++files_) + ".db";
  }

 private:
  std::string name_;
  std::string dir_;  // SQLite's files
  int files_ = 0;
};

std::unique_ptr<store::Store> open_store(const std::string& db) {
  auto s = store::Store::open(db);
  if (!s.ok()) die("open " + store::describe_store(db) + ": " + s.status().message());
  return std::move(s).value();
}

// Queues `n` jobs of one workflow (priority 0, no documents), 500 to a transaction as
// reamd's group commit would batch a burst of submissions. Returns seconds taken.
double queue_jobs(store::Store& s, int n) {
  store::WorkflowRecord w{0, "bench", "1", std::string(64, 'a'), "name: bench", "bench.yaml", 0};
  auto wid = s.put_workflow(w);
  if (!wid.ok()) die("put_workflow: " + wid.status().message());
  const auto t0 = Clock::now();
  for (int done = 0; done < n;) {
    std::vector<store::NewJob> batch;
    for (int i = 0; i < 500 && done < n; ++i, ++done) {
      store::NewJob job;
      job.job.workflow_id = *wid;
      job.job.inputs_json = "{\"i\":" + std::to_string(done) + "}";
      batch.push_back(std::move(job));
    }
    auto created = s.create_jobs(batch);
    if (!created.ok()) die("create_jobs: " + created.status().message());
  }
  return ms_since(t0) / 1000.0;
}

struct RunnerStats {
  std::vector<double> lease_ms, finish_ms;  // one entry per claimed job
  int64_t errors = 0;
  std::string first_error;
};

void count_error(RunnerStats& st, const std::string& call, const Status& status) {
  if (st.errors++ == 0) st.first_error = call + ": " + status.message();
}

// One runner: claims and finishes jobs until lease_next finds none, or `limit` jobs
// (0: no limit). A store error is counted and the loop goes on, as reamd's runners retry.
void run_runner(store::Store& s, const std::string& owner, int64_t limit, RunnerStats& st) {
  int consecutive_errors = 0;
  while (limit == 0 || static_cast<int64_t>(st.lease_ms.size()) < limit) {
    const auto t0 = Clock::now();
    auto id = s.lease_next(owner, 60'000);
    const double lease = ms_since(t0);
    if (!id.ok()) {
      count_error(st, "lease_next", id.status());
      if (++consecutive_errors > 100) die("lease_next keeps failing: " + id.status().message());
      continue;
    }
    consecutive_errors = 0;
    if (*id == 0) break;  // nothing runnable: the queue is drained
    const auto t1 = Clock::now();
    Status fin = s.finish_job(*id, "succeeded", "{}", "", owner);
    if (!fin.ok()) count_error(st, "finish_job", fin);
    st.lease_ms.push_back(lease);
    st.finish_ms.push_back(ms_since(t1));
  }
}

struct RunResult {
  int64_t claims = 0, errors = 0;
  std::string first_error;
  double seconds = 0;
  double lease_p50 = 0, lease_p99 = 0, finish_p50 = 0, finish_p99 = 0;
};

// `hosts` Store objects on `db`, `runners` threads each, `limit` claims per thread at most.
RunResult run(const std::string& db, int hosts, int runners, int64_t limit) {
  std::vector<std::unique_ptr<store::Store>> stores;
  for (int h = 0; h < hosts; ++h) stores.push_back(open_store(db));
  std::vector<RunnerStats> stats(static_cast<size_t>(hosts * runners));
  std::latch ready(hosts * runners + 1);
  std::vector<std::thread> threads;
  for (int h = 0; h < hosts; ++h) {
    for (int r = 0; r < runners; ++r) {
      // Owners look like reamd's ("host:pid:start"), one per runner thread here.
      const std::string owner = "bench-host" + std::to_string(h) + ":" + std::to_string(getpid()) + ":" +
                                std::to_string(r);
      RunnerStats& st = stats[static_cast<size_t>(h * runners + r)];
      store::Store& s = *stores[static_cast<size_t>(h)];
      threads.emplace_back([&ready, &s, owner, limit, &st] {
        ready.arrive_and_wait();
        run_runner(s, owner, limit, st);
      });
    }
  }
  ready.arrive_and_wait();
  const auto t0 = Clock::now();
  for (auto& t : threads) t.join();
  RunResult out;
  out.seconds = ms_since(t0) / 1000.0;
  std::vector<double> lease, finish;
  for (const RunnerStats& st : stats) {
    lease.insert(lease.end(), st.lease_ms.begin(), st.lease_ms.end());
    finish.insert(finish.end(), st.finish_ms.begin(), st.finish_ms.end());
    out.errors += st.errors;
    if (out.first_error.empty()) out.first_error = st.first_error;
  }
  out.claims = static_cast<int64_t>(lease.size());
  out.lease_p50 = percentile(lease, 50);
  out.lease_p99 = percentile(lease, 99);
  out.finish_p50 = percentile(finish, 50);
  out.finish_p99 = percentile(finish, 99);
  return out;
}

void print_header(const char* first) {
  std::printf("%-10s %-14s %6s %8s %9s %9s %9s %9s %9s %6s\n", "backend", first, "claims", "seconds",
              "claims/s", "lease_p50", "lease_p99", "fin_p50", "fin_p99", "errors");
}

void print_row(const std::string& backend, const std::string& setting, const RunResult& r) {
  std::printf("%-10s %-14s %6lld %8.2f %9.0f %9.2f %9.2f %9.2f %9.2f %6lld\n", backend.c_str(),
              setting.c_str(), static_cast<long long>(r.claims), r.seconds,
              r.seconds > 0 ? static_cast<double>(r.claims) / r.seconds : 0.0, r.lease_p50, r.lease_p99,
              r.finish_p50, r.finish_p99, static_cast<long long>(r.errors));
  if (!r.first_error.empty()) std::printf("%-10s (first error: %s)\n", "", r.first_error.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (has_flag(argc, argv, "help")) {
    std::cout << "ream_queue_bench [--backend sqlite|postgresql|both] [--jobs J] [--hosts 1,2,4]\n"
                 "                 [--runners 1,2,4] [--depths 1000,100000] [--depth-claims K]\n"
                 "                 [--skip-drain] [--skip-depth] [--hold]\n";
    return 0;
  }
  const std::string which = flag(argc, argv, "backend", "both");
  const int jobs = std::atoi(flag(argc, argv, "jobs", "20000").c_str());
  const std::vector<int> hosts = int_list(flag(argc, argv, "hosts", "1,2,4"));
  const std::vector<int> runners = int_list(flag(argc, argv, "runners", "1,2,4"));
  const std::vector<int> depths = int_list(flag(argc, argv, "depths", "1000,100000"));
  const int depth_claims = std::atoi(flag(argc, argv, "depth-claims", "1000").c_str());
  std::vector<std::string> backends;
  if (which == "both" || which == "sqlite") backends.push_back("sqlite");
  if (which == "both" || which == "postgresql") backends.push_back("postgresql");
  if (backends.empty()) die("--backend takes sqlite, postgresql or both");

  std::vector<std::unique_ptr<Backend>> alive;  // kept until the end, for --hold
  std::string last_db;
  for (const std::string& name : backends) {
    alive.push_back(std::make_unique<Backend>(name));
    Backend& backend = *alive.back();

    if (!has_flag(argc, argv, "skip-drain")) {
      std::printf("\n# drain: %d jobs queued, H hosts x R runners, lease_next -> finish_job until empty (ms)\n",
                  jobs);
      print_header("hosts x runners");
      for (int h : hosts) {
        for (int r : runners) {
          const std::string db = backend.fresh();
          queue_jobs(*open_store(db), jobs);
          print_row(name, std::to_string(h) + "x" + std::to_string(r), run(db, h, r, 0));
          last_db = db;
        }
      }
    }

    if (!has_flag(argc, argv, "skip-depth")) {
      std::printf("\n# depth: N jobs queued, 1 host x 1 runner claims and finishes %d of them (ms)\n",
                  depth_claims);
      print_header("queued");
      for (int n : depths) {
        const std::string db = backend.fresh();
        const double queued_s = queue_jobs(*open_store(db), n);
        print_row(name, std::to_string(n), run(db, 1, 1, std::min(n, depth_claims)));
        std::printf("%-10s (queued %d jobs in %.1f s: %.0f jobs/s through create_jobs, 500 a call)\n",
                    "", n, queued_s, n / queued_s);
        last_db = db;
      }
    }
  }

  if (has_flag(argc, argv, "hold")) {
    std::printf("\nholding %s (and its server) until a line is read from stdin\n",
                store::describe_store(last_db).c_str());
    std::fflush(stdout);
    std::string line;
    std::getline(std::cin, line);
  }
  return 0;
}
