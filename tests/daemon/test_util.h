// Helpers for daemon tests: temporary directories, files, and SQLite row checks
// (tests read the store's rows directly to check what was really committed).
#pragma once

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace ream::test {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("ream-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path(const std::string& name = "") const { return name.empty() ? path_.string() : (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  }

 private:
  std::filesystem::path path_;
};

// Runs a query and returns all rows as strings (NULL as "NULL").
inline std::vector<std::vector<std::string>> query(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::vector<std::string>> rows;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return rows;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        row.push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
      }
      rows.push_back(std::move(row));
    }
  } else {
    rows.push_back({std::string("SQL ERROR: ") + sqlite3_errmsg(db)});
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

inline std::string query_one(const std::string& db_path, const std::string& sql) {
  auto rows = query(db_path, sql);
  return rows.empty() || rows[0].empty() ? "" : rows[0][0];
}

// Runs statements on the database (the test's own connection); "" or SQLite's error.
inline std::string exec_sql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string error;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) {
    error = "cannot open " + db_path;
  } else {
    sqlite3_busy_timeout(db, 5000);
    char* msg = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) error = msg ? msg : "failed";
    sqlite3_free(msg);
  }
  sqlite3_close(db);
  return error;
}

}  // namespace ream::test
