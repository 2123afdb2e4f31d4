// SqliteStore: opening and migrating the database; workflows, documents, upload
// names and the write probe. Jobs and leases are in sqlite_jobs.cpp, step runs,
// findings and events in sqlite_steps.cpp, schedules in sqlite_schedules.cpp.
#include "store/sqlite_store.h"

#include "store/migrations.h"
#include "store/row_mappers.h"

namespace ream::store {

SqliteStore::Write::Write(SqliteStore& store)
    : store_(store), db_(store.pool_->writer()), txn_(*db_) {
  store_.pending_events_.clear();
}

SqliteStore::Write::~Write() { store_.pending_events_.clear(); }

Status SqliteStore::Write::commit() {
  REAM_RETURN_IF_ERROR(txn_.commit());
  std::lock_guard lock(store_.listener_mu_);
  if (store_.listener_) {
    for (const EventRecord& e : store_.pending_events_) store_.listener_(e);
  }
  store_.pending_events_.clear();
  return {};
}

void SqliteStore::set_event_listener(EventListener listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path, int busy_timeout_ms) {
  auto pool = ConnectionPool::open(path, busy_timeout_ms);
  if (!pool.ok()) return pool.status();
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(pool).value()));
  Status st = store->migrate();
  if (st.ok()) st = store->pool_->open_readers(kReaders);
  if (!st.ok()) return Status(st.code(), path + ": " + st.message());
  return store;
}

Status SqliteStore::migrate() {
  const auto& all = migrations();
  auto db = pool_->writer();
  for (;;) {
    WriteTxn txn(*db);  // holds the write lock, so concurrent openers migrate once
    REAM_RETURN_IF_ERROR(txn.begin_status());
    int version = 0;
    Status st;
    {  // finished before the migration runs: a pending read blocks DROP TABLE
      Stmt q = db->prepare("PRAGMA user_version");
      if (q.step(&st)) version = q.i32("user_version");
      REAM_RETURN_IF_ERROR(st);
      REAM_RETURN_IF_ERROR(q.mapping_status());
    }
    if (version > static_cast<int>(all.size())) {
      return failed_precondition("database schema version " + std::to_string(version) +
                                 " is newer than this ream supports (" +
                                 std::to_string(all.size()) + ")");
    }
    if (version == static_cast<int>(all.size())) return {};
    const Migration& m = all[static_cast<size_t>(version)];
    if (m.prepare) st = m.prepare(*db);
    if (st.ok()) st = db->exec(m.sql);
    if (!st.ok()) {
      return Status(st.code(), "migration to schema version " + std::to_string(version + 1) +
                                   " failed: " + st.message());
    }
    REAM_RETURN_IF_ERROR(db->exec("PRAGMA user_version = " + std::to_string(version + 1)));
    REAM_RETURN_IF_ERROR(txn.commit());
  }
}

Result<int> SqliteStore::schema_version() {
  auto db = pool_->reader();
  Stmt q = db->prepare("PRAGMA user_version");
  Status st;
  if (q.step(&st)) {
    const int v = q.i32("user_version");
    REAM_RETURN_IF_ERROR(q.mapping_status());
    return v;
  }
  return st.ok() ? internal_error("no user_version") : st;
}

