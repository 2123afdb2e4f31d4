// Store: opening and migrating the database; workflows, documents and jobs.
// Step runs, findings and events are in store_steps.cpp.
#include "store/store.h"

#include <chrono>

#include "store/migrations.h"
#include "store/sqlite.h"

namespace ream::store {

int current_schema_version() { return static_cast<int>(migrations().size()); }

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Store::Store(std::unique_ptr<Db> db) : db_(std::move(db)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& path, int busy_timeout_ms) {
  auto db = Db::open(path, busy_timeout_ms);
  if (!db.ok()) return db.status();
  std::unique_ptr<Store> store(new Store(std::make_unique<Db>(std::move(db).value())));
  Status st = store->migrate();
  if (!st.ok()) return Status(st.code(), path + ": " + st.message());
  return store;
}

Status Store::migrate() {
  std::lock_guard lock(mu_);
  const auto& all = migrations();
  for (;;) {
    WriteTxn txn(*db_);  // holds the write lock, so concurrent openers migrate once
    REAM_RETURN_IF_ERROR(txn.begin_status());
    Stmt q = db_->prepare("PRAGMA user_version");
    Status st;
    int version = q.step(&st) ? static_cast<int>(q.col_int(0)) : 0;
    REAM_RETURN_IF_ERROR(st);
    if (version > static_cast<int>(all.size())) {
      return failed_precondition("database schema version " + std::to_string(version) +
                                 " is newer than this ream supports (" +
                                 std::to_string(all.size()) + ")");
    }
    if (version == static_cast<int>(all.size())) return {};
    st = db_->exec(all[static_cast<size_t>(version)]);
    if (!st.ok()) {
      return internal_error("migration to schema version " + std::to_string(version + 1) +
                            " failed: " + st.message());
    }
    REAM_RETURN_IF_ERROR(db_->exec("PRAGMA user_version = " + std::to_string(version + 1)));
    REAM_RETURN_IF_ERROR(txn.commit());
  }
}

Result<int> Store::schema_version() {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare("PRAGMA user_version");
  Status st;
  if (q.step(&st)) return static_cast<int>(q.col_int(0));
  return st.ok() ? internal_error("no user_version") : st;
}

Result<int64_t> Store::put_workflow(const WorkflowRecord& w) {
  std::lock_guard lock(mu_);
  WriteTxn txn(*db_);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  Stmt find = db_->prepare(
      "SELECT id FROM workflows WHERE name = ?1 AND version = ?2 AND content_hash = ?3");
  find.bind(1, w.name).bind(2, w.version).bind(3, w.content_hash);
  Status st;
  if (find.step(&st)) return find.col_int(0);
  REAM_RETURN_IF_ERROR(st);
  Stmt ins = db_->prepare(
      "INSERT INTO workflows(name, version, content_hash, source, path, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  ins.bind(1, w.name).bind(2, w.version).bind(3, w.content_hash).bind(4, w.source);
  ins.bind(5, w.path).bind(6, now_ms());
  REAM_RETURN_IF_ERROR(ins.run());
  int64_t id = db_->last_insert_id();
  REAM_RETURN_IF_ERROR(txn.commit());
  return id;
}

Result<WorkflowRecord> Store::get_workflow(int64_t id) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "SELECT id, name, version, content_hash, source, path, created_at FROM workflows "
      "WHERE id = ?1");
  q.bind(1, id);
  Status st;
  if (!q.step(&st)) return st.ok() ? not_found("no workflow " + std::to_string(id)) : st;
  WorkflowRecord w;
  w.id = q.col_int(0);
  w.name = q.col_text(1);
  w.version = q.col_text(2);
  w.content_hash = q.col_text(3);
  w.source = q.col_text(4);
  w.path = q.col_text(5);
  w.created_at = q.col_int(6);
  return w;
}

