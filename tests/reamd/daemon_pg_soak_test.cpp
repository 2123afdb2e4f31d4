// The multi-host soak (issue 17): three reamd processes share one PostgreSQL database as
// one queue while a client submits 200 jobs across them. Mid-run one host is killed with
// SIGKILL and restarted, PostgreSQL itself is stopped for longer than a lease and started
// again, another host is killed, and then
// the whole cluster is killed across a minute's boundary and started again. Each host runs
// the same workflow file, whose schedule fires every minute (`missed: run_once`, with a
// grace of two seconds, so the slot that passed while every host was down is missed and
// must be run once on restart).
//
// After every kill (and the server's restart) the database is read as it stands, through
// the test's own libpq connection, and must show what the single-host soak
// (daemon_soak_test.cpp) checks: no acknowledged job lost or stored under another id, no
// job nobody asked for, no step run committed twice or started again after its commit, no
// job finished twice or started again after it finished, each committed run with exactly
// the findings its commit recorded and no finding of an uncommitted run. At the end every
// job has succeeded once with the findings its documents call for, no lease is left, and
// every minute's slot from the cluster's start to the end has exactly one job (the slot
// missed during the outage too, created after the restart).
//
// The workflow is the example plugin's keyword_spotting (plugins/example): its findings are
// one per occurrence of the keyword in a document plus one note per document, so the test
// knows them from the documents alone, whatever the random model replies.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_harness.h"
#include "pg_cluster.h"
#include "soak_common.h"

