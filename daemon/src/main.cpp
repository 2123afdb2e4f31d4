// reamd: the ream daemon. Parses flags and the config, sets up logging, opens the
// App, loads the engine, and runs the control loop: signals (SIGHUP reload,
// SIGTERM/SIGINT drain and exit 0), schedules, and systemd notifications
// (READY/STATUS/STOPPING/WATCHDOG through sd_notify).
//
// Signals are blocked in every thread and taken synchronously here with
// sigtimedwait, so no handler ever runs in async-signal context.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "api/app.h"
#include "config/config.h"
#include "config/logging.h"
#include "http/auth.h"
#include "ream/common/sha256.h"
#include "ream/common/thread.h"
#include "store/migrate_store.h"
#include "store/store.h"

namespace {

using ream::config::Config;

const char* kUsage =
    "usage: reamd [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--store URL]\n"
    "             [--model DIR|REPO]\n"
    "             [--device cpu|cuda] [--workflows DIR]... [--plugins DIR]...\n"
    "             [--allowed-root DIR]... [--log-format text|json] [--log-level LEVEL]\n"
    "             [--check-config]\n"
    "       reamd hash-key        (reads an API key on stdin, prints its sha256 for auth.keys)\n"
    "       reamd migrate-store --from sqlite:PATH --to postgresql://...\n"
    "                             (copies a stopped SQLite install into an empty PostgreSQL database)\n"
    "       reamd --version\n"
    "  --allowed-root DIR  a folder whose files jobs may name by path (repeatable; replaces\n"
    "                      documents.allowed_roots of the config; uploads are always allowed)\n"
    "Flags override the config file (docs/operations.md).\n";

// Whether each repeatable folder flag was seen: its first use replaces the config's list.
struct ListsSeen {
  bool workflows = false, plugins = false, roots = false;
};

// Appends `v` to `list`, first clearing what the config file put there.
void add_to_list(const std::string& v, bool* seen, std::vector<std::string>* list) {
  if (!*seen) list->clear();
  *seen = true;
  list->push_back(v);
}

struct Flags {
  std::string config;
  bool check_only = false;
  std::vector<std::pair<std::string, std::string>> overrides;
};

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "reamd: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

// Applies one override flag to the config.
ream::Status apply_flag(const std::string& name, const std::string& v, Config* c, ListsSeen* seen) {
  if (name == "--listen") return ream::config::parse_listen(v, &c->http.host, &c->http.port);
  if (name == "--data-dir") c->data_dir = v;
  else if (name == "--store") c->store = v;
  else if (name == "--model") c->engine.model = v;
  else if (name == "--device") c->engine.device = v;
  else if (name == "--log-format") c->log_format = v;
  else if (name == "--log-level") c->log_level = v;
  else if (name == "--workflows") add_to_list(v, &seen->workflows, &c->workflow_dirs);
  else if (name == "--plugins") add_to_list(v, &seen->plugins, &c->plugin_dirs);
  else if (name == "--allowed-root") add_to_list(v, &seen->roots, &c->allowed_roots);
  return {};
}

int hash_key() {
  std::string key;
  std::getline(std::cin, key);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.size() < 16) {
    std::fprintf(stderr, "reamd: an API key should be at least 16 characters (try: openssl rand -hex 32)\n");
    return 2;
  }
  std::printf("sha256:%s\n", ream::sha256_hex(key).c_str());
  return 0;
}

// reamd migrate-store --from sqlite:PATH --to postgresql://...: every row, ids kept.
int migrate_store(const std::vector<std::string>& args) {
  std::string from, to;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string* target = a.rfind("--from", 0) == 0 ? &from : a.rfind("--to", 0) == 0 ? &to : nullptr;
    if (target == nullptr) return usage_error("migrate-store: unknown argument '" + a + "'");
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      *target = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      *target = args[++i];
    } else {
      return usage_error("migrate-store: " + a + " needs a value");
    }
  }
  if (from.rfind("sqlite:", 0) != 0 || from.size() == 7) {
    return usage_error("migrate-store: --from must be sqlite:PATH (got '" + from + "')");
  }
  if (!ream::store::names_postgresql(to)) {
    return usage_error("migrate-store: --to must be a postgresql:// URL (got '" +
                       ream::store::describe_store(to) + "')");
  }
  auto counts = ream::store::copy_sqlite_to_postgresql(from.substr(7), to);
  if (!counts.ok()) {
    std::fprintf(stderr, "reamd: migrate-store: %s\n", counts.status().message().c_str());
    return 1;
  }
  for (const auto& [table, rows] : *counts) std::printf("%-15s %lld rows\n", table.c_str(), static_cast<long long>(rows));
  std::printf("copied %s into %s; point reamd at it with store: (docs/operations.md)\n", from.c_str(),
              ream::store::describe_store(to).c_str());
  return 0;
}

