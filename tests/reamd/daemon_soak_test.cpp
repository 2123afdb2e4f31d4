// The crash soak (issue 14): reamd is killed with SIGKILL again and again while a client
// keeps submitting jobs, and restarted each time. After every restart, and at the end,
// the database is read as it stands (plain SQL on the file, beside the live daemon) and
// must show that:
//   - every submission acknowledged before the kill is there, once, under its
//     Idempotency-Key and with the id it was acknowledged with (no job lost);
//   - no job exists that no submission asked for;
//   - no step run committed twice, and none started again after its commit (no work
//     re-run past its last commit); no job started again after it finished;
//   - every committed step run has exactly the findings its commit recorded, and no
//     finding belongs to an uncommitted run (no duplicated or stray findings);
//   - SQLite's integrity check passes.
// At the end every acknowledged job has succeeded with exactly the findings its documents
// call for, and each key replays its own job.
//
// The workflow is the example plugin's keyword_spotting (plugins/example): its findings
// are one per occurrence of the keyword in a document plus one note per document, so
// the test knows them from the documents alone, whatever the random model replies.
//
// The client behaves as a careful real one does: every submission carries an
// Idempotency-Key, and a submission whose answer never came (the daemon died first) is
// sent again, same key and body, until it is answered. A 202 (created, or replayed with
// `Idempotent-Replayed: true`) is an acknowledgement.
//
// CI runs 10 kills (well under a minute); REAM_SOAK_KILLS=100 runs the long soak.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon_harness.h"
#include "soak_common.h"

namespace ream::testing {
namespace {

using nlohmann::json;
using namespace soak;

// The database file read beside the running daemon (WAL: a reader sees the last commit).
class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &h_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      error_ = "cannot open " + path;
    }
    if (h_) sqlite3_busy_timeout(h_, 5000);
  }
  ~Db() { sqlite3_close(h_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Every row of a query, each column as text ("<null>" for NULL). A failed query is
  // one row holding the error, so that a check comparing rows fails and shows it.
  std::vector<std::vector<std::string>> rows(const std::string& sql) const {
    if (!error_.empty()) return {{error_}};
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      return {{std::string("<error: ") + sqlite3_errmsg(h_) + "> in " + sql}};
    }
    std::vector<std::vector<std::string>> out;
    int rc = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const unsigned char* t = sqlite3_column_text(st, c);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "<null>");
      }
      out.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) out.push_back({std::string("<error: ") + sqlite3_errmsg(h_) + ">"});
    sqlite3_finalize(st);
    return out;
  }
  // The first column of the first row as an integer (-1 when it is not one).
  int64_t count(const std::string& sql) const {
    const auto r = rows(sql);
    if (r.empty() || r[0].empty()) return -1;
    char* end = nullptr;
    const long long n = std::strtoll(r[0][0].c_str(), &end, 10);
    return end && *end == '\0' && !r[0][0].empty() ? n : -1;
  }

 private:
  sqlite3* h_ = nullptr;
  std::string error_;
};

// A step_succeeded or step_started event and the step run it is about (data_json holds
// {"step": id, "iteration": i, ...}).
constexpr const char* kSameRun =
    "b.job_id = a.job_id AND json_extract(b.data_json, '$.step') = "
    "json_extract(a.data_json, '$.step') AND json_extract(b.data_json, '$.iteration') = "
    "json_extract(a.data_json, '$.iteration')";

