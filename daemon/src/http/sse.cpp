// SSE framing and QueueStream.
#include "http/sse.h"

namespace ream::http {

std::string format_sse(int64_t id, const std::string& event, const std::string& data) {
  std::string out;
  if (id > 0) out += "id: " + std::to_string(id) + "\n";
  if (!event.empty()) out += "event: " + event + "\n";
  size_t start = 0;
  for (;;) {
    size_t nl = data.find('\n', start);
    std::string line = data.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out += "data: " + line + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  out += "\n";
  return out;
}

std::string sse_comment(const std::string& text) {
  std::string line = text;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return ": " + line + "\n\n";
}

std::string QueueStream::expiry_notice(const std::string& message) const {
  if (expiry_) return expiry_(message);
  return sse_ ? sse_comment(message) : "";
}

void QueueStream::push(std::string data) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mu_);
    if (closed_ || finished_) return;
    pending_ += data;
    wake = waker_;
  }
  if (wake) wake();
}

void QueueStream::finish() {
  std::function<void()> wake;
  {
    std::lock_guard lock(mu_);
    finished_ = true;
    wake = waker_;
  }
  if (wake) wake();
}

void QueueStream::on_close(std::function<void()> fn) {
  bool run_now = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) run_now = true;
    else on_close_ = std::move(fn);
  }
  if (run_now && fn) fn();
}

bool QueueStream::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

StreamSource::Chunk QueueStream::poll() {
  std::lock_guard lock(mu_);
  Chunk c;
  c.data.swap(pending_);
  c.done = finished_;
  return c;
}

void QueueStream::set_waker(std::function<void()> waker) {
  std::lock_guard lock(mu_);
  waker_ = std::move(waker);
}

void QueueStream::close() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    waker_ = nullptr;
    fn = std::move(on_close_);
  }
  if (fn) fn();
}

}  // namespace ream::http
