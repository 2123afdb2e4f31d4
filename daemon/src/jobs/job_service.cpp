// JobService: submit, cancel; the runners and the event feed it owns.
#include "jobs/job_service.h"

#include <spdlog/spdlog.h>

#include "flow/report.h"
#include "flow/sarif.h"

namespace ream::jobs {

namespace {
RunnerDeps with_store(RunnerDeps deps, store::Store& store, const ingest::PathPolicy& paths) {
  deps.store = &store;
  deps.paths = paths;
  return deps;
}

// How often the reader of other processes' events looks when nothing was announced: the
// runners' fallback poll with a store that announces commits, else every second.
double foreign_events_poll_s(const store::Store& store, const RunnerSettings& settings) {
  return store.announces_commits() ? settings.fallback_poll_s : 1.0;
}
}  // namespace

JobService::JobService(store::Store& store, RunnerSettings settings, RunnerDeps deps,
                       ingest::PathPolicy paths)
    : store_(store),
      deps_(with_store(deps, store, paths)),
      paths_(std::move(paths)),
      events_(store, foreign_events_poll_s(store, settings)),
      commits_(store),
      runners_(std::move(settings), deps_) {
  // What other processes commit (PostgreSQL's NOTIFY): runnable work wakes the idle
  // runners, events wake the reader for the streams here; a (re)connection wakes both,
  // since whatever was announced while it was down is lost.
  store_.set_notice_listener([this](const store::Store::Notice& n) {
    switch (n.kind) {
      case store::Store::Notice::Kind::kRunnable:
        runners_.notify();
        break;
      case store::Store::Notice::Kind::kEvents:
        events_.announced(n.job_id);
        break;
      case store::Store::Notice::Kind::kResync:
        runners_.notify();
        events_.announced(0);
        break;
    }
  });
}

// The notices stop first (no callback into the members below once it returns).
JobService::~JobService() { store_.set_notice_listener(nullptr); }

Result<Submitted> JobService::submit(const JobSpec& spec, std::string* field) {
  if (!spec.workflow) return invalid_argument("no workflow");
  flow::JobRequest req;
  req.inputs = spec.inputs;
  req.names = spec.names;
  req.priority = spec.priority;
  req.idempotency_key = spec.idempotency_key;
  req.idempotency_hash = spec.idempotency_hash;
  req.paths = paths_;
  // reamd's documents are read when a runner takes the job (flow::Executor), not here:
  // a submission never waits for ingestion, and at most queue.runners jobs read
  // documents at once, however many submissions arrive.
  REAM_ASSIGN_OR_RETURN(store::NewJob job,
                        spec.read_documents_now
                            ? flow::prepare_job(store_, *spec.workflow, req, deps_.model ? deps_.model() : nullptr, field)
                            : flow::prepare_unread_job(store_, *spec.workflow, req, field));
  // Committed before this returns, in one transaction with the submissions beside it.
  REAM_ASSIGN_OR_RETURN(store::CreatedJob created, commits_.create(std::move(job)));
  if (!created.replayed) {
    {
      std::lock_guard lock(queued_mu_);
      ++created_since_;
    }
    spdlog::info("job {} queued (workflow {}, priority {}) job_id={}", created.id,
                 spec.workflow->name, spec.priority, created.id);
    runners_.notify();
  }
  return Submitted{created.id, created.replayed, created.same_request};
}

Result<int64_t> JobService::queued() {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(queued_mu_);
    if (queued_at_.time_since_epoch().count() != 0 &&
        now - queued_at_ < std::chrono::duration<double>(kQueuedCountS)) {
      return queued_counted_ + created_since_;
    }
  }
  REAM_ASSIGN_OR_RETURN(int64_t n, store_.count_queued());
  std::lock_guard lock(queued_mu_);
  queued_counted_ = n;
  created_since_ = 0;  // (a job committed during the count may be counted twice, or once less until the next)
  queued_at_ = now;
  return n;
}

Result<std::optional<store::JobRecord>> JobService::holder_of(const std::string& idempotency_key) {
  REAM_ASSIGN_OR_RETURN(int64_t id, store_.job_by_idempotency_key(idempotency_key));
  if (id <= 0) return std::optional<store::JobRecord>();
  REAM_ASSIGN_OR_RETURN(store::JobRecord job, store_.get_job(id));
  return std::optional<store::JobRecord>(std::move(job));
}

Result<RunCounts> JobService::run_counts(int64_t job_id) {
  REAM_ASSIGN_OR_RETURN(std::vector<store::StepRunRecord> runs, store_.step_runs(job_id));
  RunCounts n;
  for (const auto& r : runs) {
    ++n.total;
    if (r.status == store::kStepSucceeded || r.status == store::kStepSkipped) ++n.done;
  }
  return n;
}

Result<nlohmann::json> JobService::result_json(int64_t job_id) {
  return flow::job_result_json(store_, job_id);
}

Result<std::string> JobService::result_markdown(int64_t job_id) {
  return flow::job_result_markdown(store_, job_id);
}

Result<nlohmann::json> JobService::result_sarif(int64_t job_id) {
  return flow::job_result_sarif(store_, job_id);
}

Result<CancelOutcome> JobService::cancel(int64_t job_id) {
  REAM_ASSIGN_OR_RETURN(store::JobRecord job, store_.get_job(job_id));
  if (job.status == store::kJobSucceeded || job.status == store::kJobFailed ||
      job.status == store::kJobCancelled) {
    return CancelOutcome::kAlreadyFinal;
  }
  REAM_ASSIGN_OR_RETURN(bool was_queued, store_.cancel_if_queued(job_id));
  if (was_queued) {
    spdlog::info("job {} cancelled while queued job_id={}", job_id, job_id);
    return CancelOutcome::kCancelled;
  }
  if (runners_.cancel(job_id)) {
    spdlog::info("job {} cancelling (engine requests are cancelled) job_id={}", job_id, job_id);
    return CancelOutcome::kCancelling;
  }
  return CancelOutcome::kHeldElsewhere;
}

}  // namespace ream::jobs
