// Scheduler with a fake clock over a real SQLite file: slots fire once, survive a
// restart, missed runs follow their policy, overlap is honoured, DST is respected.
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <map>
#include <random>

#include "cron/scheduler.h"
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
  bool cancel_job(int64_t id) override {
    cancelled.push_back(id);
    active[id] = false;
    return true;
  }

  std::map<std::string, int64_t> by_key;
  std::vector<std::pair<std::string, std::string>> fired;
  std::map<int64_t, bool> active;
  std::vector<int64_t> cancelled;
  int64_t next_id = 1;
};

// Takes reamd's tables back to version 2 as that release created them (no API
// schedules, no buffered slot), for the upgrade tests.
constexpr const char* kBackToV2 =
    "DROP TABLE reamd_api_schedules;"
    "CREATE TABLE s2 (id TEXT PRIMARY KEY, spec_hash TEXT NOT NULL, next_run_ms INTEGER NOT NULL "
    "DEFAULT 0, last_run_ms INTEGER NOT NULL DEFAULT 0, last_job_id INTEGER NOT NULL DEFAULT 0, "
    "updated_at INTEGER NOT NULL);"
    "INSERT INTO s2 SELECT id, spec_hash, next_run_ms, last_run_ms, last_job_id, updated_at "
    "FROM reamd_schedules;"
    "DROP TABLE reamd_schedules; ALTER TABLE s2 RENAME TO reamd_schedules;";

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
    ds_ = nullptr;
    store_.reset();
    store_ = std::move(store::Store::open(path_).value());
    ds_ = store_.get();
  }
  std::vector<ScheduleSpec> specs(const std::string& yaml_json) {
    auto r = parse_schedules("wf", nlohmann::json::parse(yaml_json), "/usr/share/zoneinfo");
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value() : std::vector<ScheduleSpec>{};
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<store::Store> store_;
  store::Store* ds_ = nullptr;  // the same store, under the name these tests grew up with
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

// Before the stores merged (schema 5), reamd versioned its own tables in reamd_meta;
// this makes path_ such a database at reamd version `reamd_version` (1..3) from the
// one reamd wrote on 2026-12-06 (tests/data/store), holding one schedule "wf#0".
void write_premerge_db(const std::string& path, int reamd_version) {
  std::filesystem::copy_file(std::string(REAM_TEST_DATA_DIR) + "/store/reamd-schema4.sqlite", path,
                             std::filesystem::copy_options::overwrite_existing);
  auto db = store::Db::open(path, 5000);
  ASSERT_TRUE(db.ok());
  std::string sql =
      "DELETE FROM reamd_schedules; DELETE FROM reamd_api_schedules;"
      "INSERT INTO reamd_schedules(id, spec_hash, next_run_ms, last_run_ms, last_job_id, updated_at)"
      " VALUES ('wf#0', 'spec', 5, 0, 0, 1);";
  if (reamd_version < 3) sql += kBackToV2;
  if (reamd_version < 2) sql += "DROP TABLE reamd_document_names;";
  sql += "UPDATE reamd_meta SET value = '" + std::to_string(reamd_version) +
         "' WHERE key = 'schema_version'";
  ASSERT_TRUE(db->exec(sql).ok());
}

// reamd's version 2 kept upload names by content hash. A database at reamd version 1
// (as an earlier release left it) gains the table on open and keeps its schedules;
// the latest name given for a hash wins.
TEST_F(SchedulerTest, DaemonStoreUpgradesToUploadNamesAndKeepsTheLatest) {
  store_.reset();
  write_premerge_db(path_, 1);
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

// Every policy against an active and an idle last job: only an active one changes
// anything, and buffer_one keeps at most one slot.
TEST(OverlapPolicy, DecisionTable) {
  for (Overlap o : {Overlap::kSkip, Overlap::kQueue, Overlap::kBufferOne, Overlap::kCancelOther,
                    Overlap::kAllowAll}) {
    OverlapAction idle = overlap_action(o, false, false);
    EXPECT_TRUE(idle.fire && !idle.cancel_active && !idle.buffer) << overlap_name(o);
  }
  auto a = overlap_action(Overlap::kSkip, true, false);
  EXPECT_TRUE(!a.fire && !a.buffer && !a.cancel_active);
  a = overlap_action(Overlap::kQueue, true, false);
  EXPECT_TRUE(a.fire && !a.cancel_active);
  a = overlap_action(Overlap::kAllowAll, true, true);
  EXPECT_TRUE(a.fire && !a.cancel_active);
  a = overlap_action(Overlap::kBufferOne, true, false);
  EXPECT_TRUE(!a.fire && a.buffer);
  a = overlap_action(Overlap::kBufferOne, true, true);
  EXPECT_TRUE(!a.fire && !a.buffer);
  a = overlap_action(Overlap::kCancelOther, true, false);
  EXPECT_TRUE(a.fire && a.cancel_active);
}

// buffer_one: while the first job runs, three slots pass; one waits and starts when
// the job ends (keyed by its own slot), the others are dropped.
TEST_F(SchedulerTest, OverlapBufferOneRunsOneWaitingSlotWhenTheJobEnds) {
  now_ = utc_ms(2025, 1, 6, 8, 55);
  Scheduler sch(*ds_, host_, [this] { return now_; });
  sch.set_specs(specs(R"([{"name": "b", "cron": "*/5 * * * *", "overlap": "buffer_one"}])"));
  now_ += 5 * 60000;  // 09:00 fires job 1
  EXPECT_EQ(sch.tick(), 1);
  for (int i = 0; i < 3; ++i) {  // 09:05, 09:10, 09:15 while job 1 runs
    now_ += 5 * 60000;
    EXPECT_EQ(sch.tick(), 0);
  }
  EXPECT_EQ(sch.list()[0]["buffered_run"], "2025-01-06T09:05:00Z");
  host_.active[1] = false;
  now_ += 30000;
  EXPECT_EQ(sch.tick(), 1);
  ASSERT_EQ(host_.fired.size(), 2u);
  EXPECT_EQ(host_.fired[1].second, "schedule:wf/b:" + std::to_string(utc_ms(2025, 1, 6, 9, 5)));
  EXPECT_EQ(sch.list()[0]["buffered_run"], "");
  EXPECT_EQ(sch.list()[0]["last_job_id"], 2);
}

// cancel_other: each slot cancels the job still running and starts its own.
TEST_F(SchedulerTest, OverlapCancelOtherCancelsTheRunningJob) {
  now_ = utc_ms(2025, 1, 6, 8, 55);
  Scheduler sch(*ds_, host_, [this] { return now_; });
  sch.set_specs(specs(R"([{"name": "c", "cron": "*/5 * * * *", "overlap": "cancel_other"},
                         {"name": "a", "cron": "*/5 * * * *", "overlap": "allow_all"}])"));
  for (int i = 0; i < 3; ++i) {
    now_ += 5 * 60000;
    EXPECT_EQ(sch.tick(), 2);
  }
  std::vector<int64_t> c_jobs;
  for (const auto& [key, id] : host_.by_key) {
    if (key.rfind("schedule:wf/c:", 0) == 0) c_jobs.push_back(id);
  }
  ASSERT_EQ(c_jobs.size(), 3u);
  std::sort(c_jobs.begin(), c_jobs.end());
  EXPECT_EQ(host_.cancelled, (std::vector<int64_t>{c_jobs[0], c_jobs[1]}));
  EXPECT_TRUE(host_.active[c_jobs[2]]);
}

ScheduleSpec api_spec(const std::string& def) {
  std::string field;
  auto r = parse_api_schedule(nlohmann::json::parse(def), "/usr/share/zoneinfo", &field);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : ScheduleSpec{};
}

// An API schedule fires like a file one; paused it fires nothing, and resuming
// continues from the present without running the slots it slept through.
TEST_F(SchedulerTest, ApiSchedulePauseStopsFiringAndResumeDoesNotCatchUp) {
  now_ = utc_ms(2025, 1, 6, 8, 59);
  Scheduler sch(*ds_, host_, [this] { return now_; });
  sch.set_specs({});
  sch.put_api(api_spec(R"({"id": "hourly", "workflow": "wf", "cron": "0 * * * *"})"));
  now_ = utc_ms(2025, 1, 6, 9, 0);
  EXPECT_EQ(sch.tick(), 1);
  host_.active[1] = false;
  sch.put_api(api_spec(R"({"id": "hourly", "workflow": "wf", "cron": "0 * * * *", "paused": true})"));
  for (; now_ < utc_ms(2025, 1, 6, 13, 30); now_ += 60000) EXPECT_EQ(sch.tick(), 0);
  EXPECT_EQ(sch.describe("hourly")["paused"], true);
  sch.put_api(api_spec(R"({"id": "hourly", "workflow": "wf", "cron": "0 * * * *"})"));
  EXPECT_EQ(sch.tick(), 0);  // 10:00-13:00 are not caught up
  EXPECT_EQ(sch.describe("hourly")["next_run"], "2025-01-06T14:00:00Z");
  now_ = utc_ms(2025, 1, 6, 14, 0);
  EXPECT_EQ(sch.tick(), 1);
  EXPECT_EQ(host_.fired.back().second, "schedule:hourly:" + std::to_string(now_));
  EXPECT_EQ(sch.list().size(), 1u);
  EXPECT_EQ(sch.list()[0]["source"], "api");
  sch.remove_api("hourly");
  EXPECT_TRUE(sch.describe("hourly").is_null());
  now_ = utc_ms(2025, 1, 6, 15, 0);
  EXPECT_EQ(sch.tick(), 0);
}

// A file entry cannot take an API schedule's id; trigger and backfill create jobs
// keyed so that a backfilled slot that already ran gives its existing job.
TEST_F(SchedulerTest, TriggerAndBackfillCreateJobsIdempotentBySlot) {
  now_ = utc_ms(2025, 1, 6, 8, 59);
  Scheduler sch(*ds_, host_, [this] { return now_; });
  auto mine = api_spec(R"({"id": "wf#0", "workflow": "wf", "cron": "0 * * * *"})");
  sch.put_api(mine);
  sch.set_specs(specs(R"({"cron": "*/5 * * * *"})"));  // id wf#0 too: ignored
  ASSERT_EQ(sch.list().size(), 1u);
  EXPECT_EQ(sch.list()[0]["source"], "api");
  now_ = utc_ms(2025, 1, 6, 9, 0);
  EXPECT_EQ(sch.tick(), 1);
  auto job = sch.trigger("wf#0");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(sch.describe("wf#0")["last_job_id"], job.value());
  EXPECT_EQ(sch.trigger("nope").status().code(), StatusCode::kNotFound);
  auto slots = fire_times_between(mine, utc_ms(2025, 1, 6, 6, 0), utc_ms(2025, 1, 6, 9, 0) + 1, 10);
  ASSERT_EQ(slots.size(), 4u);  // 06:00, 07:00, 08:00, 09:00
  auto jobs = sch.backfill("wf#0", slots);
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs.value()[3], host_.by_key["schedule:wf#0:" + std::to_string(utc_ms(2025, 1, 6, 9, 0))]);
  EXPECT_EQ(host_.fired.size(), 5u);  // 09:00, the trigger, 06:00-08:00
  EXPECT_EQ(fire_times_between(mine, utc_ms(2025, 1, 1, 0, 0), utc_ms(2025, 1, 6, 0, 0), 100).size(),
            101u);  // more than the limit: the caller sees limit + 1
  auto up = fire_times_after(mine, utc_ms(2025, 1, 6, 9, 30), 3);
  EXPECT_EQ(up, (std::vector<int64_t>{utc_ms(2025, 1, 6, 10, 0), utc_ms(2025, 1, 6, 11, 0),
                                      utc_ms(2025, 1, 6, 12, 0)}));
}

TEST(ScheduleParse, ApiErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* field;
    const char* message;
  } cases[] = {
      {R"({"id": "a", "workflow": "wf", "cron": "* 24 * * *"})", "cron", "cron: cron: hour: 24"},
      {R"({"id": "a b", "workflow": "wf", "cron": "* * * * *"})", "id", "id: 'a b' must be"},
      {R"({"id": "a", "cron": "* * * * *"})", "workflow", "workflow: expected"},
      {R"({"id": "a", "workflow": "wf", "cron": "* * * * *", "timezone": "Mars/Base"})",
       "timezone", "timezone: unknown time zone 'Mars/Base'"},
      {R"({"id": "a", "workflow": "wf", "cron": "* * * * *", "overlap": "wait"})", "overlap",
       "overlap: expected skip, queue"},
      {R"({"id": "a", "workflow": "wf", "cron": "* * * * *", "paused": "yes"})", "paused",
       "paused: expected true or false"},
      {R"({"id": "a", "workflow": "wf", "cron": "* * * * *", "priority": 5000})", "priority",
       "priority: expected an integer in -1000..1000"},
      {R"({"id": "a", "workflow": "wf", "cron": "* * * * *", "every": 5})", "every",
       "unknown field 'every'"},
  };
  for (const auto& c : cases) {
    std::string field;
    auto r = parse_api_schedule(nlohmann::json::parse(c.json), "/usr/share/zoneinfo", &field);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(field, c.field) << c.json;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
  }
}

// reamd's version 3 adds API schedules and the buffered slot; a version-2 database
// keeps its schedule state on upgrade.
TEST_F(SchedulerTest, DaemonStoreUpgradesToApiSchedules) {
  store_.reset();
  write_premerge_db(path_, 2);
  reopen();
  auto kept = ds_->schedules();
  ASSERT_TRUE(kept.ok() && kept->size() == 1u);
  EXPECT_EQ(kept.value()[0].next_run_ms, 5);
  ASSERT_TRUE(ds_->set_schedule_buffer("wf#0", 42).ok());
  EXPECT_EQ(ds_->schedules().value()[0].buffered_ms, 42);
  EXPECT_TRUE(ds_->insert_api_schedule("x", R"({"id":"x"})").value());
  EXPECT_FALSE(ds_->insert_api_schedule("x", "{}").value());
  EXPECT_TRUE(ds_->update_api_schedule("x", R"({"id":"x","paused":true})").value());
  EXPECT_FALSE(ds_->update_api_schedule("y", "{}").value());
  reopen();
  auto api = ds_->api_schedules();
  ASSERT_TRUE(api.ok() && api->size() == 1u);
  EXPECT_EQ(api.value()[0].definition_json, R"({"id":"x","paused":true})");
  EXPECT_TRUE(ds_->remove_api_schedule("x").value());
  EXPECT_FALSE(ds_->remove_api_schedule("x").value());
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
       "wf: schedule[1].overlap: expected skip, queue, buffer_one, cancel_other or allow_all"},
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
