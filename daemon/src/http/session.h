// HTTP sessions: one per connection, plain TCP or TLS, sharing their logic
// through CRTP (as Beast's advanced "flex" server does). Internal to server.cpp.
//
// The read loop is do_read -> (keep-alive: on_first_bytes, under the idle deadline) ->
// on_header (under the header deadline) -> (100-continue) -> on_body -> dispatch to
// the handler pool (a cheap route: run on the spot) -> respond -> on_write -> do_read.
// A connection admitted past a connection cap (a probe place, http/limits.h) is
// answered once, for /healthz or /readyz only, and closed. Streamed responses go
// write_stream_head -> pump (poll the source, write a chunk or wait on a timer the
// source can cut short; past max_stream_lifetime_s, the source's expiry notice and
// the end) -> last chunk -> do_read. Deferred responses go
// wait_deferred -> poll_deferred (a timer the completion cuts short) -> respond.
// While a stream or a deferred response is being produced the session watches the
// socket (watch_peer): a client that closes or resets the connection has its work
// cancelled at once, without waiting for the next write to fail.
#pragma once

#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "http/errors.h"
#include "http/server_impl.h"

namespace ream::http {

namespace bhttp = boost::beast::http;

template <class Derived>
class Session {
 public:
  explicit Session(Server::Impl& server) : srv_(server) { srv_.connections.fetch_add(1); }
  ~Session() {
    if (stream_) stream_->close();
    if (deferred_) deferred_->close();
    srv_.connections.fetch_sub(1);
  }

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }
  auto& lowest() { return beast::get_lowest_layer(derived().stream()); }

  // Called on the session's strand once the transport is ready.
  void start() {
    beast::error_code ec;
    auto ep = lowest().socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    timer_.emplace(derived().stream().get_executor());
    if (admission_.place == Limits::Place::kRefused) {
      srv_.count_rejected(admission_.limit);
      keep_alive_ = false;
      return respond_logged(srv_.limit_error(admission_.limit, admission_.message));
    }
    do_read();
  }

