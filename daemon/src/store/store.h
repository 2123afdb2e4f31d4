// Store: everything ream keeps — workflows, documents, jobs with their leases and
// idempotency keys, step runs, findings, job events, schedules and upload names —
// behind one interface that names no database. Two backends implement it: SQLite
// (sqlite_store.h), the embedded default for one host, and PostgreSQL (pg_store.h),
// which several hosts share; Store::open picks one by the name it is given.
//
// Contracts every backend keeps:
// - Each write is one transaction: a job with its documents and first events; a
//   step run's findings, outputs and `succeeded` state (commit_step_run refuses a run
//   that already committed, so an interrupted job resumes at its first unfinished
//   step run and no finding is written twice); a state change with its event.
// - The schema is versioned and migrated forward once on open; a database newer
//   than this build is refused with kFailedPrecondition.
// - Errors are Status values; kNotFound for a missing row, kFailedPrecondition for
//   a state that forbids the change (saying which), kAlreadyExists for a repeat.
//
// Thread-safety: every method may be called from any thread; several processes may
// open the same database.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ream/engine/status.h"
#include "store/records.h"

namespace ream::store {

// The schema version this build writes.
int current_schema_version();
int64_t now_ms();
// The store's name as logs and errors may show it: a PostgreSQL URL without its
// password, a SQLite path as given.
std::string describe_store(const std::string& name);
// Whether `name` is a PostgreSQL URL (postgresql:// or postgres://), not a SQLite path.
bool names_postgresql(const std::string& name);

class Store {
 public:
  // Opens and migrates the database `name` names: "postgresql://..." (or
  // "postgres://...") a PostgreSQL database, which must exist; "sqlite:PATH" or a plain
  // PATH a SQLite file, created if needed (":memory:" works). `busy_timeout_ms` is
  // SQLite's. Errors name the store (a URL without its password).
  static Result<std::unique_ptr<Store>> open(const std::string& name, int busy_timeout_ms = 5000);
  virtual ~Store() = default;

  virtual Result<int> schema_version() = 0;

  // --- Workflows and documents -----------------------------------------------------
  // Workflows: identical (name, version, content_hash) share one row.
  virtual Result<int64_t> put_workflow(const WorkflowRecord& workflow) = 0;
  virtual Result<WorkflowRecord> get_workflow(int64_t id) = 0;
  // Documents: deduplicated by content_hash; returns the existing id on a match
  // (filling in its layout and token count when the stored row lacks them).
  virtual Result<int64_t> put_document(const DocumentRecord& document) = 0;
  virtual Result<DocumentRecord> get_document(int64_t id) = 0;
  // The file name an upload (POST /v1/documents) carried, by the content hash that
  // is its document id. The latest upload of the content wins; "" when none was named.
  virtual Status put_document_name(const std::string& content_hash, const std::string& name) = 0;
  virtual Result<std::string> document_name(const std::string& content_hash) = 0;

