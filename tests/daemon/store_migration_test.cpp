// A database written by reamd before the stores merged (tests/data/store/
// reamd-schema4.sqlite: store schema 4 and reamd's own tables at reamd_meta version 3,
// made by tools/make_store_fixture.sh with reamd of 2026-12-06) migrates in place on
// open, and every job, step run, finding, event, schedule and upload name in it is
// found through the Store. The expectations are read from the file itself with plain
// SQL, before the migration touches a copy of it.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "store/migrations.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "test_util.h"

namespace ream::store {
namespace {

using test::query;
using test::query_one;

const std::string kFixture = std::string(REAM_TEST_DATA_DIR) + "/store/reamd-schema4.sqlite";

std::string copy_fixture(const test::TempDir& dir) {
  const std::string db = dir.path("old.db");
  std::filesystem::copy_file(kFixture, db);
  return db;
}

TEST(StoreMigration, TheFixtureIsADatabaseFromBeforeTheMerge) {
  EXPECT_EQ(query_one(kFixture, "PRAGMA user_version"), "4");
  EXPECT_EQ(query_one(kFixture, "SELECT value FROM reamd_meta WHERE key = 'schema_version'"), "3");
  // It holds what the test below looks for: jobs in more than one final state, foreach
  // iterations, a failed step, findings with evidence, a schedule and an upload name.
  EXPECT_EQ(query_one(kFixture, "SELECT COUNT(DISTINCT status) FROM jobs"), "2");
  EXPECT_NE(query_one(kFixture, "SELECT COUNT(*) FROM step_runs WHERE iteration >= 0"), "0");
  EXPECT_NE(query_one(kFixture, "SELECT COUNT(*) FROM step_runs WHERE status = 'failed'"), "0");
  EXPECT_NE(query_one(kFixture, "SELECT COUNT(*) FROM evidence"), "0");
  EXPECT_NE(query_one(kFixture, "SELECT COUNT(*) FROM reamd_schedules"), "0");
  EXPECT_NE(query_one(kFixture, "SELECT COUNT(*) FROM reamd_document_names"), "0");
}

TEST(StoreMigration, AnOldDatabaseMigratesInPlaceAndKeepsEveryRow) {
  test::TempDir dir;
  const std::string db = copy_fixture(dir);
  auto opened = Store::open(db);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store& store = **opened;
  EXPECT_EQ(*store.schema_version(), current_schema_version());
  EXPECT_EQ(query_one(db, "PRAGMA user_version"), std::to_string(current_schema_version()));
  // One versioning scheme: reamd's own is gone, its tables are the store's.
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'reamd_%'"), "0");

  const auto jobs = query(kFixture,
      "SELECT j.id, w.name, j.status, j.inputs_json, j.priority, COALESCE(j.idempotency_key, ''), "
      "j.idempotency_hash FROM jobs j JOIN workflows w ON w.id = j.workflow_id ORDER BY j.id");
  ASSERT_GE(jobs.size(), 3u);
  auto listed = store.list_jobs("", 100);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), jobs.size());
  for (const auto& row : jobs) {
    const int64_t id = std::stoll(row[0]);
    auto job = store.get_job(id);
    ASSERT_TRUE(job.ok()) << job.status().message();
    EXPECT_EQ(job->workflow_name, row[1]);
    EXPECT_EQ(job->status, row[2]);
    EXPECT_EQ(job->inputs_json, row[3]);
    EXPECT_EQ(std::to_string(job->priority), row[4]);
    EXPECT_EQ(job->idempotency_key, row[5]);
    EXPECT_EQ(job->idempotency_hash, row[6]);
    if (!row[5].empty()) EXPECT_EQ(*store.job_by_idempotency_key(row[5]), id);

    const auto steps = query(kFixture, "SELECT id, step_id, iteration, status, attempt, outputs_json "
                                       "FROM step_runs WHERE job_id = " + row[0] + " ORDER BY id");
    auto runs = store.step_runs(id);
    ASSERT_TRUE(runs.ok());
    ASSERT_EQ(runs->size(), steps.size()) << "job " << id;
    for (size_t i = 0; i < steps.size(); ++i) {
      EXPECT_EQ(std::to_string(runs->at(i).id), steps[i][0]);
      EXPECT_EQ(runs->at(i).step_id, steps[i][1]);
      EXPECT_EQ(std::to_string(runs->at(i).iteration), steps[i][2]);
      EXPECT_EQ(runs->at(i).status, steps[i][3]);
      EXPECT_EQ(std::to_string(runs->at(i).attempt), steps[i][4]);
      EXPECT_EQ(runs->at(i).outputs_json, steps[i][5]);
    }

    const auto findings = query(kFixture, "SELECT f.id, f.step_id, f.title, f.text, "
        "(SELECT COUNT(*) FROM evidence e WHERE e.finding_id = f.id), "
        "(SELECT GROUP_CONCAT(e.quote, '|') FROM evidence e WHERE e.finding_id = f.id) "
        "FROM findings f WHERE f.job_id = " + row[0] + " ORDER BY f.step_run_id, f.seq");
    auto found = store.findings(id);
    ASSERT_TRUE(found.ok());
    ASSERT_EQ(found->size(), findings.size()) << "job " << id;
    for (size_t i = 0; i < findings.size(); ++i) {
      const FindingRecord& f = found->at(i);
      EXPECT_EQ(std::to_string(f.id), findings[i][0]);
      EXPECT_EQ(f.step_id, findings[i][1]);
      EXPECT_EQ(f.title, findings[i][2]);
      EXPECT_EQ(f.text, findings[i][3]);
      ASSERT_EQ(std::to_string(f.evidence.size()), findings[i][4]);
      std::string quotes;
      for (const auto& e : f.evidence) quotes += (quotes.empty() ? "" : "|") + e.quote;
      EXPECT_EQ(f.evidence.empty() ? "NULL" : quotes, findings[i][5]);
    }

    const auto events = query(kFixture, "SELECT id, type FROM job_events WHERE job_id = " + row[0] +
                                            " ORDER BY id");
    auto evs = store.events(id, 0);
    ASSERT_TRUE(evs.ok());
    ASSERT_EQ(evs->size(), events.size());
    for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(evs->at(i).type, events[i][1]);
  }

