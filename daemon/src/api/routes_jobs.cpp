// /v1/jobs: submit (idempotent, bounded), get, list, cancel, result, events (SSE).
// Every job operation and read goes through jobs::JobService; only submit asks the App
// for more (draining, the workflow catalog, the queue limit, uploads and path checks).
#include <spdlog/spdlog.h>

#include <chrono>
#include <limits>
#include <vector>

#include "api/documents.h"
#include "api/routes.h"
#include "flow/progress.h"
#include "http/auth.h"
#include "http/sse.h"
#include "ream/common/sha256.h"

namespace ream::api {

namespace {

using nlohmann::json;
using http::json_error;
using http::Request;
using http::Response;

Result<int64_t> job_id_param(const Request& req) {
  const std::string& s = req.params.at("id");
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
    return invalid_argument("job id '" + s + "' is not a number");
  }
  return std::stoll(s);
}

json progress_json(jobs::JobService& jobs, const store::JobRecord& job) {
  if (auto live = jobs.progress(job.id)) return flow::progress_json(live->snapshot());
  auto counts = jobs.run_counts(job.id);
  const jobs::RunCounts n = counts.ok() ? counts.value() : jobs::RunCounts{};
  return {{"runs_total", n.total}, {"runs_done", n.done}};
}

json job_json(jobs::JobService& jobs, const store::JobRecord& j) {
  json inputs = json::parse(j.inputs_json, nullptr, false);
  json out = {{"id", j.id},
              {"workflow", j.workflow_name},
              {"status", j.status},
              {"priority", j.priority},
              {"inputs", inputs.is_discarded() ? json::object() : inputs},
              {"created_at", iso_time(j.created_at)},
              {"started_at", iso_time(j.started_at)},
              {"finished_at", iso_time(j.finished_at)},
              {"updated_at", iso_time(j.updated_at)},
              {"error", j.error.empty() ? json(nullptr) : json(j.error)},
              {"usage",
               {{"prompts", j.usage.prompts},
                {"prompt_tokens", j.usage.prompt_tokens},
                {"completion_tokens", j.usage.completion_tokens},
                {"cached_prompt_tokens", j.usage.cached_prompt_tokens}}},
              {"progress", progress_json(jobs, j)},
              {"links",
               {{"self", "/v1/jobs/" + std::to_string(j.id)},
                {"result", "/v1/jobs/" + std::to_string(j.id) + "/result"},
                {"events", "/v1/jobs/" + std::to_string(j.id) + "/events"}}}};
  if (!j.idempotency_key.empty()) out["idempotency_key"] = j.idempotency_key;
  if (j.status == store::kJobSucceeded) {
    json outputs = json::parse(j.outputs_json, nullptr, false);
    out["outputs"] = outputs.is_discarded() ? json::object() : outputs;
  }
  return out;
}

// The answer to a request whose Idempotency-Key `job` holds: the job again, or 409 when
// the key came with another request.
Response replay_response(const store::JobRecord& job, const std::string& key, bool same_request) {
  if (!same_request) {
    return json_error(409, "conflict",
                      "Idempotency-Key '" + key + "' was used for a different request (job " +
                          std::to_string(job.id) + ")",
                      "Idempotency-Key");
  }
  Response r = http::json_response(202, {{"id", job.id}, {"status", job.status}});
  r.set_header("Idempotent-Replayed", "true");
  r.set_header("Location", "/v1/jobs/" + std::to_string(job.id));
  return r;
}

Response submit(App& app, Request& req) {
  if (app.draining()) return unavailable_response(app);
  jobs::JobService& jobs = app.jobs();
  Response err;
  auto body = parse_json_body(req, &err);
  if (!body) return err;
  for (const auto& [k, v] : body->items()) {
    if (k != "workflow" && k != "inputs" && k != "priority") {
      return json_error(400, "invalid_request",
                        "unknown field '" + k + "' (expected workflow, inputs, priority)", k);
    }
  }
  if (!body->contains("workflow")) {
    return json_error(400, "invalid_request", "missing field 'workflow'", "workflow");
  }
  if (!(*body)["workflow"].is_string()) {
    return json_error(400, "invalid_request", "'workflow' must be a string", "workflow");
  }
  json inputs = body->value("inputs", json::object());
  if (!inputs.is_object()) {
    return json_error(400, "invalid_request", "'inputs' must be an object", "inputs");
  }
  int priority = 0;
  if (body->contains("priority")) {
    const json& p = (*body)["priority"];
    // An unsigned 2^64-1 read as int64 would be -1: compare it as what it is.
    const bool in_range = p.is_number_unsigned() ? p.get<uint64_t>() <= 1000
                          : p.is_number_integer() && p.get<int64_t>() >= -1000 && p.get<int64_t>() <= 1000;
    if (!in_range) {
      return json_error(400, "invalid_request", "'priority' must be an integer in -1000..1000",
                        "priority");
    }
    priority = p.get<int>();
  }
  const std::string name = (*body)["workflow"].get<std::string>();

  // Idempotency: the same key and the same request replay; another request conflicts.
  std::string key = req.header("idempotency-key");
  std::string request_hash;
  if (!key.empty()) {
    if (key.size() > 255) {
      return json_error(400, "invalid_request", "Idempotency-Key is longer than 255 characters",
                        "Idempotency-Key");
    }
    request_hash = sha256_hex(json{{"workflow", name}, {"inputs", inputs},
                                         {"priority", priority}}.dump());
    // A retry is answered before its documents are read again.
    auto prior = jobs.holder_of(key);
    if (prior.ok() && prior->has_value()) {
      const store::JobRecord& job = **prior;
      return replay_response(job, key, job.idempotency_hash == request_hash);
    }
  }

  auto cat = app.catalog();
  auto it = cat->workflows.find(name);
  if (it == cat->workflows.end()) {
    std::string known;
    for (const auto& [n, _] : cat->workflows) known += (known.empty() ? "" : ", ") + n;
    return json_error(400, "invalid_request",
                      "unknown workflow '" + name + "' (known: " + known + ")", "workflow");
  }
  auto queued = jobs.queued();
  if (queued.ok() && queued.value() >= app.config().max_queued) {
    Response r = json_error(429, "queue_full",
                            "the queue holds " + std::to_string(queued.value()) +
                                " jobs (queue.max_queued); retry later");
    r.set_header("Retry-After", std::to_string(static_cast<int>(app.config().retry_after_s)));
    return r;
  }
  std::string field;
  flow::DocumentNames names;
  Status st = app.documents().resolve_inputs(*it->second, &inputs, &names, &field);
  if (st.code() == StatusCode::kFailedPrecondition) {
    return json_error(403, "forbidden_path", st.message(), field);
  }
  if (!st.ok()) return http::error_from_status(st, field);

  std::string input_field;
  auto created = jobs.submit({it->second, inputs, names, priority, key, request_hash}, &input_field);
  if (!created.ok()) {
    const Status& e = created.status();
    if (input_field.empty()) input_field = "inputs";
    if (e.code() == StatusCode::kFailedPrecondition) {  // a path left the roots since
      return json_error(403, "forbidden_path", e.message(), input_field);
    }
    if (e.code() == StatusCode::kInvalidArgument || e.code() == StatusCode::kNotFound) {
      return json_error(400, "invalid_request", e.message(), input_field);
    }
    return http::error_from_status(e);
  }
  if (created->replayed) {  // lost a race with the same key: the job that won answers
    auto job = jobs.get(created->id);
    if (!job.ok()) return http::error_from_status(job.status());
    return replay_response(job.value(), key, created->same_request);
  }
  auto id = Result<int64_t>(created->id);
  Response r = http::json_response(202, {{"id", id.value()}, {"status", "queued"}, {"workflow", name}});
  r.set_header("Location", "/v1/jobs/" + std::to_string(id.value()));
  return r;
}

Response get_job(jobs::JobService& jobs, Request& req) {
  auto id = job_id_param(req);
  if (!id.ok()) return http::error_from_status(id.status(), "id");
  auto job = jobs.get(id.value());
  if (!job.ok()) return json_error(404, "not_found", "no job " + std::to_string(id.value()));
  return http::json_response(200, job_json(jobs, job.value()));
}

Response list_jobs(jobs::JobService& jobs, Request& req) {
  std::string status = req.query_or("status");
  if (!status.empty() && status != "queued" && status != "running" && status != "succeeded" &&
      status != "failed" && status != "cancelled") {
    return json_error(400, "invalid_request",
                      "status must be queued, running, succeeded, failed or cancelled", "status");
  }
  std::string workflow = req.query_or("workflow");
  Response err;
  auto limit_param = query_int(req, "limit", 50, 1, 1000, &err);
  if (!limit_param) return err;
  auto cursor_param = query_int(req, "cursor", 0, 0, std::numeric_limits<int64_t>::max(), &err);
  if (!cursor_param) return err;
  const int limit = static_cast<int>(*limit_param);
  // Keyset pagination: one indexed query for the page (no scan, no OFFSET); the cursor is
  // the last id of the previous page, and jobs created meanwhile get larger ids, so a walk
  // through the pages meets every older job exactly once.
  auto page = jobs.list(status, workflow, limit, *cursor_param);
  if (!page.ok()) return http::error_from_status(page.status());
  json found = json::array();
  for (const auto& j : page.value()) found.push_back(job_json(jobs, j));
  json out = {{"jobs", found}};
  const bool full = static_cast<int>(page->size()) == limit;
  out["next_cursor"] = full && page->back().id > 1 ? json(std::to_string(page->back().id)) : json(nullptr);
  return http::json_response(200, out);
}

Response cancel_job(jobs::JobService& jobs, Request& req) {
  auto id = job_id_param(req);
  if (!id.ok()) return http::error_from_status(id.status(), "id");
  auto outcome = jobs.cancel(id.value());
  if (!outcome.ok()) {
    if (outcome.status().code() == StatusCode::kNotFound) {
      return json_error(404, "not_found", "no job " + std::to_string(id.value()));
    }
    return http::error_from_status(outcome.status());
  }
  switch (outcome.value()) {
    case jobs::CancelOutcome::kCancelled:
      return http::json_response(200, {{"id", id.value()}, {"status", "cancelled"}});
    case jobs::CancelOutcome::kCancelling:
      return http::json_response(202, {{"id", id.value()}, {"status", "cancelling"}});
    case jobs::CancelOutcome::kAlreadyFinal: {
      auto job = jobs.get(id.value());
      const std::string st = job.ok() ? job->status : "ended";
      return json_error(409, "conflict", "job " + std::to_string(id.value()) + " has already " +
                                             (st == "cancelled" ? "been cancelled" : st));
    }
    case jobs::CancelOutcome::kHeldElsewhere:
      break;
  }
  return json_error(409, "conflict", "job " + std::to_string(id.value()) +
                                         " is held by another reamd process; cancel it there");
}

Response job_result(jobs::JobService& jobs, Request& req) {
  auto id = job_id_param(req);
  if (!id.ok()) return http::error_from_status(id.status(), "id");
  auto job = jobs.get(id.value());
  if (!job.ok()) return json_error(404, "not_found", "no job " + std::to_string(id.value()));
  std::string format = req.query_or("format", "json");
  if (format == "md" || format == "markdown") {
    auto md = jobs.result_markdown(id.value());
    if (!md.ok()) return http::error_from_status(md.status());
    Response r;
    r.content_type = "text/markdown; charset=utf-8";
    r.body = md.value();
    return r;
  }
  if (format != "json" && format != "sarif")
    return json_error(400, "invalid_request", "format must be json, md or sarif", "format");
  auto js = format == "json" ? jobs.result_json(id.value()) : jobs.result_sarif(id.value());
  if (!js.ok()) return http::error_from_status(js.status());
  return http::json_response(200, js.value());
}

// Streams a job's stored events from after `last_id`, ending after the final one. They
// come from a subscription to the job service (jobs/job_events.h): the events stored
// before it opened, then each one as it commits; poll() never reads the database. While
// the job runs in this process, `progress` events (no id: they are not stored, and a
// reconnect resumes after the last stored event) come at most every kProgressEveryS,
// when a number moved or kProgressIdleS passed; a stream opened before the job ended
// gets one with the final numbers right before the job's final event.
class JobEventStream : public http::StreamSource {
 public:
  static constexpr double kProgressEveryS = 0.5;
  static constexpr double kProgressIdleS = 5.0;

