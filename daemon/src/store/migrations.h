// The schema, as an ordered list of migrations. Migration i takes the database
// from user_version i to i + 1. Never edit a shipped migration: append a new one.
#pragma once

#include <string>
#include <vector>

namespace ream::store {

const std::vector<std::string>& migrations();

}  // namespace ream::store