  // reamd's tables, now the store's: schedule state, API schedules, upload names.
  const auto sched = query(kFixture, "SELECT id, next_run_ms, buffered_ms FROM reamd_schedules ORDER BY id");
  auto states = store.schedules();
  ASSERT_TRUE(states.ok());
  ASSERT_EQ(states->size(), sched.size());
  for (size_t i = 0; i < sched.size(); ++i) {
    EXPECT_EQ(states->at(i).id, sched[i][0]);
    EXPECT_EQ(std::to_string(states->at(i).next_run_ms), sched[i][1]);
    EXPECT_EQ(std::to_string(states->at(i).buffered_ms), sched[i][2]);
  }
  auto api = store.api_schedules();
  ASSERT_TRUE(api.ok());
  EXPECT_EQ(std::to_string(api->size()), query_one(kFixture, "SELECT COUNT(*) FROM reamd_api_schedules"));
  for (const auto& row : query(kFixture, "SELECT content_hash, name FROM reamd_document_names")) {
    EXPECT_EQ(*store.document_name(row[0]), row[1]);
  }

  // The migrated database takes new work: a job, and a lease on it.
  JobRecord j;
  j.workflow_id = store.get_job(std::stoll(jobs[0][0]))->workflow_id;
  auto created = store.create_job(j, {});
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_GT(created->id, std::stoll(jobs.back()[0]));
  EXPECT_EQ(*store.lease_next("host:1:1", 60000), created->id);
  EXPECT_TRUE(store.probe_write().ok());
}

// A job created before the digest moved into its row (store schema < 4) kept its
// digest in reamd_idempotency; the migration moves it there, so a retry of that request
// still replays and another request under its key still conflicts.
TEST(StoreMigration, DigestsKeptBesideTheJobMoveIntoItsRow) {
  test::TempDir dir;
  const std::string db = copy_fixture(dir);
  const std::string key = query_one(db, "SELECT idempotency_key FROM jobs WHERE idempotency_key IS NOT NULL");
  ASSERT_FALSE(key.empty());
  {
    auto raw = Db::open(db, 5000);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw->exec("INSERT INTO reamd_idempotency(key, request_hash, job_id, created_at) "
                          "SELECT idempotency_key, 'digest-from-reamd', id, 1 FROM jobs "
                          "WHERE idempotency_key = '" + key + "';"
                          "UPDATE jobs SET idempotency_hash = '' WHERE idempotency_key = '" + key + "'").ok());
  }
  auto store = Store::open(db);
  ASSERT_TRUE(store.ok()) << store.status().message();
  const int64_t id = *(*store)->job_by_idempotency_key(key);
  EXPECT_EQ((*store)->get_job(id)->idempotency_hash, "digest-from-reamd");
  JobRecord retry;
  retry.workflow_id = (*store)->get_job(id)->workflow_id;
  retry.idempotency_key = key;
  retry.idempotency_hash = "digest-from-reamd";
  auto again = (*store)->create_job(retry, {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed && again->same_request);
  EXPECT_EQ(again->id, id);
}

TEST(StoreMigration, ADatabaseWithNewerReamdTablesIsRefused) {
  test::TempDir dir;
  const std::string db = copy_fixture(dir);
  {
    auto raw = Db::open(db, 5000);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw->exec("UPDATE reamd_meta SET value = '9' WHERE key = 'schema_version'").ok());
  }
  auto store = Store::open(db);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            db + ": migration to schema version 5 failed: reamd schema version 9 is newer than "
                 "this ream supports (3)");
  // Nothing was changed: the file is still the old database.
  EXPECT_EQ(query_one(db, "PRAGMA user_version"), "4");
}

// A database `ream run` wrote (no reamd tables at all) gains the tables it lacked.
TEST(StoreMigration, ADatabaseReamdNeverOpenedGainsItsTables) {
  test::TempDir dir;
  const std::string db = dir.path("cli.db");
  {
    auto raw = Db::open(db, 5000);
    ASSERT_TRUE(raw.ok());
    std::string sql;
    for (int v = 0; v < 4; ++v) sql += migrations().at(static_cast<size_t>(v)).sql;
    ASSERT_TRUE(raw->exec(sql + "PRAGMA user_version = 4;").ok());
  }
  auto store = Store::open(db);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_TRUE((*store)->put_schedule({"wf#0", "spec", 5, 0, 0, 1, 7}).ok());
  EXPECT_EQ((*store)->schedules()->at(0).buffered_ms, 7);
  EXPECT_TRUE((*store)->insert_api_schedule("x", "{}").value());
  EXPECT_TRUE((*store)->put_document_name("abc", "a.txt").ok());
  EXPECT_EQ(*(*store)->document_name("abc"), "a.txt");
}

}  // namespace
}  // namespace ream::store