 public:
  // The connection's probe place was given to a newer one (limits.h): close it. Runs on
  // the session's strand.
  void evict() {
    srv_.count_rejected("http.probe_connections");
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

 protected:
  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(srv_.opt.max_header_bytes));
    parser_->body_limit(body_limit());
    // A keep-alive connection waits idle_timeout_s for the next request's first byte; the
    // head then has header_timeout_s, as the first request's has from the accept.
    if (served_ > 0 && buffer_.size() == 0) {
      lowest().expires_after(seconds_d(srv_.opt.idle_timeout_s));
      derived().stream().async_read_some(
          buffer_.prepare(kFirstRead),
          beast::bind_front_handler(&Session::on_first_bytes, derived().shared_from_this()));
      return;
    }
    read_header();
  }

  void on_first_bytes(beast::error_code ec, std::size_t n) {
    buffer_.commit(n);
    if (ec == net::error::eof || ec == net::ssl::error::stream_truncated) return close_connection();
    if (ec) return;  // timed out (the stream closed the socket), reset or evicted
    read_header();
  }

  void read_header() {
    lowest().expires_after(seconds_d(srv_.opt.header_timeout_s));
    bhttp::async_read_header(derived().stream(), buffer_, *parser_,
                             beast::bind_front_handler(&Session::on_header,
                                                       derived().shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec == bhttp::error::end_of_stream) return close_connection();
    // On a timeout the stream has already closed the socket: nothing can be sent.
    if (ec == beast::error::timeout) return;
    if (ec == bhttp::error::header_limit) {
      return send_error(431, "headers_too_large",
                        "request headers exceed " + std::to_string(srv_.opt.max_header_bytes) +
                            " bytes");
    }
    // Beast already compares a declared Content-Length with the body limit.
    if (ec == bhttp::error::body_limit) return send_too_large();
    if (ec) return on_bad_request(ec);
    auto cl = parser_->content_length();
    if (cl && *cl > body_limit()) return send_too_large();
    const auto& h = parser_->get();
    if (beast::iequals(h[bhttp::field::expect], "100-continue")) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       11);
      lowest().expires_after(seconds_d(srv_.opt.write_timeout_s));
      bhttp::async_write(derived().stream(), *cont,
                         [self = derived().shared_from_this(), cont](beast::error_code e,
                                                                     std::size_t) {
                           if (!e) self->read_body();
                         });
      return;
    }
    read_body();
  }

  void read_body() {
    lowest().expires_after(seconds_d(srv_.opt.body_timeout_s));
    bhttp::async_read(derived().stream(), buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_body, derived().shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec == beast::error::timeout) return;
    if (ec == bhttp::error::body_limit) return send_too_large();
    if (ec) return on_bad_request(ec);
    dispatch();
  }

  void on_bad_request(beast::error_code ec) {
    if (ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted || ec == net::ssl::error::stream_truncated) {
      return;
    }
    send_error(400, "invalid_request", "malformed HTTP request: " + ec.message());
  }

  // A probe place (limits.h) takes small bodies only.
  size_t body_limit() const { return probe_only() ? kProbeBodyBytes : srv_.opt.max_body_bytes; }

  void send_too_large() {
    send_error(413, "payload_too_large",
               "request body exceeds " + std::to_string(body_limit()) + " bytes");
  }

  // Sends an error and closes the connection. When the request's head was read, the
  // answer is to its method: a HEAD request's carries no body, even an error's, or a client
  // would take the body for the next response (fuzz_http_request: a HEAD with a bad chunk).
  void send_error(unsigned status, const std::string& code, const std::string& message) {
    keep_alive_ = false;
    std::string method = "-", target;
    if (parser_ && parser_->is_header_done()) {
      method = std::string(parser_->get().method_string());
      target = std::string(parser_->get().target());
    }
    respond_logged(json_error(status, code, message), method, target);
  }

  // Sends a response made here, not by a handler (logged with no route).
  void respond_logged(Response r, const std::string& method = "-", const std::string& target = "") {
    Request info;
    info.method = method;
    info.target = target;
    info.remote = remote_;
    info.request_id = srv_.next_request_id();
    srv_.log_request(info, r.status, 0, "-");
    respond(std::move(r), info.request_id, method == "HEAD");
  }

  bool probe_only() const { return admission_.place == Limits::Place::kProbe; }

  // The last response is out: the connection's place is free for the next one while this
  // one closes (a lingering close may take a moment).
  void close_connection() {
    admission_.ticket = {};
    derived().do_eof();
  }

  void dispatch() {
    auto breq = parser_->release();
    keep_alive_ = breq.keep_alive() && !probe_only();
    ++served_;
    if (probe_only()) {
      // The head is here: the place is free for the next probe now (limits.h), this
      // connection closes after its one answer.
      admission_.ticket = {};
      const std::string path(breq.target().substr(0, breq.target().find('?')));
      if (path != "/healthz" && path != "/readyz") {
        srv_.count_rejected(admission_.limit);
        return respond_logged(srv_.limit_error(admission_.limit,
                                               admission_.message +
                                                   "; this connection answers only /healthz and /readyz"),
                              std::string(breq.method_string()), std::string(breq.target()));
      }
    }
    auto req = std::make_shared<Request>();
    req->method = std::string(breq.method_string());
    req->target = std::string(breq.target());
    for (const auto& f : breq) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req->headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req->body = std::move(breq.body());
    req->remote = remote_;
    std::string rid = req->header("x-request-id");
    bool rid_ok = !rid.empty() && rid.size() <= 64 &&
                  rid.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_.") == std::string::npos;
    req->request_id = rid_ok ? rid : srv_.next_request_id();
    bool head = req->method == "HEAD";
    if (srv_.is_cheap(*req)) return respond(srv_.handle(*req), req->request_id, head);
    net::post(srv_.handlers, [self = derived().shared_from_this(), req, head]() {
      Response res = self->srv_.handle(*req);
      auto exec = self->derived().stream().get_executor();
      net::post(exec, [self, req, head, res = std::move(res)]() mutable {
        self->respond(std::move(res), req->request_id, head);
      });
    });
  }

  void respond(Response r, const std::string& request_id, bool head) {
    if (r.deferred) return wait_deferred(std::move(r.deferred), request_id, head);
    if (r.stream) return write_stream_head(std::move(r), request_id);
    res_ = {};
    res_.version(11);
    res_.result(r.status);
    res_.set(bhttp::field::server, "reamd");
    res_.set(bhttp::field::content_type, r.content_type);
    res_.set("X-Request-Id", request_id);
    for (auto& [k, v] : r.headers) res_.set(k, v);
    res_.body() = std::move(r.body);
    res_.keep_alive(keep_alive_);
    res_.prepare_payload();
    if (head) res_.body().clear();
    lowest().expires_after(seconds_d(srv_.opt.write_timeout_s));
    bhttp::async_write(derived().stream(), res_,
                       beast::bind_front_handler(&Session::on_write, derived().shared_from_this(),
                                                 !keep_alive_));
  }

  void on_write(bool close, beast::error_code ec, std::size_t) {
    if (ec) return;
    if (close) return close_connection();
    do_read();
  }

  void write_stream_head(Response r, const std::string& request_id) {
    stream_ = std::move(r.stream);
    stream_head_ = {};
    stream_head_.version(11);
    stream_head_.result(r.status);
    stream_head_.set(bhttp::field::server, "reamd");
    stream_head_.set(bhttp::field::content_type, r.content_type);
    stream_head_.set(bhttp::field::cache_control, "no-cache");
    stream_head_.set("X-Request-Id", request_id);
    for (auto& [k, v] : r.headers) stream_head_.set(k, v);
    stream_head_.keep_alive(keep_alive_);
    stream_head_.chunked(true);
    stream_sr_.emplace(stream_head_);
    std::weak_ptr<Derived> weak = derived().shared_from_this();
    auto exec = derived().stream().get_executor();
    stream_->set_waker([weak, exec]() {
      net::post(exec, [weak]() {
        if (auto self = weak.lock(); self && self->timer_) self->timer_->cancel();
      });
    });
    last_sent_ = stream_started_ = std::chrono::steady_clock::now();
    lowest().expires_after(seconds_d(srv_.opt.write_timeout_s));
    bhttp::async_write_header(
        derived().stream(), *stream_sr_,
        [self = derived().shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return self->end_stream();
          self->watch_peer();
          self->pump();
        });
  }

  // The handler's response is completed by another thread; meanwhile the handler pool
  // is free and the connection watched.
  void wait_deferred(std::shared_ptr<DeferredResponse> deferred, const std::string& request_id,
                     bool head) {
    deferred_ = std::move(deferred);
    deferred_request_id_ = request_id;
    deferred_head_ = head;
    std::weak_ptr<Derived> weak = derived().shared_from_this();
    auto exec = derived().stream().get_executor();
    deferred_->set_waker([weak, exec]() {
      net::post(exec, [weak]() {
        if (auto self = weak.lock(); self && self->timer_) self->timer_->cancel();
      });
    });
    watch_peer();
    poll_deferred();
  }

  void poll_deferred() {
    if (!deferred_) return;
    if (std::optional<Response> res = deferred_->take()) {
      deferred_.reset();
      stop_watching_peer();
      return respond(std::move(*res), deferred_request_id_, deferred_head_);
    }
    timer_->expires_after(seconds_d(srv_.opt.stream_poll_s));
    timer_->async_wait([self = derived().shared_from_this()](beast::error_code) { self->poll_deferred(); });
  }

  // Waits until the socket is readable without reading it: end of stream or an error means
  // the client has gone (peer_gone); bytes (a pipelined request, a TLS record) stay for the
  // next read and end the watch.
  void watch_peer() {
    watching_ = true;
    lowest().socket().async_wait(
        tcp::socket::wait_read,
        [self = derived().shared_from_this()](beast::error_code ec) { self->on_peer_readable(ec); });
  }

  void on_peer_readable(beast::error_code ec) {
    if (!watching_ || ec == net::error::operation_aborted) return;
    char byte = 0;
    const ssize_t n =
        ec ? -1 : ::recv(lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && !ec && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return watch_peer();
    watching_ = false;
    if (n <= 0) peer_gone();
  }

  void stop_watching_peer() {
    if (!watching_) return;
    watching_ = false;
    beast::error_code ec;
    lowest().socket().cancel(ec);  // nothing else is in flight at the points this is called
  }

  // The client closed or reset the connection: cancel what was being produced for it.
  void peer_gone() {
    if (deferred_) {
      deferred_->close();
      deferred_.reset();
      if (timer_) timer_->cancel();
    }
    if (stream_) end_stream();
  }

  void pump() {
    if (!stream_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - stream_started_ >= seconds_d(srv_.opt.max_stream_lifetime_s)) return expire_stream();
    StreamSource::Chunk c = stream_->poll();
    if (!c.data.empty() || c.done) return write_chunk(std::move(c.data), c.done);
    if (now - last_sent_ >= seconds_d(srv_.opt.stream_keepalive_s)) {
      std::string ka = stream_->keepalive();
      if (!ka.empty()) return write_chunk(std::move(ka), false);
    }
    timer_->expires_after(seconds_d(srv_.opt.stream_poll_s));
    timer_->async_wait([self = derived().shared_from_this()](beast::error_code) { self->pump(); });
  }

  void write_chunk(std::string data, bool done) {
    last_sent_ = std::chrono::steady_clock::now();
    lowest().expires_after(seconds_d(srv_.opt.write_timeout_s));
    auto self = derived().shared_from_this();
    if (data.empty()) {
      return net::async_write(derived().stream(), bhttp::make_chunk_last(),
                              [self](beast::error_code ec, std::size_t) {
                                self->end_stream();
                                if (!ec) self->after_stream();
                              });
    }
    chunk_ = std::move(data);
    net::async_write(derived().stream(), bhttp::make_chunk(net::buffer(chunk_)),
                     [self, done](beast::error_code ec, std::size_t) {
                       if (ec) return self->end_stream();
                       if (done) return self->write_chunk("", true);
                       self->pump();
                     });
  }

  // The stream has lived max_stream_lifetime_s: its notice, its end, and the connection's.
  void expire_stream() {
    srv_.count_expired();
    keep_alive_ = false;
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", srv_.opt.max_stream_lifetime_s);
    std::string notice = stream_->expiry_notice(
        std::string("this stream reached its maximum lifetime of ") + secs +
        " s (http.max_stream_lifetime_s); reconnect to continue");
    write_chunk(std::move(notice), true);
  }

  void end_stream() {
    stop_watching_peer();
    if (stream_) stream_->close();
    stream_.reset();
  }

  void after_stream() {
    if (!keep_alive_) return close_connection();
    do_read();
  }

  Server::Impl& srv_;
  beast::flat_buffer buffer_;
  std::string remote_;
  Limits::Admission admission_;  // set by run() before start()

 private:
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  bhttp::response<bhttp::empty_body> stream_head_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> stream_sr_;
  std::shared_ptr<StreamSource> stream_;
  std::shared_ptr<DeferredResponse> deferred_;
  std::string deferred_request_id_;
  bool deferred_head_ = false;
  bool watching_ = false;  // watch_peer's wait is pending
  std::optional<net::steady_timer> timer_;
  std::string chunk_;
  std::chrono::steady_clock::time_point last_sent_;
  std::chrono::steady_clock::time_point stream_started_;
  static constexpr size_t kFirstRead = 4096;
  static constexpr size_t kProbeBodyBytes = 4096;
  bool keep_alive_ = true;
  int served_ = 0;
};

