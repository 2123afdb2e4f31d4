// A private PostgreSQL server for tests: Debian's initdb and postgres (PostgreSQL 15,
// installed by scripts/setup.sh) run a cluster in a temporary directory that listens
// only on a Unix socket there (no TCP port). PostgreSQL refuses to run as root, so when
// the tests run as root (CI) the server runs as `nobody`; as any other user it runs as
// that user. The server gets SIGQUIT if the test process dies, and is stopped and its
// directory removed when the process exits.
//
// One cluster per test process (PgCluster::shared(), started on first use, ~1-2 s);
// one database per test (create_database()).
#pragma once

#include <sys/types.h>

#include <string>

namespace ream::test {

class PgCluster {
 public:
  // The process's cluster, started on first call. Check error() before using it.
  static PgCluster& shared();
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // Why the server could not start (with the tail of its log); "" when it runs.
  const std::string& error() const { return error_; }
  // A new, empty database (owned by the cluster's superuser `ream`): its URL.
  std::string create_database();
  // The socket directory (the URL's host).
  const std::string& socket_dir() const { return dir_; }

  // Stops the server (fast shutdown) and starts it again on the same data, after
  // `down_s` seconds: what a restart of a shared PostgreSQL looks like to its clients.
  // "" or why not.
  std::string restart(double down_s = 0);

  // The first column of the first row of `sql` on the database `url` names, as text
  // ("NULL" for NULL, "SQL ERROR: ..." when it fails), through the test's own libpq
  // connection, not the store's.
  static std::string query_one(const std::string& url, const std::string& sql);
  // Runs statements on `url`: "" or the server's error.
  static std::string exec(const std::string& url, const std::string& sql);

 private:
  PgCluster();
  std::string start_server();
  void stop_server();

  std::string bindir_;
  std::string dir_;
  std::string error_;
  pid_t server_ = -1;
  int databases_ = 0;
};

}  // namespace ream::test
