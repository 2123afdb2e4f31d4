// Thin RAII wrappers over libpq, the PostgreSQL C client: query parameters, a
// result whose columns are read by name, a connection, a transaction, and the small
// connection pool the PostgreSQL store runs on.
//
// libpq directly, not libpqxx: the store needs a dozen calls (connect, exec with
// parameters, read text columns, reset), which fit in this file with Status errors
// like the SQLite wrapper's; libpqxx would add exceptions to catch at every store
// method and a second library to keep in step with Debian's.
//
// Only daemon/src/store includes this header. Errors are ream::Status values that name
// the server by its URL without the password, with the server's message, SQLSTATE and
// the statement text.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ream/engine/status.h"

namespace ream::store::pg {

// What each session sets idle_in_transaction_session_timeout to unless the operator
// gave it a value (server, role, database or the URL's `options`): see pg.cpp.
inline constexpr std::string_view kIdleInTransactionTimeout = "10s";

// "postgresql://user:secret@host/db" -> "postgresql://user@host/db" (also a
// `password=` query parameter); anything else is returned as given.
std::string redact_url(const std::string& url);
// Whether `url` names a PostgreSQL database (postgresql:// or postgres://).
bool is_url(const std::string& url);

// Positional parameters $1, $2, ... in the order added: text, except add_bytes (bytea,
// sent binary so that NUL bytes survive).
class Params {
 public:
  Params& add(int64_t v) { return push(std::to_string(v), 0); }
  Params& add(int v) { return add(static_cast<int64_t>(v)); }
  Params& add(double v);
  Params& add(std::string_view s) { return push(std::string(s), 0); }
  Params& add(const char* s) { return add(std::string_view(s)); }
  Params& add(const std::string& s) { return add(std::string_view(s)); }
  Params& add_null();
  Params& add_bytes(std::string_view bytes) { return push(std::string(bytes), 1); }

 private:
  friend class Conn;
  Params& push(std::string value, int format);
  std::vector<std::string> values_;
  std::vector<char> null_;
  std::vector<int> formats_;
};

class Rows;

// One row of a result; columns by the name the query gives them. A name the query
// does not return reads as 0 / "" and makes the result's mapping_status() an error
// naming it; a NULL reads as 0 / "" (both as the SQLite wrapper does, so that the row
// mappers of row_mappers.h read either alike).
class Row {
 public:
  Row(const Rows* result, int index) : result_(result), index_(index) {}
  int64_t i64(std::string_view column) const;
  int i32(std::string_view column) const { return static_cast<int>(i64(column)); }
  double real(std::string_view column) const;
  std::string text(std::string_view column) const;
  std::string bytes(std::string_view column) const;  // a bytea column; "" for NULL
  bool is_null(std::string_view column) const;

 private:
  const Rows* result_;
  int index_;
};

// The outcome of one statement: rows (text format) or an error with its SQLSTATE.
class Rows {
 public:
  Rows(PGresult* res, Status status, std::string sqlstate, std::string sql);
  ~Rows();
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  Rows(Rows&& o) noexcept;
  Rows& operator=(Rows&&) = delete;

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  const std::string& sqlstate() const { return sqlstate_; }  // "" when ok
  int rows() const;
  Row row(int i) const { return Row(this, i); }
  int64_t affected() const;  // rows an INSERT/UPDATE/DELETE touched
  const Status& mapping_status() const { return mapping_status_; }

 private:
  friend class Row;
  int column(std::string_view name) const;  // -1, and mapping_status_ set, when absent
  const char* value(int row, int column) const;

  PGresult* res_;
  Status status_;
  std::string sqlstate_;
  std::string sql_;
  mutable Status mapping_status_;
};

// One connection.
class Conn {
 public:
  // `url` is the full URL (with any password); `safe_url` is what errors show.
  static ream::Result<std::unique_ptr<Conn>> connect(const std::string& url, const std::string& safe_url);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Rows exec(std::string_view sql, const Params& params = {}) const;
  // One or more statements without parameters or results (migrations).
  Status exec_script(const std::string& sql) const;
  // Whether the connection was lost (server restarted, network cut).
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  // Whether the server sent this idle connection anything, without waiting and without
  // a round trip: a server that shut down or ended the session (a restart, an idle
  // timeout, pg_terminate_backend) has sent its goodbye and closed the socket, so a
  // statement sent on it would be lost. (Anything else it may send unasked, a notice, is
  // rare enough that making the connection again costs nothing.)
  bool spoke_unasked() const;
  // Reconnects a lost connection.
  Status reset();

 private:
  Conn(PGconn* conn, std::string safe_url) : conn_(conn), safe_url_(std::move(safe_url)) {}
  Status error(std::string_view what, PGresult* res, std::string* sqlstate) const;
  PGconn* conn_;
  std::string safe_url_;
};

// A transaction: BEGIN on construction, ROLLBACK on destruction unless commit() succeeded.
class Txn {
 public:
  explicit Txn(const Conn& conn);
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  const Status& begin_status() const { return begin_status_; }
  Status commit();

 private:
  const Conn& conn_;
  Status begin_status_;
  bool done_ = false;
};

// Up to `size` connections to one database, opened as needed and reconnected when
// found lost. Thread-safety: any thread may acquire; a Lease is used by one thread.
class Pool {
 public:
  class Lease {
   public:
    Lease(Pool* pool, Conn* conn) : pool_(pool), conn_(conn) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(o.conn_) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    const Conn& operator*() const { return *conn_; }
    const Conn* operator->() const { return conn_; }

   private:
    Pool* pool_;
    Conn* conn_;
  };

  // Connects once (so a wrong URL or a server that is down fails here, by name).
  static ream::Result<std::unique_ptr<Pool>> open(const std::string& url, int size);
  const std::string& safe_url() const { return safe_url_; }
  // Blocks while every connection is busy; errors when a (re)connection fails.
  ream::Result<Lease> acquire();

 private:
  Pool(std::string url, int size) : url_(std::move(url)), safe_url_(redact_url(url_)), size_(size) {}
  void give_back(Conn* conn);

  std::string url_;
  std::string safe_url_;
  int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> all_;
  std::vector<Conn*> idle_;
};

}  // namespace ream::store::pg
