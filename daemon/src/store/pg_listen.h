// pg::Listener: one dedicated PostgreSQL connection that runs LISTEN on a few channels
// and hands each notification (NOTIFY, pg_notify) to a callback, from a thread of its
// own. PostgreSQL delivers a notification only after the transaction that sent it
// commits, to every session listening on its channel at that moment.
//
// The thread waits on the connection's socket (poll, with a self-pipe to stop it), then
// PQconsumeInput and PQnotifies. When the connection is lost (server restart, network,
// pg_terminate_backend) it reconnects with a growing backoff (kMinBackoffS doubling to
// kMaxBackoffS); notifications sent while it was down are lost, so `on_connected` runs
// after each successful LISTEN, the first one included, for the caller to look at
// everything once. Connecting and LISTEN never block the stop: they wait on the socket
// too. The connection is named `reamd-listen` (application_name) in pg_stat_activity.
//
// Only daemon/src/store includes this header. Thread-safety: constructed and destroyed
// by one thread; the callbacks run on the listener's thread, one at a time.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>

namespace ream::store::pg {

class Listener {
 public:
  using OnNotify = std::function<void(const std::string& channel, const std::string& payload)>;
  static constexpr double kMinBackoffS = 0.25;
  static constexpr double kMaxBackoffS = 10;
  static constexpr double kConnectTimeoutS = 10;  // one connection attempt, LISTEN included

  // `url` is the full URL (with any password); `safe_url` is what logs show. The thread
  // starts here; nothing is reported as an error: a failure to connect is logged and
  // retried.
  Listener(std::string url, std::string safe_url, std::vector<std::string> channels, OnNotify on_notify,
           std::function<void()> on_connected);
  ~Listener();  // stops and joins the thread; no callback runs after it returns
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  void loop();
  // A connection that listens on every channel, or null (why in *error; "" when stopped).
  PGconn* connect(std::string* error);
  // Waits until `fd` is ready for `events` (POLLIN/POLLOUT), the stop pipe is written, or
  // `timeout_ms` passes (-1: no limit). 1 ready, 0 timed out, -1 stopping.
  int wait(int fd, short events, int timeout_ms);
  // Reads what arrived and delivers the notifications; false when the connection is lost.
  bool drain(PGconn* conn, std::string* error);
  void deliver(PGconn* conn);  // the notifications libpq has read

  const std::string url_;
  const std::string safe_url_;
  const std::vector<std::string> channels_;
  const OnNotify on_notify_;
  const std::function<void()> on_connected_;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ream::store::pg
