// CancelToken: a job's cancellation, which wakes whoever waits for it (the executor's
// scheduler and workers, a step run's wait for replies, a retry's backoff) instead of
// being polled.
//
// Thread-safety: every method may be called from any thread, but not from a signal
// handler (`ream run` forwards SIGINT through a pipe to a thread that calls cancel()).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>

namespace ream::flow {

class CancelToken {
 public:
  // Unregisters its callback on destruction; a callback running then is waited for.
  class Listener {
   public:
    Listener() = default;
    Listener(CancelToken* token, int id) : token_(token), id_(id) {}
    ~Listener() { reset(); }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    Listener(Listener&& o) noexcept : token_(o.token_), id_(o.id_) { o.token_ = nullptr; }
    Listener& operator=(Listener&& o) noexcept {
      if (this != &o) {
        reset();
        token_ = o.token_;
        id_ = o.id_;
        o.token_ = nullptr;
      }
      return *this;
    }
    void reset() {
      if (!token_) return;
      std::lock_guard lock(token_->mu_);
      token_->callbacks_.erase(id_);
      token_ = nullptr;
    }

   private:
    CancelToken* token_ = nullptr;
    int id_ = 0;
  };

  CancelToken() = default;
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  bool cancelled() const { return flag_.load(); }
  // Sets the flag, then calls every registered callback (once).
  void cancel() {
    std::lock_guard lock(mu_);
    if (flag_.exchange(true)) return;
    for (auto& [id, fn] : callbacks_) fn();
  }
  // Calls `fn` when the token is cancelled, at once when it already is. `fn` runs under
  // the token's lock: it must only wake someone (notify a condition variable).
  [[nodiscard]] Listener on_cancel(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    if (flag_.load()) {
      fn();
      return {};
    }
    const int id = next_id_++;
    callbacks_.emplace(id, std::move(fn));
    return Listener(this, id);
  }

 private:
  std::atomic<bool> flag_{false};
  std::mutex mu_;
  std::map<int, std::function<void()>> callbacks_;
  int next_id_ = 0;
};

}  // namespace ream::flow
