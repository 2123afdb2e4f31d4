// PgStore: jobs (creation with idempotency, reads, state changes, counts) and their
// leases, shared by every host on the database.
#include <algorithm>
#include <limits>

#include "store/pg_store.h"
#include "store/row_mappers.h"
#include "store/store_common.h"

namespace ream::store {

namespace {

const std::string kJobSelect =
    std::string("SELECT ") + kJobColumns +
    ", COALESCE(u.prompts, 0) AS prompts, COALESCE(u.prompt_tokens, 0) AS prompt_tokens, "
    "COALESCE(u.completion_tokens, 0) AS completion_tokens, "
    "COALESCE(u.cached_prompt_tokens, 0) AS cached_prompt_tokens "
    "FROM jobs j JOIN workflows w ON w.id = j.workflow_id "
    "LEFT JOIN LATERAL (SELECT SUM(s.prompts) AS prompts, SUM(s.prompt_tokens) AS prompt_tokens, "
    "  SUM(s.completion_tokens) AS completion_tokens, "
    "  SUM(s.cached_prompt_tokens) AS cached_prompt_tokens FROM step_runs s "
    "  WHERE s.job_id = j.id AND s.status = 'succeeded') u ON TRUE ";

// Inside the transaction: the job holding `key`, as a replay of `job`.
Result<std::optional<CreatedJob>> replay_of(const pg::Conn& db, const JobRecord& job) {
  if (job.idempotency_key.empty()) return std::optional<CreatedJob>();
  auto q = db.exec("SELECT id, idempotency_hash FROM jobs WHERE idempotency_key = $1",
                   pg::Params().add(job.idempotency_key));
  REAM_RETURN_IF_ERROR(q.status());
  if (q.rows() == 0) return std::optional<CreatedJob>();
  CreatedJob c{q.row(0).i64("id"), true, q.row(0).text("idempotency_hash") == job.idempotency_hash};
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return std::optional<CreatedJob>(c);
}

Status insert_job_documents(const pg::Conn& db, int64_t job_id, const std::vector<JobDocument>& documents) {
  for (const JobDocument& d : documents) {
    REAM_RETURN_IF_ERROR(
        db.exec("INSERT INTO job_documents(job_id, ordinal, document_id, key, input_name, name) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                pg::Params().add(job_id).add(d.ordinal).add(d.document_id).add(d.key)
                    .add(d.input_name).add(d.name))
            .status());
  }
  return {};
}

Result<int64_t> insert_job(PgStore::Write& db, const NewJob& n, int64_t now) {
  const JobRecord& job = n.job;
  pg::Params p;
  p.add(job.workflow_id).add(job.inputs_json).add(job.priority).add(now);
  if (job.idempotency_key.empty()) {
    p.add_null();
  } else {
    p.add(job.idempotency_key);
  }
  p.add(job.idempotency_hash).add(job.pending_documents);
  auto ins = db->exec(
      "INSERT INTO jobs(workflow_id, workflow_name, status, inputs_json, priority, created_at, updated_at, "
      "idempotency_key, idempotency_hash, pending_documents) VALUES ($1, "
      "COALESCE((SELECT name FROM workflows WHERE id = $1), ''), 'queued', $2, $3, $4, $4, $5, $6, $7) RETURNING id",
      p);
  REAM_RETURN_IF_ERROR(ins.status());
  const int64_t job_id = ins.row(0).i64("id");
  REAM_RETURN_IF_ERROR(ins.mapping_status());
  REAM_RETURN_IF_ERROR(insert_job_documents(*db, job_id, n.documents));
  REAM_RETURN_IF_ERROR(db.event(job_id, "job_queued", "{}"));
  for (const EventRecord& e : n.events) REAM_RETURN_IF_ERROR(db.event(job_id, e.type, e.data_json));
  return job_id;
}

// The job's status and lease owner, for saying why a change was refused.
Result<std::pair<std::string, std::string>> status_and_owner(const pg::Conn& db, int64_t job_id) {
  auto q = db.exec("SELECT status, lease_owner FROM jobs WHERE id = $1", pg::Params().add(job_id));
  REAM_RETURN_IF_ERROR(q.status());
  if (q.rows() == 0) return not_found("no job " + std::to_string(job_id));
  std::pair<std::string, std::string> out{q.row(0).text("status"), q.row(0).text("lease_owner")};
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

// Tells every listening host, at this transaction's commit, that a job may be runnable.
Status announce_runnable(const pg::Conn& db) {
  return db.exec("SELECT pg_notify($1, '')", pg::Params().add(PgStore::kRunnableChannel)).status();
}

// Why a change to job `job_id` guarded by `lease_owner` matched no row.
Status refused_change(const pg::Conn& db, int64_t job_id, const std::string& what, const std::string& lease_owner) {
  REAM_ASSIGN_OR_RETURN(auto now, status_and_owner(db, job_id));
  if (now.first != kJobQueued && now.first != kJobRunning) {
    return failed_precondition(what + "it has already ended (" + now.first + ")");
  }
  return failed_precondition(what + "its lease is held by '" + now.second + "', not by '" + lease_owner + "'");
}

}  // namespace

Result<std::vector<CreatedJob>> PgStore::create_jobs(const std::vector<NewJob>& jobs) {
  // Event transactions run one at a time across hosts (pg_store.h), so a key another
  // host is inserting right now is committed before replay_of looks for it.
  Write db(*this, true);
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
  if (std::any_of(out.begin(), out.end(), [](const CreatedJob& c) { return !c.replayed; })) {
    REAM_RETURN_IF_ERROR(announce_runnable(*db));
  }
  REAM_RETURN_IF_ERROR(db.commit());
  return out;
}

Result<JobRecord> PgStore::get_job(int64_t id) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(kJobSelect + "WHERE j.id = $1", pg::Params().add(id));
  REAM_RETURN_IF_ERROR(q.status());
  if (q.rows() == 0) return not_found("no job " + std::to_string(id));
  JobRecord j = read_job(q.row(0));
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return j;
}

Result<std::vector<JobRecord>> PgStore::list_jobs(const std::string& status_filter, int limit,
                                                  int64_t before_id, const std::string& workflow_filter) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  // One shape per filter, so each walks its index (status, id), (workflow_name, id) or
  // (workflow_name, status, id) backwards from the cursor, as the SQLite store does.
  std::string sql = kJobSelect + "WHERE j.id < $1 ";
  pg::Params p;
  p.add(before_id > 0 ? before_id : std::numeric_limits<int64_t>::max()).add(limit);
  int next = 3;
  if (!status_filter.empty()) {
    sql += "AND j.status = $" + std::to_string(next++) + " ";
    p.add(status_filter);
  }
  if (!workflow_filter.empty()) {
    sql += "AND j.workflow_name = $" + std::to_string(next++) + " ";
    p.add(workflow_filter);
  }
  auto q = db->exec(sql + "ORDER BY j.id DESC LIMIT $2", p);
  REAM_RETURN_IF_ERROR(q.status());
  std::vector<JobRecord> out;
  for (int i = 0; i < q.rows(); ++i) out.push_back(read_job(q.row(i)));
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Result<std::vector<JobDocument>> PgStore::job_documents(int64_t job_id) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(std::string("SELECT ") + kJobDocumentColumns +
                        "FROM job_documents WHERE job_id = $1 ORDER BY ordinal",
                    pg::Params().add(job_id));
  REAM_RETURN_IF_ERROR(q.status());
  std::vector<JobDocument> out;
  for (int i = 0; i < q.rows(); ++i) out.push_back(read_job_document(q.row(i)));
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Status PgStore::mark_job_running(int64_t job_id) {
  Write db(*this, true);
  REAM_RETURN_IF_ERROR(db.begin_status());
  auto up = db->exec(
      "UPDATE jobs SET status = 'running', error = '', finished_at = 0, updated_at = $2, "
      "started_at = CASE WHEN started_at = 0 THEN $2 ELSE started_at END "
      "WHERE id = $1 AND status IN ('queued', 'running', 'failed')",
      pg::Params().add(job_id).add(now_ms()));
  REAM_RETURN_IF_ERROR(up.status());
  if (up.affected() == 0) {
    return failed_precondition("job " + std::to_string(job_id) +
                               " does not exist or has already finished");
  }
  REAM_RETURN_IF_ERROR(db.event(job_id, "job_started", "{}"));
  return db.commit();
}

Status PgStore::finish_job(int64_t job_id, const std::string& status, const std::string& outputs_json,
                           const std::string& error, const std::string& lease_owner) {
  Write db(*this, true);
  REAM_RETURN_IF_ERROR(db.begin_status());
  auto up = db->exec(
      "UPDATE jobs SET status = $2, outputs_json = $3, error = $4, finished_at = $5, "
      "updated_at = $5, lease_owner = '', lease_expires_at = 0 "
      "WHERE id = $1 AND status IN ('queued', 'running') AND ($6::text = '' OR lease_owner = $6::text)",
      pg::Params().add(job_id).add(status).add(outputs_json).add(error).add(now_ms()).add(lease_owner));
  REAM_RETURN_IF_ERROR(up.status());
  if (up.affected() == 0) {
    return refused_change(*db, job_id, "job " + std::to_string(job_id) + " not marked " + status + ": ",
                          lease_owner);
  }
  REAM_RETURN_IF_ERROR(db.event(job_id, "job_" + status, "{}"));
  return db.commit();
}

Status PgStore::attach_documents(int64_t job_id, const std::string& lease_owner, const std::string& inputs_json,
                                 const std::vector<JobDocument>& documents, const std::vector<EventRecord>& events) {
  Write db(*this, true);
  REAM_RETURN_IF_ERROR(db.begin_status());
  auto up = db->exec(
      "UPDATE jobs SET inputs_json = $2, pending_documents = '', updated_at = $3 "
      "WHERE id = $1 AND pending_documents != '' AND status IN ('queued', 'running') "
      "AND ($4::text = '' OR lease_owner = $4::text)",
      pg::Params().add(job_id).add(inputs_json).add(now_ms()).add(lease_owner));
  REAM_RETURN_IF_ERROR(up.status());
  if (up.affected() == 0) {
    const std::string what = "job " + std::to_string(job_id) + ": documents not attached: ";
    auto q = db->exec("SELECT pending_documents FROM jobs WHERE id = $1", pg::Params().add(job_id));
    REAM_RETURN_IF_ERROR(q.status());
    if (q.rows() > 0 && q.row(0).text("pending_documents").empty()) {
      return failed_precondition(what + "they were attached before");
    }
    return refused_change(*db, job_id, what, lease_owner);
  }
  REAM_RETURN_IF_ERROR(insert_job_documents(*db, job_id, documents));
  for (const EventRecord& e : events) REAM_RETURN_IF_ERROR(db.event(job_id, e.type, e.data_json));
  return db.commit();
}

Result<bool> PgStore::cancel_if_queued(int64_t job_id) {
  Write db(*this, true);
  REAM_RETURN_IF_ERROR(db.begin_status());
  auto q = db->exec(
      "UPDATE jobs SET status = 'cancelled', error = 'cancelled', finished_at = $2, "
      "updated_at = $2 WHERE id = $1 AND status = 'queued' AND lease_owner = ''",
      pg::Params().add(job_id).add(now_ms()));
  REAM_RETURN_IF_ERROR(q.status());
  const bool done = q.affected() > 0;
  if (done) REAM_RETURN_IF_ERROR(db.event(job_id, "job_cancelled", "{}"));
  REAM_RETURN_IF_ERROR(db.commit());
  return done;
}

Result<std::map<std::string, int64_t>> PgStore::count_jobs() {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  std::map<std::string, int64_t> out = {
      {"queued", 0}, {"running", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}};
  auto q = db->exec("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status");
  REAM_RETURN_IF_ERROR(q.status());
  for (int i = 0; i < q.rows(); ++i) out[q.row(i).text("status")] = q.row(i).i64("n");
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Result<int64_t> PgStore::count_queued() {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'");
  REAM_RETURN_IF_ERROR(q.status());
  const int64_t n = q.row(0).i64("n");
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return n;
}

Result<int64_t> PgStore::job_by_idempotency_key(const std::string& key) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec("SELECT id FROM jobs WHERE idempotency_key = $1", pg::Params().add(key));
  REAM_RETURN_IF_ERROR(q.status());
  const int64_t id = q.rows() > 0 ? q.row(0).i64("id") : 0;
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return id;
}

Result<int64_t> PgStore::lease_next(const std::string& owner, int64_t lease_ms) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  const int64_t now = now_ms();
  // SKIP LOCKED: a row another host is claiming right now is passed over, not waited
  // for; a row it claimed and committed no longer matches (FOR UPDATE re-checks the
  // WHERE on the newest row version), so one job is never claimed twice.
  auto q = db->exec(
      "UPDATE jobs SET lease_owner = $1, lease_expires_at = $2, updated_at = $3 "
      "WHERE id = (SELECT id FROM jobs WHERE status IN ('queued', 'running') "
      "  AND (lease_owner = '' OR lease_expires_at < $3) "
      "  ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
      pg::Params().add(owner).add(now + lease_ms).add(now));
  REAM_RETURN_IF_ERROR(q.status());
  const int64_t id = q.rows() > 0 ? q.row(0).i64("id") : 0;
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return id;
}

