// SqliteStore: the Store on one SQLite file, in WAL mode with a busy timeout, on a
// ConnectionPool (one writer connection, readers beside it). Every write is a
// `BEGIN IMMEDIATE` transaction on the writer; reads go to a reader. Rows are mapped
// to records by column name (the row mappers in row_mappers.h, shared with PgStore).
// The schema is versioned with PRAGMA user_version (migrations.h).
//
// Only daemon/src/store includes this header.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/sqlite.h"
#include "store/store.h"

namespace ream::store {

// The SELECT list_jobs runs for a filter shape (status given, workflow given), newest
// first below a cursor; the store tests read its plan (EXPLAIN QUERY PLAN) to hold that
// each shape reads an index.
std::string job_list_sql(bool by_status, bool by_workflow);

class SqliteStore final : public Store {
 public:
  static constexpr int kReaders = 4;

  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path, int busy_timeout_ms);

  Result<int> schema_version() override;

  Result<int64_t> put_workflow(const WorkflowRecord& workflow) override;
  Result<WorkflowRecord> get_workflow(int64_t id) override;
  Result<int64_t> put_document(const DocumentRecord& document) override;
  Result<DocumentRecord> get_document(int64_t id) override;
  Status put_document_name(const std::string& content_hash, const std::string& name) override;
  Result<std::string> document_name(const std::string& content_hash) override;

  Result<std::vector<CreatedJob>> create_jobs(const std::vector<NewJob>& jobs) override;
  Result<JobRecord> get_job(int64_t id) override;
  Result<std::vector<JobRecord>> list_jobs(const std::string& status_filter, int limit,
                                           int64_t before_id,
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

  // A write transaction on the writer connection that records job events: after its
  // commit, and before the writer is free again, the listener gets them, so listeners
  // see events in commit (= id) order.
  class Write {
   public:
    explicit Write(SqliteStore& store);
    ~Write();
    Write(const Write&) = delete;
    Write& operator=(const Write&) = delete;
    const Db& operator*() const { return *db_; }
    const Db* operator->() const { return &*db_; }
    const Status& begin_status() const { return txn_.begin_status(); }
    Status commit();
    // Records one job event in this transaction.
    Status event(int64_t job_id, const std::string& type, const std::string& data_json);

   private:
    SqliteStore& store_;
    ConnectionPool::Lease db_;  // before txn_: the transaction ends before the writer is free
    WriteTxn txn_;
  };

 private:
  explicit SqliteStore(std::unique_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {}
  Status migrate();

  std::unique_ptr<ConnectionPool> pool_;
  std::vector<EventRecord> pending_events_;  // of the open Write; only its holder touches it
  std::mutex listener_mu_;
  EventListener listener_;
};

}  // namespace ream::store
