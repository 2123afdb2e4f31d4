// Scheduler: parsing `schedule:` entries, planning, firing and listing.
#include "cron/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

#include "cron/planner.h"

namespace ream::cron {

namespace {

using nlohmann::json;

// FNV-1a 64: stable across builds, enough to notice an edited entry.
std::string stable_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string iso_utc(int64_t ms) {
  if (ms <= 0) return "";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<ScheduleSpec> parse_entry(const std::string& workflow, size_t index, const json& e,
                                 const std::string& zoneinfo_dir) {
  std::string where = workflow + ": schedule[" + std::to_string(index) + "]";
  if (!e.is_object()) return invalid_argument(where + ": expected a mapping");
  static const std::vector<std::string> kKnown = {"name",     "cron",    "timezone", "inputs",
                                                  "priority", "overlap", "missed"};
  for (const auto& [k, v] : e.items()) {
    if (std::find(kKnown.begin(), kKnown.end(), k) == kKnown.end()) {
      return invalid_argument(where + ": unknown field '" + k +
                              "' (expected name, cron, timezone, inputs, priority, overlap, missed)");
    }
  }
  ScheduleSpec s;
  s.workflow = workflow;
  s.id = workflow + "#" + std::to_string(index);
  if (e.contains("name")) {
    if (!e["name"].is_string() || e["name"].get<std::string>().empty()) {
      return invalid_argument(where + ".name: expected a non-empty string");
    }
    s.id = workflow + "/" + e["name"].get<std::string>();
  }
  if (!e.contains("cron") || !e["cron"].is_string()) {
    return invalid_argument(where + ".cron: expected a cron expression string");
  }
  auto expr = parse_cron(e["cron"].get<std::string>());
  if (!expr.ok()) return invalid_argument(where + ".cron: " + expr.status().message());
  s.expr = expr.value();
  std::string tzname = "UTC";
  if (e.contains("timezone")) {
    if (!e["timezone"].is_string()) return invalid_argument(where + ".timezone: expected a string");
    tzname = e["timezone"].get<std::string>();
  }
  auto tz = TimeZone::load(tzname, zoneinfo_dir);
  if (!tz.ok()) return invalid_argument(where + ".timezone: " + tz.status().message());
  s.tz = tz.value();
  if (e.contains("inputs")) {
    if (!e["inputs"].is_object()) return invalid_argument(where + ".inputs: expected a mapping");
    s.inputs = e["inputs"];
  }
  if (e.contains("priority")) {
    if (!e["priority"].is_number_integer()) {
      return invalid_argument(where + ".priority: expected an integer");
    }
    s.priority = e["priority"].get<int>();
  }
  std::string overlap = e.value("overlap", std::string("skip"));
  if (overlap != "skip" && overlap != "queue") {
    return invalid_argument(where + ".overlap: expected skip or queue");
  }
  s.overlap = overlap == "skip" ? Overlap::kSkip : Overlap::kQueue;
  std::string missed = e.value("missed", std::string("run_once"));
  if (missed != "skip" && missed != "run_once") {
    return invalid_argument(where + ".missed: expected skip or run_once");
  }
  s.missed = missed == "skip" ? Missed::kSkip : Missed::kRunOnce;
  s.spec_hash = stable_hash(e.dump() + "|" + tzname);
  return s;
}

}  // namespace

Result<std::vector<ScheduleSpec>> parse_schedules(const std::string& workflow,
                                                  const json& schedule,
                                                  const std::string& zoneinfo_dir) {
  std::vector<ScheduleSpec> out;
  if (schedule.is_null()) return out;
  json list = schedule.is_array() ? schedule : json::array({schedule});
  for (size_t i = 0; i < list.size(); ++i) {
    REAM_ASSIGN_OR_RETURN(auto s, parse_entry(workflow, i, list[i], zoneinfo_dir));
    for (const auto& o : out) {
      if (o.id == s.id) return invalid_argument(workflow + ": schedule name '" + s.id + "' repeats");
    }
    out.push_back(std::move(s));
  }
  return out;
}

Scheduler::Scheduler(store::DaemonStore& store, ScheduleHost& host,
                     std::function<int64_t()> clock_ms, int64_t grace_ms)
    : store_(store), host_(host), clock_(std::move(clock_ms)), grace_ms_(grace_ms) {}

void Scheduler::set_specs(std::vector<ScheduleSpec> specs) {
  std::lock_guard lock(mu_);
  specs_ = std::move(specs);
  auto states = store_.schedules();
  std::map<std::string, store::ScheduleState> by_id;
  if (states.ok()) {
    for (auto& s : states.value()) by_id[s.id] = s;
  }
  int64_t now = clock_();
  for (const ScheduleSpec& spec : specs_) {
    auto it = by_id.find(spec.id);
    if (it != by_id.end() && it->second.spec_hash == spec.spec_hash && it->second.next_run_ms > 0) {
      continue;  // keep the persisted plan (missed slots are handled by tick)
    }
    store::ScheduleState st;
    if (it != by_id.end()) st = it->second;
    st.id = spec.id;
    st.spec_hash = spec.spec_hash;
    st.next_run_ms = next_fire(spec.expr, *spec.tz, now);
    Status ps = store_.put_schedule(st);
    if (!ps.ok()) spdlog::error("schedule {}: {}", spec.id, ps.message());
    spdlog::info("schedule {}: cron '{}' {} next run {}", spec.id, spec.expr.text,
                 spec.tz->name(), iso_utc(st.next_run_ms));
  }
}

int Scheduler::tick() {
  std::lock_guard lock(mu_);
  int64_t now = clock_();
  int fired = 0;
  for (const ScheduleSpec& spec : specs_) fired += tick_one(spec, now);
  return fired;
}

int Scheduler::tick_one(const ScheduleSpec& spec, int64_t now) {
  auto states = store_.schedules();
  if (!states.ok()) return 0;
  const store::ScheduleState* st = nullptr;
  for (const auto& s : states.value()) {
    if (s.id == spec.id) st = &s;
  }
  if (st == nullptr || st->next_run_ms <= 0 || now < st->next_run_ms) return 0;
  // The latest slot that is due, and how many were passed over.
  int64_t latest = st->next_run_ms;
  int passed = 0;
  for (;;) {
    int64_t nx = next_fire(spec.expr, *spec.tz, latest);
    if (nx < 0 || nx > now || passed > 100000) break;
    latest = nx;
    ++passed;
  }
  int64_t following = next_fire(spec.expr, *spec.tz, now);
  bool missed = now - latest > grace_ms_;
  bool fire = !missed || spec.missed == Missed::kRunOnce;
  if (missed) {
    spdlog::warn("schedule {}: {} run(s) missed (latest {}); {}", spec.id, passed + 1,
                 iso_utc(latest), fire ? "running it once now" : "skipping them");
  } else if (passed > 0) {
    spdlog::warn("schedule {}: {} earlier slot(s) passed over", spec.id, passed);
  }
  if (fire && spec.overlap == Overlap::kSkip && st->last_job_id > 0 &&
      host_.job_active(st->last_job_id)) {
    spdlog::info("schedule {}: slot {} skipped: job {} is still active", spec.id,
                 iso_utc(latest), st->last_job_id);
    fire = false;
  }
  int64_t job_id = 0;
  if (fire) {
    auto r = host_.submit(spec, "schedule:" + spec.id + ":" + std::to_string(latest));
    if (r.ok()) {
      job_id = r.value();
      spdlog::info("schedule {}: slot {} -> job {} job_id={}", spec.id, iso_utc(latest), job_id,
                   job_id);
    } else {
      spdlog::error("schedule {}: slot {}: could not create the job: {}", spec.id,
                    iso_utc(latest), r.status().message());
    }
  }
  auto adv = store_.advance_schedule(spec.id, st->next_run_ms, latest, following, job_id);
  if (!adv.ok()) spdlog::error("schedule {}: {}", spec.id, adv.status().message());
  return job_id > 0 ? 1 : 0;
}

json Scheduler::list() {
  std::lock_guard lock(mu_);
  auto states = store_.schedules();
  std::map<std::string, store::ScheduleState> by_id;
  if (states.ok()) {
    for (auto& s : states.value()) by_id[s.id] = s;
  }
  json out = json::array();
  for (const ScheduleSpec& spec : specs_) {
    const store::ScheduleState& st = by_id[spec.id];
    out.push_back({{"id", spec.id},
                   {"workflow", spec.workflow},
                   {"cron", spec.expr.text},
                   {"timezone", spec.tz->name()},
                   {"inputs", spec.inputs},
                   {"priority", spec.priority},
                   {"overlap", spec.overlap == Overlap::kSkip ? "skip" : "queue"},
                   {"missed", spec.missed == Missed::kSkip ? "skip" : "run_once"},
                   {"next_run", iso_utc(st.next_run_ms)},
                   {"next_run_ms", st.next_run_ms},
                   {"last_run", iso_utc(st.last_run_ms)},
                   {"last_job_id", st.last_job_id}});
  }
  return out;
}

}  // namespace ream::cron
