// Store: opening a backend by the name it is given, and what every backend shares.
#include "store/store_common.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "store/migrations.h"
#include "store/pg.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace ream::store {

namespace {

// "host:pid:start_ms" -> pid, or -1.
long owner_pid(const std::string& owner, const std::string& host) {
  if (owner.compare(0, host.size() + 1, host + ":") != 0) return -1;
  size_t start = host.size() + 1;
  size_t end = owner.find(':', start);
  try {
    return std::stol(owner.substr(start, end - start));
  } catch (...) {
    return -1;
  }
}

}  // namespace

int current_schema_version() { return static_cast<int>(migrations().size()); }

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string describe_store(const std::string& name) { return pg::redact_url(name); }

bool names_postgresql(const std::string& name) { return pg::is_url(name); }

Result<std::unique_ptr<Store>> Store::open(const std::string& name, int busy_timeout_ms) {
  if (names_postgresql(name)) {
    auto s = PgStore::open(name);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(s).value());
  }
  const std::string path = name.rfind("sqlite:", 0) == 0 ? name.substr(7) : name;
  auto s = SqliteStore::open(path, busy_timeout_ms);
  if (!s.ok()) return s.status();
  return std::unique_ptr<Store>(std::move(s).value());
}

Result<CreatedJob> Store::create_job(const JobRecord& job, const std::vector<JobDocument>& documents,
                                     const std::vector<EventRecord>& events) {
  REAM_ASSIGN_OR_RETURN(auto created, create_jobs({NewJob{job, documents, events}}));
  return created.at(0);
}

bool owner_is_dead(const std::string& owner, const std::string& host, const std::string& self) {
  const long pid = owner_pid(owner, host);
  return pid > 0 && owner != self &&
         (pid == static_cast<long>(getpid()) ||
          (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH));
}

std::string step_event_json(const std::string& step_id, int iteration, const std::string& extra) {
  // Step ids are validated identifiers, so no escaping is needed for them.
  std::string s = "{\"step\":\"" + step_id + "\",\"iteration\":" + std::to_string(iteration);
  if (!extra.empty()) s += "," + extra;
  return s + "}";
}

}  // namespace ream::store
