// Store: the SQLite database of workflows, documents, jobs, step runs, findings
// and job events. The only code in ream that speaks SQL.
//
// The database runs in WAL mode with a busy timeout; every write is a
// `BEGIN IMMEDIATE` transaction. The schema is versioned (PRAGMA user_version) and
// migrated forward on open; a database newer than this build is refused.
//
// Crash safety: commit_step_run() writes a step run's findings, outputs and its
// `succeeded` state in one transaction and refuses a run that already committed,
// so an interrupted job resumes at its first unfinished step run and no finding is
// ever written twice (a UNIQUE(step_run_id, seq) constraint backs this up).
//
// Thread-safety: a Store may be used from several threads; calls are serialised
// on one connection. Several processes may open the same file.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ream/engine/status.h"
#include "store/records.h"

namespace ream::store {

class Db;

// The schema version this build writes.
int current_schema_version();
int64_t now_ms();

class Store {
 public:
  // Opens (creating if needed) and migrates the database at `path` (":memory:" works).
  static Result<std::unique_ptr<Store>> open(const std::string& path, int busy_timeout_ms = 5000);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Result<int> schema_version();

  // Workflows: identical (name, version, content_hash) share one row.
  Result<int64_t> put_workflow(const WorkflowRecord& workflow);
  Result<WorkflowRecord> get_workflow(int64_t id);

  // Documents: deduplicated by content_hash; returns the existing id on a match
  // (filling in its layout and token count when the stored row lacks them).
  Result<int64_t> put_document(const DocumentRecord& document);
  Result<DocumentRecord> get_document(int64_t id);

  // Jobs. create_job inserts the job (status queued), its documents, the
  // `job_queued` event and then `events` (type and data_json used; e.g. documents
  // that could not be ingested) in one transaction.
  Result<int64_t> create_job(const JobRecord& job, const std::vector<JobDocument>& documents,
                             const std::vector<EventRecord>& events = {});
  Result<JobRecord> get_job(int64_t id);
  Result<std::vector<JobRecord>> list_jobs(const std::string& status_filter, int limit,
                                           int64_t before_id = 0);
  Result<std::vector<JobDocument>> job_documents(int64_t job_id);
  // queued/failed/running -> running; sets started_at once.
  Status mark_job_running(int64_t job_id);
  // Final state: succeeded, failed or cancelled, with outputs and error; clears the lease.
  // Only a job still queued or running is finished, and, when `lease_owner` is given, only
  // while that owner holds its lease: otherwise kFailedPrecondition saying which (a job
  // already final keeps its state and events; a runner that lost its lease writes nothing).
  Status finish_job(int64_t job_id, const std::string& status, const std::string& outputs_json,
                    const std::string& error, const std::string& lease_owner = "");

  // Step runs.
  Result<std::vector<StepRunRecord>> step_runs(int64_t job_id);
  // Starts an attempt of (job, step, iteration): creates the row or bumps its
  // attempt, status running. Fails with kAlreadyExists if it already succeeded or
  // was skipped. Returns the row with its id and attempt.
  Result<StepRunRecord> begin_step_run(int64_t job_id, const std::string& step_id, int iteration,
                                       const std::string& item_json);
  // Commits a finished run: findings, usage, outputs, warnings and status
  // `succeeded`, all in one transaction. kAlreadyExists if it was committed before.
  // Finding ids and seq numbers are assigned here.
  Status commit_step_run(const StepRunRecord& run, const std::vector<FindingRecord>& findings);
  // Records a failed attempt: status `retrying` (will_retry) or `failed`.
  Status fail_step_run(int64_t step_run_id, const std::string& error, bool will_retry,
                       const Usage& usage);
  // Records that a step (all its iterations) was skipped by `when`.
  Status skip_step(int64_t job_id, const std::string& step_id);

  // Findings of a job, in step-run then seq order, with their evidence.
  Result<std::vector<FindingRecord>> findings(int64_t job_id);

  // Job events, for progress streams (ids increase).
  Status add_event(int64_t job_id, const std::string& type, const std::string& data_json);
  Result<std::vector<EventRecord>> events(int64_t job_id, int64_t after_id);

 private:
  explicit Store(std::unique_ptr<Db> db);
  Status migrate();
  Status add_event_locked(int64_t job_id, const std::string& type, const std::string& data_json);

  std::mutex mu_;
  std::unique_ptr<Db> db_;
};

}  // namespace ream::store
