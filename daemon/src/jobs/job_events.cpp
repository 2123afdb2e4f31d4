// JobEvents: the store's events pushed to subscribers; other processes' events read
// for subscribed jobs by one thread.
#include "jobs/job_events.h"

#include <algorithm>
#include <chrono>

namespace ream::jobs {

std::vector<store::EventRecord> Subscription::take() {
  std::lock_guard lock(mu_);
  std::vector<store::EventRecord> out;
  out.reserve(pending_.size());
  for (auto& [id, e] : pending_) out.push_back(std::move(e));
  if (!out.empty()) taken_upto_ = out.back().id;
  pending_.clear();
  return out;
}

void Subscription::set_waker(std::function<void()> waker) {
  std::lock_guard lock(mu_);
  waker_ = std::move(waker);
}

void Subscription::push(const store::EventRecord& e) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mu_);
    if (e.id <= taken_upto_ || !pending_.emplace(e.id, e).second) return;
    wake = waker_;
  }
  if (wake) wake();
}

int64_t Subscription::taken_upto() const {
  std::lock_guard lock(mu_);
  return pending_.empty() ? taken_upto_ : pending_.rbegin()->first;
}

JobEvents::JobEvents(store::Store& store, double foreign_every_s)
    : store_(store), foreign_every_s_(foreign_every_s) {
  store_.set_event_listener([this](const store::EventRecord& e) { publish(e); });
  foreign_ = std::thread([this] { foreign_loop(); });
}

JobEvents::~JobEvents() {
  store_.set_event_listener(nullptr);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  foreign_.join();
}

std::vector<std::shared_ptr<Subscription>> JobEvents::live_locked(int64_t job_id) {
  std::vector<std::shared_ptr<Subscription>> live;
  auto it = subs_.find(job_id);
  if (it == subs_.end()) return live;
  auto& list = it->second;
  for (auto w = list.begin(); w != list.end();) {
    if (auto s = w->lock()) {
      live.push_back(std::move(s));
      ++w;
    } else {
      w = list.erase(w);
    }
  }
  if (list.empty()) subs_.erase(it);
  return live;
}

std::shared_ptr<Subscription> JobEvents::subscribe(int64_t job_id, int64_t after_id) {
  auto sub = std::make_shared<Subscription>(job_id, after_id);
  {
    // Registered before the backlog is read: an event committed in between arrives
    // both ways and is kept once.
    std::lock_guard lock(mu_);
    subs_[job_id].push_back(sub);
  }
  auto backlog = store_.events(job_id, after_id);
  if (!backlog.ok()) {
    sub->backlog_status_ = backlog.status();
    return sub;
  }
  for (const store::EventRecord& e : backlog.value()) sub->push(e);
  return sub;
}

void JobEvents::publish(const store::EventRecord& e) {
  std::vector<std::shared_ptr<Subscription>> live;
  {
    std::lock_guard lock(mu_);
    live = live_locked(e.job_id);
  }
  for (const auto& s : live) s->push(e);
}

void JobEvents::announced(int64_t job_id) {
  {
    std::lock_guard lock(mu_);
    if (job_id == 0) {
      announced_all_ = true;
    } else if (subs_.count(job_id) != 0) {
      announced_.insert(job_id);
    } else {
      return;  // no one here watches it
    }
  }
  cv_.notify_all();
}

void JobEvents::foreign_loop() {
  const auto every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(foreign_every_s_));
  std::unique_lock lock(mu_);
  auto next = std::chrono::steady_clock::now() + every;
  for (;;) {
    cv_.wait_until(lock, next, [this] { return stopping_ || announced_all_ || !announced_.empty(); });
    if (stopping_) break;
    // The clock, or an announcement of any job: every subscribed job; else those announced.
    std::vector<int64_t> jobs;
    if (announced_all_ || std::chrono::steady_clock::now() >= next) {
      for (const auto& [job_id, _] : subs_) jobs.push_back(job_id);
      next = std::chrono::steady_clock::now() + every;
    } else {
      jobs.assign(announced_.begin(), announced_.end());
    }
    announced_.clear();
    announced_all_ = false;
    lock.unlock();
    for (int64_t job_id : jobs) read_foreign(job_id);
    lock.lock();
  }
}

void JobEvents::read_foreign(int64_t job_id) {
  std::vector<std::shared_ptr<Subscription>> live;
  {
    std::lock_guard l(mu_);
    live = live_locked(job_id);
  }
  if (live.empty()) return;
  int64_t after = live[0]->taken_upto();
  for (const auto& s : live) after = std::min(after, s->taken_upto());
  auto events = store_.events(job_id, after);
  if (!events.ok()) return;  // the next round tries again
  for (const store::EventRecord& e : events.value()) {
    for (const auto& s : live) s->push(e);
  }
}

}  // namespace ream::jobs
