// RAII wrappers over libpq: parameters, results read by column name, connections,
// transactions and the connection pool.
#include "store/pg.h"

#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace ream::store::pg {

namespace {

std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool is_url(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

std::string redact_url(const std::string& url) {
  if (!is_url(url)) return url;
  std::string out = url;
  const size_t authority = out.find("//") + 2;
  const size_t end = out.find_first_of("/?", authority);
  const size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
  if (at != std::string::npos && at >= authority) {
    const size_t colon = out.find(':', authority);
    if (colon != std::string::npos && colon < at) out.erase(colon, at - colon);
  }
  // A password given as a query parameter.
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p == 0 || (out[p - 1] != '?' && out[p - 1] != '&')) continue;
    const size_t value = p + 9;
    const size_t stop = out.find('&', value);
    out.replace(value, stop == std::string::npos ? std::string::npos : stop - value, "***");
  }
  return out;
}

Params& Params::add(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return push(buf, 0);
}

Params& Params::add_null() {
  push("", 0);
  null_.back() = 1;
  return *this;
}

Params& Params::push(std::string value, int format) {
  values_.push_back(std::move(value));
  null_.push_back(0);
  formats_.push_back(format);
  return *this;
}

Rows::Rows(PGresult* res, Status status, std::string sqlstate, std::string sql)
    : res_(res), status_(std::move(status)), sqlstate_(std::move(sqlstate)), sql_(std::move(sql)) {}

Rows::~Rows() {
  if (res_) PQclear(res_);
}

Rows::Rows(Rows&& o) noexcept
    : res_(o.res_), status_(std::move(o.status_)), sqlstate_(std::move(o.sqlstate_)),
      sql_(std::move(o.sql_)), mapping_status_(std::move(o.mapping_status_)) {
  o.res_ = nullptr;
}

int Rows::rows() const { return ok() && res_ ? PQntuples(res_) : 0; }

int64_t Rows::affected() const {
  const char* n = res_ ? PQcmdTuples(res_) : "";
  return *n ? std::strtoll(n, nullptr, 10) : 0;
}

int Rows::column(std::string_view name) const {
  // Quoted, so that the name is matched as written (PQfnumber folds unquoted names).
  std::string quoted(1, '"');
  quoted.append(name);
  quoted.push_back('"');
  const int i = res_ ? PQfnumber(res_, quoted.c_str()) : -1;
  if (i < 0 && mapping_status_.ok()) {
    mapping_status_ = internal_error("postgresql: no column '" + std::string(name) +
                                     "' in the result of: " + sql_.substr(0, 120));
  }
  return i;
}

const char* Rows::value(int row, int col) const {
  if (col < 0 || row < 0 || row >= rows()) return nullptr;
  return PQgetisnull(res_, row, col) ? nullptr : PQgetvalue(res_, row, col);
}

int64_t Row::i64(std::string_view column) const {
  const char* v = result_->value(index_, result_->column(column));
  return v ? std::strtoll(v, nullptr, 10) : 0;
}

double Row::real(std::string_view column) const {
  const char* v = result_->value(index_, result_->column(column));
  return v ? std::strtod(v, nullptr) : 0.0;
}

std::string Row::text(std::string_view column) const {
  const int col = result_->column(column);
  const char* v = result_->value(index_, col);
  return v ? std::string(v, static_cast<size_t>(PQgetlength(result_->res_, index_, col))) : "";
}

