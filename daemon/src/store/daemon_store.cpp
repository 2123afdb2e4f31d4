// DaemonStore: leases, idempotency keys, counts and schedule state for reamd.
#include "store/daemon_store.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "store/sqlite.h"
#include "store/store.h"

namespace ream::store {

namespace {

// reamd's own tables; version 1. Append, never edit, as with Store's migrations.
const char* kDaemonV1 = R"SQL(
CREATE TABLE IF NOT EXISTS reamd_idempotency (
  key           TEXT PRIMARY KEY,
  request_hash  TEXT NOT NULL,
  job_id        INTEGER NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reamd_schedules (
  id            TEXT PRIMARY KEY,
  spec_hash     TEXT NOT NULL,
  next_run_ms   INTEGER NOT NULL DEFAULT 0,
  last_run_ms   INTEGER NOT NULL DEFAULT 0,
  last_job_id   INTEGER NOT NULL DEFAULT 0,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_lease ON jobs(status, lease_expires_at);
)SQL";

// Version 2: the file name a document was last uploaded under, by content hash
// (the id POST /v1/documents returns). Uploads are deduplicated by content, so one
// row per hash; a later upload of the same content under another name replaces it.
const char* kDaemonV2 = R"SQL(
CREATE TABLE IF NOT EXISTS reamd_document_names (
  content_hash  TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  updated_at    INTEGER NOT NULL
);
)SQL";

// Version 3: schedules created over the API (their definitions; the firing state
// stays in reamd_schedules, shared with file schedules), and the slot a buffer_one
// schedule keeps while its last job runs.
const char* kDaemonV3 = R"SQL(
CREATE TABLE IF NOT EXISTS reamd_api_schedules (
  id               TEXT PRIMARY KEY,
  definition_json  TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
ALTER TABLE reamd_schedules ADD COLUMN buffered_ms INTEGER NOT NULL DEFAULT 0;
)SQL";

constexpr int kDaemonVersion = 3;

// "host:pid:start_ms" -> pid, or -1.
long owner_pid(const std::string& owner, const std::string& host) {
  if (owner.compare(0, host.size() + 1, host + ":") != 0) return -1;
  size_t start = host.size() + 1;
  size_t end = owner.find(':', start);
  try {
    return std::stol(owner.substr(start, end - start));
  } catch (...) {
    return -1;
  }
}

}  // namespace

DaemonStore::DaemonStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
DaemonStore::~DaemonStore() = default;

Result<std::unique_ptr<DaemonStore>> DaemonStore::open(const std::string& path,
                                                       int busy_timeout_ms) {
  auto db = Db::open(path, busy_timeout_ms);
  if (!db.ok()) return db.status();
  std::unique_ptr<DaemonStore> s(new DaemonStore(std::make_unique<Db>(std::move(db).value())));
  Status st = s->migrate();
  if (!st.ok()) return Status(st.code(), path + ": " + st.message());
  return s;
}

Status DaemonStore::migrate() {
  std::lock_guard lock(mu_);
  WriteTxn txn(*db_);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  REAM_RETURN_IF_ERROR(db_->exec(
      "CREATE TABLE IF NOT EXISTS reamd_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
  Stmt q = db_->prepare("SELECT value FROM reamd_meta WHERE key = 'schema_version'");
  Status st;
  int version = q.step(&st) ? std::stoi(q.col_text(0)) : 0;
  REAM_RETURN_IF_ERROR(st);
  if (version > kDaemonVersion) {
    return failed_precondition("reamd schema version " + std::to_string(version) +
                               " is newer than this reamd supports (" +
                               std::to_string(kDaemonVersion) + ")");
  }
  if (version < 1) REAM_RETURN_IF_ERROR(db_->exec(kDaemonV1));
  if (version < 2) REAM_RETURN_IF_ERROR(db_->exec(kDaemonV2));
  if (version < 3) REAM_RETURN_IF_ERROR(db_->exec(kDaemonV3));
  if (version < kDaemonVersion) {
    REAM_RETURN_IF_ERROR(db_->exec("INSERT OR REPLACE INTO reamd_meta(key, value) VALUES "
                                   "('schema_version', '" + std::to_string(kDaemonVersion) + "')"));
  }
  return txn.commit();
}

Status DaemonStore::put_document_name(const std::string& content_hash, const std::string& name) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "INSERT INTO reamd_document_names(content_hash, name, updated_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(content_hash) DO UPDATE SET name = ?2, updated_at = ?3");
  q.bind(1, content_hash).bind(2, name).bind(3, now_ms());
  return q.run();
}

Result<std::string> DaemonStore::document_name(const std::string& content_hash) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare("SELECT name FROM reamd_document_names WHERE content_hash = ?1");
  q.bind(1, content_hash);
  Status st;
  std::string name = q.step(&st) ? q.col_text(0) : "";
  REAM_RETURN_IF_ERROR(st);
  return name;
}

