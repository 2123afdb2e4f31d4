// GET /v1/jobs over many jobs (issue 14, item 4), against the real reamd: keyset pages
// by status and workflow, walked from the first page to `next_cursor: null` while new
// jobs are submitted, meet every job that existed when the walk began exactly once,
// newest first. The jobs are written into the database with plain SQL while reamd is
// stopped (final states only, so no runner changes them), and the expected ids come
// from plain SQL through the workflows table.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "daemon_harness.h"

namespace ream::testing {
namespace {

using nlohmann::json;

bool exec(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  bool ok = sqlite3_open(db_path.c_str(), &db) == SQLITE_OK;
  sqlite3_busy_timeout(db, 5000);
  ok = ok && sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

std::vector<int64_t> ids_of(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<int64_t> out;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) out.push_back(sqlite3_column_int64(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

TEST(DaemonList, KeysetPagesByStatusAndWorkflowMeetEveryJobOnceWhileJobsAreSubmitted) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "queue:\n  runners: 1\n");
  ASSERT_TRUE(d.start()) << d.log();
  const json submit = {{"workflow", "summarize"},
                       {"inputs", {{"documents", {{{"text", "The term renews each year."}}}}, {"max_tokens", 4}}}};
  auto first = d.post("/v1/jobs", submit);
  ASSERT_EQ(first.status, 202u) << first.body;
  wait_job(d, first.json()["id"]);
  d.signal(SIGTERM);
  ASSERT_EQ(d.wait_exit(), 0) << d.log();

  // 1,500 jobs in final states over two workflows: "summarize" and one only SQL knows.
  std::mt19937 rng(std::random_device{}());
  ASSERT_TRUE(exec(d.db_path(),
                   "INSERT INTO workflows(name, version, content_hash, source, path, created_at) "
                   "VALUES ('other', '1', 'h" + std::to_string(rng()) + "', 'name: other', '', 1)"));
  std::string rows;
  for (int i = 0; i < 1500; ++i) {
    static const char* kStates[] = {"succeeded", "failed", "cancelled"};
    const bool other = rng() % 3 == 0;
    rows += std::string(rows.empty() ? "" : ", ") + "((SELECT id FROM workflows WHERE name = '" +
            (other ? "other" : "summarize") + "' LIMIT 1), '" + (other ? "other" : "summarize") + "', '" +
            kStates[rng() % 3] + "', 1, 1)";
  }
  ASSERT_TRUE(exec(d.db_path(), "INSERT INTO jobs(workflow_id, workflow_name, status, created_at, updated_at) VALUES " +
                                    rows));
  ASSERT_TRUE(d.start()) << d.log();

  // New jobs keep coming while the pages are read.
  std::atomic<bool> stop{false};
  std::atomic<int> submitted{0};
  std::thread submitter([&] {
    while (!stop) {
      if (d.post("/v1/jobs", submit).status == 202) ++submitted;
    }
  });
  for (const std::string status : {"", "failed"}) {
    for (const std::string workflow : {"", "summarize", "other"}) {
      std::vector<int64_t> seen;
      std::string cursor;
      int pages = 0;
      for (; pages < 2000; ++pages) {
        const int limit = 20 + static_cast<int>(rng() % 80);
        std::string target = "/v1/jobs?limit=" + std::to_string(limit);
        if (!status.empty()) target += "&status=" + status;
        if (!workflow.empty()) target += "&workflow=" + workflow;
        if (!cursor.empty()) target += "&cursor=" + cursor;
        HttpResult r = d.get(target);
        ASSERT_EQ(r.status, 200u) << target << ": " << r.body;
        json page = r.json();
        for (const json& j : page["jobs"]) {
          if (!status.empty()) EXPECT_EQ(j["status"], status);
          if (!workflow.empty()) EXPECT_EQ(j["workflow"], workflow);
          seen.push_back(j["id"].get<int64_t>());
        }
        if (page["next_cursor"].is_null()) break;
        cursor = page["next_cursor"].get<std::string>();
      }
      ASSERT_FALSE(seen.empty());
      std::string sql = "SELECT j.id FROM jobs j JOIN workflows w ON w.id = j.workflow_id WHERE j.id <= " +
                        std::to_string(seen.front());
      if (!status.empty()) sql += " AND j.status = '" + status + "'";
      if (!workflow.empty()) sql += " AND w.name = '" + workflow + "'";
      EXPECT_EQ(seen, ids_of(d.db_path(), sql + " ORDER BY j.id DESC"))
          << "status '" << status << "', workflow '" << workflow << "'";
    }
  }
  stop = true;
  submitter.join();
  EXPECT_GT(submitted.load(), 0);
}

}  // namespace
}  // namespace ream::testing
