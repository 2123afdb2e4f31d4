// PgStore: the Store on a PostgreSQL database (libpq), shared by any number of reamd
// hosts and `ream run` processes. Same tables, columns and schema versions as the
// SQLite store (pg_migrations.cpp); the version lives in the table ream_schema.
//
// Concurrency across hosts:
// - lease_next claims a job with FOR UPDATE SKIP LOCKED: two hosts asking at once
//   claim two different jobs, and neither waits for the other's row.
// - commit_step_run's state change is a conditional UPDATE of the step run's row; a
//   second commit of the same run waits for the first and then changes nothing
//   (kAlreadyExists), and findings are unique on (step_run_id, seq) besides.
// - Every transaction that records job events first takes one transaction-scoped
//   advisory lock, so events commit in id order on every host: a reader that has
//   seen event N never later finds an event below N (JobEvents reads `after_id`).
//   Within this process the same order holds for the listener (events_mu_).
// - Commits are announced to every host with NOTIFY (Store::Notice): channel
//   kRunnableChannel (empty payload) from the transactions that make a job runnable
//   (create_jobs, a release that leaves the job queued or running, requeue_orphans), and
//   kEventsChannel (payload: the job id) from every transaction that records a job event.
//   PostgreSQL delivers them after the commit, folds repeats within one transaction, and
//   serializes committing transactions that notified (they already are: the event lock).
//   set_notice_listener receives them on one dedicated connection (pg_listen.h).
// - Migrations run under an advisory lock, so hosts starting together migrate once.
//
// Only daemon/src/store includes this header.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/pg.h"
#include "store/pg_listen.h"
#include "store/store.h"

namespace ream::store {

// PostgreSQL's migrations, numbered like migrations() (SQLite's).
const std::vector<std::string>& pg_migrations();

class PgStore final : public Store {
 public:
  static constexpr int kConnections = 4;
  // The transaction-scoped advisory lock every write with job events takes, so that event
  // ids commit in id order across hosts (JobEvents reads after an id).
  static constexpr int64_t kEventLock = 0x7265616d0002;
  static constexpr const char* kRunnableChannel = "ream_jobs";
  static constexpr const char* kEventsChannel = "ream_events";

  // `url`: postgresql://[user[:password]@][host][:port]/dbname[?param=value...] (libpq's
  // URI form; host=/dir for a Unix socket). Errors name it without the password.
  static Result<std::unique_ptr<PgStore>> open(const std::string& url);

  Result<int> schema_version() override;

  Result<int64_t> put_workflow(const WorkflowRecord& workflow) override;
  Result<WorkflowRecord> get_workflow(int64_t id) override;
  Result<int64_t> put_document(const DocumentRecord& document) override;
  Result<DocumentRecord> get_document(int64_t id) override;
  Status put_document_name(const std::string& content_hash, const std::string& name) override;
  Result<std::string> document_name(const std::string& content_hash) override;

  Result<std::vector<CreatedJob>> create_jobs(const std::vector<NewJob>& jobs) override;
  Result<JobRecord> get_job(int64_t id) override;
  Result<std::vector<JobRecord>> list_jobs(const std::string& status_filter, int limit, int64_t before_id,
                                           const std::string& workflow_filter) override;
  Result<std::vector<JobDocument>> job_documents(int64_t job_id) override;
  Status mark_job_running(int64_t job_id) override;
  Status attach_documents(int64_t job_id, const std::string& lease_owner, const std::string& inputs_json,
                          const std::vector<JobDocument>& documents,
                          const std::vector<EventRecord>& events) override;
  Status finish_job(int64_t job_id, const std::string& status, const std::string& outputs_json,
                    const std::string& error, const std::string& lease_owner) override;
  Result<bool> cancel_if_queued(int64_t job_id) override;
  Result<std::map<std::string, int64_t>> count_jobs() override;
  Result<int64_t> count_queued() override;
  Result<int64_t> job_by_idempotency_key(const std::string& key) override;

