// GroupCommit: leader and followers around Store::create_jobs.
#include "jobs/group_commit.h"

#include <vector>

namespace ream::jobs {

Result<store::CreatedJob> GroupCommit::create(store::NewJob job) {
  Waiter me;
  me.job = &job;
  std::unique_lock lock(mu_);
  waiting_.push_back(&me);
  for (;;) {
    cv_.wait(lock, [&] { return me.done || !leading_; });
    if (me.done) return std::move(me.result);
    // No commit under way and this job still waits: lead the next batch with every job
    // waiting now (this one among them).
    leading_ = true;
    std::vector<Waiter*> batch;
    while (!waiting_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(waiting_.front());
      waiting_.pop_front();
    }
    lock.unlock();
    commit(batch);
    lock.lock();
    leading_ = false;
    for (Waiter* w : batch) w->done = true;
    cv_.notify_all();
  }
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
