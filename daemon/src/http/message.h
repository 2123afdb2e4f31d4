// Request and Response: what the router hands to a handler and what it gets back.
//
// A handler runs on the server's handler pool (never on an I/O thread), so it may
// block briefly (SQLite, a short engine call). A response either carries its whole
// body, or a StreamSource that the session drains chunk by chunk (Server-Sent
// Events, streamed chat completions), or a DeferredResponse that another thread
// completes later (a non-streamed completion: the handler's thread is not held while
// the engine works).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ream::http {

struct Request {
  std::string method;   // "GET", "POST", ...
  std::string target;   // as sent: path and query
  std::string path;     // percent-decoded path, without the query
  std::map<std::string, std::string> query;   // decoded; a repeated key keeps the last value
  std::map<std::string, std::string> params;  // path parameters: {id} -> value
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote;      // "ip:port" of the peer
  std::string request_id;  // assigned by the server; echoed as X-Request-Id
  std::string principal;   // the API key's name once authenticated ("" = anonymous)

  // The first header with this (case-insensitive) name, or "".
  std::string header(std::string_view name) const;
  // A query parameter, or `fallback`.
  std::string query_or(const std::string& key, const std::string& fallback = "") const;
};

// A stream of body chunks produced over time.
//
// The session calls poll() from its own strand; poll returns what is ready now
// (possibly nothing). When nothing is ready the session waits until the source
// calls the waker, or a poll interval passes, and polls again. Thread-safety:
// poll() is never called concurrently; the waker may be called from any thread.
class StreamSource {
 public:
  struct Chunk {
    std::string data;  // bytes to send; may be empty
    bool done = false; // the stream ended after `data`
  };
  virtual ~StreamSource() = default;
  virtual Chunk poll() = 0;
  // Installs the function the source calls when new data may be ready.
  virtual void set_waker(std::function<void()> waker) { (void)waker; }
  // Called once when the client went away or the server stops.
  virtual void close() {}
  // Bytes the session sends after this much idle time to keep proxies from
  // timing the connection out (SSE comment); "" sends nothing.
  virtual std::string keepalive() const { return ""; }
  // The last bytes sent when the stream is ended for having lived its maximum lifetime
  // (`message` says so and names the setting); close() follows. "" sends nothing more.
  virtual std::string expiry_notice(const std::string& message) const {
    (void)message;
    return "";
  }
};

class DeferredResponse;

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<StreamSource> stream;  // set: `body` is ignored, chunks are streamed
  // Set: everything else is ignored; the session sends what complete() is given.
  std::shared_ptr<DeferredResponse> deferred;

  void set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

// A response that is finished later, by whoever does the work (an engine callback).
//
// The handler returns a Response holding one and its thread goes back to the pool; the
// session waits for complete() while it watches the connection. When the client goes away
// first (or the server stops), close() runs the on_close function once: cancel the work.
// Thread-safety: every method may be called from any thread.
class DeferredResponse {
 public:
  // The first call wins; later ones are ignored. The response must not itself be deferred.
  void complete(Response response);
  // Runs `fn` when the client leaves before completion (at once if it already has).
  void on_close(std::function<void()> fn);
  // Runs `fn(status)` once: at complete(), or at close() before completion with
  // kClientClosedRequest (the server records the exchange with it).
  void on_complete(std::function<void(unsigned status)> fn);
  static constexpr unsigned kClientClosedRequest = 499;  // nginx's name for it

  // Session side: the response once complete()d (once).
  std::optional<Response> take();
  // The function complete() calls to wake the session.
  void set_waker(std::function<void()> waker);
  // The client went away or the server stops; runs on_close unless completed.
  void close();
  bool closed() const;

 private:
  mutable std::mutex mu_;
  std::optional<Response> response_;
  bool completed_ = false;
  bool taken_ = false;
  bool closed_ = false;
  std::function<void()> waker_;
  std::function<void()> on_close_;
  std::function<void(unsigned)> on_complete_;
};

// Percent-decoding of a path or query component ('+' is a space only in queries).
// Returns false on a malformed escape.
bool url_decode(std::string_view in, bool plus_is_space, std::string* out);
// Splits "a=1&b=2" into decoded pairs; malformed pieces are skipped.
std::map<std::string, std::string> parse_query(std::string_view query);

}  // namespace ream::http