Result<LeaseCheck> PgStore::heartbeat(int64_t job_id, const std::string& owner, int64_t lease_ms) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(
      "UPDATE jobs SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 "
      "AND status IN ('queued', 'running')",
      pg::Params().add(now_ms() + lease_ms).add(job_id).add(owner));
  REAM_RETURN_IF_ERROR(q.status());
  LeaseCheck check;
  if (q.affected() > 0) return check;
  auto now = status_and_owner(*db, job_id);
  if (now.ok()) {
    check.status = now->first;
    check.owner = now->second;
  } else if (now.status().code() != StatusCode::kNotFound) {
    return now.status();
  }
  const bool active = check.status == kJobQueued || check.status == kJobRunning;
  check.state = !check.status.empty() && !active ? LeaseCheck::State::kEnded : LeaseCheck::State::kLost;
  return check;
}

Result<LeaseCheck> PgStore::lease_job(int64_t job_id, const std::string& owner, int64_t lease_ms,
                                      const std::string& host) {
  Write db(*this, false);
  REAM_RETURN_IF_ERROR(db.begin_status());
  const int64_t now = now_ms();
  auto q = db->exec("SELECT status, lease_owner, lease_expires_at FROM jobs WHERE id = $1 FOR UPDATE",
                    pg::Params().add(job_id));
  REAM_RETURN_IF_ERROR(q.status());
  if (q.rows() == 0) return not_found("no job " + std::to_string(job_id));
  LeaseCheck check;
  check.status = q.row(0).text("status");
  check.owner = q.row(0).text("lease_owner");
  const bool expired = q.row(0).i64("lease_expires_at") < now;
  REAM_RETURN_IF_ERROR(q.mapping_status());
  if (check.status != kJobQueued && check.status != kJobRunning && check.status != kJobFailed) {
    check.state = LeaseCheck::State::kEnded;
    return check;
  }
  if (!check.owner.empty() && check.owner != owner && !expired &&
      !owner_is_dead(check.owner, host, owner)) {
    check.state = LeaseCheck::State::kLost;
    return check;
  }
  REAM_RETURN_IF_ERROR(
      db->exec("UPDATE jobs SET lease_owner = $2, lease_expires_at = $3, updated_at = $4 WHERE id = $1",
               pg::Params().add(job_id).add(owner).add(now + lease_ms).add(now))
          .status());
  REAM_RETURN_IF_ERROR(db.commit());
  check.state = LeaseCheck::State::kHeld;
  check.owner = owner;
  return check;
}