  Result<int64_t> lease_next(const std::string& owner, int64_t lease_ms) override;
  Result<LeaseCheck> heartbeat(int64_t job_id, const std::string& owner, int64_t lease_ms) override;
  Result<LeaseCheck> lease_job(int64_t job_id, const std::string& owner, int64_t lease_ms,
                               const std::string& host) override;
  Status release(int64_t job_id, const std::string& owner) override;
  Result<int> requeue_orphans(const std::string& host, const std::string& self_owner) override;

  Result<std::vector<StepRunRecord>> step_runs(int64_t job_id) override;
  Result<StepRunRecord> begin_step_run(int64_t job_id, const std::string& step_id, int iteration,
                                       const std::string& item_json) override;
  Status commit_step_run(const StepRunRecord& run, const std::vector<FindingRecord>& findings) override;
  Status fail_step_run(int64_t step_run_id, const std::string& error, bool will_retry,
                       const Usage& usage) override;
  Status skip_step(int64_t job_id, const std::string& step_id) override;
  Result<std::vector<FindingRecord>> findings(int64_t job_id) override;

  Status add_event(int64_t job_id, const std::string& type, const std::string& data_json) override;
  Result<std::vector<EventRecord>> events(int64_t job_id, int64_t after_id) override;

  Result<std::vector<ScheduleState>> schedules() override;
  Status put_schedule(const ScheduleState& state) override;
  Result<bool> advance_schedule(const std::string& id, int64_t expected_next_ms, int64_t fired_ms,
                                int64_t next_ms, int64_t job_id) override;
  Status set_schedule_buffer(const std::string& id, int64_t slot_ms) override;
  Result<std::vector<ApiScheduleRecord>> api_schedules() override;
  Result<bool> insert_api_schedule(const std::string& id, const std::string& definition_json) override;
  Result<bool> update_api_schedule(const std::string& id, const std::string& definition_json) override;
  Result<bool> remove_api_schedule(const std::string& id) override;

  Status probe_write() override;
  void set_event_listener(EventListener listener) override;
  bool announces_commits() const override { return true; }
  void set_notice_listener(NoticeListener listener) override;

  // A transaction on one pooled connection. With `events`, it takes the event lock
  // (in this process and in the database) before anything else, records job events
  // with event(), and hands them to the listener after its commit, before the lock
  // is free again.
  class Write {
   public:
    Write(PgStore& store, bool events);
    ~Write();
    Write(const Write&) = delete;
    Write& operator=(const Write&) = delete;
    const pg::Conn& operator*() const { return **conn_; }
    const pg::Conn* operator->() const { return &**conn_; }
    const Status& begin_status() const { return status_; }
    Status commit();
    Status event(int64_t job_id, const std::string& type, const std::string& data_json);

   private:
    PgStore& store_;
    std::unique_lock<std::mutex> events_lock_;
    std::optional<pg::Pool::Lease> conn_;  // before txn_: the transaction ends first
    std::optional<pg::Txn> txn_;
    Status status_;
    std::vector<EventRecord> pending_;
  };

  // A connection for one read (or one single-statement write).
  Result<pg::Pool::Lease> conn() { return pool_->acquire(); }

 private:
  PgStore(std::unique_ptr<pg::Pool> pool, std::string url) : pool_(std::move(pool)), url_(std::move(url)) {}
  Status migrate();
  // The dedicated connection's notifications, as notices (under notice_mu_).
  void deliver(const Notice& notice);

  std::unique_ptr<pg::Pool> pool_;
  const std::string url_;  // with any password: the listener connects with it
  std::mutex events_mu_;  // held by an event-recording Write from begin to listener
  std::mutex listener_mu_;
  EventListener listener_;
  std::mutex notice_mu_;  // held while a notice is delivered
  NoticeListener notice_listener_;
  std::mutex notices_mu_;  // serializes set_notice_listener, which alone touches notices_
  std::unique_ptr<pg::Listener> notices_;  // while a notice listener is set; destroyed first
};

}  // namespace ream::store
