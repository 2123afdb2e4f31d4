// Scheduler: fires workflow `schedule:` entries as jobs.
//
// A workflow file may carry
//   schedule:
//     - name: nightly              # optional; default "<workflow>#<index>"
//       cron: "30 2 * * mon-fri"   # see cron.h
//       timezone: Europe/Berlin    # IANA name; default UTC
//       inputs: {document: /srv/contracts/master.md}
//       priority: 0
//       overlap: skip              # when the previous run is still active, see Overlap
//       missed: run_once           # skip | run_once: slots passed while reamd was down
//
// Schedules also come from the API (POST /v1/schedules): the same fields plus an
// `id`, `workflow` and `paused`, persisted in the store (Store::api_schedules)
// and given to the scheduler with put_api(). Both kinds share one id space and one
// state table; a file schedule's id is never taken by an API one.
//
// Each schedule's next run time is persisted (Store::schedules), so a
// restart neither loses nor doubles a run: a job is created with the idempotency
// key "schedule:<id>:<slot ms>" before the slot advances, so a crash in between
// finds the existing job on the next tick instead of creating another.
//
// A slot is "missed" when it is more than `grace` behind the clock (reamd was down
// or stalled); `missed` decides whether the latest missed slot runs once or not at
// all. Either way the schedule then continues from the present.
//
// Thread-safety: set_specs(), tick() and list() may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cron/cron.h"
#include "cron/tz.h"
#include "ream/engine/status.h"
#include "store/store.h"

namespace ream::cron {

// What a slot does when the schedule's last job is still queued or running:
//   skip          the slot is dropped
//   queue         a job is created anyway and waits in the job queue (the old meaning)
//   allow_all     a job is created anyway (Temporal's name; same as queue here, since
//                 runners start jobs as they free up)
//   buffer_one    the slot waits, and runs when the active job ends; at most one slot
//                 waits, later ones are dropped
//   cancel_other  the active job is cancelled and the slot's job is created
enum class Overlap { kSkip, kQueue, kBufferOne, kCancelOther, kAllowAll };
enum class Missed { kSkip, kRunOnce };

const char* overlap_name(Overlap o);
const char* missed_name(Missed m);

// The decision an overlap policy takes for a due slot. `active`: the schedule's last
// job is queued or running; `buffered`: a slot is already waiting (buffer_one).
struct OverlapAction {
  bool fire = true;           // create the slot's job now
  bool cancel_active = false; // cancel the active job first
  bool buffer = false;        // keep the slot to run when the active job ends
};
OverlapAction overlap_action(Overlap policy, bool active, bool buffered);

struct ScheduleSpec {
  std::string id;
  std::string workflow;
  CronExpr expr;
  std::shared_ptr<const TimeZone> tz;
  nlohmann::json inputs = nlohmann::json::object();
  int priority = 0;
  Overlap overlap = Overlap::kSkip;
  Missed missed = Missed::kRunOnce;
  std::string spec_hash;  // of the entry's JSON; a changed entry is re-planned
  bool paused = false;    // API schedules: a paused schedule fires nothing
  std::string source = "file";  // "file" | "api"
  std::string file;       // the workflow file a file schedule comes from
};

// Reads an API schedule definition (POST /v1/schedules, as stored): id, workflow,
// cron, timezone, inputs, priority, overlap, missed, paused. On error *field names
// the offending field and the message says what was wrong with it.
Result<ScheduleSpec> parse_api_schedule(const nlohmann::json& def, const std::string& zoneinfo_dir,
                                        std::string* field);

// The first `count` fire times (UTC ms) strictly after `after_ms`.
std::vector<int64_t> fire_times_after(const ScheduleSpec& spec, int64_t after_ms, int count);
// The fire times t with start_ms <= t < end_ms, at most `limit` + 1 of them (so a
// caller can tell that the range holds more than `limit`).
std::vector<int64_t> fire_times_between(const ScheduleSpec& spec, int64_t start_ms,
                                        int64_t end_ms, int limit);

// Reads a workflow's `schedule:` value (a list of entries, or one entry).
// Errors name the workflow, the entry and the field.
Result<std::vector<ScheduleSpec>> parse_schedules(const std::string& workflow,
                                                  const nlohmann::json& schedule,
                                                  const std::string& zoneinfo_dir);

// What the scheduler needs from the daemon.
class ScheduleHost {
 public:
  virtual ~ScheduleHost() = default;
  // Creates the job (idempotently by `idempotency_key`); returns its id.
  virtual Result<int64_t> submit(const ScheduleSpec& spec, const std::string& idempotency_key) = 0;
  // Whether the job is queued or running.
  virtual bool job_active(int64_t job_id) = 0;
  // Cancels a queued or running job (overlap cancel_other); false when it could not.
  virtual bool cancel_job(int64_t job_id) = 0;
};

class Scheduler {
 public:
  Scheduler(store::Store& store, ScheduleHost& host, std::function<int64_t()> clock_ms,
            int64_t grace_ms = 60000);

  // Replaces the file schedules (at start and on reload); plans new or changed ones.
  // A file entry whose id an API schedule holds is ignored, with an error logged.
  void set_specs(std::vector<ScheduleSpec> specs);
  // Adds or replaces an API schedule; a changed definition (cron, paused, ...) is
  // re-planned from now, so resuming a paused schedule does not fire its past slots.
  void put_api(ScheduleSpec spec);
  void remove_api(const std::string& id);
  // The schedule (file or API) with this id.
  std::optional<ScheduleSpec> find(const std::string& id);
  // Fires every slot that is due; returns how many jobs it created.
  int tick();
  // For GET /v1/schedules: one object per schedule with its state, files first.
  nlohmann::json list();
  // One schedule as list() shows it; null when there is none.
  nlohmann::json describe(const std::string& id);
  // Creates a job for the schedule now (paused or not, whatever the overlap
  // policy), recorded as its last job. kNotFound for an unknown id.
  Result<int64_t> trigger(const std::string& id);
  // One job per slot of `slots` (idempotent by slot: a slot that already has a
  // job gives that job). Returns the job ids, in order.
  Result<std::vector<int64_t>> backfill(const std::string& id, const std::vector<int64_t>& slots);

 private:
  int tick_one(const ScheduleSpec& spec, int64_t now);
  void plan_locked(const ScheduleSpec& spec, int64_t now);
  nlohmann::json describe_locked(const ScheduleSpec& spec, const store::ScheduleState& st);
  const ScheduleSpec* find_locked(const std::string& id) const;

  store::Store& store_;
  ScheduleHost& host_;
  std::function<int64_t()> clock_;
  int64_t grace_ms_;
  std::mutex mu_;
  std::vector<ScheduleSpec> specs_;      // from workflow files
  std::vector<ScheduleSpec> api_specs_;  // from the API
};

}  // namespace ream::cron
