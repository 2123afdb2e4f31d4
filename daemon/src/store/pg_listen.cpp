// pg::Listener: LISTEN on a dedicated connection, notifications to a callback,
// reconnection with backoff.
#include "store/pg_listen.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace ream::store::pg {

namespace {

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\t', ' ');
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  // libpq indents its continuation lines: one space between words.
  s.erase(std::unique(s.begin(), s.end(), [](char a, char b) { return a == ' ' && b == ' '; }), s.end());
  return s;
}

int64_t ms_left(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return std::max<int64_t>(0, left.count());
}

}  // namespace

Listener::Listener(std::string url, std::string safe_url, std::vector<std::string> channels, OnNotify on_notify,
                   std::function<void()> on_connected)
    : url_(std::move(url)),
      safe_url_(std::move(safe_url)),
      channels_(std::move(channels)),
      on_notify_(std::move(on_notify)),
      on_connected_(std::move(on_connected)) {
  if (pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    // Without a pipe the thread could not be stopped while it waits: no notices then,
    // and the waiters' polls keep everything correct.
    spdlog::error("store: notifications from {} are off: pipe: {}", safe_url_, std::strerror(errno));
    stop_pipe_[0] = stop_pipe_[1] = -1;
    return;
  }
  thread_ = std::thread([this] { loop(); });
}

Listener::~Listener() {
  stopping_ = true;
  if (stop_pipe_[1] >= 0) {
    const char byte = 1;
    (void)!write(stop_pipe_[1], &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : stop_pipe_) {
    if (fd >= 0) close(fd);
  }
}

int Listener::wait(int fd, short events, int timeout_ms) {
  if (events != 0 && fd < 0) return stopping_ ? -1 : 1;  // no socket: libpq says why
  pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {fd, events, 0}};
  for (;;) {
    if (stopping_) return -1;
    const int n = poll(fds, events != 0 ? 2 : 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (stopping_ || (n > 0 && fds[0].revents != 0)) return -1;
    if (n < 0) return 1;  // let libpq find out what is wrong with the socket
    return n > 0 ? 1 : 0;
  }
}

PGconn* Listener::connect(std::string* error) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(kConnectTimeoutS * 1000));
  // The URL first (expand_dbname), then what this connection needs whatever it says:
  // its name in pg_stat_activity, and TCP keepalives, so that a server that vanished
  // without closing the connection is noticed within about a minute.
  const char* keys[] = {"dbname", "application_name", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", nullptr};
  const char* values[] = {url_.c_str(), "reamd-listen", "1", "30", "10", "3", nullptr};
  PGconn* conn = PQconnectStartParams(keys, values, 1);
  if (conn == nullptr) {
    *error = "out of memory";
    return nullptr;
  }
  auto fail = [&](std::string why) -> PGconn* {
    *error = stopping_ ? "" : std::move(why);
    PQfinish(conn);
    return nullptr;
  };
  if (PQstatus(conn) == CONNECTION_BAD) return fail(one_line(PQerrorMessage(conn)));
  for (PostgresPollingStatusType st = PGRES_POLLING_WRITING; st != PGRES_POLLING_OK;) {
    if (st == PGRES_POLLING_FAILED) return fail(one_line(PQerrorMessage(conn)));
    const int ready = wait(PQsocket(conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                           static_cast<int>(ms_left(deadline)));
    if (ready < 0) return fail("");
    if (ready == 0) return fail("timed out connecting");
    st = PQconnectPoll(conn);
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // nothing on stderr
  std::string sql;
  for (const std::string& c : channels_) sql += "LISTEN \"" + c + "\";";
  if (!PQsendQuery(conn, sql.c_str())) return fail(one_line(PQerrorMessage(conn)));
  for (;;) {
    while (!PQisBusy(conn)) {
      PGresult* res = PQgetResult(conn);
      if (res == nullptr) return conn;  // every LISTEN answered
      const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
      const std::string why = ok ? "" : one_line(PQresultErrorMessage(res));
      PQclear(res);
      if (!ok) return fail("LISTEN: " + why);
    }
    const int ready = wait(PQsocket(conn), POLLIN, static_cast<int>(ms_left(deadline)));
    if (ready < 0) return fail("");
    if (ready == 0) return fail("timed out waiting for LISTEN");
    if (!PQconsumeInput(conn)) return fail(one_line(PQerrorMessage(conn)));
  }
}

void Listener::deliver(PGconn* conn) {
  while (PGnotify* n = PQnotifies(conn)) {
    const std::string channel = n->relname, payload = n->extra ? n->extra : "";
    PQfreemem(n);
    on_notify_(channel, payload);
  }
}

bool Listener::drain(PGconn* conn, std::string* error) {
  if (!PQconsumeInput(conn)) {
    *error = one_line(PQerrorMessage(conn));
    return false;
  }
  deliver(conn);
  // A server that ended the session (pg_terminate_backend, shutdown) first sends its
  // error; the results of nothing we asked for are read and dropped here.
  while (!PQisBusy(conn)) {
    PGresult* res = PQgetResult(conn);
    if (res == nullptr) break;
    PQclear(res);
  }
  if (PQstatus(conn) == CONNECTION_BAD) {
    *error = one_line(PQerrorMessage(conn));
    return false;
  }
  return true;
}

void Listener::loop() {
  double backoff_s = kMinBackoffS;
  bool was_up = false;
  while (!stopping_) {
    std::string error;
    if (PGconn* conn = connect(&error)) {
      spdlog::info("store: listening for notifications from {} ({} channel(s))", safe_url_, channels_.size());
      backoff_s = kMinBackoffS;
      was_up = true;
      on_connected_();
      deliver(conn);  // any that came with LISTEN's answers: the socket will not say so
      while (wait(PQsocket(conn), POLLIN, -1) > 0 && drain(conn, &error)) {
      }
      PQfinish(conn);
      if (stopping_) break;
      spdlog::warn("store: notifications from {} lost ({}); reconnecting in {} s; meanwhile idle runners "
                   "and event streams poll (queue.poll_s)",
                   safe_url_, error.empty() ? "connection closed" : error, backoff_s);
    } else {
      if (stopping_) break;
      spdlog::warn("store: cannot listen for notifications from {}: {}; trying again in {} s{}", safe_url_,
                   error, backoff_s,
                   was_up ? "" : " (until then idle runners and event streams poll, queue.poll_s)");
    }
    if (wait(-1, 0, static_cast<int>(backoff_s * 1000)) < 0) break;
    backoff_s = std::min(kMaxBackoffS, backoff_s * 2);
  }
}

}  // namespace ream::store::pg
