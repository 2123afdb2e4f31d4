// Test harness: reamd as a child process, and a small synchronous HTTP client.
#include "daemon_harness.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace ream::testing {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
namespace fs = std::filesystem;

HttpResult http_request(uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        const std::string& host) {
  HttpResult out;
  try {
    net::io_context ioc;
    tcp::socket sock(ioc);
    sock.connect({net::ip::make_address(host), port});
    timeval tv{60, 0};
    setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, host);
    req.set(bhttp::field::connection, "close");
    bool has_ct = false;
    for (const auto& [k, v] : headers) {
      req.set(k, v);
      has_ct = has_ct || beast::iequals(k, "content-type");
    }
    if (!body.empty() && !has_ct) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    if (!body.empty() || method == "POST") req.prepare_payload();
    bhttp::write(sock, req);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(boost::none);
    bhttp::read(sock, buf, p);
    auto& res = p.get();
    out.status = res.result_int();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.body = res.body();
  } catch (const std::exception& e) {
    out.status = 0;
    out.body = e.what();
  }
  return out;
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = (fs::temp_directory_path() /
           ("reamd-test-" + std::to_string(getpid()) + "-" + std::to_string(rd())))
              .string();
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

bool make_loopback_certificate(const std::string& dir) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                          "-addext subjectAltName=IP:127.0.0.1 -keyout " + dir + "/key.pem -out " + dir +
                          "/cert.pem >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

const std::string& tiny_model_dir() {
  static TempDir dir;
  static std::string model = [] {
    std::string out = dir.path() + "/tiny";
    std::string cmd = std::string(REAM_BINARY_DIR) + "/cli/ream init-model --shape tiny --out " +
                      out + " > /dev/null";
    if (std::system(cmd.c_str()) != 0) return std::string();
    return out;
  }();
  return model;
}

uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

std::string reamd_path() {
  const char* env = std::getenv("REAM_TEST_REAMD");
  return env && *env ? env : std::string(REAM_BINARY_DIR) + "/daemon/reamd";
}

Daemon::Daemon(std::string data_dir, std::string config_yaml)
    : data_dir_(std::move(data_dir)), config_yaml_(std::move(config_yaml)) {
  fs::create_directories(data_dir_);
  config_path_ = data_dir_ + "/reamd-test.yaml";
  log_path_ = data_dir_ + "/reamd.log";
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
}

bool Daemon::start(bool wait_ready, double timeout_s) {
  if (port_ == 0) port_ = free_port();
  {
    std::ofstream cfg(config_path_);
    cfg << "data_dir: " << data_dir_ << "\n"
        << "engine:\n  model: " << tiny_model_dir() << "\n  threads: " << engine_threads_ << "\n";
    for (const std::string& line : engine_settings_) cfg << "  " << line << "\n";
    cfg << "workflows: [" << REAM_SOURCE_DIR << "/workflows";
    for (const std::string& w : workflow_dirs_) cfg << ", " << w;
    cfg << "]\n"
        << "plugins: [" << REAM_BINARY_DIR << "/plugins";
    for (const std::string& p : plugin_dirs_) cfg << ", " << p;
    cfg << "]\n" << config_yaml_ << "\n";
  }
  pid_ = fork();
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    if (realtime_) {
      sched_param rr{};
      rr.sched_priority = 1;
      if (sched_setscheduler(0, SCHED_RR, &rr) != 0) _exit(126);
    }
    std::string listen = listen_host_ + ":" + std::to_string(port_);
    const std::string bin = reamd_path();
    std::vector<std::string> args = {"reamd", "--config", config_path_, "--listen", listen};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    auto r = http_request(port_, "GET", wait_ready ? "/readyz" : "/healthz");
    if (r.status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void Daemon::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int Daemon::wait_exit(double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1000;
}

void Daemon::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  waitpid(pid_, &st, 0);
  pid_ = -1;
}

std::string Daemon::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

HttpResult Daemon::get(const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers) const {
  return http_request(port_, "GET", target, "", headers);
}

HttpResult Daemon::post(const std::string& target, const nlohmann::json& body,
                        const std::vector<std::pair<std::string, std::string>>& headers) const {
  return http_request(port_, "POST", target, body.dump(), headers);
}

nlohmann::json wait_job(const Daemon& d, int64_t id, double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = d.get("/v1/jobs/" + std::to_string(id));
    auto j = r.json();
    if (r.status == 200 && j.is_object()) {
      std::string s = j.value("status", "");
      if (s == "succeeded" || s == "failed" || s == "cancelled") return j;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return nullptr;
}

}  // namespace ream::testing