Result<int64_t> Store::put_document(const DocumentRecord& d) {
  std::lock_guard lock(mu_);
  WriteTxn txn(*db_);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  Stmt find = db_->prepare("SELECT id FROM documents WHERE content_hash = ?1");
  find.bind(1, d.content_hash);
  Status st;
  if (find.step(&st)) {
    // A row from before layouts (or token counts) were kept gains them now.
    int64_t id = find.col_int(0);
    Stmt fill = db_->prepare(
        "UPDATE documents SET layout = COALESCE(layout, ?2), "
        "token_count = CASE WHEN token_count < 0 THEN ?3 ELSE token_count END WHERE id = ?1");
    fill.bind(1, id).bind_blob(2, d.layout).bind(3, d.token_count);
    REAM_RETURN_IF_ERROR(fill.run());
    REAM_RETURN_IF_ERROR(txn.commit());
    return id;
  }
  REAM_RETURN_IF_ERROR(st);
  Stmt ins = db_->prepare(
      "INSERT INTO documents(content_hash, source_path, media_type, size_bytes, token_count, "
      "text, layout, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  ins.bind(1, d.content_hash).bind(2, d.source_path).bind(3, d.media_type);
  ins.bind(4, d.size_bytes).bind(5, d.token_count).bind(6, d.text).bind_blob(7, d.layout);
  ins.bind(8, now_ms());
  REAM_RETURN_IF_ERROR(ins.run());
  int64_t id = db_->last_insert_id();
  REAM_RETURN_IF_ERROR(txn.commit());
  return id;
}

Result<DocumentRecord> Store::get_document(int64_t id) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "SELECT id, content_hash, source_path, media_type, size_bytes, token_count, text, "
      "created_at, layout FROM documents WHERE id = ?1");
  q.bind(1, id);
  Status st;
  if (!q.step(&st)) return st.ok() ? not_found("no document " + std::to_string(id)) : st;
  DocumentRecord d;
  d.id = q.col_int(0);
  d.content_hash = q.col_text(1);
  d.source_path = q.col_text(2);
  d.media_type = q.col_text(3);
  d.size_bytes = q.col_int(4);
  d.token_count = q.col_int(5);
  d.text = q.col_text(6);
  d.created_at = q.col_int(7);
  d.layout = q.col_blob(8);
  return d;
}

Result<int64_t> Store::create_job(const JobRecord& job, const std::vector<JobDocument>& docs,
                                  const std::vector<EventRecord>& events) {
  std::lock_guard lock(mu_);
  WriteTxn txn(*db_);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  int64_t now = now_ms();
  Stmt ins = db_->prepare(
      "INSERT INTO jobs(workflow_id, status, inputs_json, priority, created_at, updated_at, "
      "idempotency_key, idempotency_hash) VALUES (?1, 'queued', ?2, ?3, ?4, ?4, ?5, ?6)");
  ins.bind(1, job.workflow_id).bind(2, job.inputs_json).bind(3, job.priority).bind(4, now);
  ins.bind(6, job.idempotency_hash);
  if (job.idempotency_key.empty()) {
    ins.bind_null(5);
  } else {
    ins.bind(5, job.idempotency_key);
  }
  REAM_RETURN_IF_ERROR(ins.run());
  int64_t job_id = db_->last_insert_id();
  for (const JobDocument& d : docs) {
    Stmt jd = db_->prepare(
        "INSERT INTO job_documents(job_id, ordinal, document_id, key, input_name, name) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    jd.bind(1, job_id).bind(2, d.ordinal).bind(3, d.document_id).bind(4, d.key);
    jd.bind(5, d.input_name).bind(6, d.name);
    REAM_RETURN_IF_ERROR(jd.run());
  }
  REAM_RETURN_IF_ERROR(add_event_locked(job_id, "job_queued", "{}"));
  for (const EventRecord& e : events) REAM_RETURN_IF_ERROR(add_event_locked(job_id, e.type, e.data_json));
  REAM_RETURN_IF_ERROR(txn.commit());
  return job_id;
}

namespace {
constexpr const char* kJobColumns =
    "SELECT j.id, j.workflow_id, w.name, j.status, j.inputs_json, j.outputs_json, j.error, "
    "j.priority, j.created_at, j.started_at, j.finished_at, j.updated_at, j.lease_owner, "
    "j.lease_expires_at, COALESCE(j.idempotency_key, ''), j.idempotency_hash, "
    "(SELECT COALESCE(SUM(prompts), 0) FROM step_runs s WHERE s.job_id = j.id "
    "   AND s.status = 'succeeded'), "
    "(SELECT COALESCE(SUM(prompt_tokens), 0) FROM step_runs s WHERE s.job_id = j.id "
    "   AND s.status = 'succeeded'), "
    "(SELECT COALESCE(SUM(completion_tokens), 0) FROM step_runs s WHERE s.job_id = j.id "
    "   AND s.status = 'succeeded'), "
    "(SELECT COALESCE(SUM(cached_prompt_tokens), 0) FROM step_runs s WHERE s.job_id = j.id "
    "   AND s.status = 'succeeded') "
    "FROM jobs j JOIN workflows w ON w.id = j.workflow_id ";

JobRecord read_job(const Stmt& q) {
  JobRecord j;
  j.id = q.col_int(0);
  j.workflow_id = q.col_int(1);
  j.workflow_name = q.col_text(2);
  j.status = q.col_text(3);
  j.inputs_json = q.col_text(4);
  j.outputs_json = q.col_text(5);
  j.error = q.col_text(6);
  j.priority = static_cast<int>(q.col_int(7));
  j.created_at = q.col_int(8);
  j.started_at = q.col_int(9);
  j.finished_at = q.col_int(10);
  j.updated_at = q.col_int(11);
  j.lease_owner = q.col_text(12);
  j.lease_expires_at = q.col_int(13);
  j.idempotency_key = q.col_text(14);
  j.idempotency_hash = q.col_text(15);
  j.usage.prompts = q.col_int(16);
  j.usage.prompt_tokens = q.col_int(17);
  j.usage.completion_tokens = q.col_int(18);
  j.usage.cached_prompt_tokens = q.col_int(19);
  return j;
}
}  // namespace

Result<JobRecord> Store::get_job(int64_t id) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(std::string(kJobColumns) + "WHERE j.id = ?1");
  q.bind(1, id);
  Status st;
  if (!q.step(&st)) return st.ok() ? not_found("no job " + std::to_string(id)) : st;
  return read_job(q);
}

