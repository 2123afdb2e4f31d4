// GroupCommit: leader and followers around Store::create_jobs.
#include "jobs/group_commit.h"

#include <vector>

namespace ream::jobs {

Result<store::CreatedJob> GroupCommit::create(store::NewJob job) {
  Waiter me;
  me.job = &job;
  std::unique_lock lock(mu_);
  waiting_.push_back(&me);
  if (leading_) {
    me.cv.wait(lock, [&] { return me.done || me.lead; });
    if (me.done) return std::move(me.result);
  }
  // No commit under way, or the last leader named this waiter: lead, batch after batch
  // of every job waiting (the oldest first), until this one's is committed.
  leading_ = true;
  std::vector<Waiter*> batch;
  while (!me.done) {
    batch.clear();
    while (!waiting_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(waiting_.front());
      waiting_.pop_front();
    }
    lock.unlock();
    commit(batch);
    lock.lock();
    // Notified under the lock: a waiter may return, and its condition variable go, as
    // soon as it sees done.
    for (Waiter* w : batch) {
      w->done = true;
      if (w != &me) w->cv.notify_one();
    }
  }
  if (waiting_.empty()) {
    leading_ = false;
  } else {
    waiting_.front()->lead = true;
    waiting_.front()->cv.notify_one();
  }
  return std::move(me.result);
}

void GroupCommit::commit(const std::vector<Waiter*>& batch) {
  std::vector<store::NewJob> jobs;
  jobs.reserve(batch.size());
  for (Waiter* w : batch) jobs.push_back(std::move(*w->job));
  auto created = store_.create_jobs(jobs);
  if (created.ok() && created->size() == batch.size()) {
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->result = (*created)[i];
    return;
  }
  if (batch.size() == 1) {
    batch[0]->result = created.ok() ? internal_error("store created no job") : created.status();
    return;
  }
  // The batch failed as a whole: each job alone, so the fault stays with its own.
  for (size_t i = 0; i < batch.size(); ++i) {
    auto one = store_.create_jobs({jobs[i]});
    if (!one.ok()) {
      batch[i]->result = one.status();
    } else if (one->size() != 1) {
      batch[i]->result = internal_error("store created no job");
    } else {
      batch[i]->result = one->front();
    }
  }
}

}  // namespace ream::jobs
