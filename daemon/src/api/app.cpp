// App: assembling reamd and running its lifecycle.
#include "api/app.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>

#include "api/documents.h"
#include "api/routes.h"
#include "flow/job.h"
#include "model/init_model.h"
#include "ream/engine/model_config.h"
#include "upstream/model_client.h"

namespace ream::api {

namespace fs = std::filesystem;

namespace {
constexpr const char* kDefaultHfModel = "Qwen/Qwen3-4B-Instruct-2507";
}

App::App(config::Config config) : config_(std::move(config)) {}

App::~App() {
  stop();
  // The job service goes first: its runners use the engine, the plugins and the
  // metrics, and its threads are joined here.
  jobs_.reset();
  // Upstream requests still running end (cancelled) before the clients they report to go.
  if (upstreams_) upstreams_->stop();
}

std::shared_ptr<const Catalog> App::catalog() {
  std::lock_guard lock(catalog_mu_);
  return catalog_;
}

Status App::open() {
  std::error_code ec;
  fs::create_directories(config_.data_dir, ec);
  if (ec) return unavailable("data_dir " + config_.data_dir + ": " + ec.message());
  config_.data_dir = fs::canonical(config_.data_dir, ec).string();
  documents_dir_ = config_.documents_dir.empty() ? config_.data_dir + "/documents" : config_.documents_dir;
  fs::create_directories(documents_dir_, ec);
  if (ec) return unavailable(documents_dir_ + ": " + ec.message());
  std::vector<std::string> roots = config_.allowed_roots;
  roots.push_back(documents_dir_);
  // The setting named in refusals says both ways to widen it: the config key and the flag.
  document_paths_ = ingest::PathPolicy::beneath(roots, "documents.allowed_roots, reamd --allowed-root");
  for (const std::string& r : document_paths_.missing_roots()) {
    spdlog::warn("documents.allowed_roots: '{}' is not an existing folder; no document may come from it", r);
  }
  const jobs::ProcessOwner me = jobs::this_process_owner();
  owner_ = me.owner;

  const std::string db = config_.store.empty() ? config_.data_dir + "/ream.db" : config_.store;
  auto st = store::Store::open(db);
  if (!st.ok()) return st.status();
  store_ = std::move(st).value();
  documents_ = std::make_unique<Documents>(*store_, documents_dir_, document_paths_, config_.max_document_bytes);
  // Every second; not writable once a write has not answered for the busy timeout (5 s).
  write_probe_ = std::make_unique<StoreWriteProbe>(*store_, 1.0, 5.0);
  auto requeued = store_->requeue_orphans(me.host, owner_);
  if (requeued.ok() && requeued.value() > 0) {
    spdlog::warn("store: {} job(s) left by an earlier run went back to the queue; they resume "
                 "at their first unfinished step",
                 requeued.value());
  }
  spdlog::info("store: {} (schema {})", store::describe_store(db), store_->schema_version().ok()
                                                ? store_->schema_version().value()
                                                : -1);
  catalog_ = load_catalog(config_);
  if (!catalog_->conflicts.empty()) {
    std::string all;
    for (const std::string& c : catalog_->conflicts) all += (all.empty() ? "" : "; ") + c;
    return invalid_argument("refusing to start: " + all);
  }
  jobs::RunnerSettings runner_settings;
  runner_settings.count = config_.runners;
  runner_settings.lease_s = config_.lease_s;
  runner_settings.heartbeat_s = config_.heartbeat_s;
  runner_settings.fallback_poll_s = config_.poll_s;
  runner_settings.step_parallel = config_.step_parallel;
  runner_settings.owner = owner_;
  runner_settings.host = me.host;
  runner_settings.worker_nice = config_.http.worker_nice;
  jobs::RunnerDeps deps;
  deps.metrics = &metrics_;
  deps.plugins = [this]() -> std::shared_ptr<const plugins::PluginHost> { return catalog()->plugins; };
  deps.model = [this] { return model(); };
  jobs_ = std::make_unique<jobs::JobService>(*store_, runner_settings, deps, document_paths_);
  if (config_.schedules_enabled) {
    scheduler_ = std::make_unique<cron::Scheduler>(
        *store_, *this, [] { return store::now_ms(); },
        static_cast<int64_t>(config_.schedule_grace_s * 1000));
    scheduler_->set_specs(catalog_->schedules);
    // An API schedule names a workflow of the catalog loaded when it is created or changed.
    auto check = [this](const cron::ScheduleSpec& spec, std::string* field) -> Status {
      auto cat = catalog();
      auto wf = cat->workflows.find(spec.workflow);
      if (wf == cat->workflows.end()) {
        std::string known;
        for (const auto& [name, w] : cat->workflows) known += (known.empty() ? "" : ", ") + name;
        *field = "workflow";
        return invalid_argument("workflow: no workflow '" + spec.workflow + "' (known: " + known + ")");
      }
      auto inputs = flow::check_inputs(*wf->second, spec.inputs, field);
      if (!inputs.ok()) return invalid_argument("inputs: " + inputs.status().message());
      return {};
    };
    schedules_ = std::make_unique<cron::ScheduleService>(*store_, *scheduler_, config_.zoneinfo_dir, check);
    schedules_->load_stored();
  }
  install_routes();
  install_metrics();
  http::Authenticator auth(config_.api_keys, config_.auth_required());
  server_ = std::make_unique<http::Server>(config_.http, router_, auth, &metrics_);
  REAM_RETURN_IF_ERROR(server_->start());
  spdlog::info("http: listening on {}{}:{} (auth {}, {} key(s))",
               config_.http.tls_cert_file.empty() ? "http://" : "https://", config_.http.host,
               server_->port(), config_.auth_required() ? "required" : "off",
               config_.api_keys.size());
  return {};
}

// A model named by a Hugging Face repo id is served under that id; one named by its
// directory, under the directory's name.
static std::string default_served_name(const std::string& model_ref, const std::string& model_dir) {
  std::error_code ec;
  if (!model_ref.empty() && !fs::is_directory(model_ref, ec)) return model_ref;
  std::string name = fs::path(model_dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::path(model_dir).lexically_normal().parent_path().filename().string();
  return name.empty() ? "ream" : name;
}

Status App::resolve_model() {
  if (!config_.engine.model.empty()) {
    auto dir = resolve_model_dir(config_.engine.model);
    if (!dir.ok()) return dir.status().with_context("engine.model");
    model_dir_ = dir.value();
    served_model_names_ = {default_served_name(config_.engine.model, model_dir_)};
    return {};
  }
  if (auto dir = resolve_model_dir(kDefaultHfModel); dir.ok()) {
    model_dir_ = dir.value();
    served_model_names_ = {kDefaultHfModel};
    spdlog::info("engine: using {} from the Hugging Face cache", kDefaultHfModel);
    return {};
  }
  model_dir_ = config_.data_dir + "/demo-model";
  demo_model_ = true;
  served_model_names_ = {"demo-model"};
  spdlog::warn("engine: no model configured and {} is not in the Hugging Face cache; using a "
               "random-weight demo model ({}): the daemon works end to end but the model's text "
               "is meaningless. Set engine.model or --model for real results.",
               kDefaultHfModel, model_dir_);
  InitModelOptions opt;
  opt.shape = "tiny";
  opt.out_dir = model_dir_;
  return init_random_model(opt);
}

Status App::load_engine() {
  REAM_RETURN_IF_ERROR(resolve_model());
  if (!config_.served_model_names.empty()) served_model_names_ = config_.served_model_names;
  if (config_.engine_backend == "upstreams") return load_upstreams();
  EngineOptions eo = config_.engine;
  eo.model = model_dir_;
  eo.cpu_nice = config_.http.worker_nice;  // a CPU engine computes below the I/O threads, as the workers do
  auto t0 = std::chrono::steady_clock::now();
  auto engine = Engine::create(eo);
  if (!engine.ok()) return engine.status().with_context("engine");
  engine_ = std::move(engine).value();
  model_ = std::make_unique<flow::EngineModelClient>(*engine_);
  model_api_ = make_local_model_api(*this);
  model_loaded_unix_ = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  spdlog::info("engine: {} on {} ({} layers, context {}) loaded in {:.1f}s", model_dir_,
               engine_->device_name(), engine_->config().num_hidden_layers,
               engine_->max_model_len(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  ready_ = true;
  jobs_->runners().start();
  return {};
}

// No model here: its tokenizer counts tokens for workflows' context plans, and every request
// goes to the upstreams.
Status App::load_upstreams() {
  auto tokenizer = Tokenizer::load(model_dir_);
  if (!tokenizer.ok()) {
    return tokenizer.status().with_context("engine.model (with engine.backend: upstreams, its tokenizer.json)");
  }
  SamplingParams defaults;
  if (auto g = load_generation_config(model_dir_ + "/generation_config.json"); g.ok()) {
    if (g->has_temperature) defaults.temperature = g->temperature;
    if (g->has_top_p) defaults.top_p = g->top_p;
    if (g->has_top_k) defaults.top_k = g->top_k;
    if (g->has_min_p) defaults.min_p = g->min_p;
    if (g->has_repetition_penalty) defaults.repetition_penalty = g->repetition_penalty;
    if (!g->do_sample) defaults.temperature = 0.0f;
  }
  int64_t context = config_.engine.max_model_len;
  if (context == 0) {
    auto mc = load_model_config(model_dir_ + "/config.json");
    context = mc.ok() ? mc->max_position_embeddings : 0;
  }
  if (context <= 0) context = 32768;
  upstreams_ = std::make_unique<upstream::UpstreamPool>(config_.upstreams, &metrics_);
  upstreams_->start();
  for (size_t i = 0; i < upstreams_->size(); ++i) {
    upstream::UpstreamState s = upstreams_->state(i);
    spdlog::info("upstream {}: {} {}{}", s.spec.name, s.spec.url, s.healthy ? "healthy" : "unhealthy: ",
                 s.healthy ? (s.discovered_model.empty() ? "" : ", model " + s.discovered_model) : s.health_error);
  }
  model_ = std::make_unique<upstream::UpstreamModelClient>(*upstreams_, std::move(tokenizer).value(), defaults, context,
                                                           config_.upstream_routing.affinity_chars);
  model_api_ = make_upstream_model_api(*upstreams_, config_.upstream_routing.affinity_chars, served_model_names_);
  model_loaded_unix_ = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  spdlog::info("engine: none here; {} upstream(s) serve the model requests (tokenizer from {})",
               upstreams_->size(), model_dir_);
  ready_ = true;
  jobs_->runners().start();
  return {};
}

nlohmann::json App::reload() {
  auto fresh = load_catalog(config_);
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& [path, msg] : fresh->errors) errors.push_back({{"path", path}, {"message", msg}});
  if (!fresh->conflicts.empty()) {
    spdlog::error("reload refused: {} duplicate workflow name(s); the loaded workflows stay in "
                  "use", fresh->conflicts.size());
    return {{"reloaded", false}, {"conflicts", fresh->conflicts}, {"errors", errors}};
  }
  {
    std::lock_guard lock(catalog_mu_);
    catalog_ = fresh;
  }
  if (scheduler_) scheduler_->set_specs(fresh->schedules);
  spdlog::info("reload: {} workflows, {} plugins, {} schedules; running jobs keep their "
               "snapshot", fresh->workflows.size(), fresh->plugins->plugins().size(),
               fresh->schedules.size());
  return {{"reloaded", true},
          {"workflows", fresh->workflows.size()},
          {"plugins", fresh->plugins->plugins().size()},
          {"schedules", fresh->schedules.size()},
          {"errors", errors}};
}

bool App::drain() {
  draining_ = true;
  if (!jobs_) return true;
  jobs::Runners& runners = jobs_->runners();
  runners.stop_taking();
  int running = runners.running();
  if (running > 0) {
    spdlog::info("drain: waiting up to {:.0f}s for {} running job(s)", config_.drain_timeout_s,
                 running);
  }
  if (runners.wait_idle(config_.drain_timeout_s)) {
    runners.join();
    return true;
  }
  for (int64_t id : runners.release_all()) {
    spdlog::warn("drain: job {} still running after {:.0f}s; its lease is released and it "
                 "resumes at its first unfinished step on the next start job_id={}",
                 id, config_.drain_timeout_s, id);
  }
  return false;
}

void App::stop() {
  if (server_) server_->stop();
}

void App::tick() {
  if (scheduler_ && ready_ && !draining_) scheduler_->tick();
}

std::string App::status_line() {
  auto q = store_ ? store_->count_queued() : Result<int64_t>(int64_t{0});
  std::string s = draining_ ? "draining" : ready_ ? "serving" : "loading model";
  s += "; " + std::to_string(jobs_ ? jobs_->runners().running() : 0) + " running, " +
       std::to_string(q.ok() ? q.value() : -1) + " queued";
  return s;
}

Result<int64_t> App::submit(const cron::ScheduleSpec& spec, const std::string& key) {
  auto existing = store_->job_by_idempotency_key(key);
  if (existing.ok() && existing.value() > 0) return existing.value();
  auto cat = catalog();
  auto it = cat->workflows.find(spec.workflow);
  if (it == cat->workflows.end()) return not_found("workflow '" + spec.workflow + "' is gone");
  // A schedule's document inputs pass the same path policy as a REST job's.
  nlohmann::json inputs = spec.inputs;
  std::string field;
  flow::DocumentNames names;
  if (Status st = documents_->resolve_inputs(*it->second, &inputs, &names, &field); !st.ok()) return st;
  // A slot fired twice at once gives the job the first made (replayed).
  REAM_ASSIGN_OR_RETURN(jobs::Submitted created,
                        jobs_->submit({it->second, inputs, names, spec.priority, key, ""}));
  return created.id;
}

bool App::job_active(int64_t job_id) {
  auto job = store_->get_job(job_id);
  return job.ok() && (job->status == store::kJobQueued || job->status == store::kJobRunning);
}

bool App::cancel_job(int64_t job_id) {
  auto outcome = jobs_->cancel(job_id);
  return outcome.ok() && (outcome.value() == jobs::CancelOutcome::kCancelled ||
                          outcome.value() == jobs::CancelOutcome::kCancelling);
}

void App::install_routes() {
  add_job_routes(router_, *this);
  add_document_routes(router_, *this);
  add_meta_routes(router_, *this);
  add_openai_routes(router_, *this);
  add_schedule_routes(router_, *this);
  add_web_routes(router_);
}

}  // namespace ream::api