namespace ream::testing {
namespace {

using nlohmann::json;
using namespace soak;
using test::PgCluster;

constexpr const char* kScheduleId = "keyword_spotting/minutely";
constexpr int kJobs = 200;
constexpr int64_t kMinuteMs = 60000;
constexpr double kServerDownS = 6;  // past queue.lease_s below

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The first column of the first row of `sql` as an integer (-1 when it is not one).
int64_t count(const std::string& url, const std::string& sql) {
  const std::string v = PgCluster::query_one(url, sql);
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  return !v.empty() && end && *end == '\0' ? n : -1;
}

// key -> id of every job with a key ("" when there is none).
std::map<std::string, int64_t> jobs_by_key(const std::string& url, std::string* error) {
  const std::string all = PgCluster::query_one(
      url, "SELECT COALESCE(string_agg(idempotency_key || ' ' || id, E'\\n' ORDER BY id), '') FROM jobs "
           "WHERE idempotency_key IS NOT NULL");
  std::map<std::string, int64_t> out;
  if (all.rfind("SQL ERROR", 0) == 0) {
    *error = all;
    return out;
  }
  std::istringstream in(all);
  std::string key;
  int64_t id = 0;
  while (in >> key >> id) out[key] = id;
  return out;
}

// A step_succeeded or step_started event and the step run it is about.
constexpr const char* kSameRun =
    "b.job_id = a.job_id AND (b.data_json::jsonb->>'step') = (a.data_json::jsonb->>'step') AND "
    "(b.data_json::jsonb->>'iteration') = (a.data_json::jsonb->>'iteration')";

// What must hold at any moment, whatever was killed when: `acked` (key -> id) were
// acknowledged before the kill; `sent` keys had been used by the client when it was
// asked (after the jobs are read). One line per broken invariant.
std::vector<std::string> broken_invariants(const std::string& url, const std::map<std::string, int64_t>& acked,
                                           const std::function<size_t()>& sent_now) {
  std::vector<std::string> bad;
  auto expect_zero = [&](const std::string& what, const std::string& sql) {
    const int64_t n = count(url, sql);
    if (n != 0) bad.push_back(what + ": " + std::to_string(n) + " (" + sql + ")");
  };
  std::string error;
  const std::map<std::string, int64_t> stored = jobs_by_key(url, &error);
  if (!error.empty()) bad.push_back(error);
  for (const auto& [key, id] : acked) {
    auto it = stored.find(key);
    if (it == stored.end()) {
      bad.push_back("acknowledged job " + std::to_string(id) + " (" + key + ") is gone");
    } else if (it->second != id) {
      bad.push_back(key + " acknowledged as job " + std::to_string(id) + ", stored as " + std::to_string(it->second));
    }
  }
  const int64_t submitted = count(url, "SELECT COUNT(*) FROM jobs WHERE idempotency_key LIKE 'pg-soak-%'");
  if (const size_t sent = sent_now(); submitted < 0 || static_cast<size_t>(submitted) > sent) {
    bad.push_back(std::to_string(submitted) + " submitted jobs for " + std::to_string(sent) + " keys sent");
  }
  expect_zero("jobs without a key", "SELECT COUNT(*) FROM jobs WHERE idempotency_key IS NULL");
  expect_zero("step runs committed twice",
              "SELECT COUNT(*) FROM (SELECT 1 FROM job_events WHERE type = 'step_succeeded' GROUP BY job_id, "
              "data_json::jsonb->>'step', data_json::jsonb->>'iteration' HAVING COUNT(*) > 1) t");
  expect_zero("step runs started again after their commit",
              std::string("SELECT COUNT(*) FROM job_events a JOIN job_events b ON ") + kSameRun +
                  " AND b.id > a.id AND b.type = 'step_started' WHERE a.type = 'step_succeeded'");
  expect_zero("jobs finished twice",
              "SELECT COUNT(*) FROM (SELECT job_id FROM job_events WHERE type IN "
              "('job_succeeded', 'job_failed', 'job_cancelled') GROUP BY job_id HAVING COUNT(*) > 1) t");
  expect_zero("jobs started again after they finished",
              "SELECT COUNT(*) FROM job_events a JOIN job_events b ON b.job_id = a.job_id AND b.id > a.id "
              "AND b.type = 'job_started' WHERE a.type IN ('job_succeeded', 'job_failed', 'job_cancelled')");
  expect_zero("committed step runs without their one commit event",
              "SELECT COUNT(*) FROM step_runs r WHERE r.status = 'succeeded' AND (SELECT COUNT(*) FROM "
              "job_events e WHERE e.job_id = r.job_id AND e.type = 'step_succeeded' AND "
              "(e.data_json::jsonb->>'step') = r.step_id AND (e.data_json::jsonb->>'iteration')::bigint = "
              "r.iteration) != 1");
  expect_zero("jobs whose documents were attached twice",
              "SELECT COUNT(*) FROM (SELECT e.job_id FROM job_events e WHERE e.type = 'document_ingested' "
              "GROUP BY e.job_id HAVING COUNT(*) != (SELECT COUNT(*) FROM job_documents d "
              "WHERE d.job_id = e.job_id)) t");
  expect_zero("committed step runs whose findings differ from their commit's count",
              "SELECT COUNT(*) FROM step_runs r JOIN job_events e ON e.job_id = r.job_id AND "
              "e.type = 'step_succeeded' AND (e.data_json::jsonb->>'step') = r.step_id AND "
              "(e.data_json::jsonb->>'iteration')::bigint = r.iteration WHERE (SELECT COUNT(*) FROM findings f "
              "WHERE f.step_run_id = r.id) != (e.data_json::jsonb->>'findings')::bigint");
  expect_zero("findings of uncommitted step runs",
              "SELECT COUNT(*) FROM findings f JOIN step_runs r ON r.id = f.step_run_id WHERE r.status != 'succeeded'");
  return bad;
}

TEST(ReamdOnPostgresSoak, ThreeHostsKilledAndTheServerRestartedLoseAndRepeatNothingAndEverySlotFiresOnce) {
  PgCluster& pg = PgCluster::shared();
  ASSERT_EQ(pg.error(), "");
  const std::string url = pg.create_database();
  ASSERT_NE(url, "");
  ASSERT_FALSE(tiny_model_dir().empty()) << "ream init-model failed";
  std::mt19937 rng(std::random_device{}());
  TempDir tmp;
  const std::string docs = tmp.path() + "/docs";
  const Documents documents = write_documents(docs, rng, 30, 40);
  // The example workflow with a schedule that fires every minute over d0.
  const std::string wf = tmp.path() + "/workflows";
  std::filesystem::create_directories(wf);
  const std::string example = std::string(REAM_SOURCE_DIR) + "/plugins/example";
  std::filesystem::copy_file(example + "/one_sentence.gbnf", wf + "/one_sentence.gbnf");
  {
    std::ifstream in(example + "/workflow.yaml");
    std::ofstream out(wf + "/workflow.yaml");
    out << in.rdbuf() << "\nschedule:\n  - name: minutely\n    cron: \"* * * * *\"\n"
        << "    inputs: {documents: [" << documents.paths[0] << "], keyword: " << kKeyword << "}\n"
        << "    overlap: allow_all\n    missed: run_once\n";
  }
  const std::string cfg = "store: " + url + "\ndocuments:\n  allowed_roots: [" + docs + "]\n" +
                          "queue:\n  runners: 2\n  lease_s: 4\n  heartbeat_s: 1\n" + "schedules:\n  grace_s: 2\n";
  std::vector<std::unique_ptr<Daemon>> hosts;
  for (int h = 0; h < 3; ++h) {
    hosts.push_back(std::make_unique<Daemon>(tmp.path() + "/host" + std::to_string(h), cfg));
    hosts.back()->add_workflow_dir(wf);
    hosts.back()->add_plugin_dir(REAM_TEST_PLUGIN_DIR);
  }
  const int64_t first_start_ms = wall_ms();
  for (auto& d : hosts) ASSERT_TRUE(d->start()) << d->log();
  const int64_t cluster_up_ms = wall_ms();
  std::vector<uint16_t> ports;
  for (auto& d : hosts) ports.push_back(d->port());  // kept across restarts
  auto logs = [&] {
    std::string s;
    for (size_t h = 0; h < hosts.size(); ++h) s += "--- host " + std::to_string(h) + "\n" + hosts[h]->log();
    return s;
  };

  // The client: kJobs submissions, host after host, each with its Idempotency-Key and sent
  // again (same key and body, to the next host) until it is acknowledged.
  std::mutex mu;
  std::map<std::string, Submission> subs;
  std::vector<std::string> odd_answers;  // neither an acknowledgement nor a host that is down
  int retried = 0;
  std::atomic<bool> stop{false};
  std::thread client([&, seed = rng()] {
    std::mt19937 crng(seed);
    for (int i = 0; i < kJobs && !stop.load(); ++i) {
      const std::string key = "pg-soak-" + std::to_string(i);
      const Submission sub = draw_submission(documents, crng);
      const std::string& body = sub.body;
      {
        std::lock_guard<std::mutex> lock(mu);
        subs[key] = sub;
      }
      for (size_t h = static_cast<size_t>(i);; ++h) {
        if (stop.load()) return;
        const HttpResult r = http_request(ports[h % ports.size()], "POST", "/v1/jobs", body, {{"Idempotency-Key", key}});
        const json j = r.json();
        std::lock_guard<std::mutex> lock(mu);
        if (r.status == 202 && j.is_object() && j.contains("id")) {
          subs[key].id = j["id"].get<int64_t>();
          break;
        }
        // A host that is down or starting answers nothing or 503; while the server
        // restarts a host answers 503 (store unavailable); 429 asks to come back later.
        if (r.status != 0 && r.status != 503 && r.status != 429) {
          odd_answers.push_back(key + ": " + std::to_string(r.status) + " " + r.body);
          return;
        }
        ++retried;
        if (h % ports.size() == ports.size() - 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(60 + crng() % 80));
    }
  });
  auto acked_now = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return acknowledged(subs);
  };
  auto finish = [&] {
    stop = true;
    client.join();
  };
  auto check = [&](const std::string& after) {
    const auto bad = broken_invariants(url, acked_now().first, [&] { return acked_now().second; });
    return bad.empty() ? std::string() : "after " + after + ":\n" + joined(bad);
  };
  auto kill_and_restart = [&](size_t h) {
    const auto before = acked_now().first;
    hosts[h]->kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 1000));
    if (!hosts[h]->start()) return "host " + std::to_string(h) + " did not come back";
    const auto bad = broken_invariants(url, before, [&] { return acked_now().second; });
    return bad.empty() ? std::string() : "after killing host " + std::to_string(h) + ":\n" + joined(bad);
  };

