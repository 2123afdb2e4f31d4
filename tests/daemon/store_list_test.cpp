// Job lists (issue 14, item 4): keyset pages by status and workflow visit every job
// exactly once while other jobs are inserted, each filter shape reads an index in id
// order (SQLite's own plan for the store's statement), and a database from before
// schema 6 lists by workflow after its migration. Expected rows come from plain SQL on
// the file through the workflows table, not from the store.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <thread>

#include "store/sqlite_store.h"
#include "store/store.h"
#include "test_util.h"

namespace ream::store {
namespace {

using test::query;

std::string unique_hash() {
  static std::mt19937_64 rng(std::random_device{}());
  return std::to_string(rng()) + std::to_string(rng());
}

// The ids plain SQL finds for a filter, up to and including `max_id`, newest first.
std::vector<int64_t> expected_ids(const std::string& db, const std::string& status,
                                  const std::string& workflow, int64_t max_id) {
  std::string sql = "SELECT j.id FROM jobs j JOIN workflows w ON w.id = j.workflow_id WHERE j.id <= " +
                    std::to_string(max_id);
  if (!status.empty()) sql += " AND j.status = '" + status + "'";
  if (!workflow.empty()) sql += " AND w.name = '" + workflow + "'";
  std::vector<int64_t> ids;
  for (const auto& row : query(db, sql + " ORDER BY j.id DESC")) ids.push_back(std::stoll(row.at(0)));
  return ids;
}

struct ListFixture {
  test::TempDir dir;
  std::string db = dir.path("ream.db");
  std::unique_ptr<Store> store;
  std::vector<int64_t> workflows;  // "alpha" v1, "alpha" v2, "beta"

  ListFixture() {
    auto s = Store::open(db);
    EXPECT_TRUE(s.ok()) << s.status().message();
    store = std::move(s).value();
    for (auto [name, version] : {std::pair{"alpha", "1"}, {"alpha", "2"}, {"beta", "1"}}) {
      auto id = store->put_workflow({0, name, version, unique_hash(), "name: x", "x.yaml", 0});
      EXPECT_TRUE(id.ok());
      workflows.push_back(*id);
    }
  }

  // `n` queued jobs of random workflows, in one transaction.
  void create(int n, std::mt19937_64& rng) {
    std::vector<NewJob> batch(n);
    for (auto& j : batch) j.job.workflow_id = workflows[rng() % workflows.size()];
    auto created = store->create_jobs(batch);
    ASSERT_TRUE(created.ok()) << created.status().message();
  }
};

TEST(StoreList, KeysetPagesVisitEveryJobOnceWhileJobsAreInserted) {
  ListFixture f;
  std::mt19937_64 rng(std::random_device{}());
  f.create(900, rng);
  // Random final states, so that each status filter has its own subset.
  for (const auto& row : query(f.db, "SELECT id FROM jobs")) {
    const int64_t id = std::stoll(row.at(0));
    switch (rng() % 4) {
      case 0: ASSERT_TRUE(f.store->finish_job(id, kJobSucceeded, "{}", "").ok()); break;
      case 1: ASSERT_TRUE(f.store->finish_job(id, kJobFailed, "{}", "boom").ok()); break;
      case 2: ASSERT_TRUE(*f.store->cancel_if_queued(id)); break;
      default: break;  // stays queued
    }
  }
  // Another connection keeps inserting queued jobs while the pages are read.
  auto other = Store::open(f.db);
  ASSERT_TRUE(other.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> inserted{0};
  std::thread writer([&] {
    std::mt19937_64 wrng(rng());
    while (!stop) {
      std::vector<NewJob> batch(1 + wrng() % 3);
      for (auto& j : batch) j.job.workflow_id = f.workflows[wrng() % f.workflows.size()];
      if ((*other)->create_jobs(batch).ok()) inserted += static_cast<int>(batch.size());
    }
  });
  for (const std::string status : {"", "queued", "failed"}) {
    for (const std::string workflow : {"", "alpha", "beta"}) {
      std::vector<int64_t> seen;
      int64_t cursor = 0;
      for (;;) {
        const int limit = 1 + static_cast<int>(rng() % 40);
        auto page = f.store->list_jobs(status, limit, cursor, workflow);
        ASSERT_TRUE(page.ok()) << page.status().message();
        for (const auto& j : *page) {
          if (!status.empty()) EXPECT_EQ(j.status, status);
          if (!workflow.empty()) EXPECT_EQ(j.workflow_name, workflow);
          seen.push_back(j.id);
        }
        if (static_cast<int>(page->size()) < limit) break;
        cursor = page->back().id;
      }
      ASSERT_FALSE(seen.empty());
      // Every job that existed when the walk began (ids up to its first), once, newest first.
      EXPECT_EQ(seen, expected_ids(f.db, status, workflow, seen.front()))
          << "status '" << status << "', workflow '" << workflow << "'";
    }
  }
  stop = true;
  writer.join();
  EXPECT_GT(inserted.load(), 0);  // the inserts really ran beside the walks
}

// SQLite's plan for each filter shape of the store's statement: the jobs table is
// searched through an index (the primary key, or one of status / workflow ending in id),
// and no sort is needed, so a page costs its own rows whatever the table holds.
TEST(StoreList, EveryFilterShapeReadsAnIndexInIdOrder) {
  ListFixture f;
  std::mt19937_64 rng(std::random_device{}());
  f.create(2000, rng);
  const struct {
    bool status, workflow;
    std::string index;
  } shapes[] = {{false, false, "USING INTEGER PRIMARY KEY"},
                {true, false, "USING INDEX jobs_by_status"},
                {false, true, "USING INDEX jobs_by_workflow "},
                {true, true, "USING INDEX jobs_by_workflow_status"}};
  for (const auto& shape : shapes) {
    std::string plan;
    for (const auto& row : query(f.db, "EXPLAIN QUERY PLAN " + job_list_sql(shape.status, shape.workflow))) {
      plan += row.back() + "\n";
    }
    SCOPED_TRACE(plan);
    EXPECT_NE(plan.find("SEARCH j " + shape.index), std::string::npos);
    EXPECT_EQ(plan.find("SCAN j"), std::string::npos);
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos);
  }
}

// A database whose jobs were written before schema 6 (no workflow_name column) lists
// by workflow after its migration: the column is filled from the workflows table.
TEST(StoreList, JobsFromBeforeSchema6ListByWorkflowAfterTheMigration) {
  const std::string fixture = std::string(REAM_TEST_DATA_DIR) + "/store/reamd-schema4.sqlite";
  test::TempDir dir;
  const std::string db = dir.path("old.db");
  std::filesystem::copy_file(fixture, db);
  const auto names = query(db, "SELECT DISTINCT w.name FROM jobs j JOIN workflows w ON w.id = j.workflow_id");
  ASSERT_FALSE(names.empty());
  auto store = Store::open(db);
  ASSERT_TRUE(store.ok()) << store.status().message();
  for (const auto& row : names) {
    const std::string& name = row.at(0);
    auto page = (*store)->list_jobs("", 1000, 0, name);
    ASSERT_TRUE(page.ok()) << page.status().message();
    std::vector<int64_t> ids;
    for (const auto& j : *page) ids.push_back(j.id);
    EXPECT_EQ(ids, expected_ids(db, "", name, std::numeric_limits<int64_t>::max())) << name;
  }
}

}  // namespace
}  // namespace ream::store
