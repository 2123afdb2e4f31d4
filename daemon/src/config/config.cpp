// Config: embedded defaults and the YAML reader (yaml-cpp; its exceptions stay here).
#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <utility>

#include "store/store.h"
#include "upstream/http_client.h"

namespace ream::config {

namespace {

// A config error with the position yaml-cpp recorded for `node`.
struct ConfigError {
  std::string message;
};

std::string where(const std::string& path, const YAML::Node& node, const std::string& key) {
  const YAML::Mark m = node.Mark();
  return path + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + key;
}

template <class T>
T as(const std::string& path, const YAML::Node& node, const std::string& key, const char* what) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw ConfigError{where(path, node, key) + ": expected " + what};
  }
}

using Setter = std::function<void(const YAML::Node&, const std::string& key)>;

void walk(const std::string& path, const YAML::Node& map, const std::string& prefix,
          const std::map<std::string, Setter>& fields) {
  if (!map.IsMap()) throw ConfigError{where(path, map, prefix) + ": expected a mapping"};
  for (const auto& kv : map) {
    std::string k = kv.first.as<std::string>();
    std::string full = prefix.empty() ? k : prefix + "." + k;
    auto it = fields.find(k);
    if (it == fields.end()) {
      std::string known;
      for (const auto& [name, _] : fields) known += (known.empty() ? "" : ", ") + name;
      throw ConfigError{where(path, kv.first, full) + ": unknown key (expected one of: " + known +
                        ")"};
    }
    it->second(kv.second, full);
  }
}

std::vector<std::string> string_list(const std::string& path, const YAML::Node& n,
                                     const std::string& key) {
  if (n.IsScalar()) return {n.as<std::string>()};
  if (!n.IsSequence()) throw ConfigError{where(path, n, key) + ": expected a list of strings"};
  std::vector<std::string> out;
  for (const auto& e : n) out.push_back(as<std::string>(path, e, key, "a string"));
  return out;
}

void parse_keys(const std::string& path, const YAML::Node& n, Config* c) {
  if (!n.IsSequence()) throw ConfigError{where(path, n, "auth.keys") + ": expected a list"};
  c->api_keys.clear();
  for (const auto& e : n) {
    http::ApiKey key;
    std::string digest, role = "admin";
    walk(path, e, "auth.keys[]",
         {{"name", [&](auto& v, auto& k) { key.name = as<std::string>(path, v, k, "a string"); }},
          {"sha256", [&](auto& v, auto& k) { digest = as<std::string>(path, v, k, "a string"); }},
          {"role", [&](auto& v, auto& k) { role = as<std::string>(path, v, k, "a string"); }}});
    auto d = http::parse_key_digest(digest);
    if (!d.ok()) throw ConfigError{where(path, e, "auth.keys[].sha256") + ": " + d.status().message()};
    auto r = http::parse_role(role);
    if (!r.ok()) throw ConfigError{where(path, e, "auth.keys[].role") + ": " + r.status().message()};
    key.sha256 = d.value();
    key.role = r.value();
    if (key.name.empty()) key.name = "key-" + std::to_string(c->api_keys.size() + 1);
    c->api_keys.push_back(key);
  }
}

#define REAM_FIELD(name, target, type, what) \
  {name, [&](auto& v, auto& k) { target = as<type>(path, v, k, what); }}

// An upstream's API key: from the environment variable or the file it names (never inline,
// so a config file can be shared without its secrets).
std::string read_secret(const std::string& path, const YAML::Node& n, const std::string& key, bool from_env) {
  std::string name = as<std::string>(path, n, key, from_env ? "an environment variable name" : "a file");
  if (from_env) {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') throw ConfigError{where(path, n, key) + ": environment variable " + name + " is not set"};
    return v;
  }
  std::ifstream in(name);
  if (!in) throw ConfigError{where(path, n, key) + ": cannot read " + name};
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (text.empty()) throw ConfigError{where(path, n, key) + ": " + name + " is empty"};
  return text;
}

