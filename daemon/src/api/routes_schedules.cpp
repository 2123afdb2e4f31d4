// /v1/schedules/{id}: schedules as resources. Create, read, update (pause/resume,
// cron, inputs, policies), delete, trigger now, upcoming fire times and backfill.
//
// API schedules are persisted in the store (Store::api_schedules) and fire
// through the same Scheduler as the `schedule:` entries of workflow files. File
// schedules are read-only here (409 naming the file); an API schedule may not take
// a file schedule's id. A file schedule's id "workflow/name" holds a '/', so each
// route also has a two-segment form /v1/schedules/{workflow}/{name}.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <random>

#include "api/routes.h"
#include "cron/scheduler.h"
#include "flow/job.h"
#include "http/auth.h"

namespace ream::api {

namespace {

using nlohmann::json;
using http::json_error;
using http::Request;
using http::Response;

constexpr int kMaxBackfill = 100;    // jobs one backfill may create
constexpr int kMaxUpcoming = 100;

std::string schedule_id(const Request& req) {
  auto wf = req.params.find("workflow");
  if (wf != req.params.end()) return wf->second + "/" + req.params.at("name");
  return req.params.at("id");
}

Response disabled() {
  return json_error(409, "conflict",
                    "schedules are disabled in this reamd's config (schedules.enabled: false)");
}

Response no_schedule(const std::string& id) {
  return json_error(404, "not_found", "no schedule '" + id + "'", "id");
}

// A file schedule cannot be changed over the API: its file is its definition.
Response file_owned(const cron::ScheduleSpec& spec, const std::string& what) {
  return json_error(409, "conflict",
                    "schedule '" + spec.id + "' comes from the workflow file " + spec.file +
                        "; " + what + " it there (and reload), or create an API schedule");
}

// Parses `def` and checks what the catalog knows: the workflow and its inputs.
Result<cron::ScheduleSpec> check_definition(App& app, const json& def, std::string* field) {
  auto spec = cron::parse_api_schedule(def, app.config().zoneinfo_dir, field);
  if (!spec.ok()) return spec.status();
  auto cat = app.catalog();
  auto wf = cat->workflows.find(spec->workflow);
  if (wf == cat->workflows.end()) {
    std::string known;
    for (const auto& [name, w] : cat->workflows) known += (known.empty() ? "" : ", ") + name;
    *field = "workflow";
    return invalid_argument("workflow: no workflow '" + spec->workflow + "' (known: " + known + ")");
  }
  auto inputs = flow::check_inputs(*wf->second, spec->inputs, field);
  if (!inputs.ok()) return invalid_argument("inputs: " + inputs.status().message());
  return spec;
}

Response bad_definition(const Status& st, const std::string& field) {
  return json_error(400, "invalid_request", st.message(), field);
}

std::string random_suffix() {
  std::random_device rd;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", rd());
  return buf;
}

Response create(App& app, Request& req) {
  if (app.draining()) return unavailable_response(app);
  if (!app.scheduler()) return disabled();
  Response err;
  auto body = parse_json_body(req, &err);
  if (!body) return err;
  json def = *body;
  if (!def.contains("id") && def.contains("workflow") && def["workflow"].is_string()) {
    def["id"] = def["workflow"].get<std::string>() + "-" + random_suffix();
  }
  std::string field;
  auto spec = check_definition(app, def, &field);
  if (!spec.ok()) return bad_definition(spec.status(), field);
  if (auto existing = app.scheduler()->find(spec->id)) {
    if (existing->source == "file") {
      return json_error(409, "conflict",
                        "id '" + spec->id + "' is a schedule of the workflow file " +
                            existing->file + "; choose another id",
                        "id");
    }
  }
  auto inserted = app.store().insert_api_schedule(spec->id, def.dump());
  if (!inserted.ok()) return http::error_from_status(inserted.status());
  if (!inserted.value()) {
    return json_error(409, "conflict", "schedule '" + spec->id + "' already exists", "id");
  }
  app.scheduler()->put_api(spec.value());
  spdlog::info("schedule {}: created over the API (workflow {}, cron '{}'{})", spec->id,
               spec->workflow, spec->expr.text, spec->paused ? ", paused" : "");
  Response r = http::json_response(201, app.scheduler()->describe(spec->id));
  std::string path = spec->id;  // '#' would start a fragment in a URL
  for (size_t at = path.find('#'); at != std::string::npos; at = path.find('#', at)) path.replace(at, 1, "%23");
  r.set_header("Location", "/v1/schedules/" + path);
  return r;
}

Response get_one(App& app, Request& req) {
  const std::string id = schedule_id(req);
  json j = app.scheduler() ? app.scheduler()->describe(id) : json(nullptr);
  if (j.is_null()) return no_schedule(id);
  return http::json_response(200, j);
}

// The stored definition of an API schedule, or a response saying why there is none.
std::optional<json> api_definition(App& app, const std::string& id, const std::string& what,
                                   Response* error) {
  auto spec = app.scheduler()->find(id);
  if (!spec) {
    *error = no_schedule(id);
    return std::nullopt;
  }
  if (spec->source == "file") {
    *error = file_owned(*spec, what);
    return std::nullopt;
  }
  auto all = app.store().api_schedules();
  if (!all.ok()) {
    *error = http::error_from_status(all.status());
    return std::nullopt;
  }
  for (const auto& rec : all.value()) {
    if (rec.id == id) return json::parse(rec.definition_json, nullptr, false);
  }
  *error = no_schedule(id);
  return std::nullopt;
}

Response update(App& app, Request& req) {
  if (!app.scheduler()) return disabled();
  const std::string id = schedule_id(req);
  Response err;
  auto def = api_definition(app, id, "change", &err);
  if (!def) return err;
  auto patch = parse_json_body(req, &err);
  if (!patch) return err;
  for (const auto& [k, v] : patch->items()) {
    if (k == "id" || k == "workflow") {
      return json_error(400, "invalid_request",
                        "'" + k + "' cannot be changed; create a new schedule instead", k);
    }
  }
  // A JSON merge patch (RFC 7396): objects merge key by key; null removes a key,
  // which takes it back to its default.
  def->merge_patch(*patch);
  std::string field;
  auto spec = check_definition(app, *def, &field);
  if (!spec.ok()) return bad_definition(spec.status(), field);
  auto updated = app.store().update_api_schedule(id, def->dump());
  if (!updated.ok()) return http::error_from_status(updated.status());
  if (!updated.value()) return no_schedule(id);
  app.scheduler()->put_api(spec.value());
  spdlog::info("schedule {}: updated over the API ({}){}", id, patch->dump(),
               spec->paused ? " (paused)" : "");
  return http::json_response(200, app.scheduler()->describe(id));
}

Response remove(App& app, Request& req) {
  if (!app.scheduler()) return disabled();
  const std::string id = schedule_id(req);
  Response err;
  if (!api_definition(app, id, "delete", &err)) return err;
  auto removed = app.store().remove_api_schedule(id);
  if (!removed.ok()) return http::error_from_status(removed.status());
  app.scheduler()->remove_api(id);
  spdlog::info("schedule {}: deleted over the API", id);
  return http::json_response(200, {{"id", id}, {"deleted", true}});
}

json job_brief(App& app, int64_t job_id) {
  json j = {{"id", job_id}, {"links", {{"self", "/v1/jobs/" + std::to_string(job_id)}}}};
  auto job = app.store().get_job(job_id);
  if (job.ok()) {
    j["workflow"] = job->workflow_name;
    j["status"] = job->status;
    j["created_at"] = iso_time(job->created_at);
    j["idempotency_key"] = job->idempotency_key;
  }
  return j;
}

// A job the schedule could not make: bad inputs name `inputs` (a document path the
// roots refuse is a 403 forbidden_path); a workflow gone since is a 404.
Response job_error(const Status& st) {
  return http::error_from_status(st, st.code() == StatusCode::kInvalidArgument ? "inputs" : "");
}

Response trigger(App& app, Request& req) {
  if (app.draining()) return unavailable_response(app);
  if (!app.scheduler()) return disabled();
  const std::string id = schedule_id(req);
  if (!app.scheduler()->find(id)) return no_schedule(id);
  auto job = app.scheduler()->trigger(id);
  if (!job.ok()) return job_error(job.status());
  json body = job_brief(app, job.value());
  body["schedule"] = id;
  Response r = http::json_response(201, body);
  r.set_header("Location", "/v1/jobs/" + std::to_string(job.value()));
  return r;
}

Response upcoming(App& app, Request& req) {
  const std::string id = schedule_id(req);
  auto spec = app.scheduler() ? app.scheduler()->find(id) : std::nullopt;
  if (!spec) return no_schedule(id);
  Response err;
  auto count = query_int(req, "count", 5, 1, kMaxUpcoming, &err);
  if (!count) return err;
  json times = json::array();
  for (int64_t t : cron::fire_times_after(*spec, store::now_ms(), static_cast<int>(*count))) {
    times.push_back(iso_time(t));
  }
  return http::json_response(200, {{"id", id},
                                   {"cron", spec->expr.text},
                                   {"timezone", spec->tz->name()},
                                   {"paused", spec->paused},
                                   {"fire_times", times}});
}

// RFC 3339 ("2025-01-06T09:00:00Z", fractions and "+01:00" offsets allowed) -> UTC ms.
std::optional<int64_t> parse_rfc3339(const std::string& s) {
  int y, mo, d, h, mi, sec, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
      n != 19) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  size_t i = 19;
  int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    int64_t scale = 100;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
      frac_ms += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  int64_t offset_s = 0;
  std::string rest = s.substr(i);
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(rest.c_str() + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (rest[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return (static_cast<int64_t>(timegm(&tm)) - offset_s) * 1000 + frac_ms;
}

Response backfill(App& app, Request& req) {
  if (app.draining()) return unavailable_response(app);
  if (!app.scheduler()) return disabled();
  const std::string id = schedule_id(req);
  auto spec = app.scheduler()->find(id);
  if (!spec) return no_schedule(id);
  Response err;
  auto body = parse_json_body(req, &err);
  if (!body) return err;
  for (const auto& [k, v] : body->items()) {
    if (k != "start" && k != "end") {
      return json_error(400, "invalid_request", "unknown field '" + k + "' (expected start, end)", k);
    }
  }
  int64_t range[2] = {0, 0};
  const char* names[2] = {"start", "end"};
  for (int i = 0; i < 2; ++i) {
    const json* v = body->contains(names[i]) ? &(*body)[names[i]] : nullptr;
    auto t = v && v->is_string() ? parse_rfc3339(v->get<std::string>()) : std::nullopt;
    if (!t) {
      return json_error(400, "invalid_request",
                        std::string("'") + names[i] +
                            "' must be an RFC 3339 time such as \"2025-01-06T09:00:00Z\"",
                        names[i]);
    }
    range[i] = *t;
  }
  if (range[0] >= range[1]) {
    return json_error(400, "invalid_request", "'start' must be before 'end'", "start");
  }
  if (range[1] > store::now_ms()) {
    return json_error(400, "invalid_request",
                      "'end' is in the future; a backfill covers past fire times (POST "
                      "/v1/schedules/{id}/trigger runs one now)",
                      "end");
  }
  auto slots = cron::fire_times_between(*spec, range[0], range[1], kMaxBackfill);
  if (static_cast<int>(slots.size()) > kMaxBackfill) {
    return json_error(400, "invalid_request",
                      "the range holds more than " + std::to_string(kMaxBackfill) +
                          " fire times (the most one backfill creates); split it into smaller "
                          "ranges",
                      "end");
  }
  auto jobs = app.scheduler()->backfill(id, slots);
  if (!jobs.ok()) return job_error(jobs.status());
  json list = json::array();
  for (size_t i = 0; i < slots.size(); ++i) {
    list.push_back({{"fire_time", iso_time(slots[i])}, {"job", job_brief(app, jobs.value()[i])}});
  }
  return http::json_response(200, {{"id", id}, {"count", slots.size()}, {"jobs", list}});
}

// Stored API schedules go to the scheduler; one that no longer parses (a time zone
// gone from the system) is logged and left in the store untouched.
void load_api_schedules(App& app) {
  auto all = app.store().api_schedules();
  if (!all.ok()) {
    spdlog::error("schedules: could not read API schedules: {}", all.status().message());
    return;
  }
  for (const auto& rec : all.value()) {
    std::string field;
    auto spec = cron::parse_api_schedule(json::parse(rec.definition_json, nullptr, false),
                                         app.config().zoneinfo_dir, &field);
    if (!spec.ok()) {
      spdlog::error("schedule {}: stored definition no longer valid: {}", rec.id,
                    spec.status().message());
      continue;
    }
    if (auto other = app.scheduler()->find(rec.id); other && other->source == "file") {
      spdlog::error("schedule {}: the workflow file {} now declares this id too; the API "
                    "schedule is kept and the file's entry ignored", rec.id, other->file);
    }
    app.scheduler()->put_api(std::move(spec).value());
  }
}

}  // namespace

void add_schedule_routes(http::Router& router, App& app) {
  using http::Access;
  if (app.scheduler()) load_api_schedules(app);
  router.add("POST", "/v1/schedules", "schedules_create", Access::kSubmit,
             [&app](Request& r) { return create(app, r); });
  // Both id forms: "{id}" and a file schedule's "{workflow}/{name}". The action
  // routes come first so that ".../upcoming" is not read as a file schedule's name.
  for (const std::string base : {"/v1/schedules/{id}", "/v1/schedules/{workflow}/{name}"}) {
    router.add("POST", base + "/trigger", "schedules_trigger", Access::kSubmit,
               [&app](Request& r) { return trigger(app, r); });
    router.add("GET", base + "/upcoming", "schedules_upcoming", Access::kRead,
               [&app](Request& r) { return upcoming(app, r); });
    router.add("POST", base + "/backfill", "schedules_backfill", Access::kSubmit,
               [&app](Request& r) { return backfill(app, r); });
  }
  for (const std::string base : {"/v1/schedules/{id}", "/v1/schedules/{workflow}/{name}"}) {
    router.add("GET", base, "schedules_get", Access::kRead,
               [&app](Request& r) { return get_one(app, r); });
    router.add("PATCH", base, "schedules_update", Access::kSubmit,
               [&app](Request& r) { return update(app, r); });
    router.add("DELETE", base, "schedules_delete", Access::kSubmit,
               [&app](Request& r) { return remove(app, r); });
  }
}

}  // namespace ream::api
