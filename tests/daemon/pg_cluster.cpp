// PgCluster: initdb, postgres on a private Unix socket, as `nobody` under root.
#include "pg_cluster.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace ream::test {

namespace {

namespace fs = std::filesystem;

constexpr const char* kPort = "5432";  // names the socket file only: there is no TCP listener

// The newest /usr/lib/postgresql/<version>/bin holding initdb, or $REAM_PG_BINDIR.
std::string find_bindir() {
  if (const char* env = std::getenv("REAM_PG_BINDIR"); env && *env) return env;
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

std::string tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 1500 ? s.substr(s.size() - 1500) : s;
}

struct RunAs {
  bool change = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

// PostgreSQL refuses root: run it as nobody then.
RunAs server_user() {
  RunAs as;
  if (geteuid() != 0) return as;
  const passwd* pw = getpwnam("nobody");
  if (pw == nullptr) return as;
  as.change = true;
  as.uid = pw->pw_uid;
  as.gid = pw->pw_gid;
  return as;
}

// Starts argv[0] in `cwd` with stdout and stderr to `log`, as `as`; with `die_with_us`,
// the child gets SIGQUIT (PostgreSQL's immediate shutdown) when this process dies. The
// cwd is the cluster's own directory: nobody may not be allowed into the test's.
pid_t spawn(const std::vector<std::string>& args, const std::string& cwd, const std::string& log,
            const RunAs& as, bool die_with_us) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // The child: only async-signal-safe calls until exec.
  if (as.change) {
    if (setgroups(0, nullptr) != 0 || setgid(as.gid) != 0 || setuid(as.uid) != 0) _exit(126);
  }
  if (die_with_us) prctl(PR_SET_PDEATHSIG, SIGQUIT);
  if (chdir(cwd.c_str()) != 0) _exit(125);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  execv(argv[0], argv.data());
  _exit(127);
}

std::string admin_url(const std::string& dir) {
  return "postgresql:///postgres?host=" + dir + "&port=" + kPort + "&user=ream";
}

}  // namespace

PgCluster& PgCluster::shared() {
  static PgCluster cluster;
  return cluster;
}

PgCluster::PgCluster() {
  bindir_ = find_bindir();
  if (bindir_.empty()) {
    error_ = "no PostgreSQL server: /usr/lib/postgresql/<version>/bin/initdb is missing "
             "(scripts/setup.sh installs Debian's postgresql)";
    return;
  }
  char templ[] = "/tmp/ream-pg-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    error_ = "cannot make a temporary directory for PostgreSQL";
    return;
  }
  dir_ = templ;
  const RunAs as = server_user();
  if (as.change && chown(dir_.c_str(), as.uid, as.gid) != 0) {
    error_ = "cannot hand " + dir_ + " to nobody for PostgreSQL";
    return;
  }
  const std::string log = dir_ + "/initdb.log";
  const pid_t pid = spawn({bindir_ + "/initdb", "-D", dir_ + "/data", "-U", "ream", "-A", "trust",
                           "-E", "UTF8", "--locale=C", "-N"},
                          dir_, log, as, false);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error_ = "initdb failed (" + bindir_ + "/initdb, exit " + std::to_string(WEXITSTATUS(status)) +
             "): " + tail(log);
    return;
  }
  error_ = start_server();
}

std::string PgCluster::start_server() {
  const std::string log = dir_ + "/server.log";
  server_ = spawn({bindir_ + "/postgres", "-D", dir_ + "/data", "-k", dir_, "-p", kPort, "-c",
                   "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
                   "full_page_writes=off", "-c", "max_connections=200"},
                  dir_, log, server_user(), true);
  const std::string conninfo = "host=" + dir_ + " port=" + kPort + " dbname=postgres user=ream";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(conninfo.c_str()) == PQPING_OK) return "";
    int status = 0;
    if (waitpid(server_, &status, WNOHANG) == server_) {
      server_ = -1;
      return "postgres exited while starting: " + tail(log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "postgres did not accept connections within 60 s: " + tail(log);
}

void PgCluster::stop_server() {
  if (server_ <= 0) return;
  kill(server_, SIGINT);  // fast shutdown: roll back open transactions, close connections
  int status = 0;
  waitpid(server_, &status, 0);
  server_ = -1;
}

PgCluster::~PgCluster() {
  stop_server();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string PgCluster::restart(double down_s) {
  stop_server();
  if (down_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(down_s));
  error_ = start_server();
  return error_;
}

std::string PgCluster::create_database() {
  const std::string name = "t" + std::to_string(++databases_);
  const std::string err = exec(admin_url(dir_), "CREATE DATABASE " + name);
  if (!err.empty()) return "";
  return "postgresql:///" + name + "?host=" + dir_ + "&port=" + kPort + "&user=ream";
}

std::string PgCluster::query_one(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    out = std::string("SQL ERROR: ") + PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      out = std::string("SQL ERROR: ") + PQresultErrorMessage(res);
    } else if (PQntuples(res) > 0 && PQnfields(res) > 0) {
      out = PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0);
    }
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

std::string PgCluster::exec(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    out = PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    const ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) out = PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  return out.empty() ? "" : out;
}

}  // namespace ream::test