Result<int64_t> SqliteStore::put_workflow(const WorkflowRecord& w) {
  {  // Known already (every submission names one): a read, not a write transaction.
    auto reader = pool_->reader();
    Stmt find = reader->prepare(
        "SELECT id FROM workflows WHERE name = ?1 AND version = ?2 AND content_hash = ?3");
    find.bind(1, w.name).bind(2, w.version).bind(3, w.content_hash);
    Status st;
    if (find.step(&st)) return find.i64("id");
    REAM_RETURN_IF_ERROR(st);
  }
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  Stmt find = db->prepare(
      "SELECT id FROM workflows WHERE name = ?1 AND version = ?2 AND content_hash = ?3");
  find.bind(1, w.name).bind(2, w.version).bind(3, w.content_hash);
  Status st;
  if (find.step(&st)) return find.i64("id");
  REAM_RETURN_IF_ERROR(st);
  Stmt ins = db->prepare(
      "INSERT INTO workflows(name, version, content_hash, source, path, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  ins.bind(1, w.name).bind(2, w.version).bind(3, w.content_hash).bind(4, w.source);
  ins.bind(5, w.path).bind(6, now_ms());
  REAM_RETURN_IF_ERROR(ins.run());
  int64_t id = db->last_insert_id();
  REAM_RETURN_IF_ERROR(db.commit());
  return id;
}

Result<WorkflowRecord> SqliteStore::get_workflow(int64_t id) {
  auto db = pool_->reader();
  Stmt q = db->prepare(std::string("SELECT ") + kWorkflowColumns + "FROM workflows WHERE id = ?1");
  q.bind(1, id);
  Status st;
  if (!q.step(&st)) return st.ok() ? not_found("no workflow " + std::to_string(id)) : st;
  WorkflowRecord w = read_workflow(q);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return w;
}

Result<int64_t> SqliteStore::put_document(const DocumentRecord& d) {
  {  // Stored already with nothing to fill in (a document sent again): a read only.
    auto reader = pool_->reader();
    Stmt find = reader->prepare(
        "SELECT id FROM documents WHERE content_hash = ?1 AND (layout IS NOT NULL OR ?2 = '') "
        "AND (token_count >= 0 OR ?3 < 0)");
    find.bind(1, d.content_hash).bind(2, std::string_view(d.layout)).bind(3, d.token_count);
    Status st;
    if (find.step(&st)) return find.i64("id");
    REAM_RETURN_IF_ERROR(st);
  }
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  Stmt find = db->prepare("SELECT id FROM documents WHERE content_hash = ?1");
  find.bind(1, d.content_hash);
  Status st;
  if (find.step(&st)) {
    // A row from before layouts (or token counts) were kept gains them now.
    int64_t id = find.i64("id");
    Stmt fill = db->prepare(
        "UPDATE documents SET layout = COALESCE(layout, ?2), "
        "token_count = CASE WHEN token_count < 0 THEN ?3 ELSE token_count END WHERE id = ?1");
    fill.bind(1, id).bind_blob(2, d.layout).bind(3, d.token_count);
    REAM_RETURN_IF_ERROR(fill.run());
    REAM_RETURN_IF_ERROR(db.commit());
    return id;
  }
  REAM_RETURN_IF_ERROR(st);
  Stmt ins = db->prepare(
      "INSERT INTO documents(content_hash, source_path, media_type, size_bytes, token_count, "
      "text, layout, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  ins.bind(1, d.content_hash).bind(2, d.source_path).bind(3, d.media_type);
  ins.bind(4, d.size_bytes).bind(5, d.token_count).bind(6, d.text).bind_blob(7, d.layout);
  ins.bind(8, now_ms());
  REAM_RETURN_IF_ERROR(ins.run());
  int64_t id = db->last_insert_id();
  REAM_RETURN_IF_ERROR(db.commit());
  return id;
}

Result<DocumentRecord> SqliteStore::get_document(int64_t id) {
  auto db = pool_->reader();
  Stmt q = db->prepare(std::string("SELECT ") + kDocumentColumns + "FROM documents WHERE id = ?1");
  q.bind(1, id);
  Status st;
  if (!q.step(&st)) return st.ok() ? not_found("no document " + std::to_string(id)) : st;
  DocumentRecord d = read_document(q);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return d;
}

Status SqliteStore::put_document_name(const std::string& content_hash, const std::string& name) {
  auto db = pool_->writer();
  Stmt q = db->prepare(
      "INSERT INTO upload_names(content_hash, name, updated_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(content_hash) DO UPDATE SET name = ?2, updated_at = ?3");
  q.bind(1, content_hash).bind(2, name).bind(3, now_ms());
  return q.run();
}

Result<std::string> SqliteStore::document_name(const std::string& content_hash) {
  auto db = pool_->reader();
  Stmt q = db->prepare("SELECT name FROM upload_names WHERE content_hash = ?1");
  q.bind(1, content_hash);
  Status st;
  std::string name = q.step(&st) ? q.text("name") : "";
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return name;
}

Status SqliteStore::probe_write() {
  auto db = pool_->writer();
  Stmt q = db->prepare(
      "INSERT INTO write_probe(id, at) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET at = ?1");
  q.bind(1, now_ms());
  return q.run();
}

}  // namespace ream::store