Result<int64_t> DaemonStore::lease_next(const std::string& owner, int64_t lease_ms) {
  std::lock_guard lock(mu_);
  int64_t now = now_ms();
  WriteTxn txn(*db_);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  Stmt q = db_->prepare(
      "UPDATE jobs SET lease_owner = ?1, lease_expires_at = ?2, updated_at = ?3 "
      "WHERE id = (SELECT id FROM jobs WHERE status IN ('queued', 'running') "
      "  AND (lease_owner = '' OR lease_expires_at < ?3) "
      "  ORDER BY priority DESC, id LIMIT 1) RETURNING id");
  q.bind(1, owner).bind(2, now + lease_ms).bind(3, now);
  Status st;
  int64_t id = q.step(&st) ? q.col_int(0) : 0;
  REAM_RETURN_IF_ERROR(st);
  if (id != 0) q.step(&st);  // finish the statement before commit
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(txn.commit());
  return id;
}

Result<LeaseCheck> DaemonStore::heartbeat(int64_t job_id, const std::string& owner,
                                          int64_t lease_ms) {
  std::lock_guard lock(mu_);
  int64_t now = now_ms();
  Stmt q = db_->prepare(
      "UPDATE jobs SET lease_expires_at = ?1 WHERE id = ?2 AND lease_owner = ?3 "
      "AND status IN ('queued', 'running')");
  q.bind(1, now + lease_ms).bind(2, job_id).bind(3, owner);
  REAM_RETURN_IF_ERROR(q.run());
  LeaseCheck check;
  if (db_->changes() > 0) return check;
  Stmt s = db_->prepare("SELECT status, lease_owner FROM jobs WHERE id = ?1");
  s.bind(1, job_id);
  Status st;
  if (s.step(&st)) {
    check.status = s.col_text(0);
    check.owner = s.col_text(1);
  }
  REAM_RETURN_IF_ERROR(st);
  const bool active = check.status == kJobQueued || check.status == kJobRunning;
  check.state = !check.status.empty() && !active ? LeaseCheck::State::kEnded : LeaseCheck::State::kLost;
  return check;
}

Status DaemonStore::release(int64_t job_id, const std::string& owner) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "UPDATE jobs SET lease_owner = '', lease_expires_at = 0 WHERE id = ?1 AND lease_owner = ?2");
  q.bind(1, job_id).bind(2, owner);
  return q.run();
}

Result<int> DaemonStore::requeue_orphans(const std::string& host, const std::string& self_owner) {
  std::lock_guard lock(mu_);
  int64_t now = now_ms();
  WriteTxn txn(*db_);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  std::vector<int64_t> orphans;
  Stmt q = db_->prepare(
      "SELECT id, lease_owner, lease_expires_at, status FROM jobs "
      "WHERE status IN ('queued', 'running') AND (lease_owner != '' OR status = 'running')");
  Status st;
  while (q.step(&st)) {
    std::string owner = q.col_text(1);
    bool expired = q.col_int(2) < now;
    long pid = owner_pid(owner, host);
    bool dead = pid > 0 && owner != self_owner &&
                (pid == static_cast<long>(getpid()) ||
                 (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH));
    if (expired || dead || owner.empty()) orphans.push_back(q.col_int(0));
  }
  REAM_RETURN_IF_ERROR(st);
  for (int64_t id : orphans) {
    Stmt u = db_->prepare(
        "UPDATE jobs SET status = 'queued', lease_owner = '', lease_expires_at = 0, "
        "updated_at = ?2 WHERE id = ?1");
    u.bind(1, id).bind(2, now);
    REAM_RETURN_IF_ERROR(u.run());
  }
  REAM_RETURN_IF_ERROR(txn.commit());
  return static_cast<int>(orphans.size());
}

