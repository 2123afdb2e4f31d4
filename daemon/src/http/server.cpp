// Server: listener, request handling (routing, auth, metrics, access log) and the
// thread pools. The per-connection sessions are in session.h.
#include "http/server.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "http/errors.h"
#include "http/session.h"
#include "ream/common/thread.h"

namespace ream::http {

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return false;
  if (addr.is_v4()) return (addr.to_v4().to_uint() >> 24) == 127;
  return addr.to_v6().is_loopback() ||
         (addr.to_v6().is_v4_mapped() &&
          (net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6()).to_uint() >> 24) == 127);
}

namespace {

LimitOptions limit_options(const ServerOptions& o) {
  LimitOptions l;
  l.max_connections = o.max_connections;
  l.max_per_client = o.max_connections_per_client;
  l.probe_connections = o.probe_connections;
  l.max_streams = o.max_streams;
  return l;
}

// A streamed response holding its stream slot until the session lets go of it.
class SlottedStream : public StreamSource {
 public:
  SlottedStream(std::shared_ptr<StreamSource> inner, std::unique_ptr<Limits::StreamSlot> slot)
      : inner_(std::move(inner)), slot_(std::move(slot)) {}
  Chunk poll() override { return inner_->poll(); }
  void set_waker(std::function<void()> waker) override { inner_->set_waker(std::move(waker)); }
  void close() override { inner_->close(); }
  std::string keepalive() const override { return inner_->keepalive(); }
  std::string expiry_notice(const std::string& message) const override {
    return inner_->expiry_notice(message);
  }

 private:
  std::shared_ptr<StreamSource> inner_;
  std::unique_ptr<Limits::StreamSlot> slot_;
};

// The peer's address, an IPv4-mapped IPv6 address as IPv4 (one client, one key).
std::string client_address(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6()).to_string();
  }
  return addr.to_string();
}

}  // namespace

Server::Impl::Impl(ServerOptions options, const Router& r, Authenticator a,
                   metrics::Registry* registry)
    : opt(std::move(options)),
      router(r),
      auth(std::move(a)),
      ioc(std::max(1, opt.io_threads)),
      handlers(std::max(1, opt.handler_threads)),  // the concurrency hint: so many run it
      limits(limit_options(opt)),
      acceptor_(net::make_strand(ioc)) {
  if (registry != nullptr) {
    requests_total_ = &registry->counter("reamd_http_requests_total",
                                         "HTTP requests by route, method and status code.",
                                         {"route", "method", "code"});
    request_seconds_ = &registry->histogram("reamd_http_request_duration_seconds",
                                            "Time to produce a response (streams: until the "
                                            "head), by route.",
                                            {"route"}, metrics::latency_buckets());
    rejected_total_ = &registry->counter(
        "reamd_http_connections_rejected_total",
        "Connections refused, or answered only for /healthz and /readyz, by the limit reached "
        "(http.max_connections, http.max_connections_per_client, http.probe_connections).",
        {"limit"});
    streams_refused_ = &registry->counter("reamd_http_streams_refused_total",
                                          "Streamed responses refused over http.max_streams.");
    streams_expired_ = &registry->counter(
        "reamd_http_streams_expired_total", "Streams ended at http.max_stream_lifetime_s.");
    auto* open = &registry->gauge("reamd_http_connections", "Open HTTP connections.");
    auto* streams = &registry->gauge("reamd_http_streams", "Streamed responses open.");
    registry->on_scrape([this, open, streams]() {
      open->set({}, connections.load());
      streams->set({}, limits.streams());
    });
  }
  // The handler threads wait for work from the start, as a thread pool's would; they run
  // opt.worker_nice below the I/O threads.
  handlers_work_.emplace(handlers.get_executor());
  for (int i = 0; i < std::max(1, opt.handler_threads); ++i) {
    handler_threads_.emplace_back([this]() {
      set_thread_name("reamd-handler");
      if (!lower_thread_priority(opt.worker_nice)) {
        spdlog::warn("http: could not lower a handler thread's priority (http.worker_nice {})", opt.worker_nice);
      }
      handlers.run();
    });
  }
}