  JobEventStream(jobs::JobService& jobs, int64_t job_id, int64_t last_id)
      : jobs_(jobs), job_id_(job_id), sub_(jobs.subscribe(job_id, last_id)) {}
  Chunk poll() override {
    Chunk c;
    if (done_) {
      c.done = true;
      return c;
    }
    if (!sub_->backlog_status().ok()) {
      c.data = http::format_sse(0, "error", http::error_body(500, "internal", sub_->backlog_status().message()));
      c.done = done_ = true;
      return c;
    }
    for (const auto& e : sub_->take()) {
      json data = json::parse(e.data_json, nullptr, false);
      if (data.is_discarded() || !data.is_object()) data = json::object();
      data["job_id"] = job_id_;
      data["type"] = e.type;
      data["time"] = iso_time(e.created_at);
      const bool final = e.type == "job_succeeded" || e.type == "job_failed" || e.type == "job_cancelled";
      if (final && watching_) c.data += progress_event(/*force=*/true);
      c.data += http::format_sse(e.id, e.type, data.dump());
      if (final) {
        c.done = done_ = true;
        break;
      }
    }
    if (!done_) {
      watching_ = true;  // the job had not ended when this poll took its events
      c.data += progress_event(/*force=*/false);
    }
    return c;
  }
  void set_waker(std::function<void()> waker) override { sub_->set_waker(std::move(waker)); }
  void close() override { sub_->set_waker(nullptr); }
  std::string keepalive() const override { return http::sse_keepalive(); }
  // A comment: the client reconnects with Last-Event-ID and loses nothing.
  std::string expiry_notice(const std::string& message) const override {
    return http::sse_comment(message);
  }