Result<bool> DaemonStore::cancel_if_queued(int64_t job_id) {
  std::lock_guard lock(mu_);
  int64_t now = now_ms();
  WriteTxn txn(*db_);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  Stmt q = db_->prepare(
      "UPDATE jobs SET status = 'cancelled', error = 'cancelled', finished_at = ?2, "
      "updated_at = ?2 WHERE id = ?1 AND status = 'queued' AND lease_owner = ''");
  q.bind(1, job_id).bind(2, now);
  REAM_RETURN_IF_ERROR(q.run());
  bool done = db_->changes() > 0;
  if (done) {
    Stmt e = db_->prepare(
        "INSERT INTO job_events(job_id, type, data_json, created_at) "
        "VALUES (?1, 'job_cancelled', '{}', ?2)");
    e.bind(1, job_id).bind(2, now);
    REAM_RETURN_IF_ERROR(e.run());
  }
  REAM_RETURN_IF_ERROR(txn.commit());
  return done;
}

Result<std::map<std::string, int64_t>> DaemonStore::count_jobs() {
  std::lock_guard lock(mu_);
  std::map<std::string, int64_t> out = {
      {"queued", 0}, {"running", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}};
  Stmt q = db_->prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status");
  Status st;
  while (q.step(&st)) out[q.col_text(0)] = q.col_int(1);
  REAM_RETURN_IF_ERROR(st);
  return out;
}

Result<int64_t> DaemonStore::count_queued() {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare("SELECT COUNT(*) FROM jobs WHERE status = 'queued'");
  Status st;
  int64_t n = q.step(&st) ? q.col_int(0) : 0;
  REAM_RETURN_IF_ERROR(st);
  return n;
}

Status DaemonStore::probe_write() {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "INSERT OR REPLACE INTO reamd_meta(key, value) VALUES ('last_probe', ?1)");
  q.bind(1, std::to_string(now_ms()));
  return q.run();
}

Result<std::optional<IdempotencyRecord>> DaemonStore::find_idempotency(const std::string& key) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "SELECT j.id, CASE WHEN j.idempotency_hash != '' THEN j.idempotency_hash "
      "  ELSE COALESCE((SELECT r.request_hash FROM reamd_idempotency r WHERE r.key = ?1), '') END "
      "FROM jobs j WHERE j.idempotency_key = ?1");
  q.bind(1, key);
  Status st;
  if (q.step(&st)) {
    return std::optional<IdempotencyRecord>(IdempotencyRecord{key, q.col_text(1), q.col_int(0)});
  }
  REAM_RETURN_IF_ERROR(st);
  return std::optional<IdempotencyRecord>();
}

Result<int64_t> DaemonStore::job_by_idempotency_key(const std::string& key) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare("SELECT id FROM jobs WHERE idempotency_key = ?1");
  q.bind(1, key);
  Status st;
  int64_t id = q.step(&st) ? q.col_int(0) : 0;
  REAM_RETURN_IF_ERROR(st);
  return id;
}

Result<std::vector<ScheduleState>> DaemonStore::schedules() {
  std::lock_guard lock(mu_);
  std::vector<ScheduleState> out;
  Stmt q = db_->prepare(
      "SELECT id, spec_hash, next_run_ms, last_run_ms, last_job_id, updated_at, buffered_ms "
      "FROM reamd_schedules ORDER BY id");
  Status st;
  while (q.step(&st)) {
    out.push_back(ScheduleState{q.col_text(0), q.col_text(1), q.col_int(2), q.col_int(3),
                                q.col_int(4), q.col_int(5), q.col_int(6)});
  }
  REAM_RETURN_IF_ERROR(st);
  return out;
}