Status Server::Impl::start() {
  if (!opt.tls_cert_file.empty() || !opt.tls_key_file.empty()) {
    if (opt.tls_cert_file.empty() || opt.tls_key_file.empty()) {
      return invalid_argument("tls: both cert_file and key_file are needed");
    }
    tls.emplace(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                     ssl::context::no_tlsv1_1);
    beast::error_code ec;
    tls->use_certificate_chain_file(opt.tls_cert_file, ec);
    if (ec) return invalid_argument("tls: " + opt.tls_cert_file + ": " + ec.message());
    tls->use_private_key_file(opt.tls_key_file, ssl::context::pem, ec);
    if (ec) return invalid_argument("tls: " + opt.tls_key_file + ": " + ec.message());
  }
  beast::error_code ec;
  std::string host = opt.host == "localhost" ? "127.0.0.1" : opt.host;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return invalid_argument("listen: '" + opt.host + "' is not an IP address");
  tcp::endpoint ep(addr, opt.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return unavailable("listen on " + opt.host + ":" + std::to_string(opt.port) + ": " +
                       ec.message());
  }
  bound_port = acceptor_.local_endpoint().port();
  do_accept();
  for (int i = 0; i < std::max(1, opt.io_threads); ++i) {
    threads_.emplace_back([this]() {
      set_thread_name("reamd-io");
      ioc.run();
    });
  }
  return {};
}

void Server::Impl::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc),
                         beast::bind_front_handler(&Impl::on_accept, this));
}

void Server::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (!ec) {
    socket.set_option(tcp::no_delay(true), ec);
    const std::string client = client_address(socket);
    auto admit = [this, &client](auto session) {
      std::weak_ptr weak = session;
      auto exec = session->stream().get_executor();
      session->run(limits.admit(client, [weak, exec]() {
        net::post(exec, [weak]() {
          if (auto s = weak.lock()) s->evict();
        });
      }));
    };
    if (tls) {
      admit(std::make_shared<TlsSession>(*this, std::move(socket), *tls));
    } else {
      admit(std::make_shared<PlainSession>(*this, std::move(socket)));
    }
  } else {
    spdlog::warn("http: accept failed: {}", ec.message());
  }
  do_accept();
}

void Server::Impl::stop_accepting() {
  net::post(acceptor_.get_executor(), [this]() {
    beast::error_code ec;
    acceptor_.close(ec);
  });
}

