// HttpCall: one HTTP/1.1 request to an upstream on its own connection, with Boost.Beast's
// synchronous client, the response body handed over as it arrives (a Server-Sent Events
// stream is read event by event, not buffered whole).
//
// Every phase has a deadline: connecting (connect_timeout_s), and each read or write
// (io_timeout_s: the longest an upstream may stay silent). cancel() may be called from any
// other thread: it shuts the socket down, so a blocked read returns at once.
//
// The outcome says how far the call came, because what a caller may do next depends on it:
// a call that never reached the upstream (kConnect) may be retried elsewhere; one that failed
// after the response began may not.
//
// Thread-safety: one thread runs perform(); cancel() may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace ream::upstream {

// "http://host:port/base" or "https://host:port/base" split up. Over https the server's
// certificate must verify against ca_file (PEM; "" = the system's trust store, OpenSSL's
// default paths) and name the host (RFC 2818 rules; an IP address must be in its
// subjectAltName).
struct Endpoint {
  std::string host;
  uint16_t port = 80;     // 443 for https:// without a port
  std::string base_path;  // "" or "/v1-prefix" without a trailing slash
  bool tls = false;
  std::string ca_file;    // https: the CA certificates to trust, or "" for the system's
};
// Parses an upstream URL; returns "" and fills *out (ca_file left empty: the caller sets
// it), or an error message.
std::string parse_endpoint(const std::string& url, Endpoint* out);

struct HttpOutcome {
  enum class Stage {
    kOk,        // the whole response arrived
    kConnect,   // no connection (refused, unreachable, connect timeout, TLS handshake or
                // certificate refused); nothing was sent
    kSend,      // the request could not be written, or the connection closed before any response byte
    kHead,      // the response head did not arrive in time
    kBody,      // the response began and was cut (reset, early close, silence past io_timeout_s)
    kCancelled  // cancel() was called
  };
  Stage stage = Stage::kOk;
  unsigned status = 0;  // the HTTP status, once the head arrived
  std::string error;    // what went wrong (empty when kOk)
};

struct HttpCallOptions {
  double connect_timeout_s = 5;
  double io_timeout_s = 600;
};

class HttpCall {
 public:
  HttpCall(Endpoint endpoint, HttpCallOptions options) : endpoint_(std::move(endpoint)), options_(options) {}
  // `target` is appended to the endpoint's base path. `headers` are extra header lines
  // (Authorization, Accept). `on_head(status)` runs once the head arrived; `on_data` with
  // each piece of the body as it arrives, and returns false to stop reading.
  HttpOutcome perform(const std::string& method, const std::string& target, const std::string& body,
                      const std::map<std::string, std::string>& headers,
                      const std::function<void(unsigned status)>& on_head,
                      const std::function<bool(std::string_view)>& on_data);
  void cancel();

 private:
  Endpoint endpoint_;
  HttpCallOptions options_;
  std::mutex mu_;
  int fd_ = -1;  // the socket while perform() runs, for cancel()
  std::atomic<bool> cancelled_{false};
};

// A whole request answered in one piece (health checks).
HttpOutcome http_fetch(const Endpoint& endpoint, const std::string& method, const std::string& target,
                       const std::string& body, const std::map<std::string, std::string>& headers,
                       HttpCallOptions options, std::string* response_body);

// Splits a Server-Sent Events byte stream into events' data (the `data:` lines of one event
// joined with "\n"); comments and other fields are skipped.
class SseReader {
 public:
  // Feeds bytes; calls on_event(data) for each complete event. Returns false as soon as
  // on_event does.
  bool feed(std::string_view bytes, const std::function<bool(const std::string& data)>& on_event);

 private:
  std::string line_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace ream::upstream
