// Scheduler with a fake clock over a real SQLite file: slots fire once, survive a
// restart, missed runs follow their policy, overlap is honoured, DST is respected.
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include "cron/scheduler.h"
#include "store/daemon_store.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace ream::cron {
namespace {

int64_t utc_ms(int y, int mo, int d, int h, int mi) {
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// Records submissions; the same idempotency key gives the same job, as the daemon does.
class FakeHost : public ScheduleHost {
 public:
  Result<int64_t> submit(const ScheduleSpec& spec, const std::string& key) override {
    auto it = by_key.find(key);
    if (it != by_key.end()) return it->second;
    int64_t id = next_id++;
    by_key[key] = id;
    fired.push_back({spec.id, key});
    active[id] = true;
    return id;
  }
  bool job_active(int64_t id) override { return active[id]; }

  std::map<std::string, int64_t> by_key;
  std::vector<std::pair<std::string, std::string>> fired;
  std::map<int64_t, bool> active;
  int64_t next_id = 1;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("reamd-sched-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "ream.db").string();
    reopen();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void reopen() {
    ds_.reset();
    store_.reset();
    store_ = std::move(store::Store::open(path_).value());
    ds_ = std::move(store::DaemonStore::open(path_).value());
  }
  std::vector<ScheduleSpec> specs(const std::string& yaml_json) {
    auto r = parse_schedules("wf", nlohmann::json::parse(yaml_json), "/usr/share/zoneinfo");
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value() : std::vector<ScheduleSpec>{};
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::DaemonStore> ds_;
  FakeHost host_;
  int64_t now_ = 0;
};

TEST_F(SchedulerTest, FiresEachSlotOnceAcrossDaylightSavingChanges) {
  auto s = specs(R"([{"cron": "30 2 * * *", "timezone": "America/New_York"},
                     {"name": "late", "cron": "30 1 * * *", "timezone": "America/New_York"}])");
  now_ = utc_ms(2024, 3, 8, 12, 0);
  Scheduler sch(*ds_, host_, [this] { return now_; });
  sch.set_specs(s);
  std::vector<int64_t> at230, at130;
  for (; now_ < utc_ms(2024, 3, 12, 0, 0); now_ += 60000) {
    size_t before = host_.fired.size();
    sch.tick();
    for (size_t i = before; i < host_.fired.size(); ++i) {
      (host_.fired[i].first == "wf#0" ? at230 : at130).push_back(now_);
    }
    for (auto& [id, a] : host_.active) a = false;  // jobs finish at once
  }
  EXPECT_EQ(at230, (std::vector<int64_t>{utc_ms(2024, 3, 9, 7, 30), utc_ms(2024, 3, 10, 7, 0),
                                         utc_ms(2024, 3, 11, 6, 30)}));
  EXPECT_EQ(at130.size(), 3u);

  at130.clear();
  now_ = utc_ms(2024, 11, 2, 12, 0);
  sch.set_specs(specs(R"([{"name": "late", "cron": "30 1 * * *", "timezone": "America/New_York",
                          "missed": "skip"}])"));
  for (; now_ < utc_ms(2024, 11, 5, 0, 0); now_ += 60000) {
    size_t before = host_.fired.size();
    sch.tick();
    if (host_.fired.size() > before) at130.push_back(now_);
    for (auto& [id, a] : host_.active) a = false;
  }
  EXPECT_EQ(at130, (std::vector<int64_t>{utc_ms(2024, 11, 3, 5, 30), utc_ms(2024, 11, 4, 6, 30)}));
}

TEST_F(SchedulerTest, RestartNeitherLosesNorDoublesARun) {
  auto s = specs(R"({"cron": "0 * * * *"})");
  now_ = utc_ms(2025, 1, 6, 10, 30);
  {
    Scheduler sch(*ds_, host_, [this] { return now_; });
    sch.set_specs(s);
    now_ = utc_ms(2025, 1, 6, 11, 0);
    EXPECT_EQ(sch.tick(), 1);
    EXPECT_EQ(sch.tick(), 0);
  }
  reopen();  // a restart within the same hour: nothing fires again
  Scheduler sch(*ds_, host_, [this] { return now_; });
  sch.set_specs(s);
  EXPECT_EQ(sch.tick(), 0);
  now_ = utc_ms(2025, 1, 6, 12, 0) + 5000;
  host_.active[1] = false;  // the 11:00 run finished
  EXPECT_EQ(sch.tick(), 1);
  ASSERT_EQ(host_.fired.size(), 2u);
  EXPECT_EQ(host_.fired[1].second, "schedule:wf#0:" + std::to_string(utc_ms(2025, 1, 6, 12, 0)));
  // A crash after the job was created but before the slot advanced: the persisted
  // slot fires again with the same key, which the host maps to the same job.
  auto st = ds_->schedules().value();
  ASSERT_EQ(st.size(), 1u);
  ASSERT_TRUE(ds_->put_schedule({st[0].id, st[0].spec_hash, utc_ms(2025, 1, 6, 12, 0),
                                 utc_ms(2025, 1, 6, 11, 0), 1, 0})
                  .ok());
  EXPECT_EQ(sch.tick(), 1);
  EXPECT_EQ(host_.fired.size(), 2u);  // no new job
}

TEST_F(SchedulerTest, MissedRunsRunOnceOrSkip) {
  now_ = utc_ms(2025, 1, 6, 8, 0);
  {
    Scheduler sch(*ds_, host_, [this] { return now_; });
    sch.set_specs(specs(R"([{"name": "once", "cron": "0 9 * * *"},
                           {"name": "skip", "cron": "0 9 * * *", "missed": "skip"}])"));
  }
  // Down for three days; back at 2025-01-09 12:00.
  now_ = utc_ms(2025, 1, 9, 12, 0);
  reopen();
  Scheduler sch(*ds_, host_, [this] { return now_; });
  sch.set_specs(specs(R"([{"name": "once", "cron": "0 9 * * *"},
                         {"name": "skip", "cron": "0 9 * * *", "missed": "skip"}])"));
  EXPECT_EQ(sch.tick(), 1);
  ASSERT_EQ(host_.fired.size(), 1u);
  EXPECT_EQ(host_.fired[0].first, "wf/once");
  EXPECT_EQ(host_.fired[0].second, "schedule:wf/once:" + std::to_string(utc_ms(2025, 1, 9, 9, 0)));
  auto list = sch.list();
  ASSERT_EQ(list.size(), 2u);
  for (const auto& e : list) EXPECT_EQ(e["next_run"], "2025-01-10T09:00:00Z");
  EXPECT_EQ(sch.tick(), 0);
}

TEST_F(SchedulerTest, OverlapSkipOrQueue) {
  now_ = utc_ms(2025, 1, 6, 8, 55);
  Scheduler sch(*ds_, host_, [this] { return now_; });
  sch.set_specs(specs(R"([{"name": "s", "cron": "*/5 * * * *"},
                         {"name": "q", "cron": "*/5 * * * *", "overlap": "queue"}])"));
  for (int i = 0; i < 3; ++i) {
    now_ += 5 * 60000;
    sch.tick();  // nothing ever finishes
  }
  int s = 0, q = 0;
  for (auto& f : host_.fired) (f.first == "wf/s" ? s : q)++;
  EXPECT_EQ(s, 1);
  EXPECT_EQ(q, 3);
}

// reamd's version 2 keeps upload names by content hash. A version-1 database (as
// the previous release left it) gains the table on open and keeps its schedules;
// the latest name given for a hash wins.
TEST_F(SchedulerTest, DaemonStoreUpgradesToUploadNamesAndKeepsTheLatest) {
  ASSERT_TRUE(ds_->put_schedule({"wf#0", "spec", 5, 0, 0, 1}).ok());
  {
    auto db = store::Db::open(path_, 5000);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->exec("DROP TABLE reamd_document_names;"
                         "UPDATE reamd_meta SET value = '1' WHERE key = 'schema_version'").ok());
  }
  reopen();
  auto kept = ds_->schedules();
  ASSERT_TRUE(kept.ok() && kept->size() == 1u);
  const std::string hash = std::to_string(std::random_device{}()) + "abc";
  EXPECT_EQ(ds_->document_name(hash).value(), "");
  ASSERT_TRUE(ds_->put_document_name(hash, "master-services-agreement.txt").ok());
  ASSERT_TRUE(ds_->put_document_name(hash, "msa-v2.txt").ok());
  reopen();
  EXPECT_EQ(ds_->document_name(hash).value(), "msa-v2.txt");
}

TEST(ScheduleParse, Errors) {
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {R"({"cron": "61 * * * *"})", "wf: schedule[0].cron: cron: minute: 61 is out of range"},
      {R"({"cron": "* * * * *", "timezone": "Nowhere/City"})",
       "wf: schedule[0].timezone: unknown time zone 'Nowhere/City'"},
      {R"([{"cron": "* * * * *"}, {"cron": "* * * * *", "overlap": "maybe"}])",
       "wf: schedule[1].overlap: expected skip or queue"},
      {R"({"cron": "* * * * *", "when": 1})", "wf: schedule[0]: unknown field 'when'"},
      {R"({"timezone": "UTC"})", "wf: schedule[0].cron: expected a cron expression string"},
  };
  for (const auto& c : cases) {
    auto r = parse_schedules("wf", nlohmann::json::parse(c.json), "/usr/share/zoneinfo");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace ream::cron
