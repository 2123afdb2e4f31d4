// JobService: the job lifecycle in one place — submit, lease and run (Runners, with
// heartbeats), cancel, and subscribe to a job's events. reamd's HTTP handlers and its
// scheduler are thin callers of it, and so is `ream run` (submit, then run_here: the
// same path in one process, without runner threads).
//
//   submit(JobSpec) -> inputs checked, documents left unread (flow::prepare_unread_job)
//       -> Store::create_jobs (the job with its unread documents, `job_queued`,
//       idempotency key and digest: one transaction, shared with the submissions made at
//       the same moment: GroupCommit) -> answered after that commit -> runners woken
//   Runners: lease -> flow::Executor (documents read and attached -> steps -> plugins
//       -> engine -> store) -> final state
//   every event the store commits -> JobEvents -> subscribers (SSE streams)
//   what other processes commit, announced by the store (Store::Notice: PostgreSQL's
//       LISTEN/NOTIFY) -> runnable work wakes the idle Runners, a job's events wake
//       JobEvents' reader of other processes' events; both also poll, slower
//       (RunnerSettings::fallback_poll_s), for an announcement that was lost
//
// Idempotency is a column of the job's row: submitting under a key a job already holds
// creates nothing and answers that job (replayed), saying whether it came with the same
// request digest.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "flow/job.h"
#include "flow/workflow.h"
#include "ingest/path_policy.h"
#include "jobs/group_commit.h"
#include "jobs/job_events.h"
#include "jobs/runners.h"
#include "store/store.h"

namespace ream::jobs {

struct JobSpec {
  std::shared_ptr<const flow::Workflow> workflow;
  // Inputs as the workflow takes them; document inputs hold server paths (reamd's
  // handlers resolve uploads and inline text to paths first).
  nlohmann::json inputs = nlohmann::json::object();
  flow::DocumentNames names;  // the name each document path was sent under
  int priority = 0;
  std::string idempotency_key;   // "" = none
  std::string idempotency_hash;  // digest of the request, compared on a replay
  // Read the documents before the job is created (flow::prepare_job: a document that
  // cannot be read refuses the submission), as `ream run` does. Otherwise (reamd) they
  // are read when a runner first takes the job (flow::prepare_unread_job).
  bool read_documents_now = false;
};

struct Submitted {
  int64_t id = 0;
  bool replayed = false;      // the key was held: `id` is the job that holds it
  bool same_request = true;   // (replayed) its digest equals this request's
};

// A job's step runs: all of them, and those done (succeeded or skipped).
struct RunCounts {
  int64_t done = 0;
  int64_t total = 0;
};

enum class CancelOutcome {
  kCancelled,       // it was queued: now cancelled
  kCancelling,      // it runs here: its engine requests are cancelled, it ends cancelled
  kAlreadyFinal,    // it had ended (status() says how)
  kHeldElsewhere,   // another reamd process runs it
};

class JobService {
 public:
  // `paths`: which document paths a job may read. `store` outlives the service.
  JobService(store::Store& store, RunnerSettings settings, RunnerDeps deps,
             ingest::PathPolicy paths);
  ~JobService();  // stops the store's notices, the runners (see Runners::~Runners), then the event feed

  // Creates the job (or answers the one holding the idempotency key). Input errors (and,
  // with read_documents_now, document errors) come back as from flow::prepare_job, with
  // `field` (when given) naming the input at fault ("inputs.max_words"; "inputs" when
  // none alone is).
  Result<Submitted> submit(const JobSpec& spec, std::string* field = nullptr);
  // Runs a job in the calling thread, leased to this process (Runners::run_here).
  Result<flow::JobOutcome> run_here(int64_t job_id, flow::RunOptions options) {
    return runners_.run_here(job_id, std::move(options));
  }
  // kNotFound for an unknown job.
  Result<CancelOutcome> cancel(int64_t job_id);
  std::shared_ptr<Subscription> subscribe(int64_t job_id, int64_t after_id) {
    return events_.subscribe(job_id, after_id);
  }
  // Live numbers of a job running here (or one of the last that ended here), or null.
  std::shared_ptr<const flow::Progress> progress(int64_t job_id) { return runners_.progress(job_id); }

  // --- Reading jobs (what the job endpoints answer) ---------------------------------
  // kNotFound for an unknown job.
  Result<store::JobRecord> get(int64_t job_id) { return store_.get_job(job_id); }
  // Newest first, `status` and `workflow` ("" = any), ids below `before_id` (0 = from
  // the newest): one indexed query (Store::list_jobs).
  Result<std::vector<store::JobRecord>> list(const std::string& status, const std::string& workflow,
                                             int limit, int64_t before_id) {
    return store_.list_jobs(status, limit, before_id, workflow);
  }
  // The job an idempotency key is held by, or nullopt when none holds it.
  Result<std::optional<store::JobRecord>> holder_of(const std::string& idempotency_key);
  // Jobs waiting to run, for the queue limit: counted in the store at most every
  // kQueuedCountS, plus the jobs this service created since (a count is O(queued), too
  // dear for every submission of a long queue). Jobs another process queued or leased
  // since the count show up at the next one.
  static constexpr double kQueuedCountS = 0.1;
  Result<int64_t> queued();
  // The job's step runs counted from the store (for a job not running here).
  Result<RunCounts> run_counts(int64_t job_id);
  // The job's result: JSON and Markdown (flow/report.h), SARIF (flow/sarif.h).
  Result<nlohmann::json> result_json(int64_t job_id);
  Result<std::string> result_markdown(int64_t job_id);
  Result<nlohmann::json> result_sarif(int64_t job_id);
  // The runners' lifecycle: start, stop_taking, wait_idle, release_all, join, running.
  Runners& runners() { return runners_; }

 private:
  store::Store& store_;
  RunnerDeps deps_;
  ingest::PathPolicy paths_;
  JobEvents events_;  // before runners_: the runners stop first
  GroupCommit commits_;  // concurrent submissions commit together
  std::mutex queued_mu_;
  int64_t queued_counted_ = 0;      // the store's count of queued jobs, at queued_at_
  int64_t created_since_ = 0;       // jobs created here since then
  std::chrono::steady_clock::time_point queued_at_;  // epoch = never counted
  Runners runners_;
};

}  // namespace ream::jobs