// The invariants that hold at any moment, whatever was killed when: `acked` are the
// submissions acknowledged before the last kill, `sent_now` says how many keys the client
// has used (asked after the jobs are read, since the client goes on sending). Returns
// what does not hold, one line each.
std::vector<std::string> broken_invariants(const std::string& path,
                                           const std::map<std::string, int64_t>& acked,
                                           const std::function<size_t()>& sent_now) {
  std::vector<std::string> bad;
  Db db(path);
  auto expect_zero = [&](const std::string& what, const std::string& sql) {
    const int64_t n = db.count(sql);
    if (n != 0) bad.push_back(what + ": " + std::to_string(n) + " (" + sql + ")");
  };
  if (const auto r = db.rows("PRAGMA integrity_check"); r.size() != 1 || r[0][0] != "ok") {
    bad.push_back("integrity check: " + (r.empty() ? std::string("no row") : r[0][0]));
  }
  // No job lost: each acknowledged key holds the job it was acknowledged with.
  std::map<std::string, int64_t> stored;
  for (const auto& row : db.rows("SELECT idempotency_key, id FROM jobs")) {
    if (row.size() == 2) stored[row[0]] = std::atoll(row[1].c_str());
  }
  for (const auto& [key, id] : acked) {
    auto it = stored.find(key);
    if (it == stored.end()) {
      bad.push_back("acknowledged job " + std::to_string(id) + " (" + key + ") is gone");
    } else if (it->second != id) {
      bad.push_back(key + " acknowledged as job " + std::to_string(id) + ", stored as " +
                    std::to_string(it->second));
    }
  }
  // No job nobody asked for: each job is one of the keys sent.
  const int64_t jobs = db.count("SELECT COUNT(*) FROM jobs");
  if (const size_t sent = sent_now(); jobs < 0 || static_cast<size_t>(jobs) > sent) {
    bad.push_back(std::to_string(jobs) + " jobs for " + std::to_string(sent) + " keys sent");
  }
  expect_zero("jobs without a key", "SELECT COUNT(*) FROM jobs WHERE idempotency_key IS NULL");
  // Nothing re-run past its last commit.
  expect_zero("step runs committed twice",
              "SELECT COUNT(*) FROM (SELECT 1 FROM job_events WHERE type = 'step_succeeded' "
              "GROUP BY job_id, json_extract(data_json, '$.step'), "
              "json_extract(data_json, '$.iteration') HAVING COUNT(*) > 1)");
  expect_zero("step runs started again after their commit",
              std::string("SELECT COUNT(*) FROM job_events a JOIN job_events b ON ") + kSameRun +
                  " AND b.id > a.id AND b.type = 'step_started' WHERE a.type = 'step_succeeded'");
  expect_zero("jobs finished twice",
              "SELECT COUNT(*) FROM (SELECT job_id FROM job_events WHERE type IN "
              "('job_succeeded', 'job_failed', 'job_cancelled') GROUP BY job_id "
              "HAVING COUNT(*) > 1)");
  expect_zero("jobs started again after they finished",
              "SELECT COUNT(*) FROM job_events a JOIN job_events b ON b.job_id = a.job_id "
              "AND b.id > a.id AND b.type = 'job_started' WHERE a.type IN "
              "('job_succeeded', 'job_failed', 'job_cancelled')");
  expect_zero("committed step runs without their one commit event",
              std::string("SELECT COUNT(*) FROM step_runs r WHERE r.status = 'succeeded' AND "
                          "(SELECT COUNT(*) FROM job_events e WHERE e.job_id = r.job_id AND "
                          "e.type = 'step_succeeded' AND json_extract(e.data_json, '$.step') = "
                          "r.step_id AND json_extract(e.data_json, '$.iteration') = "
                          "r.iteration) != 1"));
  // Documents read when the job first runs are attached once: as many document_ingested
  // events as documents, and none left pending once the job has run to its end.
  expect_zero("jobs whose documents were attached twice",
              "SELECT COUNT(*) FROM (SELECT e.job_id FROM job_events e WHERE e.type = 'document_ingested' "
              "GROUP BY e.job_id HAVING COUNT(*) != (SELECT COUNT(*) FROM job_documents d "
              "WHERE d.job_id = e.job_id))");
  expect_zero("succeeded jobs with documents still pending",
              "SELECT COUNT(*) FROM jobs WHERE status = 'succeeded' AND pending_documents != ''");
  // No finding twice, none astray: a committed run has what its commit recorded, an
  // uncommitted run has none.
  expect_zero("committed step runs whose findings differ from their commit's count",
              "SELECT COUNT(*) FROM step_runs r JOIN job_events e ON e.job_id = r.job_id AND "
              "e.type = 'step_succeeded' AND json_extract(e.data_json, '$.step') = r.step_id "
              "AND json_extract(e.data_json, '$.iteration') = r.iteration WHERE "
              "(SELECT COUNT(*) FROM findings f WHERE f.step_run_id = r.id) != "
              "json_extract(e.data_json, '$.findings')");
  expect_zero("findings of uncommitted step runs",
              "SELECT COUNT(*) FROM findings f JOIN step_runs r ON r.id = f.step_run_id "
              "WHERE r.status != 'succeeded'");
  return bad;
}

int soak_kills() {
  const char* env = std::getenv("REAM_SOAK_KILLS");
  const int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : 10;
}

