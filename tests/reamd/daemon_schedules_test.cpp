// Schedules as API resources against the real reamd (tiny random model): create,
// read, list beside file schedules, update (pause/resume), delete, upcoming fire
// times, trigger, backfill, persistence across a restart, access by role, and
// every 400/404/409 with its field. Firing on the clock, pause and the overlap
// policies are covered with a fake clock in scheduler_test.cpp (a cron minute is
// too long for a test here).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "daemon_harness.h"
#include "http/auth.h"
#include "ream/common/sha256.h"

namespace ream::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A copy of summarize with two file schedules that never fire during a test:
// "scheduled_summary/yearly" and the unnamed "scheduled_summary#1".
void write_scheduled_workflow(const std::string& dir) {
  fs::create_directories(dir);
  std::ifstream in(std::string(REAM_SOURCE_DIR) + "/workflows/summarize.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string y = ss.str();
  y.replace(y.find("name: summarize\n"), 16, "name: scheduled_summary\n");
  std::ofstream(dir + "/scheduled_summary.yaml")
      << y << "\nschedule:\n  - {name: yearly, cron: \"0 0 1 1 *\", inputs: {documents: []}}\n"
      << "  - {cron: \"0 0 1 7 *\", inputs: {documents: []}}\n";
  fs::copy(std::string(REAM_SOURCE_DIR) + "/workflows/schemas", dir + "/schemas");
}

HttpResult send(const Daemon& d, const std::string& method, const std::string& target,
                const json& body = nullptr,
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  return http_request(d.port(), method, target, body.is_null() ? "" : body.dump(), headers);
}

void expect_error(const HttpResult& r, unsigned status, const std::string& code,
                  const std::string& message_part, const std::string& field = "") {
  EXPECT_EQ(r.status, status) << r.body;
  json j = r.json();
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
  EXPECT_EQ(j["error"]["code"], code) << r.body;
  EXPECT_NE(j["error"]["message"].get<std::string>().find(message_part), std::string::npos)
      << r.body;
  if (!field.empty()) EXPECT_EQ(j["error"].value("field", ""), field) << r.body;
}

class ScheduleApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(std::random_device{}());
    docs_ = tmp_.path() + "/docs";
    fs::create_directories(docs_);
    doc_ = docs_ + "/note-" + std::to_string(rng()) + ".md";
    std::ofstream(doc_) << "The party shall give notice " << rng() << " days before renewal.\n";
    wf_dir_ = tmp_.path() + "/workflows";
    write_scheduled_workflow(wf_dir_);
    ASSERT_FALSE(tiny_model_dir().empty()) << "ream init-model failed";
  }
  // With auth required /readyz wants a key, so such a daemon is only waited for
  // until /healthz answers (wait_ready false).
  std::unique_ptr<Daemon> start_daemon(const std::string& extra = "", bool wait_ready = true) {
    auto d = std::make_unique<Daemon>(tmp_.path() + "/data",
                                      "documents:\n  allowed_roots: [" + docs_ + "]\n" + extra);
    d->add_workflow_dir(wf_dir_);
    EXPECT_TRUE(d->start(wait_ready)) << d->log();
    return d;
  }
  json digest(const std::string& id, const std::string& cron) const {
    return {{"id", id},
            {"workflow", "summarize"},
            {"cron", cron},
            {"timezone", "Europe/Berlin"},
            {"inputs", {{"documents", {doc_}}, {"max_words", 10}, {"max_tokens", 4}}},
            {"overlap", "buffer_one"}};
  }
  static void stop(Daemon& d) {
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait_exit(), 0) << d.log();
  }

  TempDir tmp_;
  std::string docs_, doc_, wf_dir_;
};

