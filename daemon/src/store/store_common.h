// What every Store backend shares and no database knows: who a lease owner is, and
// the JSON of a step event. Only daemon/src/store includes this header.
#pragma once

#include <string>

namespace ream::store {

// Whether `owner` ("host:pid:start_ms") names a process of `host` that is gone (and
// is not `self`): a pid that no longer exists, or this process's own pid under
// another start time.
bool owner_is_dead(const std::string& owner, const std::string& host, const std::string& self);

// {"step":"<id>","iteration":N[,extra]}: a step event's data.
std::string step_event_json(const std::string& step_id, int iteration, const std::string& extra);

}  // namespace ream::store
