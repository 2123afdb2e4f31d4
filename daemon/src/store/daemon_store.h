// DaemonStore: the SQL reamd needs beyond Store: job leases for its runners,
// idempotency keys, counts for metrics and backpressure, and schedule state.
//
// It opens its own connection to the same database file as Store (WAL lets both
// work at once) and keeps its tables apart: `reamd_idempotency`, `reamd_schedules`,
// `reamd_document_names` and `reamd_api_schedules`, created on open when missing,
// versioned in `reamd_meta`.
// The lease columns themselves (jobs.lease_owner, jobs.lease_expires_at) belong
// to Store's schema version 1, the idempotency key and request digest to the job's row
// (Store's versions 1 and 4: written in the job's own transaction);
// `reamd_idempotency` is only read, for jobs created before version 4.
//
// Leases: a runner takes the next job that is queued, or running under an expired
// lease or one held by a dead process of this host, by writing itself as owner with
// an expiry; it renews the expiry while the job runs (heartbeat) and clears it at
// the end. A job whose lease lapses is taken by the next runner that asks and
// resumes at its first unfinished step (the executor's resume).
//
// Thread-safety: calls are serialised on one connection; any thread may call.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ream/engine/status.h"

namespace ream::store {

class Db;

struct ScheduleState {
  std::string id;            // "<workflow>#<index>" or the entry's `name`
  std::string spec_hash;     // of the schedule entry; a changed entry restarts its clock
  int64_t next_run_ms = 0;   // UTC; 0 = not planned yet
  int64_t last_run_ms = 0;   // the slot last fired (its scheduled time)
  int64_t last_job_id = 0;
  int64_t updated_at = 0;
  int64_t buffered_ms = 0;   // overlap buffer_one: a slot waiting for the last job to end
};

// A schedule created over the API: its definition as the API took it (JSON text).
struct ApiScheduleRecord {
  std::string id;
  std::string definition_json;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct IdempotencyRecord {
  std::string key;
  std::string request_hash;
  int64_t job_id = 0;
};

// What a heartbeat found.
struct LeaseCheck {
  enum class State {
    kHeld,   // renewed
    kEnded,  // the job reached a final state (its run is being wrapped up)
    kLost,   // another owner holds it, or nobody (released, or the job is gone)
  };
  State state = State::kHeld;
  std::string owner;   // kLost: who holds it now ("" = nobody)
  std::string status;  // the job's status ("" when it is gone)
};

class DaemonStore {
 public:
  static Result<std::unique_ptr<DaemonStore>> open(const std::string& path,
                                                   int busy_timeout_ms = 5000);
  ~DaemonStore();
  DaemonStore(const DaemonStore&) = delete;
  DaemonStore& operator=(const DaemonStore&) = delete;

  // Leases the next runnable job for `owner` until now + lease_ms: the highest
  // priority, then the oldest. Returns 0 when nothing is runnable.
  Result<int64_t> lease_next(const std::string& owner, int64_t lease_ms);
  // Extends the lease while `owner` holds it and the job is queued or running; otherwise
  // says why not. An error only when the database does not answer.
  Result<LeaseCheck> heartbeat(int64_t job_id, const std::string& owner, int64_t lease_ms);
  // Clears the lease if `owner` holds it.
  Status release(int64_t job_id, const std::string& owner);
  // At startup: running jobs whose lease expired, or whose owner is a process of
  // `host` other than `self_owner` that no longer exists, go back to queued.
  // Returns how many.
  Result<int> requeue_orphans(const std::string& host, const std::string& self_owner);
  // Cancels a queued job that no runner holds; false when it was not in that state.
  Result<bool> cancel_if_queued(int64_t job_id);

  // Jobs by status (all five states present, zero when none).
  Result<std::map<std::string, int64_t>> count_jobs();
  Result<int64_t> count_queued();
  // Whether the database answers a write (for /readyz).
  Status probe_write();

  // The job created under this idempotency key and the digest of its request, which
  // Store::create_job committed with the job (jobs.idempotency_hash); for a job created
  // before that column existed, the digest reamd kept in reamd_idempotency.
  Result<std::optional<IdempotencyRecord>> find_idempotency(const std::string& key);
  // The job created with this idempotency key (jobs.idempotency_key), or 0.
  Result<int64_t> job_by_idempotency_key(const std::string& key);

  // The file name an upload (POST /v1/documents) carried, by the content hash that
  // is its document id. The latest upload of the content wins; "" when none was named.
  Status put_document_name(const std::string& content_hash, const std::string& name);
  Result<std::string> document_name(const std::string& content_hash);

  Result<std::vector<ScheduleState>> schedules();
  Status put_schedule(const ScheduleState& state);
  // Fires a slot atomically: sets last_run/next_run and the job id, only if the
  // stored next_run still equals `expected_next_ms` (so two daemons on one file
  // cannot both fire it).
  Result<bool> advance_schedule(const std::string& id, int64_t expected_next_ms,
                                int64_t fired_ms, int64_t next_ms, int64_t job_id);
  // Keeps `slot_ms` as the schedule's buffered slot (0 clears it).
  Status set_schedule_buffer(const std::string& id, int64_t slot_ms);

  // API schedules. insert: false when the id is taken. update/remove: false when
  // there is none; remove also drops the schedule's state row.
  Result<std::vector<ApiScheduleRecord>> api_schedules();
  Result<bool> insert_api_schedule(const std::string& id, const std::string& definition_json);
  Result<bool> update_api_schedule(const std::string& id, const std::string& definition_json);
  Result<bool> remove_api_schedule(const std::string& id);

 private:
  explicit DaemonStore(std::unique_ptr<Db> db);
  Status migrate();
  std::mutex mu_;
  std::unique_ptr<Db> db_;
};

}  // namespace ream::store
