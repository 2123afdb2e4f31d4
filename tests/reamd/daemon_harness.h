// Test harness: starts the real `reamd` (fork/exec) on a free loopback port with a
// config written for the test, and talks to it over HTTP with Boost.Beast's
// synchronous client. The tiny random-weight model is made once per test binary
// with `ream init-model --shape tiny`.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ream::testing {

struct HttpResult {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// One request on a fresh connection. `headers` are extra header lines.
HttpResult http_request(uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = "",
                        const std::vector<std::pair<std::string, std::string>>& headers = {},
                        const std::string& host = "127.0.0.1");

// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The tiny model directory shared by a test binary (made on first use).
const std::string& tiny_model_dir();
// The reamd these tests run: $REAM_TEST_REAMD when set (scripts/sanitize.sh points it
// at the ASan+UBSan build's, so that these release-built tests drive a sanitized
// daemon), else this build's daemon/reamd.
std::string reamd_path();

// A fresh self-signed certificate for 127.0.0.1 (in its subjectAltName) and its key, made
// by openssl's command-line tool in `dir`: dir/cert.pem, dir/key.pem. False if it failed.
bool make_loopback_certificate(const std::string& dir);
uint16_t free_port();

class Daemon {
 public:
  // `config_yaml` is appended to a base config (listen, data_dir, model, dirs).
  explicit Daemon(std::string data_dir, std::string config_yaml = "");
  ~Daemon();

  // Starts reamd and waits until /readyz says ready (or `wait_ready` is false and
  // /healthz answers). Returns false if it did not come up.
  bool start(bool wait_ready = true, double timeout_s = 90);
  // Sends a signal; stop() waits for the exit status.
  void signal(int sig);
  int wait_exit(double timeout_s = 60);  // exit code, or -signal, or -1000 on timeout
  void kill9();

  // The address reamd binds (default 127.0.0.1). Requests always go to 127.0.0.1:port,
  // so a daemon bound to 0.0.0.0 is "listening beyond loopback" while every byte of the
  // test's traffic stays on this machine.
  void set_listen_host(std::string host) { listen_host_ = std::move(host); }
  // A further workflow folder, searched after the shipped workflows/.
  void add_workflow_dir(std::string dir) { workflow_dirs_.push_back(std::move(dir)); }
  // A further plugin folder, searched after the build's plugins/.
  void add_plugin_dir(std::string dir) { plugin_dirs_.push_back(std::move(dir)); }
  // A further `engine:` setting ("kv_block_size: 32"), written into the base config's block.
  void add_engine_setting(std::string line) { engine_settings_.push_back(std::move(line)); }
  // engine.threads (1 unless set: the CPU engine computes on the calling thread alone).
  void set_engine_threads(int threads) { engine_threads_ = threads; }
  // Starts reamd with the real-time policy SCHED_RR 1, as systemd's CPUSchedulingPolicy=rr
  // does (needs CAP_SYS_NICE; start() fails without it).
  void set_realtime() { realtime_ = true; }
  // A further command-line argument, passed after --config and --listen.
  void add_arg(std::string arg) { extra_args_.push_back(std::move(arg)); }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string db_path() const { return data_dir_ + "/ream.db"; }
  std::string log() const;  // stderr so far

  HttpResult get(const std::string& target,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) const;
  HttpResult post(const std::string& target, const nlohmann::json& body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) const;

 private:
  std::string data_dir_;
  std::string config_yaml_;
  std::vector<std::string> engine_settings_;
  int engine_threads_ = 1;
  bool realtime_ = false;
  std::string config_path_;
  std::string log_path_;
  uint16_t port_ = 0;
  std::string listen_host_ = "127.0.0.1";
  std::vector<std::string> workflow_dirs_;
  std::vector<std::string> plugin_dirs_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

// Polls GET /v1/jobs/{id} until the job is final; returns its JSON (null on timeout).
nlohmann::json wait_job(const Daemon& d, int64_t id, double timeout_s = 120);

}  // namespace ream::testing
