// Server::Impl: the state shared by the listener and its sessions. Internal to
// daemon/src/http (server.cpp and session.h).
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "http/limits.h"
#include "http/server.h"

namespace ream::http {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

inline std::chrono::steady_clock::duration seconds_d(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s));
}

class Server::Impl {
 public:
  Impl(ServerOptions options, const Router& router, Authenticator auth,
       metrics::Registry* registry);

  Status start();
  void stop_accepting();
  void stop();

  // Runs routing, auth and the handler; records metrics. Called on the handler pool, or on
  // the I/O thread for a cheap route. A streamed response takes a stream slot (or becomes
  // a 503 naming http.max_streams).
  Response handle(Request& request);
  // Whether the request's route is cheap (runs on the I/O thread).
  bool is_cheap(const Request& request) const;
  // The 503 of a reached limit: code overloaded, the limit's setting under error.limit,
  // Retry-After.
  Response limit_error(const std::string& limit, const std::string& message) const;
  // Counts a connection refused (or answered only for health) over `limit`.
  void count_rejected(const std::string& limit) {
    if (rejected_total_) rejected_total_->add({limit});
  }
  void count_expired() {
    if (streams_expired_) streams_expired_->add({});
  }
  std::string next_request_id();
  // Logs one finished exchange.
  static void log_request(const Request& request, unsigned status, double seconds,
                          const std::string& route);

  ServerOptions opt;
  const Router& router;
  Authenticator auth;
  net::io_context ioc;
  std::optional<ssl::context> tls;
  net::io_context handlers;  // the handler threads' (handler_threads_ run it)
  std::atomic<int> connections{0};
  Limits limits;

 private:
  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;          // I/O: run ioc
  std::vector<std::thread> handler_threads_;  // run handlers, opt.worker_nice lower
  std::optional<net::executor_work_guard<net::io_context::executor_type>> handlers_work_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> stopped_{false};
  metrics::Family* requests_total_ = nullptr;
  metrics::Family* request_seconds_ = nullptr;
  metrics::Family* rejected_total_ = nullptr;
  metrics::Family* streams_refused_ = nullptr;
  metrics::Family* streams_expired_ = nullptr;

 public:
  uint16_t bound_port = 0;
};

}  // namespace ream::http
