// The SQLite schema, as an ordered list of migrations. Migration i takes the
// database from user_version i to i + 1, in one write transaction; a database
// whose user_version is newer than this list is refused. Never edit a shipped
// migration: append a new one.
#pragma once

#include <string>
#include <vector>

#include "ream/engine/status.h"

namespace ream::store {

class Db;

struct Migration {
  std::string sql;
  // Runs before `sql` in the same transaction, for what plain SQL cannot say (a
  // table that may or may not exist yet); null for most.
  Status (*prepare)(const Db& db) = nullptr;
};

const std::vector<Migration>& migrations();

}  // namespace ream::store
