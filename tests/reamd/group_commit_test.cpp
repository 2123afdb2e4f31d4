// jobs::GroupCommit over a real SQLite file, from many threads at once: every job is
// committed before its create() returns (a second connection reads it right then), ids
// are distinct, an idempotency key sent by several threads at once creates one job and
// the others are answered with it, and a job the database refuses (a workflow row that
// does not exist) fails alone while the jobs committed beside it succeed.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "jobs/group_commit.h"
#include "store/store.h"

namespace ream::jobs {
namespace {

// The inputs_json of job `id`, read on a connection of the test's own; "" when none.
std::string inputs_on_disk(sqlite3* db, int64_t id) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT inputs_json FROM jobs WHERE id = ?1", -1, &st, nullptr);
  sqlite3_bind_int64(st, 1, id);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

TEST(GroupCommit, ConcurrentSubmissionsAreEachCommittedBeforeTheirAnswer) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("ream-group-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "ream.db").string();
  {
    auto store = std::move(store::Store::open(path).value());
    auto wf = store->put_workflow({0, "wf", "1", std::to_string(std::random_device{}()), "name: wf", "", 0});
    ASSERT_TRUE(wf.ok());
    GroupCommit commits(*store);

    constexpr int kThreads = 16, kEach = 40;
    const std::string shared_key = "key-" + std::to_string(std::random_device{}());
    std::mutex mu;
    std::vector<std::string> failures;
    std::set<int64_t> ids;
    std::vector<int64_t> key_holders;
    int refused = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        sqlite3* check = nullptr;
        sqlite3_open_v2(path.c_str(), &check, SQLITE_OPEN_READONLY, nullptr);
        sqlite3_busy_timeout(check, 5000);
        std::mt19937 rng(std::random_device{}());
        for (int i = 0; i < kEach; ++i) {
          store::NewJob job;
          job.job.workflow_id = *wf;
          job.job.inputs_json = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + ",\"r\":" +
                                std::to_string(rng()) + "}";
          const bool bad = rng() % 10 == 0;
          if (bad) job.job.workflow_id = *wf + 1000;  // no such workflow: a foreign-key violation
          const bool keyed = i == 0;                   // every thread's first job: the same key
          if (keyed) {
            job.job.idempotency_key = shared_key;
            job.job.idempotency_hash = "h";
            job.job.workflow_id = *wf;
          }
          const std::string inputs = job.job.inputs_json;
          auto created = commits.create(std::move(job));
          std::lock_guard lock(mu);
          if (bad && !keyed) {
            if (created.ok()) failures.push_back("a job of a missing workflow was created");
            ++refused;
            continue;
          }
          if (!created.ok()) {
            failures.push_back(created.status().message());
            continue;
          }
          if (keyed) {
            key_holders.push_back(created->id);
            continue;
          }
          if (created->replayed) failures.push_back("an unkeyed job was replayed");
          if (!ids.insert(created->id).second) failures.push_back("id given twice");
          // Committed before the answer: another connection reads it now.
          if (inputs_on_disk(check, created->id) != inputs) failures.push_back("job not on disk at its answer");
        }
        sqlite3_close(check);
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
    ASSERT_EQ(key_holders.size(), static_cast<size_t>(kThreads));
    for (int64_t h : key_holders) EXPECT_EQ(h, key_holders.front()) << "one job holds the key";
    EXPECT_EQ(ids.count(key_holders.front()), 0u);
    auto count = store->count_jobs();
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(count->at("queued"), static_cast<int64_t>(ids.size()) + 1);
    EXPECT_EQ(static_cast<int>(ids.size()) + refused + kThreads, kThreads * kEach);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ream::jobs