ream::Result<Config> load(const Flags& f) {
  Config c = ream::config::default_config();
  std::string path = f.config;
  if (path.empty()) {
    for (const char* p : {"./reamd.yaml", "/etc/ream/reamd.yaml"}) {
      if (std::filesystem::exists(p)) {
        path = p;
        break;
      }
    }
  }
  if (!path.empty()) {
    auto loaded = ream::config::load_config_file(path, c);
    if (!loaded.ok()) return loaded.status();
    c = std::move(loaded).value();
  }
  ListsSeen seen;
  for (const auto& [name, v] : f.overrides) {
    REAM_RETURN_IF_ERROR(apply_flag(name, v, &c, &seen));
  }
  REAM_RETURN_IF_ERROR(ream::config::validate_config(c));
  return c;
}

void notify(const std::string& state) { sd_notify(0, state.c_str()); }

// The control loop: returns the exit status.
int serve(ream::api::App& app, sigset_t* signals) {
  uint64_t watchdog_usec = 0;
  bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  auto ping_every = std::chrono::microseconds(watchdog ? watchdog_usec / 2 : 1000000);
  auto next_ping = std::chrono::steady_clock::now();
  auto next_status = next_ping;
  auto next_tick = next_ping;
  const auto tick_every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(app.config().schedule_tick_s));
  std::atomic<int> engine_state{0};  // 0 loading, 1 ready, -1 failed
  std::string engine_error;
  // A model load cannot be interrupted: SIGTERM during it leaves by std::_Exit, which
  // runs no destructor, so the loader is joined on every other way out (its state set,
  // it has nothing left to do but return).
  std::thread loader([&] {
    ream::set_thread_name("reamd-loader");
    (void)ream::leave_realtime();  // and so the engine loop it starts (thread.h)
    ream::Status st = app.load_engine();
    if (!st.ok()) engine_error = st.to_string();
    engine_state = st.ok() ? 1 : -1;
  });
  auto loaded = [&] {
    if (engine_state.load() == 0) return false;
    if (loader.joinable()) loader.join();
    return true;
  };
  bool announced = false;
  for (;;) {
    timespec ts{0, 200 * 1000 * 1000};
    int sig = sigtimedwait(signals, nullptr, &ts);
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading workflows and plugins");
      notify("RELOADING=1");
      app.reload();
      notify("READY=1");
    } else if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: draining (new work gets 503; running jobs get {:.0f}s)",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT", app.config().drain_timeout_s);
      notify("STOPPING=1\nSTATUS=draining");
      bool clean = app.draining() ? true : app.drain();
      spdlog::info("reamd stopped{}", clean ? "" : " (unfinished jobs resume at the next start)");
      spdlog::default_logger()->flush();
      if (!clean || !loaded()) std::_Exit(0);  // threads still busy: leave now
      app.stop();
      return 0;
    }
    if (loaded() && engine_state.load() == -1) {
      spdlog::critical("engine failed to load: {}", engine_error);
      notify("STATUS=engine failed to load");
      spdlog::default_logger()->flush();
      std::_Exit(1);
    }
    if (engine_state.load() == 1 && !announced) {
      announced = true;
      notify("READY=1\nSTATUS=" + app.status_line());
      spdlog::info("reamd ready on port {}", app.port());
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= next_tick) {
      app.tick();
      next_tick = now + tick_every;
    }
    if (watchdog && now >= next_ping) {
      notify("WATCHDOG=1");
      next_ping = now + ping_every;
    }
    if (now >= next_status) {
      notify("STATUS=" + app.status_line());
      next_status = now + std::chrono::seconds(5);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "hash-key") return hash_key();
  if (!args.empty() && args[0] == "migrate-store") return migrate_store(args);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version") {
      std::puts("reamd 0.1.0");
      return 0;
    }
    if (a == "--check-config") {
      flags.check_only = true;
      continue;
    }
    static const char* kValued[] = {"--config", "--listen", "--data-dir", "--store", "--model",
                                    "--device", "--workflows", "--plugins", "--allowed-root",
                                    "--log-format", "--log-level"};
    std::string name = a, value;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    bool known = false;
    for (const char* k : kValued) known = known || name == k;
    if (!known) return usage_error("unknown argument '" + a + "'");
    if (eq == std::string::npos) {
      if (i + 1 >= args.size()) return usage_error(name + " needs a value");
      value = args[++i];
    }
    if (name == "--config") flags.config = value;
    else flags.overrides.emplace_back(name, value);
  }
  auto cfg = load(flags);
  if (!cfg.ok()) {
    std::fprintf(stderr, "reamd: %s\n", cfg.status().message().c_str());
    return 2;
  }
  if (flags.check_only) {
    std::printf("reamd: %s is valid\n", cfg->source.c_str());
    return 0;
  }
  if (auto st = ream::config::setup_logging(cfg->log_format, cfg->log_level); !st.ok()) {
    std::fprintf(stderr, "reamd: %s\n", st.message().c_str());
    return 2;
  }
  // Block the control signals before any thread starts, so all of them inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  spdlog::info("reamd 0.1.0 starting (config: {}, data dir: {})", cfg->source, cfg->data_dir);
  ream::api::App app(std::move(cfg).value());
  if (auto st = app.open(); !st.ok()) {
    spdlog::critical("{}", st.message());
    return 1;
  }
  notify("STATUS=loading the model");
  return serve(app, &signals);
}
