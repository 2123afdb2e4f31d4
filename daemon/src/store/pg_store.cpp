// PgStore: opening and migrating the database, the write transaction, workflows,
// documents, upload names, the write probe and schedules. Jobs and leases are in
// pg_jobs.cpp, step runs, findings and events in pg_steps.cpp.
#include "store/pg_store.h"

#include "store/row_mappers.h"

#include <cstdlib>

namespace ream::store {

namespace {

// Advisory lock keys (any bigint; these spell "ream" and a number).
constexpr int64_t kMigrateLock = 0x7265616d0001;

}  // namespace

PgStore::Write::Write(PgStore& store, bool events) : store_(store) {
  if (events) events_lock_ = std::unique_lock(store_.events_mu_);
  // A BEGIN that finds its connection lost (the server went away after the pool's check:
  // a restart under way) did nothing: it is tried once more on a connection made again.
  for (int attempt = 0; attempt < 2; ++attempt) {
    txn_.reset();
    conn_.reset();  // a lost connection goes back to the pool, which reconnects it
    auto conn = store_.pool_->acquire();
    if (!conn.ok()) {
      status_ = conn.status();
      return;
    }
    conn_.emplace(std::move(conn).value());
    txn_.emplace(**conn_);
    status_ = txn_->begin_status();
    if (status_.ok() || !(*conn_)->broken()) break;
  }
  if (status_.ok() && events) {
    status_ = (*conn_)->exec("SELECT pg_advisory_xact_lock($1)", pg::Params().add(kEventLock)).status();
  }
}

PgStore::Write::~Write() = default;

Status PgStore::Write::commit() {
  REAM_RETURN_IF_ERROR(status_);
  REAM_RETURN_IF_ERROR(txn_->commit());
  std::lock_guard lock(store_.listener_mu_);
  if (store_.listener_) {
    for (const EventRecord& e : pending_) store_.listener_(e);
  }
  pending_.clear();
  return {};
}

Status PgStore::Write::event(int64_t job_id, const std::string& type, const std::string& data_json) {
  if (!events_lock_.owns_lock()) return internal_error("job event written outside an event transaction");
  const int64_t now = now_ms();
  // Announced in the same statement (no extra round trip inside the event lock); the
  // notification leaves at commit, and repeats for one job in one transaction are folded.
  auto r = (*conn_)->exec(
      "WITH e AS (INSERT INTO job_events(job_id, type, data_json, created_at) VALUES ($1, $2, $3, $4) "
      "RETURNING id) SELECT e.id, pg_notify($5, $1::text) FROM e",
      pg::Params().add(job_id).add(type).add(data_json).add(now).add(kEventsChannel));
  REAM_RETURN_IF_ERROR(r.status());
  pending_.push_back({r.row(0).i64("id"), job_id, type, data_json, now});
  return r.mapping_status();
}

void PgStore::set_event_listener(EventListener listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
}

void PgStore::set_notice_listener(NoticeListener listener) {
  std::lock_guard serial(notices_mu_);
  const bool start = listener != nullptr;
  std::unique_ptr<pg::Listener> stopped;
  {
    std::lock_guard lock(notice_mu_);
    notice_listener_ = std::move(listener);
    if (!start) stopped = std::move(notices_);
  }
  stopped.reset();  // joined without notice_mu_, which its thread takes to deliver
  if (!start || notices_) return;
  notices_ = std::make_unique<pg::Listener>(
      url_, pool_->safe_url(), std::vector<std::string>{kRunnableChannel, kEventsChannel},
      [this](const std::string& channel, const std::string& payload) {
        Notice n;
        if (channel == kEventsChannel) {
          n.kind = Notice::Kind::kEvents;
          n.job_id = std::strtoll(payload.c_str(), nullptr, 10);
          if (n.job_id <= 0) return;
        }
        deliver(n);
      },
      [this] { deliver(Notice{Notice::Kind::kResync, 0}); });
}

void PgStore::deliver(const Notice& notice) {
  std::lock_guard lock(notice_mu_);
  if (notice_listener_) notice_listener_(notice);
}

Result<std::unique_ptr<PgStore>> PgStore::open(const std::string& url) {
  auto pool = pg::Pool::open(url, kConnections);
  if (!pool.ok()) return pool.status();
  std::unique_ptr<PgStore> store(new PgStore(std::move(pool).value(), url));
  Status st = store->migrate();
  if (!st.ok()) return Status(st.code(), store->pool_->safe_url() + ": " + st.message());
  return store;
}

Status PgStore::migrate() {
  const auto& all = pg_migrations();
  for (;;) {
    Write db(*this, false);
    REAM_RETURN_IF_ERROR(db.begin_status());
    // Held to commit: hosts starting together migrate one after the other, so once.
    REAM_RETURN_IF_ERROR(db->exec("SELECT pg_advisory_xact_lock($1)", pg::Params().add(kMigrateLock)).status());
    REAM_RETURN_IF_ERROR(db->exec_script(
        "CREATE TABLE IF NOT EXISTS ream_schema (version INTEGER NOT NULL);"
        "INSERT INTO ream_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM ream_schema)"));
    auto q = db->exec("SELECT MAX(version) AS version FROM ream_schema");
    REAM_RETURN_IF_ERROR(q.status());
    const int version = q.row(0).i32("version");
    REAM_RETURN_IF_ERROR(q.mapping_status());
    if (version > static_cast<int>(all.size())) {
      return failed_precondition("database schema version " + std::to_string(version) +
                                 " is newer than this ream supports (" +
                                 std::to_string(all.size()) + ")");
    }
    if (version == static_cast<int>(all.size())) return {};
    Status st = db->exec_script(all[static_cast<size_t>(version)]);
    if (!st.ok()) {
      return Status(st.code(), "migration to schema version " + std::to_string(version + 1) +
                                   " failed: " + st.message());
    }
    REAM_RETURN_IF_ERROR(
        db->exec("UPDATE ream_schema SET version = $1", pg::Params().add(version + 1)).status());
    REAM_RETURN_IF_ERROR(db.commit());
  }
}

Result<int> PgStore::schema_version() {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec("SELECT MAX(version) AS version FROM ream_schema");
  REAM_RETURN_IF_ERROR(q.status());
  const int v = q.row(0).i32("version");
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return v;
}

Result<int64_t> PgStore::put_workflow(const WorkflowRecord& w) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  // Insert unless the row exists, then read the id either way: a concurrent insert of
  // the same row by another host is waited for, not duplicated.
  auto ins = db->exec(
      "INSERT INTO workflows(name, version, content_hash, source, path, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name, version, content_hash) DO NOTHING",
      pg::Params().add(w.name).add(w.version).add(w.content_hash).add(w.source).add(w.path).add(now_ms()));
  REAM_RETURN_IF_ERROR(ins.status());
  auto q = db->exec("SELECT id FROM workflows WHERE name = $1 AND version = $2 AND content_hash = $3",
                    pg::Params().add(w.name).add(w.version).add(w.content_hash));
  REAM_RETURN_IF_ERROR(q.status());
  if (q.rows() == 0) return internal_error("workflow " + w.name + " vanished after its insert");
  const int64_t id = q.row(0).i64("id");
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return id;
}

