// RAII wrappers over sqlite3 and sqlite3_stmt.
#include "store/sqlite.h"

namespace ream::store {

namespace {
Status sqlite_error(sqlite3* db, std::string_view what) {
  return internal_error("sqlite: " + std::string(sqlite3_errmsg(db)) + " (in: " +
                        std::string(what.substr(0, 120)) + ")");
}
}  // namespace

Stmt::Stmt(const Db& db, std::string_view sql) : owner_(&db), db_(db.get()), sql_(sql) {
  stmt_ = db.take(sql_, &names_);
  if (stmt_) return;
  if (sqlite3_prepare_v3(db_, sql_.data(), static_cast<int>(sql_.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt_, nullptr) != SQLITE_OK) {
    prepare_status_ = sqlite_error(db_, sql_);
    if (stmt_) sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
}

Stmt::~Stmt() {
  if (!stmt_) return;
  if (owner_) {
    owner_->give_back(std::move(sql_), stmt_, std::move(names_));
  } else {
    sqlite3_finalize(stmt_);
  }
}

Stmt::Stmt(Stmt&& other) noexcept
    : owner_(other.owner_), db_(other.db_), stmt_(other.stmt_), sql_(std::move(other.sql_)),
      prepare_status_(std::move(other.prepare_status_)), names_(std::move(other.names_)),
      mapping_status_(std::move(other.mapping_status_)) {
  other.stmt_ = nullptr;
  other.owner_ = nullptr;
}

Stmt& Stmt::bind(int index, int64_t value) {
  if (stmt_) sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Stmt& Stmt::bind(int index, double value) {
  if (stmt_) sqlite3_bind_double(stmt_, index, value);
  return *this;
}
Stmt& Stmt::bind(int index, std::string_view text) {
  if (stmt_) {
    sqlite3_bind_text64(stmt_, index, text.data() ? text.data() : "", text.size(),
                        SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  return *this;
}
Stmt& Stmt::bind_blob(int index, std::string_view bytes) {
  if (!stmt_) return *this;
  if (bytes.empty()) {
    sqlite3_bind_null(stmt_, index);
  } else {
    sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  }
  return *this;
}
Stmt& Stmt::bind_null(int index) {
  if (stmt_) sqlite3_bind_null(stmt_, index);
  return *this;
}
Stmt& Stmt::bind(int index, const std::optional<int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

bool Stmt::step(Status* status) {
  if (!stmt_) {
    *status = prepare_status_;
    return false;
  }
  if (!mapping_status_.ok()) {  // the previous row was read by a name this query lacks
    *status = mapping_status_;
    return false;
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) *status = sqlite_error(db_, sql_);
  return false;
}

Status Stmt::run() {
  Status status;
  while (step(&status)) {
  }
  return status;
}

int Stmt::index_of(std::string_view column) const {
  if (!stmt_) return -1;
  if (names_.empty()) {
    const int n = sqlite3_column_count(stmt_);
    for (int i = 0; i < n; ++i) {
      const char* name = sqlite3_column_name(stmt_, i);
      names_.emplace_back(name ? name : "");
    }
  }
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == column) return static_cast<int>(i);
  }
  if (mapping_status_.ok()) {
    mapping_status_ = internal_error("sqlite: no column '" + std::string(column) +
                                     "' in the result of: " + sql_.substr(0, 120));
  }
  return -1;
}

int64_t Stmt::i64(std::string_view column) const {
  const int i = index_of(column);
  return i < 0 ? 0 : sqlite3_column_int64(stmt_, i);
}
double Stmt::real(std::string_view column) const {
  const int i = index_of(column);
  return i < 0 ? 0.0 : sqlite3_column_double(stmt_, i);
}
std::string Stmt::text(std::string_view column) const {
  const int i = index_of(column);
  if (i < 0) return {};
  const unsigned char* p = sqlite3_column_text(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
std::string Stmt::bytes(std::string_view column) const {
  const int i = index_of(column);
  if (i < 0) return {};
  const void* p = sqlite3_column_blob(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
bool Stmt::is_null(std::string_view column) const {
  const int i = index_of(column);
  return i < 0 || sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

Result<Db> Db::open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  Db db(raw);  // closes `raw` on every return below
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    return internal_error("cannot open database " + path + ": " + msg);
  }
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  // WAL: readers never block the writer and a crash never corrupts committed data.
  // synchronous=NORMAL is durable across process crashes in WAL mode.
  Status st = db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (!st.ok()) return internal_error("cannot open database " + path + ": " + st.message());
  return db;
}

Db::~Db() {
  for (auto& [sql, idle] : cache_) sqlite3_finalize(idle.stmt);
  if (db_) sqlite3_close_v2(db_);
}

sqlite3_stmt* Db::take(const std::string& sql, std::vector<std::string>* names) const {
  auto it = cache_.find(sql);
  if (it == cache_.end()) return nullptr;
  sqlite3_stmt* stmt = it->second.stmt;
  *names = std::move(it->second.names);
  cache_.erase(it);
  return stmt;
}

void Db::give_back(std::string sql, sqlite3_stmt* stmt, std::vector<std::string> names) const {
  // Reset ends any read the statement left open (a reader's snapshot would otherwise
  // hold back WAL checkpoints); its error, if any, was already reported by step().
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (cache_.size() >= kMaxCachedStatements || cache_.count(sql)) {
    sqlite3_finalize(stmt);
    return;
  }
  cache_.emplace(std::move(sql), Idle{stmt, std::move(names)});
}

Status Db::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return internal_error("sqlite: " + msg + " (in: " + sql.substr(0, 120) + ")");
  }
  return {};
}

WriteTxn::WriteTxn(const Db& db) : db_(db) { begin_status_ = db_.exec("BEGIN IMMEDIATE"); }

WriteTxn::~WriteTxn() {
  if (!done_ && begin_status_.ok()) (void)db_.exec("ROLLBACK");
}

Status WriteTxn::commit() {
  REAM_RETURN_IF_ERROR(begin_status_);
  Status st = db_.exec("COMMIT");
  if (st.ok()) done_ = true;
  return st;
}

ConnectionPool::ConnectionPool(std::string path, int busy_timeout_ms, std::unique_ptr<Db> writer)
    : path_(std::move(path)), busy_timeout_ms_(busy_timeout_ms), writer_(std::move(writer)) {}

Result<std::unique_ptr<ConnectionPool>> ConnectionPool::open(const std::string& path,
                                                             int busy_timeout_ms) {
  auto db = Db::open(path, busy_timeout_ms);
  if (!db.ok()) return db.status();
  return std::unique_ptr<ConnectionPool>(new ConnectionPool(
      path, busy_timeout_ms, std::make_unique<Db>(std::move(db).value())));
}

Status ConnectionPool::open_readers(int readers) {
  // Each connection to ":memory:" (or "") would be a database of its own.
  if (path_.empty() || path_ == ":memory:" || path_.rfind("file::memory:", 0) == 0) return {};
  for (int i = 0; i < readers; ++i) {
    auto db = Db::open(path_, busy_timeout_ms_);
    if (!db.ok()) return db.status();
    readers_.push_back(std::make_unique<Db>(std::move(db).value()));
    std::lock_guard lock(mu_);
    idle_readers_.push_back(readers_.back().get());
  }
  return {};
}

ConnectionPool::Lease ConnectionPool::writer() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !writer_busy_; });
  writer_busy_ = true;
  return Lease(this, writer_.get(), true);
}

ConnectionPool::Lease ConnectionPool::reader() {
  if (readers_.empty()) return writer();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !idle_readers_.empty(); });
  Db* db = idle_readers_.back();
  idle_readers_.pop_back();
  return Lease(this, db, false);
}

void ConnectionPool::give_back(Db* db, bool writer) {
  {
    std::lock_guard lock(mu_);
    if (writer) {
      writer_busy_ = false;
    } else {
      idle_readers_.push_back(db);
    }
  }
  cv_.notify_all();
}

ConnectionPool::Lease::~Lease() {
  if (pool_) pool_->give_back(db_, writer_);
}

}  // namespace ream::store