void Server::Impl::stop() {
  if (stopped_.exchange(true)) return;
  stop_accepting();
  // Every handler posted so far still runs (and posts its response to ioc); then the
  // handler threads end.
  handlers_work_.reset();
  for (auto& t : handler_threads_) {
    if (t.joinable()) t.join();
  }
  ioc.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::string Server::Impl::next_request_id() {
  char buf[24];
  std::snprintf(buf, sizeof buf, "req-%06llu",
                static_cast<unsigned long long>(next_id_.fetch_add(1)));
  return buf;
}

void Server::Impl::log_request(const Request& req, unsigned status, double seconds,
                               const std::string& route) {
  bool quiet = route == "healthz" || route == "readyz" || route == "metrics";
  auto level = quiet ? spdlog::level::debug
               : status >= 500 ? spdlog::level::warn
                               : spdlog::level::info;
  spdlog::log(level, "http {} {} {} {:.1f}ms request_id={} remote={}{}", req.method,
              req.target.empty() ? "-" : req.target, status, seconds * 1e3, req.request_id,
              req.remote, req.principal.empty() ? "" : " key=" + req.principal);
}

Response Server::Impl::handle(Request& req) {
  auto t0 = std::chrono::steady_clock::now();
  std::string route_name = "unmatched";
  // Captures no Impl: a deferred response may be recorded while the server is going away
  // (the metrics registry outlives the server).
  auto record = [total = requests_total_, seconds = request_seconds_, t0](
                    const Request& rq, const std::string& route, unsigned status) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (total) {
      total->add({route, rq.method, std::to_string(status)});
      seconds->observe({route}, secs);
    }
    log_request(rq, status, secs, route);
  };
  auto finish = [&](Response r) {
    if (r.deferred) {  // status and time are known when it completes
      Request info;
      info.method = req.method;
      info.target = req.target;
      info.remote = req.remote;
      info.request_id = req.request_id;
      info.principal = req.principal;
      r.deferred->on_complete([record, info = std::move(info), route_name](unsigned status) {
        record(info, route_name, status);
      });
      return r;
    }
    record(req, route_name, r.status);
    return r;
  };
  size_t q = req.target.find('?');
  if (!url_decode(std::string_view(req.target).substr(0, q), false, &req.path)) {
    return finish(json_error(400, "invalid_request", "malformed percent-encoding in the path"));
  }
  if (q != std::string::npos) req.query = parse_query(std::string_view(req.target).substr(q + 1));
  Match m = router.match(req);
  if (m.route == nullptr) {
    if (!m.allow.empty()) {
      Response r = json_error(405, "method_not_allowed",
                              req.method + " is not allowed on " + req.path + " (allowed: " +
                                  m.allow + ")");
      r.set_header("Allow", m.allow);
      return finish(std::move(r));
    }
    return finish(json_error(404, "not_found", "no route for " + req.path));
  }
  route_name = m.route->name;
  auto d = auth.check(req.header("authorization"), m.route->access);
  req.principal = d.principal;
  switch (d.outcome) {
    case Authenticator::Outcome::kAllowed: break;
    case Authenticator::Outcome::kMissing:
    case Authenticator::Outcome::kInvalid: {
      Response r = json_error(401, "unauthenticated",
                              d.outcome == Authenticator::Outcome::kMissing
                                  ? "this route needs an API key: Authorization: Bearer KEY"
                                  : "the API key is not valid");
      r.set_header("WWW-Authenticate", "Bearer realm=\"reamd\"");
      return finish(std::move(r));
    }
    case Authenticator::Outcome::kForbidden:
      return finish(json_error(403, "forbidden",
                               "the API key '" + d.principal + "' may not use " + req.method +
                                   " " + m.route->pattern));
  }
  try {
    Response r = m.route->handler(req);
    if (r.stream) {
      std::unique_ptr<Limits::StreamSlot> slot = limits.try_stream();
      if (!slot) {
        r.stream->close();  // cancels what was started for it
        if (streams_refused_) streams_refused_->add({});
        return finish(limit_error("http.max_streams",
                                  std::to_string(limits.streams()) +
                                      " streams are open (http.max_streams = " +
                                      std::to_string(opt.max_streams) + ")"));
      }
      r.stream = std::make_shared<SlottedStream>(std::move(r.stream), std::move(slot));
    }
    return finish(std::move(r));
  } catch (const std::exception& e) {
    spdlog::error("http: handler {} threw: {} request_id={}", route_name, e.what(),
                  req.request_id);
    return finish(json_error(500, "internal", "internal error; see the server log for " +
                                                  req.request_id));
  }
}

bool Server::Impl::is_cheap(const Request& request) const {
  Request probe;
  probe.method = request.method;
  size_t q = request.target.find('?');
  if (!url_decode(std::string_view(request.target).substr(0, q), false, &probe.path)) return false;
  Match m = router.match(probe);
  return m.route != nullptr && m.route->cheap;
}

Response Server::Impl::limit_error(const std::string& limit, const std::string& message) const {
  const int retry = std::max(1, static_cast<int>(opt.retry_after_s + 0.5));
  nlohmann::json e = error_object(503, "overloaded", message + "; retry in " +
                                                         std::to_string(retry) + " s");
  e["limit"] = limit;
  Response r = json_response(503, {{"error", e}});
  r.set_header("Retry-After", std::to_string(retry));
  return r;
}

Server::Server(ServerOptions options, const Router& router, Authenticator auth,
               metrics::Registry* registry)
    : impl_(std::make_unique<Impl>(std::move(options), router, std::move(auth), registry)) {}

Server::~Server() { stop(); }
Status Server::start() { return impl_->start(); }
uint16_t Server::port() const { return impl_->bound_port; }
void Server::stop_accepting() { impl_->stop_accepting(); }
void Server::stop() { impl_->stop(); }
int Server::open_connections() const { return impl_->connections.load(); }

}  // namespace ream::http
