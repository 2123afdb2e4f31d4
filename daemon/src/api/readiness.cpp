// StoreWriteProbe: the write probe's thread and the state /readyz reads.
#include "api/readiness.h"

#include <chrono>

namespace ream::api {

StoreWriteProbe::StoreWriteProbe(store::Store& store, double interval_s, double stale_after_s)
    : store_(store), interval_s_(interval_s), stale_after_s_(stale_after_s) {
  probe_once();
  thread_ = std::thread([this] { loop(); });
}

StoreWriteProbe::~StoreWriteProbe() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void StoreWriteProbe::probe_once() {
  Status st = store_.probe_write();  // may wait for the writer; no lock held meanwhile
  std::lock_guard lock(mu_);
  last_ = std::move(st);
  last_answer_ms_ = store::now_ms();
}

void StoreWriteProbe::loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::duration<double>(interval_s_), [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    probe_once();
    lock.lock();
  }
}

StoreWriteProbe::State StoreWriteProbe::state() const {
  std::lock_guard lock(mu_);
  const double silent_s = static_cast<double>(store::now_ms() - last_answer_ms_) / 1000.0;
  if (!last_.ok()) return {false, last_.message()};
  // The next probe is due every interval_s; one still waiting past stale_after_s means
  // the database has not taken a write for that long.
  if (silent_s > interval_s_ + stale_after_s_) {
    return {false, "no write answered for " + std::to_string(static_cast<int>(silent_s)) + " s"};
  }
  return {true, "writable"};
}

}  // namespace ream::api
