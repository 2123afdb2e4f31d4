// Config: everything reamd can be told, with embedded defaults that work with no
// file at all. The YAML schema is documented field by field in etc/reamd.yaml.
//
// Precedence: embedded defaults < the config file < command-line flags. The file
// is ./reamd.yaml or /etc/ream/reamd.yaml when --config is not given (the first
// that exists); with neither, the defaults stand. Unknown keys are errors that
// name the file, line and key, so a typo never silently falls back to a default.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "http/auth.h"
#include "http/server.h"
#include "ream/engine/engine.h"
#include "ream/engine/status.h"
#include "upstream/upstream_spec.h"

namespace ream::config {

struct Config {
  std::string source = "embedded defaults";  // the file it came from

  http::ServerOptions http;                   // listen, limits, timeouts, TLS
  std::string data_dir;                       // SQLite, uploads, demo model
  // The store: "" = SQLite at <data_dir>/ream.db; "sqlite:PATH"; or a PostgreSQL URL
  // ("postgresql://user:password@host:5432/ream") that several reamd hosts may share.
  std::string store;
  std::string log_format = "text";            // text | json
  std::string log_level = "info";             // trace debug info warn error

  // The engine's own options, every one settable under `engine:` (same names; `threads`
  // is num_threads). engine.model: dir or HF id; "" = auto (see App::resolve_model).
  EngineOptions engine;
  // engine.served_model_name: the names the OpenAI-compatible API answers to (a string or a
  // list; the first is the one responses carry). Empty: the model directory's last path
  // component, or the Hugging Face repo id when the model was named by one.
  std::vector<std::string> served_model_names;
  // engine.backend: "local" runs the model here; "upstreams" runs none and sends every model
  // request (workflow steps and the OpenAI-compatible API) to `upstreams`. engine.model then
  // names the model only for its tokenizer files (token counts, context plans).
  std::string engine_backend = "local";
  std::vector<upstream::UpstreamSpec> upstreams;
  upstream::UpstreamRouting upstream_routing;

  std::vector<std::string> workflow_dirs;     // "" -> flow::default_workflow_dirs()
  std::vector<std::string> plugin_dirs;       // "" -> flow::default_plugin_dirs()

  // Auth.
  std::string auth_mode = "auto";             // auto | required | disabled (see auth_required)
  std::vector<http::ApiKey> api_keys;

  // Documents: paths a job may name must resolve under one of these roots.
  std::vector<std::string> allowed_roots;
  int64_t max_document_bytes = 64ll << 20;
  // Where uploads and inline documents are stored, by content hash; "" = <data_dir>/documents.
  // Hosts sharing one PostgreSQL store name one shared folder here (mounted at the same
  // path on each), since a job submitted to one host may be run by another.
  std::string documents_dir;

  // Queue and runners.
  int runners = 2;                            // jobs running at once (0: this host runs none)
  int step_parallel = 4;                      // step runs in flight per job
  int max_queued = 1000;                      // more queued jobs -> 429
  double retry_after_s = 10;
  double lease_s = 30;
  double heartbeat_s = 10;
  double drain_timeout_s = 60;
  // With a PostgreSQL store, how often idle runners and the reader of other hosts' job
  // events look at the database when no notification (LISTEN/NOTIFY) woke them.
  double poll_s = 5;

  // Schedules.
  bool schedules_enabled = true;
  double schedule_tick_s = 1;
  double schedule_grace_s = 60;
  std::string zoneinfo_dir = "/usr/share/zoneinfo";

  // systemd: watchdog pings are sent when the unit sets WatchdogSec.

  // Whether auth applies: mode required; or mode auto with any key configured or a
  // listener beyond loopback (auto answers keyless only on loopback with no keys).
  bool auth_required() const;
};

// Defaults: listen 127.0.0.1:8080, data dir $STATE_DIRECTORY or ./reamd-data.
Config default_config();
// Parses YAML text over `base`; `path` names the file in errors.
Result<Config> parse_config(const std::string& yaml_text, const std::string& path, Config base);
// Reads and parses a file over `base`.
Result<Config> load_config_file(const std::string& path, Config base);
// Checks cross-field rules (keys present when auth is required, TLS pairs, ranges).
Status validate_config(const Config& config);
// "HOST:PORT" or "[V6]:PORT" -> host, port.
Status parse_listen(const std::string& text, std::string* host, uint16_t* port);

}  // namespace ream::config