Result<std::vector<JobRecord>> Store::list_jobs(const std::string& status_filter, int limit,
                                                int64_t before_id) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(std::string(kJobColumns) +
                        "WHERE (?1 = '' OR j.status = ?1) AND (?2 = 0 OR j.id < ?2) "
                        "ORDER BY j.id DESC LIMIT ?3");
  q.bind(1, status_filter).bind(2, before_id).bind(3, limit);
  std::vector<JobRecord> out;
  Status st;
  while (q.step(&st)) out.push_back(read_job(q));
  REAM_RETURN_IF_ERROR(st);
  return out;
}

Result<std::vector<JobDocument>> Store::job_documents(int64_t job_id) {
  std::lock_guard lock(mu_);
  Stmt q = db_->prepare(
      "SELECT document_id, key, input_name, ordinal, name FROM job_documents WHERE job_id = ?1 "
      "ORDER BY ordinal");
  q.bind(1, job_id);
  std::vector<JobDocument> out;
  Status st;
  while (q.step(&st)) {
    out.push_back({q.col_int(0), q.col_text(1), q.col_text(2), static_cast<int>(q.col_int(3)), q.col_text(4)});
  }
  REAM_RETURN_IF_ERROR(st);
  return out;
}

Status Store::mark_job_running(int64_t job_id) {
  std::lock_guard lock(mu_);
  WriteTxn txn(*db_);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  int64_t now = now_ms();
  Stmt up = db_->prepare(
      "UPDATE jobs SET status = 'running', error = '', finished_at = 0, updated_at = ?2, "
      "started_at = CASE WHEN started_at = 0 THEN ?2 ELSE started_at END "
      "WHERE id = ?1 AND status IN ('queued', 'running', 'failed')");
  up.bind(1, job_id).bind(2, now);
  REAM_RETURN_IF_ERROR(up.run());
  if (db_->changes() == 0) {
    return failed_precondition("job " + std::to_string(job_id) +
                               " does not exist or has already finished");
  }
  REAM_RETURN_IF_ERROR(add_event_locked(job_id, "job_started", "{}"));
  return txn.commit();
}

Status Store::finish_job(int64_t job_id, const std::string& status,
                         const std::string& outputs_json, const std::string& error,
                         const std::string& lease_owner) {
  std::lock_guard lock(mu_);
  WriteTxn txn(*db_);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  int64_t now = now_ms();
  Stmt up = db_->prepare(
      "UPDATE jobs SET status = ?2, outputs_json = ?3, error = ?4, finished_at = ?5, "
      "updated_at = ?5, lease_owner = '', lease_expires_at = 0 "
      "WHERE id = ?1 AND status IN ('queued', 'running') AND (?6 = '' OR lease_owner = ?6)");
  up.bind(1, job_id).bind(2, status).bind(3, outputs_json).bind(4, error).bind(5, now);
  up.bind(6, lease_owner);
  REAM_RETURN_IF_ERROR(up.run());
  if (db_->changes() == 0) {
    Stmt q = db_->prepare("SELECT status, lease_owner FROM jobs WHERE id = ?1");
    q.bind(1, job_id);
    Status st;
    if (!q.step(&st)) return st.ok() ? not_found("no job " + std::to_string(job_id)) : st;
    const std::string now_status = q.col_text(0), owner = q.col_text(1);
    const std::string what = "job " + std::to_string(job_id) + " not marked " + status + ": ";
    if (now_status != kJobQueued && now_status != kJobRunning) {
      return failed_precondition(what + "it has already ended (" + now_status + ")");
    }
    return failed_precondition(what + "its lease is held by '" + owner + "', not by '" +
                               lease_owner + "'");
  }
  REAM_RETURN_IF_ERROR(add_event_locked(job_id, "job_" + status, "{}"));
  return txn.commit();
}

}  // namespace ream::store