  std::this_thread::sleep_for(std::chrono::milliseconds(2000 + rng() % 2000));
  if (std::string e = kill_and_restart(1); !e.empty()) {
    finish();
    FAIL() << e << logs();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 2000));
  // The server down for 6 s, past the hosts' 4 s leases: submissions are answered 503 and
  // sent again, runs that need the store stop and go back to the queue, leases lapse.
  if (std::string e = pg.restart(kServerDownS); !e.empty()) {
    finish();
    FAIL() << "PostgreSQL did not restart: " << e;
  }
  if (std::string e = check("the server's restart"); !e.empty()) {
    finish();
    FAIL() << e << logs();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 2000));
  if (std::string e = kill_and_restart(2); !e.empty()) {
    finish();
    FAIL() << e << logs();
  }
  // The whole cluster down across a minute's boundary: killed 3-8 s before it, started
  // again 4 s after it (past the 2 s grace, so that slot counts as missed).
  const int64_t now = wall_ms();
  int64_t boundary = (now / kMinuteMs + 1) * kMinuteMs;
  if (boundary - now < 8000) boundary += kMinuteMs;
  std::this_thread::sleep_for(std::chrono::milliseconds(boundary - 3000 - static_cast<int64_t>(rng() % 5000) - now));
  const auto before_outage = acked_now().first;
  for (auto& d : hosts) d->kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(std::max<int64_t>(0, boundary + 4000 - wall_ms())));
  const int64_t restart_ms = wall_ms();
  for (size_t h = 0; h < hosts.size(); ++h) {
    if (!hosts[h]->start()) {
      finish();
      FAIL() << "host " << h << " did not come back after the outage\n" << logs();
    }
  }
  if (const auto bad = broken_invariants(url, before_outage, [&] { return acked_now().second; }); !bad.empty()) {
    finish();
    FAIL() << "after the outage:\n" << joined(bad) << logs();
  }

  client.join();
  ASSERT_TRUE(odd_answers.empty()) << odd_answers.size() << " unexpected answers, first: " << odd_answers.front()
                                   << "\n" << logs();
  const auto [acked, sent] = acked_now();
  ASSERT_EQ(acked.size(), static_cast<size_t>(kJobs)) << "a submission was left unanswered";

  // Every acknowledged job finishes, and succeeds; each is seen from any host.
  std::set<int64_t> ids;
  size_t n = 0;
  for (const auto& [key, id] : acked) {
    EXPECT_TRUE(ids.insert(id).second) << "job " << id << " acknowledged for two keys";
    const json job = wait_job(*hosts[n++ % hosts.size()], id, 300);
    ASSERT_TRUE(job.is_object()) << "job " << id << " (" << key << ") did not finish\n" << logs();
    ASSERT_EQ(job["status"], "succeeded") << key << ": " << job.dump();
  }
  // The schedule's jobs: one per minute's slot from the cluster's start until now.
  std::string error;
  std::map<int64_t, int64_t> slots;  // slot ms -> job id
  const std::string prefix = std::string("schedule:") + kScheduleId + ":";
  for (const auto& [key, id] : jobs_by_key(url, &error)) {
    if (key.rfind(prefix, 0) == 0) slots[std::atoll(key.c_str() + prefix.size())] = id;
  }
  ASSERT_EQ(error, "");
  const int64_t end_ms = wall_ms();
  for (const auto& [slot, id] : slots) {
    EXPECT_EQ(slot % kMinuteMs, 0) << "slot " << slot << " is not a minute's start";
    EXPECT_GT(slot, first_start_ms - kMinuteMs) << "slot " << slot << " is from before the cluster started";
    EXPECT_LE(slot, end_ms) << "slot " << slot << " is in the future";
    const json job = wait_job(*hosts[0], id, 300);
    ASSERT_TRUE(job.is_object()) << "the schedule's job " << id << " did not finish\n" << logs();
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
    EXPECT_EQ(count(url, "SELECT COUNT(*) FROM findings WHERE job_id = " + std::to_string(id)), documents.findings[0])
        << "the schedule's job " << id;
  }
  for (int64_t m = (cluster_up_ms / kMinuteMs + 1) * kMinuteMs; m + 3000 < end_ms; m += kMinuteMs) {
    EXPECT_EQ(slots.count(m), 1u) << "the slot at " << m << " has no job (the cluster came up at " << cluster_up_ms
                                  << ", the outage ended at " << restart_ms << ")\n" << logs();
  }
  // The slot that passed while every host was down was run once, after the restart.
  ASSERT_EQ(slots.count(boundary), 1u) << logs();
  EXPECT_GE(count(url, "SELECT created_at FROM jobs WHERE id = " + std::to_string(slots[boundary])), restart_ms);
  EXPECT_NE(logs().find("run(s) missed"), std::string::npos) << logs();

  for (auto& d : hosts) d->signal(SIGTERM);
  for (auto& d : hosts) EXPECT_EQ(d->wait_exit(), 0) << d->log();

  EXPECT_EQ(joined(broken_invariants(url, acked, [n_sent = sent] { return n_sent; })), "");
  const auto total = static_cast<int64_t>(acked.size() + slots.size());
  EXPECT_EQ(count(url, "SELECT COUNT(*) FROM jobs"), total);
  EXPECT_EQ(count(url, "SELECT COUNT(*) FROM jobs WHERE status = 'succeeded'"), total);
  EXPECT_EQ(count(url, "SELECT COUNT(*) FROM job_events WHERE type = 'job_succeeded'"), total);
  EXPECT_EQ(count(url, "SELECT COUNT(*) FROM step_runs WHERE status != 'succeeded'"), 0);
  EXPECT_EQ(count(url, "SELECT COUNT(*) FROM step_runs"), 2 * static_cast<int64_t>(acked.size()) +
                                                           static_cast<int64_t>(slots.size()));
  EXPECT_EQ(count(url, "SELECT COUNT(*) FROM jobs WHERE lease_owner != ''"), 0);
  std::map<int64_t, int64_t> per_job;  // job id -> findings
  {
    std::istringstream in(PgCluster::query_one(
        url, "SELECT COALESCE(string_agg(job_id || ' ' || n, E'\\n'), '') FROM "
             "(SELECT job_id, COUNT(*) AS n FROM findings GROUP BY job_id) t"));
    int64_t job = 0, n_found = 0;
    while (in >> job >> n_found) per_job[job] = n_found;
  }
  int64_t findings = 0;
  for (const auto& [key, id] : acked) {
    EXPECT_EQ(per_job[id], subs[key].findings) << key << " (job " << id << ")";
    findings += subs[key].findings;
  }
  // How often a run stopped on an unreachable store and went back to the queue (the
  // logs of the hosts' last lives).
  const std::string all_logs = logs();
  int requeued = 0;
  for (size_t at = all_logs.find("back to the queue"); at != std::string::npos;
       at = all_logs.find("back to the queue", at + 1))
    ++requeued;
  std::printf("pg soak: %zu jobs over 3 hosts (%d submissions sent again), 3 kills of one host or all, "
              "the server down %.0f s, %zu schedule slots; %lld findings; %d runs put back in the queue\n",
              acked.size(), retried, kServerDownS, slots.size(), static_cast<long long>(findings), requeued);
}

}  // namespace
}  // namespace ream::testing
