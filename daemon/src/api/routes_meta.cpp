// Catalog and operations routes: workflows, plugins, schedules, reload, health,
// readiness and metrics (with the collectors that fill the scrape-time gauges).
#include <spdlog/spdlog.h>

#include <chrono>

#include "api/routes.h"

namespace ream::api {

namespace {

using nlohmann::json;
using http::json_error;
using http::Request;
using http::Response;

json input_json(const flow::InputSpec& in) {
  json j = {{"name", in.name},
            {"type", flow::input_type_name(in.type)},
            {"required", in.required && !in.default_value},
            {"description", in.description}};
  if (in.default_value) j["default"] = *in.default_value;
  if (!in.values.empty()) j["values"] = in.values;
  if (in.type == flow::InputType::kList) j["items"] = flow::input_type_name(in.item_type);
  if (in.minimum) j["minimum"] = *in.minimum;
  if (in.maximum) j["maximum"] = *in.maximum;
  return j;
}

json workflow_json(const flow::Workflow& wf, bool full) {
  json inputs = json::array(), steps = json::array(), outputs = json::array();
  for (const auto& in : wf.inputs) inputs.push_back(input_json(in));
  for (const auto& s : wf.steps) {
    steps.push_back({{"id", s.id}, {"plugin", s.plugin}, {"needs", s.needs}});
  }
  for (const auto& [name, _] : wf.outputs) outputs.push_back(name);
  json j = {{"name", wf.name},     {"version", wf.version}, {"description", wf.description},
            {"inputs", inputs},    {"steps", steps},        {"outputs", outputs},
            {"path", wf.path},     {"content_hash", wf.content_hash}};
  if (!wf.schedule.is_null()) j["schedule"] = wf.schedule;
  if (full) j["source"] = wf.source;
  return j;
}

Response workflows(App& app) {
  auto cat = app.catalog();
  json list = json::array();
  for (const auto& [name, wf] : cat->workflows) list.push_back(workflow_json(*wf, false));
  json errors = json::array();
  for (const auto& [path, msg] : cat->errors) errors.push_back({{"path", path}, {"message", msg}});
  return http::json_response(200, {{"workflows", list}, {"errors", errors}});
}

Response workflow(App& app, Request& req) {
  auto cat = app.catalog();
  auto it = cat->workflows.find(req.params["name"]);
  if (it == cat->workflows.end()) {
    return json_error(404, "not_found", "no workflow '" + req.params["name"] + "'");
  }
  return http::json_response(200, workflow_json(*it->second, true));
}

Response plugins(App& app) {
  auto cat = app.catalog();
  json list = json::array();
  for (const plugins::Plugin* p : cat->plugins->plugins()) {
    const auto& m = p->manifest();
    json params = json::parse(m.params_schema, nullptr, false);
    json outs = json::parse(m.outputs_schema, nullptr, false);
    list.push_back({{"name", m.name},
                    {"version", m.version},
                    {"description", m.description},
                    {"abi_version", m.abi_version},
                    {"path", m.path},
                    {"params_schema", params.is_discarded() ? json::object() : params},
                    {"outputs", outs.is_discarded() ? json::object() : outs}});
  }
  json errors = json::array();
  for (const auto& e : cat->plugins->errors()) errors.push_back({{"path", e.path}, {"message", e.message}});
  return http::json_response(200, {{"plugins", list}, {"errors", errors}});
}

Response schedules(App& app) {
  json list = app.schedules() ? app.schedules()->list() : json::array();
  return http::json_response(200, {{"schedules", list}, {"enabled", app.schedules() != nullptr}});
}

Response readyz(App& app) {
  json checks = json::object();
  checks["model"] = app.ready() ? "loaded" : "loading";
  // Cheap: atomics and the write probe's last outcome (api/readiness.h), never a query.
  const StoreWriteProbe::State store = app.store_writable();
  checks["store"] = store.message;
  checks["draining"] = app.draining();
  bool ok = app.ready() && store.writable && !app.draining();
  Response r = http::json_response(ok ? 200 : 503, {{"ready", ok}, {"checks", checks}});
  if (!ok) r.set_header("Retry-After", "5");
  return r;
}

}  // namespace

void add_meta_routes(http::Router& router, App& app) {
  using http::Access;
  router.add("GET", "/v1/workflows", "workflows_list", Access::kRead,
             [&app](Request&) { return workflows(app); });
  router.add("GET", "/v1/workflows/{name}", "workflows_get", Access::kRead,
             [&app](Request& r) { return workflow(app, r); });
  router.add("GET", "/v1/plugins", "plugins_list", Access::kRead,
             [&app](Request&) { return plugins(app); });
  router.add("GET", "/v1/schedules", "schedules_list", Access::kRead,
             [&app](Request&) { return schedules(app); });
  router.add("POST", "/v1/admin/reload", "admin_reload", Access::kAdmin, [&app](Request& r) {
    spdlog::info("reload requested over HTTP request_id={}", r.request_id);
    nlohmann::json result = app.reload();
    if (!result.value("reloaded", false)) {
      std::string all;
      for (const auto& c : result["conflicts"]) all += (all.empty() ? "" : "; ") + c.get<std::string>();
      return http::json_error(409, "conflict", "reload refused, the loaded workflows stay in use: " + all);
    }
    return http::json_response(200, result);
  });
  router.add(
      "GET", "/healthz", "healthz", Access::kPublic,
      [](Request&) { return http::json_response(200, {{"status", "ok"}}); }, /*cheap=*/true);
  // Both run on the I/O thread (cheap): they answer while every handler thread is busy.
  router.add(
      "GET", "/readyz", "readyz", Access::kRead, [&app](Request&) { return readyz(app); },
      /*cheap=*/true);
  router.add("GET", "/metrics", "metrics", Access::kRead, [&app](Request&) {
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = app.metrics().render();
    return r;
  });
}

void App::install_metrics() {
  auto& m = metrics_;
  auto* jobs = &m.gauge("reamd_jobs", "Jobs in the store by status.", {"status"});
  auto* depth = &m.gauge("reamd_queue_depth", "Queued jobs waiting for a runner.");
  auto* cap = &m.gauge("reamd_queue_capacity", "queue.max_queued.");
  auto* running = &m.gauge("reamd_jobs_running", "Jobs running in this process.");
  auto* ready = &m.gauge("reamd_ready", "1 when the model is loaded and the store writable.");
  auto* draining = &m.gauge("reamd_draining", "1 while shutting down.");
  auto* kv_used = &m.gauge("reamd_engine_kv_blocks_used", "KV cache blocks in use.");
  auto* kv_total = &m.gauge("reamd_engine_kv_blocks_total", "KV cache blocks in all.");
  auto* kv_ratio = &m.gauge("reamd_engine_kv_usage_ratio", "Share of KV blocks in use (0..1).");
  auto* pc_q = &m.counter("reamd_engine_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.");
  auto* pc_h = &m.counter("reamd_engine_prefix_cache_hits_total", "Prompt tokens found in the prefix cache.");
  auto* pc_r = &m.gauge("reamd_engine_prefix_cache_hit_ratio", "Prefix cache hits / queries since start.");
  auto* gen = &m.counter("reamd_engine_generated_tokens_total", "Tokens generated.");
  auto* pre = &m.counter("reamd_engine_prefilled_tokens_total", "Prompt tokens computed (not those the prefix cache served).");
  auto* tps = &m.gauge("reamd_engine_tokens_per_second", "Generated tokens per second since the previous scrape.");
  auto* waiting = &m.gauge("reamd_engine_requests_waiting", "Engine requests waiting.");
  auto* eng_running = &m.gauge("reamd_engine_requests_running", "Engine requests running.");
  auto* preempt = &m.counter("reamd_engine_preemptions_total", "Sequences preempted for KV space.");
  struct Last {
    std::mutex mu;
    int64_t tokens = 0;
    std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now();
  };
  auto last = std::make_shared<Last>();
  cap->set({}, config_.max_queued);
  m.on_scrape([=, this]() {
    if (auto counts = store_->count_jobs(); counts.ok()) {
      for (const auto& [status, n] : counts.value()) jobs->set({status}, static_cast<double>(n));
      depth->set({}, static_cast<double>(counts.value().at("queued")));
    }
    running->set({}, jobs_ ? jobs_->runners().running() : 0);
    ready->set({}, ready_ ? 1 : 0);
    draining->set({}, draining_ ? 1 : 0);
    if (!ready_ || !engine_) return;
    EngineStats s = engine_->stats();
    kv_used->set({}, static_cast<double>(s.kv_blocks_used));
    kv_total->set({}, static_cast<double>(s.kv_blocks_total));
    kv_ratio->set({}, s.kv_blocks_total ? static_cast<double>(s.kv_blocks_used) / s.kv_blocks_total : 0);
    pc_q->set({}, static_cast<double>(s.prefix_cache_queries));
    pc_h->set({}, static_cast<double>(s.prefix_cache_hits));
    pc_r->set({}, s.prefix_cache_queries ? static_cast<double>(s.prefix_cache_hits) / s.prefix_cache_queries : 0);
    gen->set({}, static_cast<double>(s.tokens_generated));
    pre->set({}, static_cast<double>(s.tokens_prefilled));
    waiting->set({}, static_cast<double>(s.requests_waiting));
    eng_running->set({}, static_cast<double>(s.requests_running));
    preempt->set({}, static_cast<double>(s.preemptions));
    std::lock_guard lock(last->mu);
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - last->at).count();
    if (dt > 0) tps->set({}, static_cast<double>(s.tokens_generated - last->tokens) / dt);
    last->tokens = s.tokens_generated;
    last->at = now;
  });
}

}  // namespace ream::api
