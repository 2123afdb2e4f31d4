// Server-Sent Events framing and a queue-backed StreamSource.
//
// format_sse() writes one event as the WHATWG EventSource spec reads it: `id:`,
// `event:`, one `data:` line per line of the payload, then a blank line. A client
// that reconnects sends the last id it saw in `Last-Event-ID`.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "http/message.h"

namespace ream::http {

// `id` <= 0 omits the id line; `event` "" omits the event line.
std::string format_sse(int64_t id, const std::string& event, const std::string& data);
// The SSE comment the session sends on an idle stream.
inline std::string sse_keepalive() { return ": keep-alive\n\n"; }
// An SSE comment line carrying `text` (line breaks become spaces). EventSource clients
// ignore it; a reconnect (with Last-Event-ID) follows the end of the stream.
std::string sse_comment(const std::string& text);

// A StreamSource fed by push() from any thread (engine callbacks, runners).
class QueueStream : public StreamSource {
 public:
  explicit QueueStream(bool sse = true) : sse_(sse) {}
  void push(std::string data);
  void finish();
  // Runs once when the client goes away (or the stream ends); e.g. to cancel work.
  void on_close(std::function<void()> fn);
  bool closed() const;

  Chunk poll() override;
  void set_waker(std::function<void()> waker) override;
  void close() override;
  std::string keepalive() const override { return sse_ ? sse_keepalive() : ""; }
  // What expiry_notice() sends; by default an SSE comment with the message (nothing for
  // a plain stream). Set before the stream is handed to the server.
  void set_expiry_notice(std::function<std::string(const std::string&)> fn) { expiry_ = std::move(fn); }
  std::string expiry_notice(const std::string& message) const override;

 private:
  mutable std::mutex mu_;
  std::string pending_;
  bool finished_ = false;
  bool closed_ = false;
  bool sse_;
  std::function<void()> waker_;
  std::function<void()> on_close_;
  std::function<std::string(const std::string&)> expiry_;
};

}  // namespace ream::http
