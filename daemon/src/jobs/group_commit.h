// GroupCommit: concurrent job submissions share one transaction.
//
// Each submission still gets its answer only after the transaction holding its job has
// committed; what changes is that submissions arriving while a commit is under way are
// gathered and committed together by the next one (Store::create_jobs), instead of
// queueing one by one for the writer. The first caller to find no commit in progress
// leads: it takes every job waiting (up to kMaxBatch), commits them, hands each waiter
// its result and wakes it; then the oldest waiter whose job was not taken yet is woken
// to lead the next batch. Each waiter sleeps on its own condition variable, so a commit
// wakes only the submissions it answered and one leader, never every waiting thread.
// No thread of its own and no timer: a lone submission commits at once, alone.
//
// A batch the store refuses as a whole (one job's row breaking a constraint) is retried
// job by job, so one bad job fails only its own submission.
//
// Thread-safety: create() from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

#include "store/store.h"

namespace ream::jobs {

class GroupCommit {
 public:
  static constexpr size_t kMaxBatch = 256;

  explicit GroupCommit(store::Store& store) : store_(store) {}

  // Creates the job (Store::create_jobs semantics, idempotency included), committed
  // before this returns.
  Result<store::CreatedJob> create(store::NewJob job);

 private:
  struct Waiter {
    store::NewJob* job = nullptr;
    Result<store::CreatedJob> result = internal_error("not committed");
    bool done = false;  // result is set
    bool lead = false;  // this waiter is to commit the next batch
    std::condition_variable cv;
  };
  void commit(const std::vector<Waiter*>& batch);

  store::Store& store_;
  std::mutex mu_;
  std::deque<Waiter*> waiting_;
  bool leading_ = false;  // a leader is committing a batch, or has been named
};

}  // namespace ream::jobs
