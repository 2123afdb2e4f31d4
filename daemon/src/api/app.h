// App: reamd assembled. Owns the store, the engine, the plugin and workflow
// catalog, the job service (jobs/job_service.h), the scheduler, the metrics and the HTTP server, and runs
// the daemon's life: open -> load the engine -> serve -> (reload)* -> drain -> stop.
//
// The catalog (plugins + workflows + schedules) is an immutable snapshot swapped
// whole on reload; a running job keeps the snapshot it started with, so SIGHUP
// never pulls a plugin out from under a job.
//
// Thread-safety: handlers and runners call the accessors from many threads; the
// lifecycle methods are called from main's thread only.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/documents.h"
#include "api/model_api.h"
#include "api/readiness.h"
#include "config/config.h"
#include "cron/schedule_service.h"
#include "cron/scheduler.h"
#include "flow/engine_model_client.h"
#include "flow/job.h"
#include "flow/workflow.h"
#include "http/router.h"
#include "http/server.h"
#include "ingest/path_policy.h"
#include "jobs/job_service.h"
#include "metrics/metrics.h"
#include "plugins/plugin_host.h"
#include "ream/engine/engine.h"
#include "store/store.h"

namespace ream::api {


struct Catalog {
  std::shared_ptr<plugins::PluginHost> plugins;
  std::map<std::string, std::shared_ptr<const flow::Workflow>> workflows;
  std::vector<std::pair<std::string, std::string>> errors;  // (path, message)
  std::vector<cron::ScheduleSpec> schedules;
  // Workflow names declared by two files, each message naming both: reamd refuses to
  // start, and a reload keeps the catalog it has (which file wins would be a guess).
  std::vector<std::string> conflicts;
  int64_t loaded_at_ms = 0;
};

// Loads plugins, then workflows (validated against those plugins), then their
// schedules. Failures of single files are collected in `errors`, not fatal;
// duplicate workflow names are also collected in `conflicts`, which are.
std::shared_ptr<const Catalog> load_catalog(const config::Config& config);

class App : public cron::ScheduleHost {
 public:
  explicit App(config::Config config);
  ~App() override;

  // Data dir, store, catalog, scheduler, routes and the listener (before the
  // engine loads: /healthz answers, /readyz says not ready).
  Status open();
  // Loads the model (or makes the demo model) and starts the runners.
  Status load_engine();
  // SIGHUP / POST /v1/admin/reload: a fresh catalog; running jobs are untouched. A
  // catalog with duplicate workflow names is refused ({"reloaded": false, "conflicts"})
  // and the loaded one stays.
  nlohmann::json reload();
  // SIGTERM: stop taking work (new jobs and chat get 503), let running jobs end
  // within drain_timeout_s. Returns true when every job finished in time.
  bool drain();
  // Stops the listener and the engine. After drain().
  void stop();
  // Periodic work from main's loop (about once a second): schedules.
  void tick();
  std::string status_line();

  uint16_t port() const { return server_ ? server_->port() : 0; }
  bool ready() const { return ready_.load(); }
  bool draining() const { return draining_.load(); }

  // For handlers and runners.
  const config::Config& config() const { return config_; }
  store::Store& store() { return *store_; }
  // Whether the database takes writes, as last probed (never waits: /readyz reads it on
  // the I/O thread).
  StoreWriteProbe::State store_writable() const { return write_probe_->state(); }
  std::shared_ptr<const Catalog> catalog();
  Engine* engine() { return engine_.get(); }
  flow::ModelClient* model() { return ready_ ? model_.get() : nullptr; }
  // What the OpenAI-compatible routes call (local engine or upstreams); null until loaded.
  ModelApi* model_api() { return ready_ ? model_api_.get() : nullptr; }
  // The upstream pool (engine.backend: upstreams); null otherwise.
  upstream::UpstreamPool* upstreams() { return upstreams_.get(); }
  jobs::JobService& jobs() { return *jobs_; }
  metrics::Registry& metrics() { return metrics_; }
  cron::Scheduler* scheduler() { return scheduler_.get(); }
  // API schedules as resources; null when schedules are disabled.
  cron::ScheduleService* schedules() { return schedules_.get(); }
  const std::string& documents_dir() const { return documents_dir_; }
  // documents.allowed_roots plus documents_dir(): what a document path may name.
  const ingest::PathPolicy& document_paths() const { return document_paths_; }
  // Uploads, inline texts and document inputs (api/documents.h).
  Documents& documents() { return *documents_; }
  const std::string& owner() const { return owner_; }
  const std::string& model_dir() const { return model_dir_; }
  bool demo_model() const { return demo_model_; }
  // The names the OpenAI-compatible API serves the model under (engine.served_model_name, else
  // the repo id the model was named by, else the model directory's name); the first is the one
  // responses carry. Set once the engine is loaded.
  const std::vector<std::string>& served_model_names() const { return served_model_names_; }
  int64_t model_loaded_unix() const { return model_loaded_unix_; }

  // cron::ScheduleHost
  Result<int64_t> submit(const cron::ScheduleSpec& spec, const std::string& idempotency_key) override;
  bool job_active(int64_t job_id) override;
  bool cancel_job(int64_t job_id) override;


 private:
  Status resolve_model();
  Status load_upstreams();
  void install_routes();
  void install_metrics();

  config::Config config_;
  std::string documents_dir_;
  ingest::PathPolicy document_paths_;
  std::string owner_;
  std::string model_dir_;
  bool demo_model_ = false;
  std::vector<std::string> served_model_names_;
  int64_t model_loaded_unix_ = 0;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Documents> documents_;          // after store_, which it uses
  std::unique_ptr<StoreWriteProbe> write_probe_;  // after store_: stops before it closes
  std::mutex catalog_mu_;
  std::shared_ptr<const Catalog> catalog_;
  std::unique_ptr<Engine> engine_;                  // engine.backend: local
  std::unique_ptr<upstream::UpstreamPool> upstreams_;  // engine.backend: upstreams
  std::unique_ptr<flow::ModelClient> model_;
  std::unique_ptr<ModelApi> model_api_;
  std::unique_ptr<jobs::JobService> jobs_;
  std::unique_ptr<cron::Scheduler> scheduler_;
  std::unique_ptr<cron::ScheduleService> schedules_;
  metrics::Registry metrics_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
};

}  // namespace ream::api
