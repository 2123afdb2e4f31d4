// ScheduleService: API schedules as resources (the /v1/schedules routes call only it).
// A schedule's definition (the JSON it was created with, merge-patched by updates) is
// kept in the store (Store::api_schedules); its state and its firing are the
// Scheduler's, which also holds the workflow files' schedules. Those are read-only
// here: their file is their definition, so changing or deleting one is a conflict
// naming the file, and an API schedule may not take a file schedule's id.
//
// Errors are Status codes the HTTP layer maps (http::error_from_status): kNotFound
// (no such schedule; *field "id"), kInvalidArgument (a bad definition, patch or range;
// *field names the offending field), kFailedPrecondition (a file schedule, or an id
// taken), and whatever the job service answers when a schedule's job cannot be made.
//
// Thread-safety: every method may be called from any thread (the store and the
// Scheduler lock for themselves).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cron/scheduler.h"
#include "store/store.h"

namespace ream::cron {

class ScheduleService {
 public:
  // Checks a parsed definition against the workflows loaded now: the workflow exists and
  // the inputs fit it. On error sets *field ("workflow", "inputs", ...).
  using WorkflowCheck = std::function<Status(const ScheduleSpec&, std::string* field)>;

  static constexpr int kMaxBackfill = 100;  // jobs one backfill may create
  static constexpr int kMaxUpcoming = 100;  // fire times one upcoming call lists

  ScheduleService(store::Store& store, Scheduler& scheduler, std::string zoneinfo_dir,
                  WorkflowCheck check);

  // The API schedules stored by earlier runs, handed to the scheduler (at start). One
  // whose definition no longer parses (a time zone gone from the system) is logged and
  // left in the store untouched.
  void load_stored();

  // Every schedule, files first, as GET /v1/schedules shows them.
  nlohmann::json list() { return scheduler_.list(); }
  // One schedule as list() shows it.
  Result<nlohmann::json> get(const std::string& id, std::string* field);

  // A new API schedule from `def` (id, workflow, cron, timezone, inputs, priority,
  // overlap, missed, paused); without an id, one is made from the workflow's name.
  // Returns the schedule as get() shows it.
  Result<nlohmann::json> create(nlohmann::json def, std::string* field);
  // A JSON merge patch (RFC 7396) of an API schedule's definition: objects merge key by
  // key, null takes a key back to its default; `id` and `workflow` cannot change. A
  // changed definition is re-planned from now (resuming does not fire past slots).
  Result<nlohmann::json> update(const std::string& id, const nlohmann::json& patch,
                                std::string* field);
  Status remove(const std::string& id, std::string* field);

  // A job for the schedule now, whatever its pause and overlap policy.
  Result<int64_t> trigger(const std::string& id, std::string* field);

  struct Upcoming {
    ScheduleSpec spec;
    std::vector<int64_t> fire_times;  // UTC ms
  };
  // The next `count` (1..kMaxUpcoming) fire times after now.
  Result<Upcoming> upcoming(const std::string& id, int count, std::string* field);

  // One job per past fire time t, start_ms <= t < end_ms (at most kMaxBackfill;
  // idempotent by slot: a slot that has a job gives that job): (fire time, job id).
  Result<std::vector<std::pair<int64_t, int64_t>>> backfill(const std::string& id,
                                                            int64_t start_ms, int64_t end_ms,
                                                            std::string* field);

 private:
  // Parses `def` and checks it against the workflows.
  Result<ScheduleSpec> check_definition(const nlohmann::json& def, std::string* field);
  // The stored definition of the API schedule `id`; `what` ("change", "delete") words
  // the conflict a file schedule gives.
  Result<nlohmann::json> api_definition(const std::string& id, const std::string& what,
                                        std::string* field);

  store::Store& store_;
  Scheduler& scheduler_;
  std::string zoneinfo_dir_;
  WorkflowCheck check_;
};

// RFC 3339 ("2025-01-06T09:00:00Z"; fractions and "+01:00" offsets allowed) -> UTC ms.
std::optional<int64_t> parse_rfc3339(const std::string& s);

}  // namespace ream::cron