std::string Row::bytes(std::string_view column) const {
  // Text-format bytea is "\x" and two hex digits a byte (bytea_output = hex, the default
  // since PostgreSQL 9.0; the store sets it on every connection).
  const std::string hex = text(column);
  if (hex.size() < 2 || hex[0] != '\\' || hex[1] != 'x') return {};
  std::string out;
  out.reserve((hex.size() - 2) / 2);
  for (size_t i = 2; i + 1 < hex.size(); i += 2) {
    const int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) break;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

bool Row::is_null(std::string_view column) const {
  return result_->value(index_, result_->column(column)) == nullptr;
}

namespace {

// Each session's settings, at connect and at every reconnect: UTC and hex bytea
// whatever the server's defaults; and a limit on a transaction left idle, so that a
// host stopped inside one (SIGSTOP, a frozen VM, a swap storm) cannot hold a row or the
// event lock, and with it every other host, for longer than that: the server ends its
// session, the others go on, and the stopped host reconnects when it wakes. ream's own
// transactions never wait on a person. An operator's own value (the server's, the
// role's or database's, or the URL's `options`) is kept.
const std::string kSessionSetup =
    "SET TIME ZONE 'UTC'; SET bytea_output = 'hex'; SET client_encoding = 'UTF8'; "
    "SELECT set_config('idle_in_transaction_session_timeout', '" + std::string(kIdleInTransactionTimeout) +
    "', false) WHERE current_setting('idle_in_transaction_session_timeout') = '0'";

}  // namespace

ream::Result<std::unique_ptr<Conn>> Conn::connect(const std::string& url, const std::string& safe_url) {
  PGconn* raw = PQconnectdb(url.c_str());
  if (raw == nullptr) return unavailable("postgresql " + safe_url + ": out of memory");
  std::unique_ptr<Conn> conn(new Conn(raw, safe_url));
  if (PQstatus(raw) != CONNECTION_OK) {
    return unavailable("cannot connect to postgresql " + safe_url + ": " +
                       one_line(PQerrorMessage(raw)));
  }
  PQsetNoticeProcessor(raw, [](void*, const char*) {}, nullptr);  // no notices on stderr
  REAM_RETURN_IF_ERROR(conn->exec_script(kSessionSetup));
  return conn;
}

bool Conn::spoke_unasked() const {
  const int fd = PQsocket(conn_);
  if (fd < 0) return true;
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  return poll(&p, 1, 0) != 0;  // readable, closed, or an error
}

Conn::~Conn() {
  if (conn_) PQfinish(conn_);
}

Status Conn::error(std::string_view what, PGresult* res, std::string* sqlstate) const {
  std::string msg = res ? PQresultErrorMessage(res) : "";
  if (msg.empty()) msg = PQerrorMessage(conn_);
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  if (sqlstate) *sqlstate = state ? state : "";
  const StatusCode code = broken() ? StatusCode::kUnavailable : StatusCode::kInternal;
  std::string text = "postgresql " + safe_url_ + ": " + one_line(msg);
  if (state) text += " (SQLSTATE " + std::string(state) + ")";
  return Status(code, text + " (in: " + one_line(std::string(what.substr(0, 120))) + ")");
}

Rows Conn::exec(std::string_view sql, const Params& params) const {
  const int n = static_cast<int>(params.values_.size());
  std::vector<const char*> values(static_cast<size_t>(n));
  std::vector<int> lengths(static_cast<size_t>(n));
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = params.null_[i] ? nullptr : params.values_[i].data();
    lengths[i] = static_cast<int>(params.values_[i].size());
  }
  std::string text(sql);
  PGresult* res = PQexecParams(conn_, text.c_str(), n, nullptr, values.data(), lengths.data(),
                               params.formats_.data(), 0);
  const ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Rows(res, {}, "", std::move(text));
  std::string sqlstate;
  Status status = error(text, res, &sqlstate);
  if (res) PQclear(res);
  return Rows(nullptr, std::move(status), std::move(sqlstate), std::move(text));
}

Status Conn::exec_script(const std::string& sql) const {
  PGresult* res = PQexec(conn_, sql.c_str());
  const ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  Status status;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) status = error(sql, res, nullptr);
  if (res) PQclear(res);
  return status;
}

Status Conn::reset() {
  PQreset(conn_);
  if (broken()) {
    return unavailable("cannot reconnect to postgresql " + safe_url_ + ": " +
                       one_line(PQerrorMessage(conn_)));
  }
  return exec_script(kSessionSetup);
}

Txn::Txn(const Conn& conn) : conn_(conn) { begin_status_ = conn_.exec_script("BEGIN"); }

Txn::~Txn() {
  if (!done_ && begin_status_.ok()) (void)conn_.exec_script("ROLLBACK");
}

Status Txn::commit() {
  REAM_RETURN_IF_ERROR(begin_status_);
  Status st = conn_.exec_script("COMMIT");
  done_ = true;  // a failed COMMIT has ended the transaction too
  return st;
}

ream::Result<std::unique_ptr<Pool>> Pool::open(const std::string& url, int size) {
  std::unique_ptr<Pool> pool(new Pool(url, size < 1 ? 1 : size));
  REAM_ASSIGN_OR_RETURN(auto conn, Conn::connect(pool->url_, pool->safe_url_));
  pool->idle_.push_back(conn.get());
  pool->all_.push_back(std::move(conn));
  return pool;
}

ream::Result<Pool::Lease> Pool::acquire() {
  Conn* conn = nullptr;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !idle_.empty() || static_cast<int>(all_.size()) < size_; });
    if (!idle_.empty()) {
      conn = idle_.back();
      idle_.pop_back();
    } else {
      all_.push_back(nullptr);  // the slot, filled below without the lock
    }
  }
  if (conn == nullptr) {
    auto fresh = Conn::connect(url_, safe_url_);
    std::lock_guard lock(mu_);
    if (!fresh.ok()) {
      all_.erase(std::find(all_.begin(), all_.end(), nullptr));
      cv_.notify_one();
      return fresh.status();
    }
    conn = fresh.value().get();
    *std::find(all_.begin(), all_.end(), nullptr) = std::move(fresh).value();
    return Lease(this, conn);
  }
  if (conn->broken() || conn->spoke_unasked()) {
    Status st = conn->reset();
    if (!st.ok()) {
      give_back(conn);
      return st;
    }
  }
  return Lease(this, conn);
}

void Pool::give_back(Conn* conn) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(conn);
  }
  cv_.notify_one();
}

Pool::Lease::~Lease() {
  if (pool_) pool_->give_back(conn_);
}

}  // namespace ream::store::pg