Status PgStore::release(int64_t job_id, const std::string& owner) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  // A job released before its end (a drain, a run that stopped) is runnable again:
  // announced in the same statement, so at its commit.
  return db->exec("WITH r AS (UPDATE jobs SET lease_owner = '', lease_expires_at = 0 "
                  "  WHERE id = $1 AND lease_owner = $2 RETURNING status) "
                  "SELECT pg_notify($3, '') FROM r WHERE status IN ('queued', 'running')",
                  pg::Params().add(job_id).add(owner).add(kRunnableChannel))
      .status();
}

Result<int> PgStore::requeue_orphans(const std::string& host, const std::string& self_owner) {
  Write db(*this, false);
  REAM_RETURN_IF_ERROR(db.begin_status());
  const int64_t now = now_ms();
  // SKIP LOCKED: a job another host is leasing or renewing right now is live.
  auto q = db->exec(
      "SELECT id, lease_owner, lease_expires_at FROM jobs "
      "WHERE status IN ('queued', 'running') AND (lease_owner != '' OR status = 'running') "
      "FOR UPDATE SKIP LOCKED");
  REAM_RETURN_IF_ERROR(q.status());
  std::vector<int64_t> orphans;
  for (int i = 0; i < q.rows(); ++i) {
    const pg::Row r = q.row(i);
    const std::string owner = r.text("lease_owner");
    if (r.i64("lease_expires_at") < now || owner.empty() || owner_is_dead(owner, host, self_owner)) {
      orphans.push_back(r.i64("id"));
    }
  }
  REAM_RETURN_IF_ERROR(q.mapping_status());
  for (int64_t id : orphans) {
    REAM_RETURN_IF_ERROR(
        db->exec("UPDATE jobs SET status = 'queued', lease_owner = '', lease_expires_at = 0, "
                 "updated_at = $2 WHERE id = $1",
                 pg::Params().add(id).add(now))
            .status());
  }
  if (!orphans.empty()) REAM_RETURN_IF_ERROR(announce_runnable(*db));
  REAM_RETURN_IF_ERROR(db.commit());
  return static_cast<int>(orphans.size());
}

}  // namespace ream::store
