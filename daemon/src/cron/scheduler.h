// Scheduler: fires workflow `schedule:` entries as jobs.
//
// A workflow file may carry
//   schedule:
//     - name: nightly              # optional; default "<workflow>#<index>"
//       cron: "30 2 * * mon-fri"   # see cron.h
//       timezone: Europe/Berlin    # IANA name; default UTC
//       inputs: {document: /srv/contracts/master.md}
//       priority: 0
//       overlap: skip              # skip | queue: when the previous run is still active
//       missed: run_once           # skip | run_once: slots passed while reamd was down
//
// Each schedule's next run time is persisted (DaemonStore::reamd_schedules), so a
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
#include <string>
#include <vector>

#include "cron/cron.h"
#include "cron/tz.h"
#include "ream/engine/status.h"
#include "store/daemon_store.h"

namespace ream::cron {

enum class Overlap { kSkip, kQueue };
enum class Missed { kSkip, kRunOnce };

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
};

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
};

class Scheduler {
 public:
  Scheduler(store::DaemonStore& store, ScheduleHost& host, std::function<int64_t()> clock_ms,
            int64_t grace_ms = 60000);

  // Replaces the schedule set (at start and on reload); plans new or changed ones.
  void set_specs(std::vector<ScheduleSpec> specs);
  // Fires every slot that is due; returns how many jobs it created.
  int tick();
  // For GET /v1/schedules: one object per schedule with its state.
  nlohmann::json list();

 private:
  int tick_one(const ScheduleSpec& spec, int64_t now);

  store::DaemonStore& store_;
  ScheduleHost& host_;
  std::function<int64_t()> clock_;
  int64_t grace_ms_;
  std::mutex mu_;
  std::vector<ScheduleSpec> specs_;
};

}  // namespace ream::cron