Result<WorkflowRecord> PgStore::get_workflow(int64_t id) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(std::string("SELECT ") + kWorkflowColumns + "FROM workflows WHERE id = $1",
                    pg::Params().add(id));
  REAM_RETURN_IF_ERROR(q.status());
  if (q.rows() == 0) return not_found("no workflow " + std::to_string(id));
  WorkflowRecord w = read_workflow(q.row(0));
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return w;
}

Result<int64_t> PgStore::put_document(const DocumentRecord& d) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  // One statement: a new row, or the existing one gaining the layout and token count
  // it lacked (a row from before they were kept).
  pg::Params p;
  p.add(d.content_hash).add(d.source_path).add(d.media_type).add(d.size_bytes).add(d.token_count);
  p.add(d.text);
  if (d.layout.empty()) {
    p.add_null();
  } else {
    p.add_bytes(d.layout);
  }
  p.add(now_ms());
  auto q = db->exec(
      "INSERT INTO documents(content_hash, source_path, media_type, size_bytes, token_count, "
      "text, layout, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
      "ON CONFLICT (content_hash) DO UPDATE SET "
      "layout = COALESCE(documents.layout, EXCLUDED.layout), "
      "token_count = CASE WHEN documents.token_count < 0 THEN EXCLUDED.token_count "
      "ELSE documents.token_count END RETURNING id",
      p);
  REAM_RETURN_IF_ERROR(q.status());
  const int64_t id = q.row(0).i64("id");
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return id;
}

Result<DocumentRecord> PgStore::get_document(int64_t id) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(std::string("SELECT ") + kDocumentColumns + "FROM documents WHERE id = $1",
                    pg::Params().add(id));
  REAM_RETURN_IF_ERROR(q.status());
  if (q.rows() == 0) return not_found("no document " + std::to_string(id));
  DocumentRecord d = read_document(q.row(0));
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return d;
}

