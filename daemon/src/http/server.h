// Server: the HTTP/1.1 listener of reamd (Boost.Beast), plain or TLS.
//
// Shape of Beast's advanced server: a listener accepting onto strands, one session
// per connection with do_read/on_read pairs, error_code on the I/O path. Every
// socket carries a deadline, phase by phase and for every request of a keep-alive
// connection: waiting for a request's first byte (idle_timeout_s; the first request
// of a connection has none, its head is due header_timeout_s after the accept),
// receiving the rest of its head (header_timeout_s, counted from that first byte:
// slowloris), its body (body_timeout_s), writing (write_timeout_s). Header and body
// sizes are capped (431 / 413, before the body is read when Content-Length says so).
//
// Connections are capped in all (max_connections) and per client address
// (max_connections_per_client); past either cap a connection gets one of
// probe_connections places on which only /healthz and /readyz are answered, and any
// other request a 503 naming the limit, with Retry-After (http/limits.h). Streamed
// responses are capped (max_streams: the next one is a 503 naming the limit, with
// Retry-After) and each ends after max_stream_lifetime_s (the source's expiry
// notice, then the end of the stream and of the connection).
//
// Handlers run on a separate pool, so a slow handler never stalls I/O; routes marked
// cheap (/healthz, /readyz) run on the I/O thread and never wait for the pool. The server
// authenticates each request against its route's Access before the handler runs,
// counts requests by route and status, and logs one line per request.
//
// Thread-safety: start() and stop() from one controlling thread; the rest is internal.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "http/auth.h"
#include "http/router.h"
#include "metrics/metrics.h"
#include "ream/engine/status.h"

namespace ream::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;                    // 0 = any free port (see Server::port())
  int io_threads = 2;
  int handler_threads = 8;
  // Nice steps below the I/O threads for the handler threads (reamd's runners lower
  // themselves as much): when the CPUs are short, the I/O threads, which answer /healthz
  // and /readyz and move every response's bytes, run first. The engine keeps the
  // process's priority (a GPU waits for its launches). 0: one priority for all.
  int worker_nice = 10;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 64ull << 20;
  int max_connections = 512;              // all clients together
  int max_connections_per_client = 64;     // from one address; 0 = no cap
  int probe_connections = 16;              // beyond the caps, for /healthz and /readyz only
  int max_streams = 256;                   // streamed responses open at once
  double max_stream_lifetime_s = 3600;     // a streamed response ends after this
  double retry_after_s = 5;                // Retry-After of the 503s of these limits
  double header_timeout_s = 10;            // a request's head, from its first byte
  double body_timeout_s = 120;             // to receive the body once the header is in
  double idle_timeout_s = 75;              // for the next request's first byte (keep-alive)
  double write_timeout_s = 60;             // per write
  double stream_poll_s = 0.25;             // StreamSource re-poll without a wake-up
  double stream_keepalive_s = 15;          // idle stream -> keep-alive bytes
  std::string tls_cert_file, tls_key_file; // both set: serve HTTPS only
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

class Server {
 public:
  Server(ServerOptions options, const Router& router, Authenticator auth,
         metrics::Registry* registry);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the I/O and handler threads.
  Status start();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // Stops accepting; open connections carry on.
  void stop_accepting();
  // Closes every connection and joins the threads. Idempotent.
  void stop();
  int open_connections() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ream::http