void parse_upstreams(const std::string& path, const YAML::Node& n, Config* c) {
  if (!n.IsSequence()) throw ConfigError{where(path, n, "upstreams") + ": expected a list"};
  c->upstreams.clear();
  for (const auto& e : n) {
    upstream::UpstreamSpec u;
    walk(path, e, "upstreams[]",
         {REAM_FIELD("name", u.name, std::string, "a string"),
          REAM_FIELD("url", u.url, std::string, "http://HOST:PORT or https://HOST:PORT"),
          REAM_FIELD("ca_file", u.ca_file, std::string, "a PEM file of CA certificates"),
          {"api_key_env", [&](auto& v, auto& k) { u.api_key = read_secret(path, v, k, true); }},
          {"api_key_file", [&](auto& v, auto& k) { u.api_key = read_secret(path, v, k, false); }},
          REAM_FIELD("model", u.model, std::string, "a model name"),
          REAM_FIELD("max_concurrent", u.max_concurrent, int, "an integer"),
          REAM_FIELD("connect_timeout_s", u.connect_timeout_s, double, "seconds"),
          REAM_FIELD("timeout_s", u.timeout_s, double, "seconds"),
          REAM_FIELD("health_path", u.health_path, std::string, "a path such as /v1/models"),
          REAM_FIELD("health_interval_s", u.health_interval_s, double, "seconds")});
    if (u.url.empty()) throw ConfigError{where(path, e, "upstreams[].url") + ": missing"};
    upstream::Endpoint endpoint;
    if (std::string err = upstream::parse_endpoint(u.url, &endpoint); !err.empty()) {
      throw ConfigError{where(path, e, "upstreams[].url") + ": " + err};
    }
    if (!u.ca_file.empty()) {
      if (!endpoint.tls) throw ConfigError{where(path, e, "upstreams[].ca_file") + ": only for an https:// url"};
      std::ifstream probe(u.ca_file);
      if (!probe) throw ConfigError{where(path, e, "upstreams[].ca_file") + ": cannot read '" + u.ca_file + "'"};
    }
    if (u.name.empty()) u.name = "upstream-" + std::to_string(c->upstreams.size() + 1);
    c->upstreams.push_back(u);
  }
}