Status PgStore::put_document_name(const std::string& content_hash, const std::string& name) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  return db->exec(
               "INSERT INTO upload_names(content_hash, name, updated_at) VALUES ($1, $2, $3) "
               "ON CONFLICT (content_hash) DO UPDATE SET name = $2, updated_at = $3",
               pg::Params().add(content_hash).add(name).add(now_ms()))
      .status();
}

Result<std::string> PgStore::document_name(const std::string& content_hash) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec("SELECT name FROM upload_names WHERE content_hash = $1", pg::Params().add(content_hash));
  REAM_RETURN_IF_ERROR(q.status());
  std::string name = q.rows() > 0 ? q.row(0).text("name") : "";
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return name;
}

Status PgStore::probe_write() {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  return db->exec(
               "INSERT INTO write_probe(id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = $1",
               pg::Params().add(now_ms()))
      .status();
}

Result<std::vector<ScheduleState>> PgStore::schedules() {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(std::string("SELECT ") + kScheduleColumns + "FROM schedule_state ORDER BY id");
  REAM_RETURN_IF_ERROR(q.status());
  std::vector<ScheduleState> out;
  for (int i = 0; i < q.rows(); ++i) out.push_back(read_schedule(q.row(i)));
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Status PgStore::put_schedule(const ScheduleState& s) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  return db->exec(
               "INSERT INTO schedule_state(id, spec_hash, next_run_ms, last_run_ms, last_job_id, "
               "updated_at, buffered_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO "
               "UPDATE SET spec_hash = $2, next_run_ms = $3, last_run_ms = $4, last_job_id = $5, "
               "updated_at = $6, buffered_ms = $7",
               pg::Params().add(s.id).add(s.spec_hash).add(s.next_run_ms).add(s.last_run_ms)
                   .add(s.last_job_id).add(now_ms()).add(s.buffered_ms))
      .status();
}

Result<bool> PgStore::advance_schedule(const std::string& id, int64_t expected_next_ms,
                                       int64_t fired_ms, int64_t next_ms, int64_t job_id) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  // A conditional update: of two hosts firing the same slot, the second finds
  // next_run_ms moved (it waits for the first's row lock, then re-reads) and changes nothing.
  auto q = db->exec(
      "UPDATE schedule_state SET next_run_ms = $3, last_run_ms = $4, "
      "last_job_id = CASE WHEN $5::bigint > 0 THEN $5::bigint ELSE last_job_id END, "
      "updated_at = $6 WHERE id = $1 AND next_run_ms = $2",
      pg::Params().add(id).add(expected_next_ms).add(next_ms).add(fired_ms).add(job_id).add(now_ms()));
  REAM_RETURN_IF_ERROR(q.status());
  return q.affected() > 0;
}

Status PgStore::set_schedule_buffer(const std::string& id, int64_t slot_ms) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  return db->exec("UPDATE schedule_state SET buffered_ms = $2, updated_at = $3 WHERE id = $1",
                  pg::Params().add(id).add(slot_ms).add(now_ms()))
      .status();
}

Result<std::vector<ApiScheduleRecord>> PgStore::api_schedules() {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(std::string("SELECT ") + kApiScheduleColumns +
                    "FROM api_schedules ORDER BY created_at, id");
  REAM_RETURN_IF_ERROR(q.status());
  std::vector<ApiScheduleRecord> out;
  for (int i = 0; i < q.rows(); ++i) out.push_back(read_api_schedule(q.row(i)));
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Result<bool> PgStore::insert_api_schedule(const std::string& id, const std::string& definition_json) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(
      "INSERT INTO api_schedules(id, definition_json, created_at, updated_at) "
      "VALUES ($1, $2, $3, $3) ON CONFLICT (id) DO NOTHING",
      pg::Params().add(id).add(definition_json).add(now_ms()));
  REAM_RETURN_IF_ERROR(q.status());
  return q.affected() > 0;
}

Result<bool> PgStore::update_api_schedule(const std::string& id, const std::string& definition_json) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec("UPDATE api_schedules SET definition_json = $2, updated_at = $3 WHERE id = $1",
                    pg::Params().add(id).add(definition_json).add(now_ms()));
  REAM_RETURN_IF_ERROR(q.status());
  return q.affected() > 0;
}

Result<bool> PgStore::remove_api_schedule(const std::string& id) {
  Write db(*this, false);
  REAM_RETURN_IF_ERROR(db.begin_status());
  auto q = db->exec("DELETE FROM api_schedules WHERE id = $1", pg::Params().add(id));
  REAM_RETURN_IF_ERROR(q.status());
  REAM_RETURN_IF_ERROR(db->exec("DELETE FROM schedule_state WHERE id = $1", pg::Params().add(id)).status());
  REAM_RETURN_IF_ERROR(db.commit());
  return q.affected() > 0;
}

}  // namespace ream::store