TEST(DaemonSoak, KillsUnderSubmissionLoadLoseAndRepeatNothing) {
  const int kills = soak_kills();
  std::mt19937 rng(std::random_device{}());
  TempDir tmp;
  const std::string docs = tmp.path() + "/docs";
  const Documents documents = write_documents(docs, rng, 40, 60);
  const std::string cfg = "documents:\n  allowed_roots: [" + docs + "]\n"
                          "queue:\n  runners: 4\n  lease_s: 4\n  heartbeat_s: 1\n";
  Daemon d(tmp.path() + "/data", cfg);
  d.add_workflow_dir(std::string(REAM_SOURCE_DIR) + "/plugins/example");
  d.add_plugin_dir(REAM_TEST_PLUGIN_DIR);
  ASSERT_TRUE(d.start()) << d.log();
  const uint16_t port = d.port();  // kept across restarts

  // The client: submissions one after another, each retried until answered, paced (about
  // two a second) so that the tiny model's runners about keep up and the soak stays short.
  std::mutex mu;
  std::map<std::string, Submission> subs;  // every key sent
  std::vector<std::string> odd_answers;    // neither an acknowledgement nor a dead daemon
  std::atomic<bool> stop{false};
  std::thread client([&, seed = rng()] {
    std::mt19937 crng(seed);
    for (int i = 0; !stop.load(); ++i) {
      const std::string key = "soak-" + std::to_string(i);
      const Submission sub = draw_submission(documents, crng);
      const std::string& body = sub.body;
      {
        std::lock_guard<std::mutex> lock(mu);
        subs[key] = sub;
      }
      // Until answered (a dead or restarting daemon answers nothing, or 503 while
      // starting; 429 asks to come back later).
      for (;;) {
        const HttpResult r = http_request(port, "POST", "/v1/jobs", body, {{"Idempotency-Key", key}});
        const json j = r.json();
        if (r.status == 202 && j.is_object() && j.contains("id")) {
          std::lock_guard<std::mutex> lock(mu);
          subs[key].id = j["id"].get<int64_t>();
          break;
        }
        if (r.status != 0 && r.status != 503 && r.status != 429) {
          std::lock_guard<std::mutex> lock(mu);
          odd_answers.push_back(key + ": " + std::to_string(r.status) + " " + r.body);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(r.status == 0 ? 20 : 100));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + crng() % 600));
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

  // The killer: SIGKILL at a random moment, restart, check, again.
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1000));
    const auto before = acked_now().first;  // all acknowledged before the kill
    d.kill9();
    if (!d.start()) {
      finish();
      FAIL() << "reamd did not come back after kill " << k + 1 << "\n" << d.log();
    }
    const auto bad = broken_invariants(d.db_path(), before, [&] { return acked_now().second; });
    if (!bad.empty()) {
      finish();
      FAIL() << "after kill " << k + 1 << ":\n" << joined(bad) << d.log();
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  finish();
  ASSERT_TRUE(odd_answers.empty()) << odd_answers.size() << " unexpected answers, first: "
                                   << odd_answers.front();
  const auto [acked, sent] = acked_now();
  ASSERT_EQ(acked.size(), sent) << "a submission was left unanswered";
  ASSERT_GE(acked.size(), static_cast<size_t>(kills)) << "the client got too few submissions through";

  // Every acknowledged job finishes, and succeeds.
  std::set<int64_t> ids;
  for (const auto& [key, id] : acked) {
    EXPECT_TRUE(ids.insert(id).second) << "job " << id << " acknowledged for two keys";
    const json job = wait_job(d, id, 240);
    ASSERT_TRUE(job.is_object()) << "job " << id << " (" << key << ") did not finish\n" << d.log();
    ASSERT_EQ(job["status"], "succeeded") << key << ": " << job.dump();
  }
  // Each key still names its one job: the same body again is a replay of it.
  int checked = 0;
  for (const auto& [key, id] : acked) {
    if (checked++ % 7 != 0) continue;  // a sample: each is one more request
    HttpResult r = d.post("/v1/jobs", json::parse(subs[key].body), {{"Idempotency-Key", key}});
    ASSERT_EQ(r.status, 202u) << key << ": " << r.body;
    EXPECT_EQ(r.headers["idempotent-replayed"], "true") << key;
    EXPECT_EQ(r.json()["id"].get<int64_t>(), id) << key;
  }
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.log();

  const std::string path = d.db_path();
  EXPECT_EQ(joined(broken_invariants(path, acked, [n_sent = sent] { return n_sent; })), "");
  Db db(path);
  // Exactly the acknowledged jobs, each finished once, each with one committed run per
  // document and the findings its documents call for.
  const auto n = static_cast<int64_t>(acked.size());
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM jobs"), n);
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM jobs WHERE status = 'succeeded'"), n);
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM job_events WHERE type = 'job_succeeded'"), n);
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM step_runs WHERE status != 'succeeded'"), 0);
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM step_runs"), 2 * n);
  std::map<int64_t, int64_t> findings;
  for (const auto& row : db.rows("SELECT job_id, COUNT(*) FROM findings GROUP BY job_id")) {
    if (row.size() == 2) findings[std::atoll(row[0].c_str())] = std::atoll(row[1].c_str());
  }
  int64_t total = 0;
  for (const auto& [key, id] : acked) {
    EXPECT_EQ(findings[id], subs[key].findings) << key << " (job " << id << ")";
    total += subs[key].findings;
  }
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM jobs WHERE lease_owner != ''"), 0);
  std::printf("soak: %d kills, %zu jobs acknowledged, each finished once; %lld findings\n", kills,
              acked.size(), static_cast<long long>(total));
}

}  // namespace
}  // namespace ream::testing