void parse_root(const std::string& path, const YAML::Node& root, Config* c) {
  auto& h = c->http;
  walk(path, root, "",
       {{"listen",
         [&](auto& v, auto& k) {
           Status st = parse_listen(as<std::string>(path, v, k, "HOST:PORT"), &h.host, &h.port);
           if (!st.ok()) throw ConfigError{where(path, v, k) + ": " + st.message()};
         }},
        REAM_FIELD("data_dir", c->data_dir, std::string, "a directory"),
        REAM_FIELD("store", c->store, std::string, "postgresql://... or sqlite:PATH"),
        {"log",
         [&](auto& v, auto&) {
           walk(path, v, "log",
                {REAM_FIELD("format", c->log_format, std::string, "text or json"),
                 REAM_FIELD("level", c->log_level, std::string, "a log level")});
         }},
        {"engine",
         [&](auto& v, auto&) {
           walk(path, v, "engine",
                {REAM_FIELD("model", c->engine.model, std::string, "a directory or repo id"),
                 {"served_model_name",
                  [&](auto& sv, auto& sk) { c->served_model_names = string_list(path, sv, sk); }},
                 REAM_FIELD("device", c->engine.device, std::string, "cpu or cuda"),
                 REAM_FIELD("backend", c->engine_backend, std::string, "local or upstreams"),
                 REAM_FIELD("threads", c->engine.num_threads, int, "an integer"),
                 REAM_FIELD("kv_block_size", c->engine.kv_block_size, int, "an integer"),
                 REAM_FIELD("kv_cache_bytes", c->engine.kv_cache_bytes, int64_t, "an integer"),
                 REAM_FIELD("gpu_memory_utilization", c->engine.gpu_memory_utilization, double,
                            "a number"),
                 REAM_FIELD("max_num_seqs", c->engine.max_num_seqs, int, "an integer"),
                 REAM_FIELD("max_batch_tokens", c->engine.max_batch_tokens, int, "an integer"),
                 REAM_FIELD("interactive_batch_chunk", c->engine.interactive_batch_chunk, int,
                            "an integer"),
                 REAM_FIELD("max_step_pairs", c->engine.max_step_pairs, int64_t, "an integer"),
                 REAM_FIELD("max_model_len", c->engine.max_model_len, int64_t, "an integer"),
                 REAM_FIELD("enable_prefix_caching", c->engine.enable_prefix_caching, bool,
                            "true or false"),
                 REAM_FIELD("batch_invariant", c->engine.batch_invariant, bool, "true or false")});
         }},
        {"upstreams", [&](auto& v, auto&) { parse_upstreams(path, v, c); }},
        {"upstream_routing",
         [&](auto& v, auto&) {
           walk(path, v, "upstream_routing",
                {REAM_FIELD("affinity_chars", c->upstream_routing.affinity_chars, int64_t, "an integer")});
         }},
        {"workflows", [&](auto& v, auto& k) { c->workflow_dirs = string_list(path, v, k); }},
        {"plugins", [&](auto& v, auto& k) { c->plugin_dirs = string_list(path, v, k); }},
        {"auth",
         [&](auto& v, auto&) {
           walk(path, v, "auth",
                {REAM_FIELD("mode", c->auth_mode, std::string, "auto, required or disabled"),
                 {"keys", [&](auto& kv, auto&) { parse_keys(path, kv, c); }}});
         }},
        {"tls",
         [&](auto& v, auto&) {
           walk(path, v, "tls",
                {REAM_FIELD("cert_file", h.tls_cert_file, std::string, "a file"),
                 REAM_FIELD("key_file", h.tls_key_file, std::string, "a file")});
         }},
        {"http",
         [&](auto& v, auto&) {
           walk(path, v, "http",
                {REAM_FIELD("io_threads", h.io_threads, int, "an integer"),
                 REAM_FIELD("handler_threads", h.handler_threads, int, "an integer"),
                 REAM_FIELD("worker_nice", h.worker_nice, int, "an integer"),
                 REAM_FIELD("max_header_bytes", h.max_header_bytes, size_t, "an integer"),
                 REAM_FIELD("max_body_bytes", h.max_body_bytes, size_t, "an integer"),
                 REAM_FIELD("max_connections", h.max_connections, int, "an integer"),
                 REAM_FIELD("max_connections_per_client", h.max_connections_per_client, int,
                            "an integer"),
                 REAM_FIELD("probe_connections", h.probe_connections, int, "an integer"),
                 REAM_FIELD("max_streams", h.max_streams, int, "an integer"),
                 REAM_FIELD("max_stream_lifetime_s", h.max_stream_lifetime_s, double, "seconds"),
                 REAM_FIELD("retry_after_s", h.retry_after_s, double, "seconds"),
                 REAM_FIELD("header_timeout_s", h.header_timeout_s, double, "seconds"),
                 REAM_FIELD("body_timeout_s", h.body_timeout_s, double, "seconds"),
                 REAM_FIELD("idle_timeout_s", h.idle_timeout_s, double, "seconds"),
                 REAM_FIELD("write_timeout_s", h.write_timeout_s, double, "seconds"),
                 REAM_FIELD("stream_keepalive_s", h.stream_keepalive_s, double, "seconds")});
         }},
        {"documents",
         [&](auto& v, auto&) {
           walk(path, v, "documents",
                {{"allowed_roots",
                  [&](auto& r, auto& k) { c->allowed_roots = string_list(path, r, k); }},
                 REAM_FIELD("max_bytes", c->max_document_bytes, int64_t, "an integer"),
                 REAM_FIELD("dir", c->documents_dir, std::string, "a directory")});
         }},
        {"queue",
         [&](auto& v, auto&) {
           walk(path, v, "queue",
                {REAM_FIELD("runners", c->runners, int, "an integer"),
                 REAM_FIELD("step_parallel", c->step_parallel, int, "an integer"),
                 REAM_FIELD("max_queued", c->max_queued, int, "an integer"),
                 REAM_FIELD("retry_after_s", c->retry_after_s, double, "seconds"),
                 REAM_FIELD("lease_s", c->lease_s, double, "seconds"),
                 REAM_FIELD("heartbeat_s", c->heartbeat_s, double, "seconds"),
                 REAM_FIELD("drain_timeout_s", c->drain_timeout_s, double, "seconds"),
                 REAM_FIELD("poll_s", c->poll_s, double, "seconds")});
         }},
        {"schedules", [&](auto& v, auto&) {
           walk(path, v, "schedules",
                {REAM_FIELD("enabled", c->schedules_enabled, bool, "true or false"),
                 REAM_FIELD("tick_s", c->schedule_tick_s, double, "seconds"),
                 REAM_FIELD("grace_s", c->schedule_grace_s, double, "seconds"),
                 REAM_FIELD("zoneinfo_dir", c->zoneinfo_dir, std::string, "a directory")});
         }}});
}

