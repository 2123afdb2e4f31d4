// Moving a single-host install to PostgreSQL: every row of a SQLite store copied into
// an empty PostgreSQL store, ids kept (`reamd migrate-store`).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ream/engine/status.h"

namespace ream::store {

// Rows copied, table by table, in the order they were copied.
using CopyCounts = std::vector<std::pair<std::string, int64_t>>;

// Copies the SQLite store at `sqlite_path` (which must exist; it is migrated to this
// build's schema first) into the PostgreSQL database `url` (migrated too), which must
// hold no workflows, documents or jobs yet. One PostgreSQL transaction: the target
// gets every row or none. Ids are kept, so job ids, document ids and event ids mean
// the same afterwards, and the target's id sequences continue after them. Stop every
// reamd on the SQLite file first: rows written during the copy would be left behind.
Result<CopyCounts> copy_sqlite_to_postgresql(const std::string& sqlite_path, const std::string& url);

}  // namespace ream::store
