// JobEvents: a job's stored events pushed to whoever waits for them (the SSE streams
// of GET /v1/jobs/{id}/events), so that no stream reads SQL on the network thread.
//
// Events reach it on one path: the store's event listener (store::Store::
// set_event_listener) hands over each event this process commits, in commit order,
// and subscribers are woken. Events another process writes to the same database (a job
// run by another reamd) are read by one background thread for the jobs someone here is
// subscribed to, and subscribers are woken the same way: when the store announces that a
// job's events were committed (announced(), from Store::Notice on PostgreSQL), and
// every `foreign_every_s` besides, which catches an announcement that was lost.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "store/store.h"

namespace ream::jobs {

// One subscriber's view of one job's events: each event once, in id order.
class Subscription {
 public:
  explicit Subscription(int64_t job_id, int64_t after_id) : job_id_(job_id), taken_upto_(after_id) {}
  int64_t job_id() const { return job_id_; }
  // The events that arrived since the last take (after the `after_id` subscribed with
  // at first), in id order; empty when none did. Never blocks.
  std::vector<store::EventRecord> take();
  // Called (from any thread) when events arrive; replaces the previous waker.
  void set_waker(std::function<void()> waker);
  // The events from the store that were recorded before subscribing (or a read error).
  const Status& backlog_status() const { return backlog_status_; }

 private:
  friend class JobEvents;
  void push(const store::EventRecord& e);  // ignores an id already taken or pending
  int64_t taken_upto() const;

  const int64_t job_id_;
  mutable std::mutex mu_;
  int64_t taken_upto_;
  std::map<int64_t, store::EventRecord> pending_;  // by id
  std::function<void()> waker_;
  Status backlog_status_;
};

class JobEvents {
 public:
  // Installs itself as `store`'s event listener and starts the reader of other
  // processes' events. The store must outlive it.
  explicit JobEvents(store::Store& store, double foreign_every_s = 1.0);
  ~JobEvents();  // removes the listener, stops and joins its thread
  JobEvents(const JobEvents&) = delete;
  JobEvents& operator=(const JobEvents&) = delete;

  // Subscribes to `job_id`'s events after `after_id`: those already stored come first
  // (read once, here), then each new one as it is committed. Dropping the last
  // shared_ptr unsubscribes.
  std::shared_ptr<Subscription> subscribe(int64_t job_id, int64_t after_id);
  // Events of `job_id` were committed somewhere (0: of any job, perhaps): the reader
  // looks now, for the jobs someone here is subscribed to. Quick; never reads the store.
  void announced(int64_t job_id);

 private:
  void publish(const store::EventRecord& e);  // the store's listener
  void foreign_loop();
  void read_foreign(int64_t job_id);  // the job's events past what its subscribers hold
  // Live subscriptions of a job (pruning dead ones), under mu_.
  std::vector<std::shared_ptr<Subscription>> live_locked(int64_t job_id);

  store::Store& store_;
  const double foreign_every_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<int64_t, std::vector<std::weak_ptr<Subscription>>> subs_;
  std::set<int64_t> announced_;  // jobs to read at once (announced())
  bool announced_all_ = false;   // announced(0): read every subscribed job at once
  std::thread foreign_;
};

}  // namespace ream::jobs
