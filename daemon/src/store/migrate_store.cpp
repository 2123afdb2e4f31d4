// copy_sqlite_to_postgresql: table by table, parents before children, in one
// PostgreSQL transaction, reading one SQLite snapshot.
#include "store/migrate_store.h"

#include <filesystem>

#include "store/pg.h"
#include "store/pg_store.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"

namespace ream::store {

namespace {

// Every table of the schema, parents first (foreign keys hold at each insert).
constexpr const char* kTables[] = {"workflows", "documents",     "jobs",          "job_documents",
                                   "step_runs", "findings",      "evidence",      "job_events",
                                   "schedule_state", "api_schedules", "upload_names"};
// Tables whose `id` is an identity column, so its sequence must continue after the copy.
constexpr const char* kIdentityTables[] = {"workflows", "documents", "jobs", "step_runs",
                                           "findings", "evidence", "job_events"};

Result<std::vector<std::string>> sqlite_columns(const Db& db, const std::string& table) {
  Stmt q = db.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid");
  q.bind(1, table);
  std::vector<std::string> out;
  Status st;
  while (q.step(&st)) out.push_back(q.text("name"));
  REAM_RETURN_IF_ERROR(st);
  if (out.empty()) return internal_error("the SQLite store has no table " + table);
  return out;
}

Result<int64_t> copy_table(const Db& from, const pg::Conn& to, const std::string& table) {
  REAM_ASSIGN_OR_RETURN(std::vector<std::string> columns, sqlite_columns(from, table));
  std::string list, values;
  for (size_t i = 0; i < columns.size(); ++i) {
    list += (i ? ", " : "") + columns[i];
    values += (i ? ", $" : "$") + std::to_string(i + 1);
  }
  const std::string insert = "INSERT INTO " + table + " (" + list + ") VALUES (" + values + ")";
  sqlite3_stmt* raw = nullptr;
  const std::string select = "SELECT " + list + " FROM " + table + " ORDER BY rowid";
  if (sqlite3_prepare_v2(from.get(), select.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return internal_error("sqlite: " + std::string(sqlite3_errmsg(from.get())) + " (in: " + select + ")");
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> q(raw, sqlite3_finalize);
  int64_t rows = 0;
  int rc;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    pg::Params p;
    for (int c = 0; c < static_cast<int>(columns.size()); ++c) {
      const int type = sqlite3_column_type(q.get(), c);
      if (type == SQLITE_NULL) {
        p.add_null();
      } else if (type == SQLITE_BLOB) {
        const void* b = sqlite3_column_blob(q.get(), c);
        p.add_bytes(std::string_view(static_cast<const char*>(b),
                                     static_cast<size_t>(sqlite3_column_bytes(q.get(), c))));
      } else {
        const unsigned char* t = sqlite3_column_text(q.get(), c);
        p.add(std::string_view(reinterpret_cast<const char*>(t),
                               static_cast<size_t>(sqlite3_column_bytes(q.get(), c))));
      }
    }
    auto r = to.exec(insert, p);
    if (!r.ok()) return Status(r.status().code(), table + " row " + std::to_string(rows + 1) + ": " + r.status().message());
    ++rows;
  }
  if (rc != SQLITE_DONE) return internal_error("sqlite: " + std::string(sqlite3_errmsg(from.get())) + " (reading " + table + ")");
  return rows;
}

}  // namespace

Result<CopyCounts> copy_sqlite_to_postgresql(const std::string& sqlite_path, const std::string& url) {
  if (!std::filesystem::is_regular_file(sqlite_path)) {
    return not_found("no SQLite store at " + sqlite_path);
  }
  {  // both stores at this build's schema
    REAM_ASSIGN_OR_RETURN(auto source, SqliteStore::open(sqlite_path, 5000));
    REAM_ASSIGN_OR_RETURN(auto target, PgStore::open(url));
  }
  const std::string safe = pg::redact_url(url);
  REAM_ASSIGN_OR_RETURN(Db from, Db::open(sqlite_path, 5000));
  REAM_RETURN_IF_ERROR(from.exec("BEGIN"));  // one snapshot of the source
  REAM_ASSIGN_OR_RETURN(auto pool, pg::Pool::open(url, 1));
  REAM_ASSIGN_OR_RETURN(auto to, pool->acquire());
  pg::Txn txn(*to);
  REAM_RETURN_IF_ERROR(txn.begin_status());
  auto held = to->exec(
      "SELECT (SELECT COUNT(*) FROM workflows) + (SELECT COUNT(*) FROM documents) + "
      "(SELECT COUNT(*) FROM jobs) AS n");
  REAM_RETURN_IF_ERROR(held.status());
  if (held.row(0).i64("n") > 0) {
    return failed_precondition(safe + " already holds workflows, documents or jobs; "
                               "migrate-store copies into an empty database only");
  }
  CopyCounts counts;
  for (const char* table : kTables) {
    REAM_ASSIGN_OR_RETURN(int64_t rows, copy_table(from, *to, table));
    counts.emplace_back(table, rows);
  }
  for (const char* table : kIdentityTables) {
    const std::string t = table;
    REAM_RETURN_IF_ERROR(
        to->exec("SELECT setval(pg_get_serial_sequence('" + t + "', 'id'), GREATEST(COALESCE(MAX(id), 0), 1), "
                 "COALESCE(MAX(id), 0) > 0) FROM " + t)
            .status());
  }
  REAM_RETURN_IF_ERROR(txn.commit());
  (void)from.exec("ROLLBACK");
  return counts;
}

}  // namespace ream::store
