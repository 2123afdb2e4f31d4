// The store tests (store_test.cpp) on SQLite, and what only SQLite has: WAL mode and
// PRAGMA user_version.
#include <gtest/gtest.h>

#include "store/migrations.h"
#include "store/store.h"
#include "store_backend.h"
#include "test_util.h"

namespace ream::test {
namespace {

class SqliteBackend final : public StoreBackend {
 public:
  std::string name() const override { return "Sqlite"; }
  std::string fresh_database() override { return dir_.path("db-" + std::to_string(++n_) + ".db"); }
  std::string query_one(const std::string& db, const std::string& sql) override {
    return test::query_one(db, sql);
  }
  std::string exec(const std::string& db, const std::string& sql) override { return exec_sql(db, sql); }
  std::string make_at_version(const std::string& db, int version, const std::string& sql) override {
    std::string all;
    for (int i = 0; i < version; ++i) all += store::migrations().at(static_cast<size_t>(i)).sql;
    return exec_sql(db, all + set_version_sql(version) + ";" + sql);
  }
  std::string set_version_sql(int version) const override {
    return "PRAGMA user_version = " + std::to_string(version);
  }

 private:
  TempDir dir_;
  int n_ = 0;
};

StoreBackend* sqlite_backend() {
  static SqliteBackend backend;
  return &backend;
}

TEST(SqliteStore, OpensInWalModeWithItsVersionInUserVersion) {
  TempDir dir;
  const std::string db = dir.path("ream.db");
  auto s = store::Store::open(db);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(test::query_one(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(test::query_one(db, "PRAGMA user_version"), std::to_string(store::current_schema_version()));
  // "sqlite:PATH" names the same file.
  auto again = store::Store::open("sqlite:" + db);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*(*again)->schema_version(), store::current_schema_version());
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTest, ::testing::Values(sqlite_backend()),
                         [](const auto& info) { return info.param->name(); });

}  // namespace
}  // namespace ream::test
