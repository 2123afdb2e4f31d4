// The store tests (store_test.cpp) on SQLite, and what only SQLite has: WAL mode and
// PRAGMA user_version.
#include <gtest/gtest.h>

#include "store/migrations.h"
#include "store/sqlite.h"
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

// Statements go back to their connection's cache reset and unbound, and come out of it
// for the same SQL; the same query nested in itself gets a statement of its own.
TEST(SqliteStatementCache, ReusesResetStatementsAndNestsTheSameQuery) {
  TempDir dir;
  auto db = store::Db::open(dir.path("cache.db"), 1000);
  ASSERT_TRUE(db.ok()) << db.status().message();
  ASSERT_TRUE(db->exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT);"
                       "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');").ok());
  const char* by_key = "SELECT k, v FROM t WHERE k >= ?1 ORDER BY k";
  EXPECT_EQ(db->cached_statements(), 0u);
  {
    store::Stmt q = db->prepare(by_key);
    q.bind(1, 2);
    Status st;
    ASSERT_TRUE(q.step(&st));
    EXPECT_EQ(q.text("v"), "two");
    // Left mid-result: the same text now gets a second, fresh statement.
    store::Stmt nested = db->prepare(by_key);
    nested.bind(1, 1);
    ASSERT_TRUE(nested.step(&st));
    EXPECT_EQ(nested.text("v"), "one");
    ASSERT_TRUE(q.step(&st));
    EXPECT_EQ(q.text("v"), "three");
  }
  // Both went back: one is kept (the other finalized), reset and without its bindings.
  EXPECT_EQ(db->cached_statements(), 1u);
  store::Stmt again = db->prepare(by_key);
  EXPECT_EQ(db->cached_statements(), 0u);
  Status st;
  EXPECT_FALSE(again.step(&st)) << "an unbound ?1 (NULL) matched row " << again.i64("k");
  EXPECT_TRUE(st.ok()) << st.message();
  store::Stmt third = db->prepare(by_key);  // `again` is out: a fresh one
  third.bind(1, 3);
  ASSERT_TRUE(third.step(&st)) << st.message();
  EXPECT_EQ(third.text("v"), "three");
  EXPECT_EQ(third.i64("k"), 3);
  EXPECT_FALSE(third.step(&st));
  EXPECT_TRUE(st.ok()) << st.message();
}

// A statement given back mid-result holds no read open: another connection's write
// and a full checkpoint go through.
TEST(SqliteStatementCache, AStatementGivenBackMidResultHoldsNoSnapshot) {
  TempDir dir;
  const std::string path = dir.path("snap.db");
  auto reader = store::Db::open(path, 1000);
  auto writer = store::Db::open(path, 1000);
  ASSERT_TRUE(reader.ok() && writer.ok());
  ASSERT_TRUE(writer->exec("CREATE TABLE t (k INTEGER); INSERT INTO t VALUES (1), (2);").ok());
  {
    store::Stmt q = reader->prepare("SELECT k FROM t");
    Status st;
    ASSERT_TRUE(q.step(&st));
  }
  EXPECT_EQ(reader->cached_statements(), 1u);
  ASSERT_TRUE(writer->exec("INSERT INTO t VALUES (3);").ok());
  store::Stmt ckpt = writer->prepare("PRAGMA wal_checkpoint(TRUNCATE)");
  Status st;
  ASSERT_TRUE(ckpt.step(&st)) << st.message();
  EXPECT_EQ(ckpt.i64("busy"), 0) << "a cached statement kept a read snapshot open";
  store::Stmt count = reader->prepare("SELECT count(*) AS n FROM t");
  ASSERT_TRUE(count.step(&st));
  EXPECT_EQ(count.i64("n"), 3);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTest, ::testing::Values(sqlite_backend()),
                         [](const auto& info) { return info.param->name(); });

}  // namespace
}  // namespace ream::test
