// SqliteStore: jobs (creation with idempotency, reads, state changes, counts) and
// their leases.
#include <limits>

#include "store/row_mappers.h"
#include "store/sqlite_store.h"
#include "store/store_common.h"

namespace ream::store {

namespace {

const std::string kJobSelect =
    std::string("SELECT ") + kJobColumns +
    ", (SELECT COALESCE(SUM(s.prompts), 0) FROM step_runs s "
    "  WHERE s.job_id = j.id AND s.status = 'succeeded') AS prompts, "
    "(SELECT COALESCE(SUM(s.prompt_tokens), 0) FROM step_runs s "
    "  WHERE s.job_id = j.id AND s.status = 'succeeded') AS prompt_tokens, "
    "(SELECT COALESCE(SUM(s.completion_tokens), 0) FROM step_runs s "
    "  WHERE s.job_id = j.id AND s.status = 'succeeded') AS completion_tokens, "
    "(SELECT COALESCE(SUM(s.cached_prompt_tokens), 0) FROM step_runs s "
    "  WHERE s.job_id = j.id AND s.status = 'succeeded') AS cached_prompt_tokens "
    "FROM jobs j JOIN workflows w ON w.id = j.workflow_id ";

// Inside the transaction: the job holding `key`, as a replay of `job`.
Result<std::optional<CreatedJob>> replay_of(const Db& db, const JobRecord& job) {
  if (job.idempotency_key.empty()) return std::optional<CreatedJob>();
  Stmt q = db.prepare("SELECT id, idempotency_hash FROM jobs WHERE idempotency_key = ?1");
  q.bind(1, job.idempotency_key);
  Status st;
  if (!q.step(&st)) {
    REAM_RETURN_IF_ERROR(st);
    return std::optional<CreatedJob>();
  }
  CreatedJob c{q.i64("id"), true, q.text("idempotency_hash") == job.idempotency_hash};
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return std::optional<CreatedJob>(c);
}

Status insert_job_documents(const Db& db, int64_t job_id, const std::vector<JobDocument>& documents) {
  for (const JobDocument& d : documents) {
    Stmt jd = db.prepare(
        "INSERT INTO job_documents(job_id, ordinal, document_id, key, input_name, name) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    jd.bind(1, job_id).bind(2, d.ordinal).bind(3, d.document_id).bind(4, d.key);
    jd.bind(5, d.input_name).bind(6, d.name);
    REAM_RETURN_IF_ERROR(jd.run());
  }
  return {};
}

Result<int64_t> insert_job(SqliteStore::Write& db, const NewJob& n, int64_t now) {
  const JobRecord& job = n.job;
  Stmt ins = db->prepare(
      "INSERT INTO jobs(workflow_id, workflow_name, status, inputs_json, priority, created_at, "
      "updated_at, idempotency_key, idempotency_hash, pending_documents) VALUES (?1, "
      "COALESCE((SELECT name FROM workflows WHERE id = ?1), ''), 'queued', ?2, ?3, ?4, ?4, ?5, ?6, ?7)");
  ins.bind(1, job.workflow_id).bind(2, job.inputs_json).bind(3, job.priority).bind(4, now);
  ins.bind(6, job.idempotency_hash).bind(7, job.pending_documents);
  if (job.idempotency_key.empty()) {
    ins.bind_null(5);
  } else {
    ins.bind(5, job.idempotency_key);
  }
  REAM_RETURN_IF_ERROR(ins.run());
  const int64_t job_id = db->last_insert_id();
  REAM_RETURN_IF_ERROR(insert_job_documents(*db, job_id, n.documents));
  REAM_RETURN_IF_ERROR(db.event(job_id, "job_queued", "{}"));
  for (const EventRecord& e : n.events) REAM_RETURN_IF_ERROR(db.event(job_id, e.type, e.data_json));
  return job_id;
}

// Why a change to job `job_id` guarded by `lease_owner` matched no row.
Status refused_change(const Db& db, int64_t job_id, const std::string& what, const std::string& lease_owner) {
  Stmt q = db.prepare("SELECT status, lease_owner FROM jobs WHERE id = ?1");
  q.bind(1, job_id);
  Status st;
  if (!q.step(&st)) return st.ok() ? not_found("no job " + std::to_string(job_id)) : st;
  const std::string now_status = q.text("status"), owner = q.text("lease_owner");
  REAM_RETURN_IF_ERROR(q.mapping_status());
  if (now_status != kJobQueued && now_status != kJobRunning) {
    return failed_precondition(what + "it has already ended (" + now_status + ")");
  }
  return failed_precondition(what + "its lease is held by '" + owner + "', not by '" + lease_owner + "'");
}

}  // namespace

Result<std::vector<CreatedJob>> SqliteStore::create_jobs(const std::vector<NewJob>& jobs) {
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  const int64_t now = now_ms();
  std::vector<CreatedJob> out;
  out.reserve(jobs.size());
  for (const NewJob& n : jobs) {
    REAM_ASSIGN_OR_RETURN(std::optional<CreatedJob> replay, replay_of(*db, n.job));
    if (replay) {
      out.push_back(*replay);
      continue;
    }
    REAM_ASSIGN_OR_RETURN(int64_t id, insert_job(db, n, now));
    out.push_back(CreatedJob{id, false, true});
  }
  REAM_RETURN_IF_ERROR(db.commit());
  return out;
}

Result<JobRecord> SqliteStore::get_job(int64_t id) {
  auto db = pool_->reader();
  Stmt q = db->prepare(kJobSelect + "WHERE j.id = ?1");
  q.bind(1, id);
  Status st;
  if (!q.step(&st)) return st.ok() ? not_found("no job " + std::to_string(id)) : st;
  JobRecord j = read_job(q);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return j;
}

std::string job_list_sql(bool by_status, bool by_workflow) {
  // One shape per filter, so each walks its own index (status, id), (workflow_name, id)
  // or (workflow_name, status, id) backwards from the cursor; "?1 = '' OR ..." would
  // leave the planner a scan. Parameters: ?1 cursor (ids below it), ?2 limit,
  // ?3 status, ?4 workflow name.
  std::string sql = kJobSelect + "WHERE j.id < ?1 ";
  if (by_status) sql += "AND j.status = ?3 ";
  if (by_workflow) sql += "AND j.workflow_name = ?4 ";
  return sql + "ORDER BY j.id DESC LIMIT ?2";
}

Result<std::vector<JobRecord>> SqliteStore::list_jobs(const std::string& status_filter, int limit,
                                                      int64_t before_id,
                                                      const std::string& workflow_filter) {
  auto db = pool_->reader();
  Stmt q = db->prepare(job_list_sql(!status_filter.empty(), !workflow_filter.empty()));
  q.bind(1, before_id > 0 ? before_id : std::numeric_limits<int64_t>::max()).bind(2, limit);
  if (!status_filter.empty()) q.bind(3, status_filter);
  if (!workflow_filter.empty()) q.bind(4, workflow_filter);
  std::vector<JobRecord> out;
  Status st;
  while (q.step(&st)) out.push_back(read_job(q));
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Result<std::vector<JobDocument>> SqliteStore::job_documents(int64_t job_id) {
  auto db = pool_->reader();
  Stmt q = db->prepare(std::string("SELECT ") + kJobDocumentColumns +
                       "FROM job_documents WHERE job_id = ?1 ORDER BY ordinal");
  q.bind(1, job_id);
  std::vector<JobDocument> out;
  Status st;
  while (q.step(&st)) out.push_back(read_job_document(q));
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Status SqliteStore::mark_job_running(int64_t job_id) {
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  int64_t now = now_ms();
  Stmt up = db->prepare(
      "UPDATE jobs SET status = 'running', error = '', finished_at = 0, updated_at = ?2, "
      "started_at = CASE WHEN started_at = 0 THEN ?2 ELSE started_at END "
      "WHERE id = ?1 AND status IN ('queued', 'running', 'failed')");
  up.bind(1, job_id).bind(2, now);
  REAM_RETURN_IF_ERROR(up.run());
  if (db->changes() == 0) {
    return failed_precondition("job " + std::to_string(job_id) +
                               " does not exist or has already finished");
  }
  REAM_RETURN_IF_ERROR(db.event(job_id, "job_started", "{}"));
  return db.commit();
}

Status SqliteStore::finish_job(int64_t job_id, const std::string& status,
                               const std::string& outputs_json, const std::string& error,
                               const std::string& lease_owner) {
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  int64_t now = now_ms();
  Stmt up = db->prepare(
      "UPDATE jobs SET status = ?2, outputs_json = ?3, error = ?4, finished_at = ?5, "
      "updated_at = ?5, lease_owner = '', lease_expires_at = 0 "
      "WHERE id = ?1 AND status IN ('queued', 'running') AND (?6 = '' OR lease_owner = ?6)");
  up.bind(1, job_id).bind(2, status).bind(3, outputs_json).bind(4, error).bind(5, now);
  up.bind(6, lease_owner);
  REAM_RETURN_IF_ERROR(up.run());
  if (db->changes() == 0) {
    return refused_change(*db, job_id, "job " + std::to_string(job_id) + " not marked " + status + ": ",
                          lease_owner);
  }
  REAM_RETURN_IF_ERROR(db.event(job_id, "job_" + status, "{}"));
  return db.commit();
}

Status SqliteStore::attach_documents(int64_t job_id, const std::string& lease_owner, const std::string& inputs_json,
                                     const std::vector<JobDocument>& documents,
                                     const std::vector<EventRecord>& events) {
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  Stmt up = db->prepare(
      "UPDATE jobs SET inputs_json = ?2, pending_documents = '', updated_at = ?3 "
      "WHERE id = ?1 AND pending_documents != '' AND status IN ('queued', 'running') "
      "AND (?4 = '' OR lease_owner = ?4)");
  up.bind(1, job_id).bind(2, inputs_json).bind(3, now_ms()).bind(4, lease_owner);
  REAM_RETURN_IF_ERROR(up.run());
  if (db->changes() == 0) {
    const std::string what = "job " + std::to_string(job_id) + ": documents not attached: ";
    Stmt q = db->prepare("SELECT pending_documents FROM jobs WHERE id = ?1");
    q.bind(1, job_id);
    Status st;
    if (q.step(&st) && q.text("pending_documents").empty()) {
      return failed_precondition(what + "they were attached before");
    }
    REAM_RETURN_IF_ERROR(st);
    return refused_change(*db, job_id, what, lease_owner);
  }
  REAM_RETURN_IF_ERROR(insert_job_documents(*db, job_id, documents));
  for (const EventRecord& e : events) REAM_RETURN_IF_ERROR(db.event(job_id, e.type, e.data_json));
  return db.commit();
}

Result<bool> SqliteStore::cancel_if_queued(int64_t job_id) {
  Write db(*this);
  int64_t now = now_ms();
  REAM_RETURN_IF_ERROR(db.begin_status());
  Stmt q = db->prepare(
      "UPDATE jobs SET status = 'cancelled', error = 'cancelled', finished_at = ?2, "
      "updated_at = ?2 WHERE id = ?1 AND status = 'queued' AND lease_owner = ''");
  q.bind(1, job_id).bind(2, now);
  REAM_RETURN_IF_ERROR(q.run());
  const bool done = db->changes() > 0;
  if (done) REAM_RETURN_IF_ERROR(db.event(job_id, "job_cancelled", "{}"));
  REAM_RETURN_IF_ERROR(db.commit());
  return done;
}

Result<std::map<std::string, int64_t>> SqliteStore::count_jobs() {
  auto db = pool_->reader();
  std::map<std::string, int64_t> out = {
      {"queued", 0}, {"running", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}};
  Stmt q = db->prepare("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status");
  Status st;
  while (q.step(&st)) out[q.text("status")] = q.i64("n");
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Result<int64_t> SqliteStore::count_queued() {
  auto db = pool_->reader();
  Stmt q = db->prepare("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'");
  Status st;
  int64_t n = q.step(&st) ? q.i64("n") : 0;
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return n;
}

Result<int64_t> SqliteStore::job_by_idempotency_key(const std::string& key) {
  auto db = pool_->reader();
  Stmt q = db->prepare("SELECT id FROM jobs WHERE idempotency_key = ?1");
  q.bind(1, key);
  Status st;
  int64_t id = q.step(&st) ? q.i64("id") : 0;
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return id;
}

Result<int64_t> SqliteStore::lease_next(const std::string& owner, int64_t lease_ms) {
  Write db(*this);
  int64_t now = now_ms();
  REAM_RETURN_IF_ERROR(db.begin_status());
  // jobs_runnable (schema 7) is in the claim's order: the walk stops at the first job it
  // may take. Named, because without statistics (reamd never runs ANALYZE) SQLite's planner
  // prefers jobs_by_lease and sorts every runnable job (bench/NOTES.md, "Queue claims").
  Stmt q = db->prepare(
      "UPDATE jobs SET lease_owner = ?1, lease_expires_at = ?2, updated_at = ?3 "
      "WHERE id = (SELECT id FROM jobs INDEXED BY jobs_runnable WHERE status IN ('queued', 'running') "
      "  AND (lease_owner = '' OR lease_expires_at < ?3) "
      "  ORDER BY priority DESC, id LIMIT 1) RETURNING id");
  q.bind(1, owner).bind(2, now + lease_ms).bind(3, now);
  Status st;
  int64_t id = q.step(&st) ? q.i64("id") : 0;
  REAM_RETURN_IF_ERROR(st);
  if (id != 0) q.step(&st);  // finish the statement before commit
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(db.commit());
  return id;
}

Result<LeaseCheck> SqliteStore::heartbeat(int64_t job_id, const std::string& owner,
                                          int64_t lease_ms) {
  auto db = pool_->writer();
  int64_t now = now_ms();
  Stmt q = db->prepare(
      "UPDATE jobs SET lease_expires_at = ?1 WHERE id = ?2 AND lease_owner = ?3 "
      "AND status IN ('queued', 'running')");
  q.bind(1, now + lease_ms).bind(2, job_id).bind(3, owner);
  REAM_RETURN_IF_ERROR(q.run());
  LeaseCheck check;
  if (db->changes() > 0) return check;
  Stmt s = db->prepare("SELECT status, lease_owner FROM jobs WHERE id = ?1");
  s.bind(1, job_id);
  Status st;
  if (s.step(&st)) {
    check.status = s.text("status");
    check.owner = s.text("lease_owner");
  }
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(s.mapping_status());
  const bool active = check.status == kJobQueued || check.status == kJobRunning;
  check.state = !check.status.empty() && !active ? LeaseCheck::State::kEnded : LeaseCheck::State::kLost;
  return check;
}

Result<LeaseCheck> SqliteStore::lease_job(int64_t job_id, const std::string& owner,
                                          int64_t lease_ms, const std::string& host) {
  Write db(*this);
  const int64_t now = now_ms();
  REAM_RETURN_IF_ERROR(db.begin_status());
  LeaseCheck check;
  bool expired = false;
  {  // the read finishes before the write
    Stmt q = db->prepare("SELECT status, lease_owner, lease_expires_at FROM jobs WHERE id = ?1");
    q.bind(1, job_id);
    Status st;
    if (!q.step(&st)) return st.ok() ? not_found("no job " + std::to_string(job_id)) : st;
    check.status = q.text("status");
    check.owner = q.text("lease_owner");
    expired = q.i64("lease_expires_at") < now;
    REAM_RETURN_IF_ERROR(q.mapping_status());
  }
  if (check.status != kJobQueued && check.status != kJobRunning && check.status != kJobFailed) {
    check.state = LeaseCheck::State::kEnded;
    return check;
  }
  if (!check.owner.empty() && check.owner != owner && !expired &&
      !owner_is_dead(check.owner, host, owner)) {
    check.state = LeaseCheck::State::kLost;
    return check;
  }
  Stmt up = db->prepare(
      "UPDATE jobs SET lease_owner = ?2, lease_expires_at = ?3, updated_at = ?4 WHERE id = ?1");
  up.bind(1, job_id).bind(2, owner).bind(3, now + lease_ms).bind(4, now);
  REAM_RETURN_IF_ERROR(up.run());
  REAM_RETURN_IF_ERROR(db.commit());
  check.state = LeaseCheck::State::kHeld;
  check.owner = owner;
  return check;
}

Status SqliteStore::release(int64_t job_id, const std::string& owner) {
  auto db = pool_->writer();
  Stmt q = db->prepare(
      "UPDATE jobs SET lease_owner = '', lease_expires_at = 0 WHERE id = ?1 AND lease_owner = ?2");
  q.bind(1, job_id).bind(2, owner);
  return q.run();
}

Result<int> SqliteStore::requeue_orphans(const std::string& host, const std::string& self_owner) {
  Write db(*this);
  int64_t now = now_ms();
  REAM_RETURN_IF_ERROR(db.begin_status());
  std::vector<int64_t> orphans;
  Stmt q = db->prepare(
      "SELECT id, lease_owner, lease_expires_at FROM jobs "
      "WHERE status IN ('queued', 'running') AND (lease_owner != '' OR status = 'running')");
  Status st;
  while (q.step(&st)) {
    std::string owner = q.text("lease_owner");
    bool expired = q.i64("lease_expires_at") < now;
    if (expired || owner.empty() || owner_is_dead(owner, host, self_owner)) {
      orphans.push_back(q.i64("id"));
    }
  }
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  for (int64_t id : orphans) {
    Stmt u = db->prepare(
        "UPDATE jobs SET status = 'queued', lease_owner = '', lease_expires_at = 0, "
        "updated_at = ?2 WHERE id = ?1");
    u.bind(1, id).bind(2, now);
    REAM_RETURN_IF_ERROR(u.run());
  }
  REAM_RETURN_IF_ERROR(db.commit());
  return static_cast<int>(orphans.size());
}

}  // namespace ream::store