#undef REAM_FIELD

}  // namespace

bool Config::auth_required() const {
  if (auth_mode == "required") return true;
  if (auth_mode == "disabled") return false;
  // auto: configured keys are always enforced; only a loopback listener with no key
  // configured at all answers without one.
  return !api_keys.empty() || !http::is_loopback_host(http.host);
}

Config default_config() {
  Config c;
  const char* state = std::getenv("STATE_DIRECTORY");  // systemd StateDirectory=
  c.data_dir = state != nullptr && *state != '\0' ? std::string(state) : "./reamd-data";
  return c;
}

Status parse_listen(const std::string& text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return invalid_argument("listen: '" + text + "' is not HOST:PORT");
  }
  std::string h = text.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(p) > 65535) {
    return invalid_argument("listen: '" + p + "' is not a port number");
  }
  *host = h;
  *port = static_cast<uint16_t>(std::stoi(p));
  return {};
}

Result<Config> parse_config(const std::string& text, const std::string& path, Config base) {
  base.source = path;
  try {
    YAML::Node root = YAML::Load(text);
    if (root.IsNull()) return base;  // an empty file: the defaults
    parse_root(path, root, &base);
  } catch (const ConfigError& e) {
    return invalid_argument(e.message);
  } catch (const YAML::ParserException& e) {
    return invalid_argument(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                            std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    return invalid_argument(path + ": " + e.what());
  }
  return base;
}

Result<Config> load_config_file(const std::string& path, Config base) {
  std::ifstream in(path);
  if (!in) return not_found("config file " + path + " cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path, std::move(base));
}

Status validate_config(const Config& c) {
  auto bad = [&](const std::string& m) { return invalid_argument(c.source + ": " + m); };
  if (c.log_format != "text" && c.log_format != "json") return bad("log.format: text or json");
  const EngineOptions& e = c.engine;
  if (e.device != "cpu" && e.device != "cuda") return bad("engine.device: cpu or cuda");
  if (e.num_threads < 0) return bad("engine.threads: 0 (all cores) or more");
  if (e.kv_block_size < 1 || e.kv_block_size > 1024) return bad("engine.kv_block_size: 1..1024");
  if (e.kv_cache_bytes < 0) return bad("engine.kv_cache_bytes: 0 (derive) or more");
  if (!(e.gpu_memory_utilization > 0 && e.gpu_memory_utilization <= 1))
    return bad("engine.gpu_memory_utilization: a number in (0, 1]");
  if (e.max_num_seqs < 1 || e.max_num_seqs > 4096) return bad("engine.max_num_seqs: 1..4096");
  if (e.max_batch_tokens < 1 || e.max_batch_tokens > 1048576) return bad("engine.max_batch_tokens: 1..1048576");
  if (e.interactive_batch_chunk < 0) return bad("engine.interactive_batch_chunk: 0 (no cap) or more");
  if (e.max_step_pairs < 0) return bad("engine.max_step_pairs: 0 (no bound) or more");
  if (e.max_model_len < 0) return bad("engine.max_model_len: 0 (the model's) or more");
  for (const std::string& name : c.served_model_names) {
    if (name.empty() || name.size() > 256 || name.find_first_of(" \t\r\n") != std::string::npos) {
      return bad("engine.served_model_name: each name 1..256 characters without spaces (got '" + name + "')");
    }
  }
  if (c.engine_backend != "local" && c.engine_backend != "upstreams") return bad("engine.backend: local or upstreams");
  if (c.engine_backend == "upstreams" && c.upstreams.empty()) {
    return bad("engine.backend: upstreams needs at least one entry in upstreams:");
  }
  if (c.engine_backend == "local" && !c.upstreams.empty()) {
    return bad("upstreams: are used only with engine.backend: upstreams (serving beside a local engine is not "
               "supported yet)");
  }
  for (size_t i = 0; i < c.upstreams.size(); ++i) {
    const upstream::UpstreamSpec& u = c.upstreams[i];
    const std::string at = "upstreams[" + std::to_string(i) + "] (" + u.name + ")";
    if (u.max_concurrent < 1 || u.max_concurrent > 4096) return bad(at + ".max_concurrent: 1..4096");
    if (!(u.connect_timeout_s > 0 && u.connect_timeout_s <= 600)) return bad(at + ".connect_timeout_s: (0, 600]");
    if (!(u.timeout_s > 0 && u.timeout_s <= 86400)) return bad(at + ".timeout_s: (0, 86400]");
    if (!(u.health_interval_s >= 0.1 && u.health_interval_s <= 3600)) return bad(at + ".health_interval_s: 0.1..3600");
    if (u.health_path.empty() || u.health_path[0] != '/') return bad(at + ".health_path: a path starting with /");
    for (size_t j = 0; j < i; ++j) {
      if (c.upstreams[j].name == u.name) return bad(at + ".name: two upstreams are named '" + u.name + "'");
    }
  }
  if (c.upstream_routing.affinity_chars < 1) return bad("upstream_routing.affinity_chars: at least 1");
  if (c.auth_mode != "auto" && c.auth_mode != "required" && c.auth_mode != "disabled") {
    return bad("auth.mode: auto, required or disabled");
  }
  if (c.auth_required() && c.api_keys.empty()) {
    const std::string why = c.auth_mode == "required" ? "auth.mode: required"
                                                      : "listening on " + c.http.host + ", beyond loopback";
    return bad("auth is required (" + why + ") but auth.keys is empty; add a key (reamd hash-key) or set "
               "auth.mode: disabled behind a trusted proxy");
  }
  if (c.auth_mode == "disabled" && !c.api_keys.empty()) {
    // Keys that are configured are enforced; a config must not suggest otherwise.
    return bad("auth.mode: disabled but auth.keys lists " + std::to_string(c.api_keys.size()) +
               " key(s), which would not be checked; remove the keys or use auth.mode: auto or required");
  }
  if (c.http.tls_cert_file.empty() != c.http.tls_key_file.empty()) {
    return bad("tls: cert_file and key_file go together");
  }
  if (c.runners < 0 || c.runners > 256) return bad("queue.runners: 0..256");
  if (!(c.poll_s >= 0.1 && c.poll_s <= 3600)) return bad("queue.poll_s: 0.1..3600 seconds");
  if (c.max_queued < 1) return bad("queue.max_queued: at least 1");
  if (c.lease_s < 2 || c.heartbeat_s <= 0 || c.heartbeat_s * 2 > c.lease_s) {
    return bad("queue: lease_s must be at least 2 and at least twice heartbeat_s");
  }
  const http::ServerOptions& h = c.http;
  if (h.max_connections < 1) return bad("http.max_connections: at least 1");
  if (h.max_connections_per_client < 0) {
    return bad("http.max_connections_per_client: 0 (no cap) or more");
  }
  if (h.probe_connections < 0 || h.probe_connections > 1024) return bad("http.probe_connections: 0..1024");
  if (h.max_streams < 1) return bad("http.max_streams: at least 1");
  if (h.worker_nice < 0 || h.worker_nice > 19) return bad("http.worker_nice: 0..19");
  for (auto [name, v] : {std::pair{"header_timeout_s", h.header_timeout_s},
                         {"body_timeout_s", h.body_timeout_s},
                         {"idle_timeout_s", h.idle_timeout_s},
                         {"write_timeout_s", h.write_timeout_s},
                         {"max_stream_lifetime_s", h.max_stream_lifetime_s},
                         {"stream_keepalive_s", h.stream_keepalive_s}}) {
    if (!(v > 0 && v <= 604800)) return bad(std::string("http.") + name + ": seconds in (0, 604800]");
  }
  if (!(h.retry_after_s >= 1 && h.retry_after_s <= 86400)) return bad("http.retry_after_s: 1..86400");
  if (c.data_dir.empty()) return bad("data_dir: must be set");
  if (!c.documents_dir.empty() && c.documents_dir.front() != '/') {
    return bad("documents.dir: '" + c.documents_dir + "' must be an absolute path (hosts sharing a store must "
               "name the same folder the same way)");
  }
  if (!c.store.empty() && !store::names_postgresql(c.store) &&
      (c.store.rfind("sqlite:", 0) != 0 || c.store.size() == 7)) {
    return bad("store: '" + store::describe_store(c.store) +
               "' is neither a PostgreSQL URL (postgresql://...) nor sqlite:PATH");
  }
  return {};
}

}  // namespace ream::config