class PlainSession : public Session<PlainSession>,
                     public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(Server::Impl& server, tcp::socket&& socket)
      : Session(server), stream_(std::move(socket)) {}
  beast::tcp_stream& stream() { return stream_; }
  void run(Limits::Admission admission) {
    admission_ = std::move(admission);
    net::dispatch(stream_.get_executor(), [self = shared_from_this()]() { self->start(); });
  }
  // Half-closes, then reads and discards what the client still sends (a body we
  // refused, say) for a short while, so closing does not reset the connection
  // before the client has read our response (nginx's lingering close).
  void do_eof() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    linger();
  }

 private:
  void linger() {
    if (lingered_ > (16u << 20)) return;
    stream_.expires_after(std::chrono::seconds(2));
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->lingered_ += n;
                              if (!ec) self->linger();
                            });
  }
  beast::tcp_stream stream_;
  std::array<char, 16384> discard_{};
  size_t lingered_ = 0;
};

class TlsSession : public Session<TlsSession>, public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(Server::Impl& server, tcp::socket&& socket, ssl::context& ctx)
      : Session(server), stream_(std::move(socket), ctx) {}
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  void run(Limits::Admission admission) {
    admission_ = std::move(admission);
    net::dispatch(stream_.get_executor(), [self = shared_from_this()]() {
      beast::get_lowest_layer(self->stream_).expires_after(
          seconds_d(self->srv_.opt.header_timeout_s));
      self->stream_.async_handshake(ssl::stream_base::server,
                                    beast::bind_front_handler(&TlsSession::on_handshake, self));
    });
  }
  void do_eof() {
    beast::get_lowest_layer(stream_).expires_after(seconds_d(srv_.opt.write_timeout_s));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

 private:
  void on_handshake(beast::error_code ec) {
    if (ec) return;
    start();
  }
  beast::ssl_stream<beast::tcp_stream> stream_;
};

}  // namespace ream::http
