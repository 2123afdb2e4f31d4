// Scheduler: planning, firing and listing file and API schedules.
#include "cron/scheduler.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <map>

#include "cron/planner.h"

namespace ream::cron {

namespace {

using nlohmann::json;

std::string iso_utc(int64_t ms) {
  if (ms <= 0) return "";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::map<std::string, store::ScheduleState> states_by_id(store::Store& store) {
  std::map<std::string, store::ScheduleState> by_id;
  auto states = store.schedules();
  if (states.ok()) {
    for (auto& s : states.value()) by_id[s.id] = s;
  }
  return by_id;
}

std::string slot_key(const std::string& id, int64_t slot_ms) {
  return "schedule:" + id + ":" + std::to_string(slot_ms);
}

}  // namespace

Scheduler::Scheduler(store::Store& store, ScheduleHost& host,
                     std::function<int64_t()> clock_ms, int64_t grace_ms)
    : store_(store), host_(host), clock_(std::move(clock_ms)), grace_ms_(grace_ms) {}

void Scheduler::plan_locked(const ScheduleSpec& spec, int64_t now) {
  auto by_id = states_by_id(store_);
  auto it = by_id.find(spec.id);
  if (it != by_id.end() && it->second.spec_hash == spec.spec_hash && it->second.next_run_ms > 0) {
    return;  // keep the persisted plan (missed slots are handled by tick)
  }
  store::ScheduleState st;
  if (it != by_id.end()) st = it->second;
  st.id = spec.id;
  st.spec_hash = spec.spec_hash;
  st.next_run_ms = next_fire(spec.expr, *spec.tz, now);
  st.buffered_ms = 0;
  Status ps = store_.put_schedule(st);
  if (!ps.ok()) spdlog::error("schedule {}: {}", spec.id, ps.message());
  spdlog::info("schedule {}: cron '{}' {} next run {}{}", spec.id, spec.expr.text,
               spec.tz->name(), iso_utc(st.next_run_ms), spec.paused ? " (paused)" : "");
}

void Scheduler::set_specs(std::vector<ScheduleSpec> specs) {
  std::lock_guard lock(mu_);
  specs_.clear();
  for (ScheduleSpec& s : specs) {
    bool taken = false;
    for (const ScheduleSpec& a : api_specs_) taken = taken || a.id == s.id;
    if (taken) {
      spdlog::error("schedule {} in {}: an API schedule already has this id; the file's entry is "
                    "ignored (rename it with `name:` or delete the API schedule)", s.id, s.file);
      continue;
    }
    specs_.push_back(std::move(s));
  }
  int64_t now = clock_();
  for (const ScheduleSpec& spec : specs_) plan_locked(spec, now);
}

void Scheduler::put_api(ScheduleSpec spec) {
  std::lock_guard lock(mu_);
  plan_locked(spec, clock_());
  for (ScheduleSpec& a : api_specs_) {
    if (a.id == spec.id) {
      a = std::move(spec);
      return;
    }
  }
  api_specs_.push_back(std::move(spec));
}

void Scheduler::remove_api(const std::string& id) {
  std::lock_guard lock(mu_);
  std::erase_if(api_specs_, [&](const ScheduleSpec& s) { return s.id == id; });
}

const ScheduleSpec* Scheduler::find_locked(const std::string& id) const {
  for (const ScheduleSpec& s : specs_) {
    if (s.id == id) return &s;
  }
  for (const ScheduleSpec& s : api_specs_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::optional<ScheduleSpec> Scheduler::find(const std::string& id) {
  std::lock_guard lock(mu_);
  const ScheduleSpec* s = find_locked(id);
  if (s == nullptr) return std::nullopt;
  return *s;
}

int Scheduler::tick() {
  std::lock_guard lock(mu_);
  int64_t now = clock_();
  int fired = 0;
  for (const ScheduleSpec& spec : specs_) fired += tick_one(spec, now);
  for (const ScheduleSpec& spec : api_specs_) fired += tick_one(spec, now);
  return fired;
}

int Scheduler::tick_one(const ScheduleSpec& spec, int64_t now) {
  if (spec.paused) return 0;
  auto by_id = states_by_id(store_);
  auto found = by_id.find(spec.id);
  if (found == by_id.end()) return 0;
  store::ScheduleState st = found->second;
  int created = 0;
  // buffer_one: a slot kept while the last job ran starts once that job has ended.
  if (st.buffered_ms > 0 && !(st.last_job_id > 0 && host_.job_active(st.last_job_id))) {
    auto r = host_.submit(spec, slot_key(spec.id, st.buffered_ms));
    if (r.ok()) {
      spdlog::info("schedule {}: buffered slot {} -> job {} job_id={}", spec.id,
                   iso_utc(st.buffered_ms), r.value(), r.value());
      st.last_job_id = r.value();
      ++created;
    } else {
      spdlog::error("schedule {}: buffered slot {}: could not create the job: {}", spec.id,
                    iso_utc(st.buffered_ms), r.status().message());
    }
    st.buffered_ms = 0;
    if (Status ps = store_.put_schedule(st); !ps.ok()) spdlog::error("schedule {}: {}", spec.id, ps.message());
  }
  if (st.next_run_ms <= 0 || now < st.next_run_ms) return created;
  // The latest slot that is due, and how many were passed over.
  int64_t latest = st.next_run_ms;
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
  if (fire) {
    bool active = st.last_job_id > 0 && host_.job_active(st.last_job_id);
    OverlapAction act = overlap_action(spec.overlap, active, st.buffered_ms > 0);
    if (!act.fire) {
      spdlog::info("schedule {}: slot {} {}: job {} is still active (overlap {})", spec.id,
                   iso_utc(latest), act.buffer ? "waits" : "skipped", st.last_job_id,
                   overlap_name(spec.overlap));
      if (act.buffer) {
        Status bs = store_.set_schedule_buffer(spec.id, latest);
        if (!bs.ok()) spdlog::error("schedule {}: {}", spec.id, bs.message());
      }
    }
    if (act.cancel_active) {
      bool ok = host_.cancel_job(st.last_job_id);
      spdlog::info("schedule {}: slot {} cancels job {} (overlap cancel_other){}", spec.id,
                   iso_utc(latest), st.last_job_id, ok ? "" : ": it could not be cancelled");
    }
    fire = act.fire;
  }
  int64_t job_id = 0;
  if (fire) {
    auto r = host_.submit(spec, slot_key(spec.id, latest));
    if (r.ok()) {
      job_id = r.value();
      spdlog::info("schedule {}: slot {} -> job {} job_id={}", spec.id, iso_utc(latest), job_id,
                   job_id);
    } else {
      spdlog::error("schedule {}: slot {}: could not create the job: {}", spec.id,
                    iso_utc(latest), r.status().message());
    }
  }
  auto adv = store_.advance_schedule(spec.id, st.next_run_ms, latest, following, job_id);
  if (!adv.ok()) spdlog::error("schedule {}: {}", spec.id, adv.status().message());
  return created + (job_id > 0 ? 1 : 0);
}

json Scheduler::describe_locked(const ScheduleSpec& spec, const store::ScheduleState& st) {
  json j = {{"id", spec.id},
            {"source", spec.source},
            {"workflow", spec.workflow},
            {"cron", spec.expr.text},
            {"timezone", spec.tz->name()},
            {"inputs", spec.inputs},
            {"priority", spec.priority},
            {"overlap", overlap_name(spec.overlap)},
            {"missed", missed_name(spec.missed)},
            {"paused", spec.paused},
            {"next_run", spec.paused ? "" : iso_utc(st.next_run_ms)},
            {"next_run_ms", spec.paused ? 0 : st.next_run_ms},
            {"last_run", iso_utc(st.last_run_ms)},
            {"last_job_id", st.last_job_id},
            {"buffered_run", iso_utc(st.buffered_ms)}};
  if (spec.source == "file") j["file"] = spec.file;
  return j;
}

json Scheduler::list() {
  std::lock_guard lock(mu_);
  auto by_id = states_by_id(store_);
  json out = json::array();
  for (const ScheduleSpec& spec : specs_) out.push_back(describe_locked(spec, by_id[spec.id]));
  for (const ScheduleSpec& spec : api_specs_) out.push_back(describe_locked(spec, by_id[spec.id]));
  return out;
}

json Scheduler::describe(const std::string& id) {
  std::lock_guard lock(mu_);
  const ScheduleSpec* spec = find_locked(id);
  if (spec == nullptr) return nullptr;
  auto by_id = states_by_id(store_);
  return describe_locked(*spec, by_id[id]);
}

Result<int64_t> Scheduler::trigger(const std::string& id) {
  std::lock_guard lock(mu_);
  const ScheduleSpec* spec = find_locked(id);
  if (spec == nullptr) return not_found("no schedule '" + id + "'");
  int64_t now = clock_();
  REAM_ASSIGN_OR_RETURN(int64_t job, host_.submit(*spec, "schedule:" + id + ":trigger:" +
                                                             std::to_string(now)));
  auto by_id = states_by_id(store_);
  store::ScheduleState st = by_id[id];
  st.id = id;
  st.last_job_id = job;
  if (st.spec_hash.empty()) st.spec_hash = spec->spec_hash;
  if (Status ps = store_.put_schedule(st); !ps.ok()) spdlog::error("schedule {}: {}", id, ps.message());
  spdlog::info("schedule {}: triggered by hand -> job {} job_id={}", id, job, job);
  return job;
}

Result<std::vector<int64_t>> Scheduler::backfill(const std::string& id,
                                                 const std::vector<int64_t>& slots) {
  std::lock_guard lock(mu_);
  const ScheduleSpec* spec = find_locked(id);
  if (spec == nullptr) return not_found("no schedule '" + id + "'");
  std::vector<int64_t> jobs;
  for (int64_t slot : slots) {
    REAM_ASSIGN_OR_RETURN(int64_t job, host_.submit(*spec, slot_key(id, slot)));
    jobs.push_back(job);
  }
  spdlog::info("schedule {}: backfill of {} slot(s) from {} to {}", id, slots.size(),
               slots.empty() ? "" : iso_utc(slots.front()), slots.empty() ? "" : iso_utc(slots.back()));
  return jobs;
}

}  // namespace ream::cron
