// Request helpers and URL decoding.
#include "http/message.h"

#include <strings.h>

#include <utility>

namespace ream::http {

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

std::string Request::query_or(const std::string& key, const std::string& fallback) const {
  auto it = query.find(key);
  return it == query.end() ? fallback : it->second;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool url_decode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    std::string key, value;
    if (!url_decode(piece.substr(0, eq), true, &key)) continue;
    if (eq != std::string_view::npos && !url_decode(piece.substr(eq + 1), true, &value)) continue;
    out[key] = value;
  }
  return out;
}

}  // namespace ream::http

namespace ream::http {

void DeferredResponse::complete(Response response) {
  std::function<void()> wake;
  std::function<void(unsigned)> done;
  const unsigned status = response.status;
  {
    std::lock_guard lock(mu_);
    if (completed_) return;
    completed_ = true;
    done = std::move(on_complete_);
    response_ = std::move(response);
    wake = waker_;
  }
  if (done) done(status);
  if (wake) wake();
}

void DeferredResponse::on_close(std::function<void()> fn) {
  bool run_now = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ && !completed_) run_now = true;
    else on_close_ = std::move(fn);
  }
  if (run_now && fn) fn();
}

void DeferredResponse::on_complete(std::function<void(unsigned status)> fn) {
  std::lock_guard lock(mu_);
  on_complete_ = std::move(fn);
}

std::optional<Response> DeferredResponse::take() {
  std::lock_guard lock(mu_);
  if (!completed_ || taken_) return std::nullopt;
  taken_ = true;
  return std::exchange(response_, std::nullopt);
}

void DeferredResponse::set_waker(std::function<void()> waker) {
  std::lock_guard lock(mu_);
  waker_ = std::move(waker);
}

void DeferredResponse::close() {
  std::function<void()> fn;
  std::function<void(unsigned)> done;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    waker_ = nullptr;
    if (!completed_) {
      fn = std::move(on_close_);
      done = std::move(on_complete_);  // recorded now; a later complete() finds no hook
    }
  }
  if (done) done(kClientClosedRequest);
  if (fn) fn();
}

bool DeferredResponse::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

}  // namespace ream::http
