// Thin RAII wrappers over the SQLite C API: a prepared statement whose result
// columns are read by name, a connection, a write transaction, and the connection
// pool the SQLite store runs on (one writer, a few readers).
//
// Only daemon/src/store includes this header (the store is the only code that
// speaks SQL). Errors come back as ream::Status with SQLite's message and the
// statement text.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ream/engine/status.h"

namespace ream::store {

class Db;

// One prepared statement. Bind parameters are 1-based, as in SQLite. Statements come
// from their connection's cache (Db::prepare) and go back to it, reset and unbound,
// when destroyed.
class Stmt {
 public:
  Stmt(const Db& db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;

  const Status& prepare_status() const { return prepare_status_; }

  Stmt& bind(int index, int64_t value);
  Stmt& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Stmt& bind(int index, double value);
  Stmt& bind(int index, std::string_view text);
  Stmt& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Stmt& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Stmt& bind_null(int index);
  // Binds bytes as a BLOB (NULL when empty).
  Stmt& bind_blob(int index, std::string_view bytes);
  // Binds NULL for an empty optional.
  Stmt& bind(int index, const std::optional<int64_t>& value);

  // Steps once: true when a row is ready, false when done; errors in `status`.
  bool step(Status* status);
  // Steps to completion, ignoring rows.
  Status run();

  // The current row's columns, by the name the SELECT (or RETURNING) gives them
  // (`AS n` for an expression). A name the statement does not return reads as 0 / ""
  // and makes mapping_status() an error naming it, so a mapper that drifts from its
  // query fails loudly instead of reading a neighbour's column. A NULL reads as 0 / "",
  // as pg::Row's does: the row mappers (row_mappers.h) read both alike.
  int64_t i64(std::string_view column) const;
  int i32(std::string_view column) const { return static_cast<int>(i64(column)); }
  double real(std::string_view column) const;
  std::string text(std::string_view column) const;
  std::string bytes(std::string_view column) const;  // a BLOB column; "" for NULL
  bool is_null(std::string_view column) const;
  const Status& mapping_status() const { return mapping_status_; }

 private:
  int index_of(std::string_view column) const;  // -1, and mapping_status_ set, when absent

  const Db* owner_;  // null once moved from
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  Status prepare_status_;
  mutable std::vector<std::string> names_;  // result column names, read on first use
  mutable Status mapping_status_;
};

// One connection. Opened in WAL mode with a busy timeout and foreign keys on.
//
// It keeps the statements it prepared (SQLITE_PREPARE_PERSISTENT), by their SQL text, up
// to kMaxCachedStatements texts: a Stmt takes an idle one of the same text, or prepares a
// new one when none is idle (the same query nested in itself), and gives it back reset
// and unbound when destroyed. Preparing anew for every use was ~12% of reamd's CPU under
// job submissions (bench/NOTES.md, "reamd under load"). A connection is used by one
// thread at a time (ConnectionPool's leases), so the cache needs no lock.
class Db {
 public:
  static constexpr size_t kMaxCachedStatements = 128;

  static Result<Db> open(const std::string& path, int busy_timeout_ms);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  Db(Db&& other) noexcept : db_(other.db_), cache_(std::move(other.cache_)) {
    other.db_ = nullptr;
    other.cache_.clear();
  }
  Db& operator=(Db&&) = delete;

  sqlite3* get() const { return db_; }
  Stmt prepare(std::string_view sql) const { return Stmt(*this, sql); }
  // Statements idle in the cache now (tests).
  size_t cached_statements() const { return cache_.size(); }
  // Runs one or more statements without results.
  Status exec(const std::string& sql) const;
  int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }

 private:
  friend class Stmt;
  struct Idle {
    sqlite3_stmt* stmt;
    std::vector<std::string> names;  // result column names, once read
  };
  explicit Db(sqlite3* db) : db_(db) {}
  // An idle statement of `sql`, or null (then the caller prepares one).
  sqlite3_stmt* take(const std::string& sql, std::vector<std::string>* names) const;
  // Back to the cache (reset, unbound), or finalized when it is full or holds `sql` idle.
  void give_back(std::string sql, sqlite3_stmt* stmt, std::vector<std::string> names) const;

  sqlite3* db_ = nullptr;
  mutable std::unordered_map<std::string, Idle> cache_;
};

// A write transaction: BEGIN IMMEDIATE on construction (taking the write lock up
// front, so it never fails half-way with SQLITE_BUSY), ROLLBACK on destruction
// unless commit() succeeded.
class WriteTxn {
 public:
  explicit WriteTxn(const Db& db);
  ~WriteTxn();
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  const Status& begin_status() const { return begin_status_; }
  Status commit();

 private:
  const Db& db_;
  Status begin_status_;
  bool done_ = false;
};

// The connections of one database file: one writer and `readers` readers (WAL lets
// them read while it writes). Writes in this process queue for the writer here,
// not in SQLite's busy handler; reads take any idle reader. An in-memory database
// (":memory:") has no readers: every caller takes the writer, which is the database.
//
// Thread-safety: any thread may acquire; a Lease is used by one thread at a time.
class ConnectionPool {
 public:
  class Lease {
   public:
    Lease(ConnectionPool* pool, Db* db, bool writer) : pool_(pool), db_(db), writer_(writer) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease(Lease&& o) noexcept : pool_(o.pool_), db_(o.db_), writer_(o.writer_) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    const Db& operator*() const { return *db_; }
    const Db* operator->() const { return db_; }

   private:
    ConnectionPool* pool_;
    Db* db_;
    bool writer_;
  };

  // Opens the writer only; open_readers() adds the readers (after migrations ran on
  // the writer, so no reader ever sees a half-made schema).
  static Result<std::unique_ptr<ConnectionPool>> open(const std::string& path, int busy_timeout_ms);
  Status open_readers(int readers);
  const Db& writer_db() const { return *writer_; }

  Lease writer();  // blocks while another thread writes
  Lease reader();  // blocks while every reader is busy

 private:
  ConnectionPool(std::string path, int busy_timeout_ms, std::unique_ptr<Db> writer);
  void give_back(Db* db, bool writer);

  std::string path_;
  int busy_timeout_ms_;
  std::unique_ptr<Db> writer_;
  std::vector<std::unique_ptr<Db>> readers_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool writer_busy_ = false;
  std::vector<Db*> idle_readers_;
};

}  // namespace ream::store
