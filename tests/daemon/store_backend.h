// The databases the store tests run on: the same test bodies (store_test.cpp) run
// against SQLite (store_sqlite_test.cpp) and a real PostgreSQL server
// (pg_store_test.cpp). A backend makes fresh databases and reads and writes their rows
// through its own connection, not the store's, so a test checks what was committed.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace ream::test {

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  virtual std::string name() const = 0;
  // A new, empty database: what Store::open takes (a path or a URL).
  virtual std::string fresh_database() = 0;
  // The first column of the first row of `sql`, as text ("NULL" for NULL).
  virtual std::string query_one(const std::string& db, const std::string& sql) = 0;
  // Runs statements: "" or the database's error.
  virtual std::string exec(const std::string& db, const std::string& sql) = 0;
  // Makes `db` a database at schema version `version` (its first `version`
  // migrations applied, as an older release left it), then runs `sql`: "" or the error.
  virtual std::string make_at_version(const std::string& db, int version, const std::string& sql) = 0;
  // SQL that claims the schema is at `version`.
  virtual std::string set_version_sql(int version) const = 0;
};

// Test names and gtest's output show the backend by name, not by address.
inline void PrintTo(StoreBackend* backend, std::ostream* os) { *os << backend->name(); }

// The fixture of the shared store tests; each test binary instantiates it with its
// backends (INSTANTIATE_TEST_SUITE_P(<Backend>, StoreTest, ...)).
class StoreTest : public ::testing::TestWithParam<StoreBackend*> {
 protected:
  StoreBackend& backend() { return *GetParam(); }
};

}  // namespace ream::test
