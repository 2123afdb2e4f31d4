// UpstreamPool: the upstreams reamd may send a model request to, which of them is healthy,
// and how many requests each has in flight.
//
// Routing: a request's affinity key (a hash of its prompt's leading system messages and the
// first UpstreamRouting::affinity_chars characters after them: affinity_text() in
// upstream/model_client.h) ranks the upstreams by rendezvous hashing, so requests over the
// same document go to the same upstream, which has its prefix cached, and adding or losing one
// upstream moves only the keys that were its own. The first healthy upstream in that order
// takes the request when it is below its max_concurrent; when it is full, the healthy
// upstream with the least load (in flight / max_concurrent) does. When every healthy upstream
// is full, acquire() waits for a slot. Unhealthy upstreams are skipped.
//
// Health: a thread GETs each upstream's health_path every health_interval_s; a 200 marks it
// healthy (and, for /v1/models, learns its model name and context size), anything else
// unhealthy. A request that cannot connect marks its upstream unhealthy at once.
//
// Metrics (reamd_upstream_*, labelled by upstream name) are counted into the registry given.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "metrics/metrics.h"
#include "ream/engine/status.h"
#include "upstream/http_client.h"
#include "upstream/upstream_spec.h"

namespace ream::upstream {

struct UpstreamState {
  UpstreamSpec spec;
  Endpoint endpoint;
  bool healthy = true;  // until a check or a request says otherwise
  std::string health_error;
  std::string discovered_model;  // from /v1/models
  int64_t max_model_len = 0;     // from /v1/models (0: not reported)
  int in_flight = 0;
  // Requests that marked it down so far: a check that began before the latest of them
  // does not mark it healthy again (its answer may predate the failure).
  uint64_t marked_down = 0;
};

// What one request's counters need to know when it ends.
struct UpstreamUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;
};

class UpstreamPool;

// A slot on one upstream, given back when destroyed.
class Slot {
 public:
  Slot(UpstreamPool* pool, size_t index) : pool_(pool), index_(index) {}
  Slot(Slot&& o) noexcept : pool_(o.pool_), index_(o.index_) { o.pool_ = nullptr; }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot();
  size_t index() const { return index_; }

 private:
  UpstreamPool* pool_;
  size_t index_;
};

class UpstreamPool {
 public:
  UpstreamPool(std::vector<UpstreamSpec> specs, metrics::Registry* metrics);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Checks every upstream once (so the first requests already skip dead ones), then starts
  // the health thread.
  void start();
  void stop();

  // The affinity key of a prompt's leading text (affinity_text()).
  uint64_t affinity(std::string_view prompt) const;
  // A slot on the upstream this key routes to, skipping the indices in `exclude`; waits up to
  // `wait_s` for one to free up. An error when no upstream is healthy, none freed in time, or
  // `cancelled()` turned true (checked whenever wake() or a freed slot ends the wait).
  Result<Slot> acquire(uint64_t key, const std::vector<size_t>& exclude, double wait_s,
                       const std::function<bool()>& cancelled);
  // Wakes every acquire() waiting, to look at its cancelled() again.
  void wake() {
    { std::lock_guard lock(mu_); }  // a waiter is either before its check or in its wait
    freed_.notify_all();
  }

  // A request on upstream `index` could not reach it: marked unhealthy until a check passes.
  void mark_down(size_t index, const std::string& why);
  // Counts one finished request: `error` is "" for success, else its kind ("connect",
  // "status", "cut", "cancelled"); latency in seconds.
  void record(size_t index, const std::string& error, double latency_s, const UpstreamUsage& usage);

  // Runs `fn` on a thread of its own (a request's exchange); `cancel` ends it early. stop()
  // cancels every one still running and waits for them.
  void spawn(std::function<void()> fn, std::function<void()> cancel);

  size_t size() const { return states_.size(); }
  // A copy of one upstream's state, for requests (name, endpoint, key, model to send).
  UpstreamState state(size_t index) const;
  // The smallest context any healthy upstream reports (0: none reported).
  int64_t min_model_len() const;
  bool any_healthy() const;
  // Checks upstream `index` now, as the health thread does every health_interval_s: healthy
  // on a 200 unless a request marked it down while the check was under way.
  void check_one(size_t index);

 private:
  friend class Slot;
  void release(size_t index);
  void check_all();
  void health_loop();

  mutable std::mutex mu_;
  std::condition_variable freed_;  // a slot was released or an upstream came back
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::vector<UpstreamState> states_;
  std::thread health_;
  std::condition_variable tasks_done_;
  uint64_t next_task_ = 0;
  std::map<uint64_t, std::function<void()>> tasks_;  // running spawn()s: their cancels
  metrics::Family* requests_ = nullptr;
  metrics::Family* errors_ = nullptr;
  metrics::Family* latency_ = nullptr;
  metrics::Family* prompt_tokens_ = nullptr;
  metrics::Family* completion_tokens_ = nullptr;
  metrics::Family* cached_tokens_ = nullptr;
  metrics::Family* in_flight_ = nullptr;
  metrics::Family* healthy_ = nullptr;
};

}  // namespace ream::upstream
