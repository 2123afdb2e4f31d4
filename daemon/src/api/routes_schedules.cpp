// /v1/schedules/{id}: schedules as resources. Create, read, update (pause/resume,
// cron, inputs, policies), delete, trigger now, upcoming fire times and backfill.
// The handlers parse the request and shape the response; what a schedule is and may
// do is cron::ScheduleService's (cron/schedule_service.h). A file schedule's id
// "workflow/name" holds a '/', so each route also has a two-segment form
// /v1/schedules/{workflow}/{name}.
#include "api/routes.h"
#include "cron/schedule_service.h"
#include "http/auth.h"

namespace ream::api {

namespace {

using nlohmann::json;
using http::json_error;
using http::Request;
using http::Response;

std::string schedule_id(const Request& req) {
  auto wf = req.params.find("workflow");
  if (wf != req.params.end()) return wf->second + "/" + req.params.at("name");
  return req.params.at("id");
}

Response disabled() {
  return json_error(409, "conflict",
                    "schedules are disabled in this reamd's config (schedules.enabled: false)");
}

// A job a schedule could not make because a document path left the allowed roots is a
// 403, as for POST /v1/jobs.
Response error(const Status& st, const std::string& field) {
  if (st.code() == StatusCode::kFailedPrecondition && field == "inputs") {
    return json_error(403, "forbidden_path", st.message(), field);
  }
  return http::error_from_status(st, field);
}

json job_brief(App& app, int64_t job_id) {
  json j = {{"id", job_id}, {"links", {{"self", "/v1/jobs/" + std::to_string(job_id)}}}};
  auto job = app.jobs().get(job_id);
  if (job.ok()) {
    j["workflow"] = job->workflow_name;
    j["status"] = job->status;
    j["created_at"] = iso_time(job->created_at);
    j["idempotency_key"] = job->idempotency_key;
  }
  return j;
}

Response create(App& app, cron::ScheduleService& schedules, Request& req) {
  if (app.draining()) return unavailable_response(app);
  Response err;
  auto body = parse_json_body(req, &err);
  if (!body) return err;
  std::string field;
  auto created = schedules.create(*body, &field);
  if (!created.ok()) return error(created.status(), field);
  Response r = http::json_response(201, created.value());
  std::string path = created.value().value("id", "");  // '#' would start a fragment in a URL
  for (size_t at = path.find('#'); at != std::string::npos; at = path.find('#', at)) path.replace(at, 1, "%23");
  r.set_header("Location", "/v1/schedules/" + path);
  return r;
}

Response get_one(cron::ScheduleService& schedules, Request& req) {
  std::string field;
  auto j = schedules.get(schedule_id(req), &field);
  if (!j.ok()) return error(j.status(), field);
  return http::json_response(200, j.value());
}

Response update(cron::ScheduleService& schedules, Request& req) {
  const std::string id = schedule_id(req);
  std::string field;
  if (auto known = schedules.get(id, &field); !known.ok()) return error(known.status(), field);
  Response err;
  auto patch = parse_json_body(req, &err);
  if (!patch) return err;
  auto j = schedules.update(id, *patch, &field);
  if (!j.ok()) return error(j.status(), field);
  return http::json_response(200, j.value());
}

Response remove(cron::ScheduleService& schedules, Request& req) {
  const std::string id = schedule_id(req);
  std::string field;
  if (Status st = schedules.remove(id, &field); !st.ok()) return error(st, field);
  return http::json_response(200, {{"id", id}, {"deleted", true}});
}

Response trigger(App& app, cron::ScheduleService& schedules, Request& req) {
  if (app.draining()) return unavailable_response(app);
  const std::string id = schedule_id(req);
  std::string field;
  auto job = schedules.trigger(id, &field);
  if (!job.ok()) return error(job.status(), field);
  json body = job_brief(app, job.value());
  body["schedule"] = id;
  Response r = http::json_response(201, body);
  r.set_header("Location", "/v1/jobs/" + std::to_string(job.value()));
  return r;
}

Response upcoming(cron::ScheduleService& schedules, Request& req) {
  const std::string id = schedule_id(req);
  std::string field;
  auto spec = schedules.get(id, &field);  // an unknown id is a 404 before a bad count is a 400
  if (!spec.ok()) return error(spec.status(), field);
  Response err;
  auto count = query_int(req, "count", 5, 1, cron::ScheduleService::kMaxUpcoming, &err);
  if (!count) return err;
  auto u = schedules.upcoming(id, static_cast<int>(*count), &field);
  if (!u.ok()) return error(u.status(), field);
  json times = json::array();
  for (int64_t t : u->fire_times) times.push_back(iso_time(t));
  return http::json_response(200, {{"id", id},
                                   {"cron", u->spec.expr.text},
                                   {"timezone", u->spec.tz->name()},
                                   {"paused", u->spec.paused},
                                   {"fire_times", times}});
}

Response backfill(App& app, cron::ScheduleService& schedules, Request& req) {
  if (app.draining()) return unavailable_response(app);
  const std::string id = schedule_id(req);
  std::string field;
  if (auto known = schedules.get(id, &field); !known.ok()) return error(known.status(), field);
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
    auto t = v && v->is_string() ? cron::parse_rfc3339(v->get<std::string>()) : std::nullopt;
    if (!t) {
      return json_error(400, "invalid_request",
                        std::string("'") + names[i] + "' must be an RFC 3339 time such as \"2025-01-06T09:00:00Z\"",
                        names[i]);
    }
    range[i] = *t;
  }
  auto jobs = schedules.backfill(id, range[0], range[1], &field);
  if (!jobs.ok()) return error(jobs.status(), field);
  json list = json::array();
  for (const auto& [fire_time, job_id] : jobs.value()) {
    list.push_back({{"fire_time", iso_time(fire_time)}, {"job", job_brief(app, job_id)}});
  }
  return http::json_response(200, {{"id", id}, {"count", jobs->size()}, {"jobs", list}});
}

}  // namespace

void add_schedule_routes(http::Router& router, App& app) {
  using http::Access;
  // Every route but the list (routes_meta.cpp) answers 409 when schedules are disabled.
  auto with = [&app](auto handler) {
    return [&app, handler](Request& r) -> Response {
      cron::ScheduleService* schedules = app.schedules();
      if (!schedules) return disabled();
      return handler(*schedules, r);
    };
  };
  router.add("POST", "/v1/schedules", "schedules_create", Access::kSubmit,
             with([&app](cron::ScheduleService& s, Request& r) { return create(app, s, r); }));
  // Both id forms: "{id}" and a file schedule's "{workflow}/{name}". The action
  // routes come first so that ".../upcoming" is not read as a file schedule's name.
  for (const std::string base : {"/v1/schedules/{id}", "/v1/schedules/{workflow}/{name}"}) {
    router.add("POST", base + "/trigger", "schedules_trigger", Access::kSubmit,
               with([&app](cron::ScheduleService& s, Request& r) { return trigger(app, s, r); }));
    router.add("GET", base + "/upcoming", "schedules_upcoming", Access::kRead, with(upcoming));
    router.add("POST", base + "/backfill", "schedules_backfill", Access::kSubmit,
               with([&app](cron::ScheduleService& s, Request& r) { return backfill(app, s, r); }));
  }
  for (const std::string base : {"/v1/schedules/{id}", "/v1/schedules/{workflow}/{name}"}) {
    router.add("GET", base, "schedules_get", Access::kRead, with(get_one));
    router.add("PATCH", base, "schedules_update", Access::kSubmit, with(update));
    router.add("DELETE", base, "schedules_delete", Access::kSubmit, with(remove));
  }
}

}  // namespace ream::api