Status DaemonStore::put_schedule(const ScheduleState& s) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "INSERT INTO reamd_schedules(id, spec_hash, next_run_ms, last_run_ms, last_job_id, "
      "updated_at, buffered_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET "
      "spec_hash = ?2, next_run_ms = ?3, last_run_ms = ?4, last_job_id = ?5, updated_at = ?6, "
      "buffered_ms = ?7");
  q.bind(1, s.id).bind(2, s.spec_hash).bind(3, s.next_run_ms).bind(4, s.last_run_ms);
  q.bind(5, s.last_job_id).bind(6, now_ms()).bind(7, s.buffered_ms);
  return q.run();
}

Result<bool> DaemonStore::advance_schedule(const std::string& id, int64_t expected_next_ms,
                                           int64_t fired_ms, int64_t next_ms, int64_t job_id) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "UPDATE reamd_schedules SET next_run_ms = ?3, last_run_ms = ?4, "
      "last_job_id = CASE WHEN ?5 > 0 THEN ?5 ELSE last_job_id END, updated_at = ?6 "
      "WHERE id = ?1 AND next_run_ms = ?2");
  q.bind(1, id).bind(2, expected_next_ms).bind(3, next_ms).bind(4, fired_ms).bind(5, job_id);
  q.bind(6, now_ms());
  REAM_RETURN_IF_ERROR(q.run());
  return db_->changes() > 0;
}

Status DaemonStore::set_schedule_buffer(const std::string& id, int64_t slot_ms) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "UPDATE reamd_schedules SET buffered_ms = ?2, updated_at = ?3 WHERE id = ?1");
  q.bind(1, id).bind(2, slot_ms).bind(3, now_ms());
  return q.run();
}

Result<std::vector<ApiScheduleRecord>> DaemonStore::api_schedules() {
  std::lock_guard lock(mu_);
  std::vector<ApiScheduleRecord> out;
  Stmt q = db_->prepare(
      "SELECT id, definition_json, created_at, updated_at FROM reamd_api_schedules ORDER BY "
      "created_at, id");
  Status st;
  while (q.step(&st)) {
    out.push_back(ApiScheduleRecord{q.col_text(0), q.col_text(1), q.col_int(2), q.col_int(3)});
  }
  REAM_RETURN_IF_ERROR(st);
  return out;
}

Result<bool> DaemonStore::insert_api_schedule(const std::string& id,
                                              const std::string& definition_json) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "INSERT OR IGNORE INTO reamd_api_schedules(id, definition_json, created_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?3)");
  q.bind(1, id).bind(2, definition_json).bind(3, now_ms());
  REAM_RETURN_IF_ERROR(q.run());
  return db_->changes() > 0;
}

Result<bool> DaemonStore::update_api_schedule(const std::string& id,
                                              const std::string& definition_json) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "UPDATE reamd_api_schedules SET definition_json = ?2, updated_at = ?3 WHERE id = ?1");
  q.bind(1, id).bind(2, definition_json).bind(3, now_ms());
  REAM_RETURN_IF_ERROR(q.run());
  return db_->changes() > 0;
}

Result<bool> DaemonStore::remove_api_schedule(const std::string& id) {
  std::lock_guard lock(mu_);
  WriteTxn txn(*db_);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  Stmt q = db_->prepare("DELETE FROM reamd_api_schedules WHERE id = ?1");
  q.bind(1, id);
  REAM_RETURN_IF_ERROR(q.run());
  bool removed = db_->changes() > 0;
  Stmt s = db_->prepare("DELETE FROM reamd_schedules WHERE id = ?1");
  s.bind(1, id);
  REAM_RETURN_IF_ERROR(s.run());
  REAM_RETURN_IF_ERROR(txn.commit());
  return removed;
}

}  // namespace ream::store
