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

  // Runs routing, auth and the handler; records metrics. Called on the handler pool.
  Response handle(Request& request);
  std::string next_request_id();
  // Logs one finished exchange.
  static void log_request(const Request& request, unsigned status, double seconds,
                          const std::string& route);

  ServerOptions opt;
  const Router& router;
  Authenticator auth;
  net::io_context ioc;
  std::optional<ssl::context> tls;
  net::thread_pool handlers;
  std::atomic<int> connections{0};

 private:
  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> stopped_{false};
  metrics::Family* requests_total_ = nullptr;
  metrics::Family* request_seconds_ = nullptr;
  metrics::Family* rejected_total_ = nullptr;

 public:
  uint16_t bound_port = 0;
  void count_rejected() {
    if (rejected_total_) rejected_total_->add({});
  }
};

}  // namespace ream::http