  // --- Jobs ------------------------------------------------------------------------
  // Creates jobs (status queued) in ONE transaction: each job's row, its documents, its
  // `job_queued` event and then its `events`. A job whose idempotency key another job
  // holds (created before, or earlier in this batch) is not created: its CreatedJob
  // names the holder (replayed). The idempotency key and digest are columns of the
  // jobs row, so a job is never seen without them.
  virtual Result<std::vector<CreatedJob>> create_jobs(const std::vector<NewJob>& jobs) = 0;
  Result<CreatedJob> create_job(const JobRecord& job, const std::vector<JobDocument>& documents,
                                const std::vector<EventRecord>& events = {});
  virtual Result<JobRecord> get_job(int64_t id) = 0;
  // Newest first: jobs with ids below `before_id` (0 = from the newest), of status
  // `status_filter` and workflow name `workflow_filter` ("" = any), at most `limit`.
  // Keyset pagination: pass the last id of a page as the next `before_id`; jobs created
  // meanwhile have larger ids, so no job is skipped or repeated. Each filter shape must
  // read an index in id order (no scan, no OFFSET), whatever the number of jobs.
  virtual Result<std::vector<JobRecord>> list_jobs(const std::string& status_filter, int limit,
                                                   int64_t before_id = 0,
                                                   const std::string& workflow_filter = "") = 0;
  virtual Result<std::vector<JobDocument>> job_documents(int64_t job_id) = 0;
  // queued/failed/running -> running; sets started_at once.
  virtual Status mark_job_running(int64_t job_id) = 0;
  // Final state: succeeded, failed or cancelled, with outputs and error; clears the lease.
  // Only a job still queued or running is finished, and, when `lease_owner` is given, only
  // while that owner holds its lease: otherwise kFailedPrecondition saying which (a job
  // already final keeps its state and events; a runner that lost its lease writes nothing).
  virtual Status finish_job(int64_t job_id, const std::string& status,
                            const std::string& outputs_json, const std::string& error,
                            const std::string& lease_owner = "") = 0;
  // The documents of a job created with pending_documents, once read: in ONE transaction,
  // its inputs become `inputs_json` (document inputs naming `documents`' keys), the
  // documents join the job, `events` are recorded and pending_documents is cleared.
  // Only while `lease_owner` (when given) holds the job's lease and it is queued or
  // running, and only once: otherwise kFailedPrecondition saying why, and nothing is written.
  virtual Status attach_documents(int64_t job_id, const std::string& lease_owner, const std::string& inputs_json,
                                  const std::vector<JobDocument>& documents,
                                  const std::vector<EventRecord>& events) = 0;
  // Cancels a queued job that no runner holds; false when it was not in that state.
  virtual Result<bool> cancel_if_queued(int64_t job_id) = 0;
  // Jobs by status (all five states present, zero when none).
  virtual Result<std::map<std::string, int64_t>> count_jobs() = 0;
  virtual Result<int64_t> count_queued() = 0;
  // The job created under this idempotency key, or 0.
  virtual Result<int64_t> job_by_idempotency_key(const std::string& key) = 0;

  // --- Leases ----------------------------------------------------------------------
  // A runner takes the next job that is queued, or running under an expired lease, by
  // writing itself as owner with an expiry; it renews the expiry while the job runs
  // (heartbeat) and clears it at the end. A job whose lease lapses is taken by the
  // next runner that asks and resumes at its first unfinished step.
  //
  // Leases the next runnable job for `owner` until now + lease_ms: the highest
  // priority, then the oldest. Returns 0 when nothing is runnable.
  virtual Result<int64_t> lease_next(const std::string& owner, int64_t lease_ms) = 0;
  // Extends the lease while `owner` holds it and the job is queued or running; otherwise
  // says why not. An error only when the database does not answer.
  virtual Result<LeaseCheck> heartbeat(int64_t job_id, const std::string& owner,
                                       int64_t lease_ms) = 0;
  // Leases job `job_id` for `owner` (running it in the caller, as `ream run` does): when
  // it is queued, running or failed (a failed job may be resumed) and no one else holds
  // a live lease on it, i.e. none, an expired one, or one whose owner is a process of
  // `host` that no longer exists. kHeld when leased; kEnded when the job is final
  // (succeeded or cancelled); kLost with the holder otherwise; kNotFound for no job.
  virtual Result<LeaseCheck> lease_job(int64_t job_id, const std::string& owner,
                                       int64_t lease_ms, const std::string& host) = 0;
  // Clears the lease if `owner` holds it.
  virtual Status release(int64_t job_id, const std::string& owner) = 0;
  // At startup: running jobs whose lease expired, or whose owner ("host:pid:start")
  // is a process of `host` other than `self_owner` that no longer exists, go back to
  // queued. Returns how many.
  virtual Result<int> requeue_orphans(const std::string& host, const std::string& self_owner) = 0;

