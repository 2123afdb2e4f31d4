// RAII wrappers over sqlite3 and sqlite3_stmt.
#include "store/sqlite.h"

namespace ream::store {

namespace {
Status sqlite_error(sqlite3* db, std::string_view what) {
  return internal_error("sqlite: " + std::string(sqlite3_errmsg(db)) + " (in: " +
                        std::string(what.substr(0, 120)) + ")");
}
}  // namespace

Stmt::Stmt(sqlite3* db, std::string_view sql) : db_(db), sql_(sql) {
  if (sqlite3_prepare_v2(db_, sql_.data(), static_cast<int>(sql_.size()), &stmt_, nullptr) !=
      SQLITE_OK) {
    prepare_status_ = sqlite_error(db_, sql_);
    stmt_ = nullptr;
  }
}

Stmt::~Stmt() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Stmt::Stmt(Stmt&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), sql_(std::move(other.sql_)),
      prepare_status_(std::move(other.prepare_status_)) {
  other.stmt_ = nullptr;
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

int64_t Stmt::col_int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::col_double(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Stmt::col_text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
std::string Stmt::col_blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
bool Stmt::col_is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

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
  if (db_) sqlite3_close_v2(db_);
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

}  // namespace ream::store