 private:
  // A `progress` event of the job's live numbers, or "" (not running here, too soon, or
  // nothing moved).
  std::string progress_event(bool force) {
    auto live = jobs_.progress(job_id_);
    if (!live) return "";
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - sent_at_).count();
    if (!force && progress_sent_ && since < kProgressEveryS) return "";
    const flow::ProgressSnapshot s = live->snapshot();
    if (!force && s.finished) return "";  // its final numbers come with the final event
    const std::vector<int64_t> numbers = {s.steps_done, s.runs_total, s.runs_done, s.prompts_total,
                                          s.prompts_done, s.prompt_tokens_total, s.prompt_tokens_prefilled,
                                          s.tokens_generated, s.finished ? 1 : 0};
    if (!force && numbers == sent_numbers_ && since < kProgressIdleS) return "";
    json data = flow::progress_json(s);
    data["job_id"] = job_id_;
    data["type"] = "progress";
    data["time"] = iso_time(store::now_ms());
    progress_sent_ = true;
    sent_at_ = now;
    sent_numbers_ = numbers;
    return http::format_sse(0, "progress", data.dump());
  }

  jobs::JobService& jobs_;
  int64_t job_id_;
  std::shared_ptr<jobs::Subscription> sub_;
  bool done_ = false;
  bool watching_ = false;  // opened before the job ended: the final numbers come before its final event
  bool progress_sent_ = false;
  std::chrono::steady_clock::time_point sent_at_;
  std::vector<int64_t> sent_numbers_;
};

