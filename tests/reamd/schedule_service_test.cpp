// ScheduleService over a real SQLite store and Scheduler: API schedules created, read,
// patched and deleted; file schedules read-only; stored definitions back after a
// restart; every refusal names its field. The daemon tests drive the same through HTTP.
#include "cron/schedule_service.h"

#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include "store/store.h"

namespace ream::cron {
namespace {

using nlohmann::json;

int64_t utc_ms(int y, int mo, int d, int h, int mi) {
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// Jobs by idempotency key, as the daemon makes them.
class CountingHost : public ScheduleHost {
 public:
  Result<int64_t> submit(const ScheduleSpec&, const std::string& key) override {
    auto [it, fresh] = by_key.emplace(key, static_cast<int64_t>(by_key.size()) + 1);
    return it->second;
  }
  bool job_active(int64_t) override { return false; }
  bool cancel_job(int64_t) override { return false; }
  std::map<std::string, int64_t> by_key;
};

// The workflows "digest" (input `document`, required) and "other".
Status check_workflow(const ScheduleSpec& spec, std::string* field) {
  if (spec.workflow != "digest" && spec.workflow != "other") {
    *field = "workflow";
    return invalid_argument("workflow: no workflow '" + spec.workflow + "'");
  }
  if (spec.workflow == "digest" && !spec.inputs.contains("document")) {
    *field = "inputs.document";
    return invalid_argument("inputs: 'document' is required");
  }
  return {};
}

class ScheduleServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("reamd-schedsvc-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    start();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // A fresh store, scheduler and service on the same file: a reamd (re)start.
  void start(std::vector<ScheduleSpec> file_specs = {}) {
    service_.reset();
    scheduler_.reset();
    store_.reset();
    store_ = std::move(store::Store::open((dir_ / "ream.db").string()).value());
    scheduler_ = std::make_unique<Scheduler>(*store_, host_, [] { return utc_ms(2025, 1, 6, 8, 0); });
    scheduler_->set_specs(std::move(file_specs));
    service_ = std::make_unique<ScheduleService>(*store_, *scheduler_, "/usr/share/zoneinfo", check_workflow);
    service_->load_stored();
  }

  std::filesystem::path dir_;
  CountingHost host_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ScheduleService> service_;
};

const json kDigest = json::parse(
    R"({"id": "morning", "workflow": "digest", "cron": "0 9 * * mon-fri",
        "timezone": "Europe/Berlin", "inputs": {"document": "/srv/a.txt"}})");

TEST_F(ScheduleServiceTest, CreateReadPatchDeleteAndEveryRefusalNamesItsField) {
  std::string field;
  auto created = service_->create(kDigest, &field);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(created.value()["id"], "morning");
  EXPECT_EQ(created.value()["source"], "api");

  field.clear();
  auto again = service_->create(kDigest, &field);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(field, "id");

  json bad = kDigest;
  bad["id"] = "b";
  bad["workflow"] = "nope";
  field.clear();
  EXPECT_EQ(service_->create(bad, &field).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(field, "workflow");
  bad["workflow"] = "digest";
  bad["inputs"] = json::object();
  field.clear();
  EXPECT_EQ(service_->create(bad, &field).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(field, "inputs.document");
  bad["inputs"] = {{"document", "/srv/b.txt"}};
  bad["timezone"] = "Mars/Olympus";
  field.clear();
  EXPECT_EQ(service_->create(bad, &field).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(field, "timezone");

  // Without an id, one is made from the workflow's name.
  json anon = kDigest;
  anon.erase("id");
  auto made = service_->create(anon, &field);
  ASSERT_TRUE(made.ok()) << made.status().message();
  EXPECT_EQ(made.value()["id"].get<std::string>().rfind("digest-", 0), 0u);

  // A merge patch: paused, and a key set to null goes back to its default.
  auto patched = service_->update("morning", json::parse(R"({"paused": true, "timezone": null})"), &field);
  ASSERT_TRUE(patched.ok()) << patched.status().message();
  EXPECT_EQ(patched.value()["paused"], true);
  EXPECT_EQ(service_->upcoming("morning", 1, &field)->spec.tz->name(), "UTC");
  field.clear();
  EXPECT_EQ(service_->update("morning", {{"workflow", "other"}}, &field).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(field, "workflow");
  field.clear();
  EXPECT_EQ(service_->update("morning", {{"cron", "61 * * * *"}}, &field).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(field, "cron");
  EXPECT_EQ(service_->get("morning", &field).value()["cron"], "0 9 * * mon-fri");  // unchanged

  ASSERT_TRUE(service_->remove("morning", &field).ok());
  field.clear();
  EXPECT_EQ(service_->get("morning", &field).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(field, "id");
  field.clear();
  EXPECT_EQ(service_->remove("morning", &field).code(), StatusCode::kNotFound);
  EXPECT_EQ(field, "id");
}

TEST_F(ScheduleServiceTest, FileSchedulesAreReadOnlyAndKeepTheirIds) {
  // Unnamed, so its id ("other#0") is one an API schedule could spell.
  auto file = parse_schedules("other", json::parse(R"({"cron": "0 2 * * *"})"), "/usr/share/zoneinfo");
  ASSERT_TRUE(file.ok()) << file.status().message();
  file.value()[0].file = "/etc/ream/workflows/other.yaml";
  start(file.value());
  const std::string id = file.value()[0].id;
  ASSERT_EQ(id, "other#0");
  std::string field;
  ASSERT_TRUE(service_->get(id, &field).ok());
  Status changed = service_->update(id, {{"paused", true}}, &field).status();
  EXPECT_EQ(changed.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(changed.message().find("/etc/ream/workflows/other.yaml"), std::string::npos) << changed.message();
  EXPECT_EQ(service_->remove(id, &field).code(), StatusCode::kFailedPrecondition);
  json taken = kDigest;
  taken["id"] = id;
  field.clear();
  EXPECT_EQ(service_->create(taken, &field).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(field, "id");
  // Triggering a file schedule is allowed: it is not a change to its definition.
  auto job = service_->trigger(id, &field);
  ASSERT_TRUE(job.ok()) << job.status().message();
}

TEST_F(ScheduleServiceTest, StoredSchedulesComeBackAfterARestartAndABrokenOneStaysStored) {
  std::string field;
  ASSERT_TRUE(service_->create(kDigest, &field).ok());
  json gone = kDigest;
  gone["id"] = "gone";
  ASSERT_TRUE(service_->create(gone, &field).ok());
  // A definition that no longer parses (as a time zone removed from the system would).
  ASSERT_TRUE(store_->update_api_schedule("gone", json{{"id", "gone"}, {"workflow", "digest"},
                                                       {"cron", "not a cron"}}.dump()).ok());
  start();
  EXPECT_TRUE(service_->get("morning", &field).ok());
  EXPECT_EQ(service_->get("gone", &field).status().code(), StatusCode::kNotFound);
  auto stored = store_->api_schedules();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored.value().size(), 2u);  // left in the store, for the operator to see
}

TEST_F(ScheduleServiceTest, BackfillCoversPastSlotsOnceAndRefusesBadRanges) {
  std::string field;
  ASSERT_TRUE(service_->create(kDigest, &field).ok());
  // Mon 6 - Fri 10 January 2025, 09:00 in Berlin = 08:00 UTC.
  auto jobs = service_->backfill("morning", utc_ms(2025, 1, 6, 0, 0), utc_ms(2025, 1, 11, 0, 0), &field);
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  ASSERT_EQ(jobs->size(), 5u);
  EXPECT_EQ(jobs.value()[0].first, utc_ms(2025, 1, 6, 8, 0));
  EXPECT_EQ(jobs.value()[4].first, utc_ms(2025, 1, 10, 8, 0));
  auto again = service_->backfill("morning", utc_ms(2025, 1, 10, 0, 0), utc_ms(2025, 1, 11, 0, 0), &field);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value()[0].second, jobs.value()[4].second);  // the slot's existing job
  EXPECT_EQ(host_.by_key.size(), 5u);

  field.clear();
  EXPECT_EQ(service_->backfill("morning", utc_ms(2025, 1, 7, 0, 0), utc_ms(2025, 1, 6, 0, 0), &field)
                .status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(field, "start");
  field.clear();
  EXPECT_EQ(service_->backfill("morning", utc_ms(2025, 1, 6, 0, 0), utc_ms(2999, 1, 1, 0, 0), &field)
                .status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(field, "end");
  field.clear();
  Status many = service_->backfill("morning", utc_ms(2020, 1, 1, 0, 0), utc_ms(2025, 1, 1, 0, 0), &field).status();
  EXPECT_EQ(many.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(field, "end");
  EXPECT_NE(many.message().find("more than 100"), std::string::npos) << many.message();
  field.clear();
  EXPECT_EQ(service_->backfill("nope", 0, 1, &field).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(field, "id");
}

TEST(Rfc3339, UtcOffsetsAndFractionsAndNothingElse) {
  EXPECT_EQ(parse_rfc3339("2025-01-06T09:00:00Z"), utc_ms(2025, 1, 6, 9, 0));
  EXPECT_EQ(parse_rfc3339("2025-01-06T10:00:00+01:00"), utc_ms(2025, 1, 6, 9, 0));
  EXPECT_EQ(parse_rfc3339("2025-01-06T04:30:00-04:30"), utc_ms(2025, 1, 6, 9, 0));
  EXPECT_EQ(parse_rfc3339("2025-01-06T09:00:00.25Z"), utc_ms(2025, 1, 6, 9, 0) + 250);
  for (const char* bad : {"2025-01-06", "2025-01-06T09:00:00", "2025-13-06T09:00:00Z",
                          "2025-01-06T24:00:00Z", "2025-01-06 09:00:00Z", "2025-01-06T09:00:00+0100",
                          "yesterday"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace ream::cron