TEST_F(ScheduleApiTest, CreateReadListUpdateDeleteWithEveryError) {
  auto d = start_daemon();
  auto c = d->post("/v1/schedules", digest("digest", "0 9 * * mon-fri"));
  ASSERT_EQ(c.status, 201u) << c.body;
  EXPECT_EQ(c.headers["location"], "/v1/schedules/digest");
  EXPECT_EQ(c.json()["source"], "api");
  EXPECT_EQ(c.json()["overlap"], "buffer_one");
  EXPECT_EQ(c.json()["paused"], false);
  EXPECT_FALSE(c.json()["next_run"].get<std::string>().empty()) << c.body;

  auto g = d->get("/v1/schedules/digest");
  ASSERT_EQ(g.status, 200u) << g.body;
  EXPECT_EQ(g.json()["cron"], "0 9 * * mon-fri");
  EXPECT_EQ(g.json()["timezone"], "Europe/Berlin");
  EXPECT_EQ(g.json()["inputs"]["max_words"], 10);

  // The list holds both kinds, each saying where it comes from.
  json list = d->get("/v1/schedules").json()["schedules"];
  std::map<std::string, json> by_id;
  for (const json& s : list) by_id[s["id"]] = s;
  ASSERT_TRUE(by_id.count("digest") && by_id.count("scheduled_summary/yearly")) << list.dump();
  EXPECT_EQ(by_id["scheduled_summary/yearly"]["source"], "file");
  EXPECT_EQ(by_id["scheduled_summary/yearly"]["file"], wf_dir_ + "/scheduled_summary.yaml");
  EXPECT_EQ(by_id["digest"]["source"], "api");

  // Conflicts: a taken id, a file schedule's id, changing a file schedule.
  expect_error(d->post("/v1/schedules", digest("digest", "0 * * * *")), 409, "conflict",
               "schedule 'digest' already exists", "id");
  expect_error(d->post("/v1/schedules", digest("scheduled_summary#1", "0 * * * *")), 409,
               "conflict", wf_dir_ + "/scheduled_summary.yaml", "id");
  expect_error(send(*d, "PATCH", "/v1/schedules/scheduled_summary/yearly", {{"paused", true}}),
               409, "conflict", "comes from the workflow file " + wf_dir_ + "/scheduled_summary.yaml");
  expect_error(send(*d, "DELETE", "/v1/schedules/scheduled_summary%231"), 409, "conflict",
               wf_dir_ + "/scheduled_summary.yaml");
  EXPECT_EQ(d->get("/v1/schedules/scheduled_summary/yearly").json()["source"], "file");

  // Bad definitions, each naming its field.
  auto bad = [&](json patch, const std::string& field, const std::string& msg) {
    json def = digest("bad", "0 9 * * *");
    for (auto& [k, v] : patch.items()) {
      if (v.is_null()) def.erase(k); else def[k] = v;
    }
    expect_error(d->post("/v1/schedules", def), 400, "invalid_request", msg, field);
  };
  bad({{"cron", "0 25 * * *"}}, "cron", "hour: 25 is out of range");
  bad({{"cron", nullptr}}, "cron", "expected a cron expression string");
  bad({{"timezone", "Europe/Atlantis"}}, "timezone", "Europe/Atlantis");
  bad({{"workflow", "no_such_flow"}}, "workflow", "no workflow 'no_such_flow'");
  bad({{"inputs", {{"documents", {doc_}}, {"max_words", 1}}}}, "inputs.max_words", "max_words");
  bad({{"overlap", "sometimes"}}, "overlap", "buffer_one, cancel_other or allow_all");
  bad({{"missed", "later"}}, "missed", "expected skip or run_once");
  bad({{"paused", "no"}}, "paused", "expected true or false");
  bad({{"id", "has space"}}, "id", "letters, digits");
  bad({{"repeat", 3}}, "repeat", "unknown field 'repeat'");
  expect_error(http_request(d->port(), "POST", "/v1/schedules", "{\"id\": ", {}), 400,
               "invalid_json", "");

  // Pause, then a bad patch and fields that cannot change.
  auto p = send(*d, "PATCH", "/v1/schedules/digest", {{"paused", true}});
  ASSERT_EQ(p.status, 200u) << p.body;
  EXPECT_EQ(p.json()["paused"], true);
  EXPECT_EQ(p.json()["next_run"], "");
  expect_error(send(*d, "PATCH", "/v1/schedules/digest", {{"cron", "* * *"}}), 400,
               "invalid_request", "cron", "cron");
  expect_error(send(*d, "PATCH", "/v1/schedules/digest", {{"workflow", "long_qa"}}), 400,
               "invalid_request", "cannot be changed", "workflow");
  auto r = send(*d, "PATCH", "/v1/schedules/digest", {{"paused", false}, {"cron", "30 6 * * *"},
                                                     {"overlap", "cancel_other"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["paused"], false);
  EXPECT_EQ(r.json()["cron"], "30 6 * * *");
  EXPECT_EQ(r.json()["overlap"], "cancel_other");
  EXPECT_FALSE(r.json()["next_run"].get<std::string>().empty());
  // A merge patch: inputs merge key by key, null restores a default.
  auto m = send(*d, "PATCH", "/v1/schedules/digest", {{"inputs", {{"max_words", 25}}}, {"overlap", nullptr}});
  ASSERT_EQ(m.status, 200u) << m.body;
  EXPECT_EQ(m.json()["inputs"]["max_words"], 25);
  EXPECT_EQ(m.json()["inputs"]["documents"], json::array({doc_}));
  EXPECT_EQ(m.json()["overlap"], "skip");
  expect_error(send(*d, "PATCH", "/v1/schedules/digest", {{"inputs", {{"max_words", "ten"}}}}), 400,
               "invalid_request", "max_words", "inputs.max_words");

  // Upcoming: 06:30 in Berlin is 05:30Z in winter and 04:30Z in summer, a day apart.
  auto up = d->get("/v1/schedules/digest/upcoming?count=3");
  ASSERT_EQ(up.status, 200u) << up.body;
  ASSERT_EQ(up.json()["fire_times"].size(), 3u) << up.body;
  // Held in a variable: a range-for over json()["..."] iterated a destroyed temporary (ASan).
  const json upcoming = up.json();
  for (const json& t : upcoming["fire_times"]) {
    std::string s = t.get<std::string>();
    EXPECT_TRUE(s.find("T05:30:00") != std::string::npos || s.find("T04:30:00") != std::string::npos)
        << s;
  }
  EXPECT_LT(up.json()["fire_times"][0].get<std::string>(), up.json()["fire_times"][1].get<std::string>());
  EXPECT_EQ(d->get("/v1/schedules/scheduled_summary/yearly/upcoming?count=2").json()["fire_times"].size(), 2u);
  expect_error(d->get("/v1/schedules/digest/upcoming?count=0"), 400, "invalid_request", "count",
               "count");
  expect_error(d->get("/v1/schedules/digest/upcoming?count=many"), 400, "invalid_request", "count",
               "count");

  // Unknown ids.
  for (const char* m : {"GET", "PATCH", "DELETE"}) {
    expect_error(send(*d, m, "/v1/schedules/nope", m == std::string("PATCH") ? json{{"paused", true}} : json()),
                 404, "not_found", "no schedule 'nope'", "id");
  }
  expect_error(d->post("/v1/schedules/nope/trigger", json::object()), 404, "not_found", "nope");
  expect_error(d->get("/v1/schedules/nope/upcoming"), 404, "not_found", "nope");
  expect_error(d->post("/v1/schedules/nope/backfill", json::object()), 404, "not_found", "nope");

  auto del = send(*d, "DELETE", "/v1/schedules/digest");
  ASSERT_EQ(del.status, 200u) << del.body;
  EXPECT_EQ(del.json()["deleted"], true);
  expect_error(d->get("/v1/schedules/digest"), 404, "not_found", "digest");
  expect_error(send(*d, "DELETE", "/v1/schedules/digest"), 404, "not_found", "digest");
  stop(*d);
}

TEST_F(ScheduleApiTest, TriggerAndBackfillMakeJobs) {
  auto d = start_daemon();
  ASSERT_EQ(d->post("/v1/schedules", digest("hourly", "0 * * * *")).status, 201u);
  auto hashed = d->post("/v1/schedules", digest("digest#2", "0 * * * *"));
  ASSERT_EQ(hashed.status, 201u) << hashed.body;
  EXPECT_EQ(hashed.headers["location"], "/v1/schedules/digest%232");
  EXPECT_EQ(d->get(hashed.headers["location"]).json()["id"], "digest#2");
  auto t = d->post("/v1/schedules/hourly/trigger", json::object());
  ASSERT_EQ(t.status, 201u) << t.body;
  int64_t job_id = t.json()["id"];
  EXPECT_EQ(t.headers["location"], "/v1/jobs/" + std::to_string(job_id));
  EXPECT_EQ(t.json()["workflow"], "summarize");
  json job = wait_job(*d, job_id);
  ASSERT_TRUE(job.is_object()) << d->log();
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  EXPECT_EQ(d->get("/v1/schedules/hourly").json()["last_job_id"], job_id);

  // A schedule naming a document outside documents.allowed_roots makes no job: a 403 as
  // POST /v1/jobs gives, naming the inputs.
  const std::string secret = tmp_.path() + "/secret.md";
  std::ofstream(secret) << "Not for reamd.\n";
  json outside = digest("outside", "0 * * * *");
  outside["inputs"]["documents"] = {secret};
  ASSERT_EQ(d->post("/v1/schedules", outside).status, 201u);
  expect_error(d->post("/v1/schedules/outside/trigger", json::object()), 403, "forbidden_path", "", "inputs");

  // Three past hours: three jobs, one per fire time; again: the same three jobs.
  json range = {{"start", "2025-01-06T00:00:00Z"}, {"end", "2025-01-06T03:00:00Z"}};
  auto b = d->post("/v1/schedules/hourly/backfill", range);
  ASSERT_EQ(b.status, 200u) << b.body;
  ASSERT_EQ(b.json()["count"], 3) << b.body;
  // Berlin is UTC+1 in January; the cron is read in Berlin, and an hourly one
  // fires on every UTC hour too.
  EXPECT_EQ(b.json()["jobs"][0]["fire_time"], "2025-01-06T00:00:00.000Z") << b.body;
  auto again = d->post("/v1/schedules/hourly/backfill", range);
  ASSERT_EQ(again.status, 200u) << again.body;
  std::set<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(again.json()["jobs"][i]["job"]["id"], b.json()["jobs"][i]["job"]["id"]);
    ids.insert(b.json()["jobs"][i]["job"]["id"].get<int64_t>());
  }
  EXPECT_EQ(ids.size(), 3u);
  for (int64_t id : ids) {
    json j = wait_job(*d, id);
    ASSERT_TRUE(j.is_object()) << d->log();
    EXPECT_EQ(j["status"], "succeeded") << j.dump();
  }
  // With an offset: 01:00+01:00 is 00:00Z.
  auto off = d->post("/v1/schedules/hourly/backfill",
                     {{"start", "2025-01-06T01:00:00+01:00"}, {"end", "2025-01-06T01:00:01Z"}});
  ASSERT_EQ(off.status, 200u) << off.body;
  EXPECT_EQ(off.json()["count"], 2) << off.body;

  expect_error(d->post("/v1/schedules/hourly/backfill",
                       {{"start", "2025-01-01T00:00:00Z"}, {"end", "2025-01-10T00:00:00Z"}}),
               400, "invalid_request", "more than 100 fire times", "end");
  expect_error(d->post("/v1/schedules/hourly/backfill",
                       {{"start", "2025-01-06T03:00:00Z"}, {"end", "2025-01-06T00:00:00Z"}}),
               400, "invalid_request", "'start' must be before 'end'", "start");
  expect_error(d->post("/v1/schedules/hourly/backfill",
                       {{"start", "2025-01-06T00:00:00Z"}, {"end", "2999-01-01T00:00:00Z"}}),
               400, "invalid_request", "in the future", "end");
  expect_error(d->post("/v1/schedules/hourly/backfill", {{"start", "yesterday"}, {"end", "2025-01-06T00:00:00Z"}}),
               400, "invalid_request", "RFC 3339", "start");
  expect_error(d->post("/v1/schedules/hourly/backfill", {{"start", "2025-01-06T00:00:00Z"}}), 400,
               "invalid_request", "RFC 3339", "end");
  expect_error(d->post("/v1/schedules/hourly/backfill", {{"from", "x"}}), 400, "invalid_request",
               "unknown field 'from'", "from");
  stop(*d);
}

TEST_F(ScheduleApiTest, ApiSchedulesSurviveARestart) {
  {
    auto d = start_daemon();
    ASSERT_EQ(d->post("/v1/schedules", digest("kept", "15 8 * * *")).status, 201u);
    ASSERT_EQ(send(*d, "PATCH", "/v1/schedules/kept", {{"paused", true}, {"priority", 7}}).status,
              200u);
    ASSERT_EQ(d->post("/v1/schedules", digest("gone", "15 8 * * *")).status, 201u);
    ASSERT_EQ(send(*d, "DELETE", "/v1/schedules/gone").status, 200u);
    stop(*d);
  }
  auto d = start_daemon();
  auto g = d->get("/v1/schedules/kept");
  ASSERT_EQ(g.status, 200u) << g.body << d->log();
  EXPECT_EQ(g.json()["paused"], true);
  EXPECT_EQ(g.json()["priority"], 7);
  EXPECT_EQ(g.json()["cron"], "15 8 * * *");
  EXPECT_EQ(g.json()["source"], "api");
  EXPECT_EQ(d->get("/v1/schedules/gone").status, 404u);
  auto r = send(*d, "PATCH", "/v1/schedules/kept", {{"paused", false}});
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_FALSE(r.json()["next_run"].get<std::string>().empty());
  stop(*d);
}

TEST_F(ScheduleApiTest, ReadKeysReadAndSubmitKeysChange) {
  std::mt19937_64 rng(std::random_device{}());
  const std::string reader = "rd-" + std::to_string(rng()), submitter = "sb-" + std::to_string(rng());
  auto d = start_daemon("auth:\n  mode: required\n  keys:\n"
                        "    - {name: dash, sha256: \"" + sha256_hex(reader) + "\", role: read}\n"
                        "    - {name: ci, sha256: \"" + sha256_hex(submitter) + "\", role: submit}\n",
                        false);
  auto bearer = [](const std::string& k) {
    return std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer " + k}};
  };
  EXPECT_EQ(d->post("/v1/schedules", digest("x", "0 9 * * *")).status, 401u);
  expect_error(d->post("/v1/schedules", digest("x", "0 9 * * *"), bearer(reader)), 403, "forbidden", "");
  ASSERT_EQ(d->post("/v1/schedules", digest("x", "0 9 * * *"), bearer(submitter)).status, 201u);
  EXPECT_EQ(d->get("/v1/schedules/x", bearer(reader)).status, 200u);
  EXPECT_EQ(d->get("/v1/schedules/x/upcoming", bearer(reader)).status, 200u);
  EXPECT_EQ(send(*d, "PATCH", "/v1/schedules/x", {{"paused", true}}, bearer(reader)).status, 403u);
  EXPECT_EQ(d->post("/v1/schedules/x/trigger", json::object(), bearer(reader)).status, 403u);
  EXPECT_EQ(send(*d, "DELETE", "/v1/schedules/x", nullptr, bearer(reader)).status, 403u);
  EXPECT_EQ(send(*d, "DELETE", "/v1/schedules/x", nullptr, bearer(submitter)).status, 200u);
  stop(*d);
}

}  // namespace
}  // namespace ream::testing