Response job_events(jobs::JobService& jobs, Request& req) {
  auto id = job_id_param(req);
  if (!id.ok()) return http::error_from_status(id.status(), "id");
  auto job = jobs.get(id.value());
  if (!job.ok()) return json_error(404, "not_found", "no job " + std::to_string(id.value()));
  std::string last = req.header("last-event-id");
  int64_t last_id = 0;
  if (!last.empty()) {
    if (last.find_first_not_of("0123456789") != std::string::npos || last.size() > 18) {
      return json_error(400, "invalid_request", "Last-Event-ID must be an event id", "Last-Event-ID");
    }
    last_id = std::stoll(last);
  } else {
    Response err;
    auto after = query_int(req, "after", 0, 0, std::numeric_limits<int64_t>::max(), &err);
    if (!after) return err;
    last_id = *after;
  }
  Response r;
  r.content_type = "text/event-stream";
  r.stream = std::make_shared<JobEventStream>(jobs, id.value(), last_id);
  return r;
}

}  // namespace

void add_job_routes(http::Router& router, App& app) {
  using http::Access;
  router.add("POST", "/v1/jobs", "jobs_create", Access::kSubmit,
             [&app](Request& r) { return submit(app, r); });
  router.add("GET", "/v1/jobs", "jobs_list", Access::kRead,
             [&app](Request& r) { return list_jobs(app.jobs(), r); });
  router.add("GET", "/v1/jobs/{id}", "jobs_get", Access::kRead,
             [&app](Request& r) { return get_job(app.jobs(), r); });
  router.add("DELETE", "/v1/jobs/{id}", "jobs_cancel", Access::kSubmit,
             [&app](Request& r) { return cancel_job(app.jobs(), r); });
  router.add("GET", "/v1/jobs/{id}/result", "jobs_result", Access::kRead,
             [&app](Request& r) { return job_result(app.jobs(), r); });
  router.add("GET", "/v1/jobs/{id}/events", "jobs_events", Access::kRead,
             [&app](Request& r) { return job_events(app.jobs(), r); });
}

}  // namespace ream::api
