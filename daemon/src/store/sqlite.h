// Thin RAII wrappers over the SQLite C API: a connection and a prepared statement.
//
// Only daemon/src/store includes this header (the store is the only code that
// speaks SQL). Errors come back as ream::Status with SQLite's message and the
// statement text.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ream/engine/status.h"

namespace ream::store {

// One prepared statement. Bind parameters are 1-based, as in SQLite.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql);
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

  int64_t col_int(int col) const;
  double col_double(int col) const;
  std::string col_text(int col) const;
  std::string col_blob(int col) const;  // "" for NULL
  bool col_is_null(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  Status prepare_status_;
};

// One connection. Opened in WAL mode with a busy timeout and foreign keys on.
class Db {
 public:
  static Result<Db> open(const std::string& path, int busy_timeout_ms);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  Db(Db&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Db& operator=(Db&&) = delete;

  sqlite3* get() const { return db_; }
  Stmt prepare(std::string_view sql) const { return Stmt(db_, sql); }
  // Runs one or more statements without results.
  Status exec(const std::string& sql) const;
  int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
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

}  // namespace ream::store