  // --- Step runs and findings ------------------------------------------------------
  virtual Result<std::vector<StepRunRecord>> step_runs(int64_t job_id) = 0;
  // Starts an attempt of (job, step, iteration): creates the row or bumps its
  // attempt, status running. Fails with kAlreadyExists if it already succeeded or
  // was skipped. Returns the row with its id and attempt.
  virtual Result<StepRunRecord> begin_step_run(int64_t job_id, const std::string& step_id,
                                               int iteration, const std::string& item_json) = 0;
  // Commits a finished run: findings, usage, outputs, warnings and status
  // `succeeded`, all in one transaction. kAlreadyExists if it was committed before.
  // Finding ids and seq numbers are assigned here.
  virtual Status commit_step_run(const StepRunRecord& run,
                                 const std::vector<FindingRecord>& findings) = 0;
  // Records a failed attempt: status `retrying` (will_retry) or `failed`.
  virtual Status fail_step_run(int64_t step_run_id, const std::string& error, bool will_retry,
                               const Usage& usage) = 0;
  // Records that a step (all its iterations) was skipped by `when`.
  virtual Status skip_step(int64_t job_id, const std::string& step_id) = 0;
  // Findings of a job, in step-run then seq order, with their evidence.
  virtual Result<std::vector<FindingRecord>> findings(int64_t job_id) = 0;

  // --- Job events ------------------------------------------------------------------
  // Every state change above records its event in its own transaction; add_event
  // records one more. Ids increase.
  virtual Status add_event(int64_t job_id, const std::string& type, const std::string& data_json) = 0;
  virtual Result<std::vector<EventRecord>> events(int64_t job_id, int64_t after_id) = 0;
  // Called with each event this Store object records, right after its transaction
  // commits, in commit (= id) order, before the next write begins. It must be quick and
  // must not call the store (jobs/job_events.h queues and wakes). Events written by
  // other processes on the same database do not come here. One listener; null stops.
  using EventListener = std::function<void(const EventRecord&)>;
  virtual void set_event_listener(EventListener listener) = 0;

  // --- Notices: commits announced to every process on the database --------------------
  // A store shared by several hosts may announce, after the commit, that work became
  // runnable (a job created, a lease released, jobs requeued) and that a job's events
  // were committed, by any process. A notice only says when to look: one may be lost
  // (the connection that receives them was down), so whoever waits on them still polls,
  // less often. PostgreSQL's LISTEN/NOTIFY delivers them; SQLite (one host) has none.
  struct Notice {
    enum class Kind {
      kRunnable,  // a job may be runnable now: look at the queue
      kEvents,    // events of job_id were committed
      kResync,    // notices were (re)connected; any sent meanwhile were lost: look at everything
    };
    Kind kind = Kind::kRunnable;
    int64_t job_id = 0;  // kEvents
  };
  using NoticeListener = std::function<void(const Notice&)>;
  // Whether set_notice_listener delivers notices (false: only this process's own
  // wake-ups exist, so waiters must poll at their usual pace).
  virtual bool announces_commits() const { return false; }
  // Starts delivering notices to `listener` from a thread of the store's own (null
  // stops; once it returns, the previous listener is not running and never runs again).
  // It must be quick and must not call the store. One listener. A store that does not
  // announce commits ignores it.
  virtual void set_notice_listener(NoticeListener listener) { (void)listener; }

  // --- Schedules -------------------------------------------------------------------
  virtual Result<std::vector<ScheduleState>> schedules() = 0;
  virtual Status put_schedule(const ScheduleState& state) = 0;
  // Fires a slot atomically: sets last_run/next_run and the job id, only if the
  // stored next_run still equals `expected_next_ms` (so two daemons on one database
  // cannot both fire it).
  virtual Result<bool> advance_schedule(const std::string& id, int64_t expected_next_ms,
                                        int64_t fired_ms, int64_t next_ms, int64_t job_id) = 0;
  // Keeps `slot_ms` as the schedule's buffered slot (0 clears it).
  virtual Status set_schedule_buffer(const std::string& id, int64_t slot_ms) = 0;
  // API schedules. insert: false when the id is taken. update/remove: false when
  // there is none; remove also drops the schedule's state row.
  virtual Result<std::vector<ApiScheduleRecord>> api_schedules() = 0;
  virtual Result<bool> insert_api_schedule(const std::string& id, const std::string& definition_json) = 0;
  virtual Result<bool> update_api_schedule(const std::string& id, const std::string& definition_json) = 0;
  virtual Result<bool> remove_api_schedule(const std::string& id) = 0;

  // --- Health ----------------------------------------------------------------------
  // Whether the database answers a write (for /readyz).
  virtual Status probe_write() = 0;
};

}  // namespace ream::store
