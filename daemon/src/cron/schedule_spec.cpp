// Schedule definitions: a workflow file's `schedule:` entries and the API's
// schedule resources read into ScheduleSpec, the overlap policies' decisions, and
// fire-time listings (upcoming, backfill ranges).
#include <algorithm>
#include <cstdio>

#include "cron/planner.h"
#include "cron/scheduler.h"

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

// The fields both kinds share. `p` prefixes each field name in messages ("wf:
// schedule[0]." for a file, "" for the API); *field gets the field's name.
Status parse_common(const json& e, const std::string& p, const std::string& zoneinfo_dir,
                    ScheduleSpec* s, std::string* field) {
  auto bad = [&](const std::string& f, const std::string& msg) {
    *field = f;
    return invalid_argument(p + f + ": " + msg);
  };
  if (!e.contains("cron") || !e["cron"].is_string()) {
    return bad("cron", "expected a cron expression string");
  }
  auto expr = parse_cron(e["cron"].get<std::string>());
  if (!expr.ok()) return bad("cron", expr.status().message());
  s->expr = expr.value();
  std::string tzname = "UTC";
  if (e.contains("timezone")) {
    if (!e["timezone"].is_string()) return bad("timezone", "expected a string");
    tzname = e["timezone"].get<std::string>();
  }
  auto tz = TimeZone::load(tzname, zoneinfo_dir);
  if (!tz.ok()) return bad("timezone", tz.status().message());
  s->tz = tz.value();
  if (e.contains("inputs")) {
    if (!e["inputs"].is_object()) return bad("inputs", "expected a mapping");
    s->inputs = e["inputs"];
  }
  if (e.contains("priority")) {
    const json& v = e["priority"];
    const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= 1000
                          : v.is_number_integer() && v.get<int64_t>() >= -1000 &&
                                v.get<int64_t>() <= 1000;
    if (!in_range) return bad("priority", "expected an integer in -1000..1000");
    s->priority = v.get<int>();
  }
  if (e.contains("overlap")) {
    static const std::vector<Overlap> kAll = {Overlap::kSkip, Overlap::kQueue,
                                              Overlap::kBufferOne, Overlap::kCancelOther,
                                              Overlap::kAllowAll};
    const json& v = e["overlap"];
    auto it = std::find_if(kAll.begin(), kAll.end(), [&](Overlap o) {
      return v.is_string() && v.get<std::string>() == overlap_name(o);
    });
    if (it == kAll.end()) {
      return bad("overlap", "expected skip, queue, buffer_one, cancel_other or allow_all");
    }
    s->overlap = *it;
  }
  if (e.contains("missed")) {
    const json& v = e["missed"];
    if (v != "skip" && v != "run_once") return bad("missed", "expected skip or run_once");
    s->missed = v == "skip" ? Missed::kSkip : Missed::kRunOnce;
  }
  s->spec_hash = stable_hash(e.dump() + "|" + tzname);
  return {};
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
  std::string field;
  REAM_RETURN_IF_ERROR(parse_common(e, where + ".", zoneinfo_dir, &s, &field));
  return s;
}

}  // namespace

const char* overlap_name(Overlap o) {
  switch (o) {
    case Overlap::kSkip: return "skip";
    case Overlap::kQueue: return "queue";
    case Overlap::kBufferOne: return "buffer_one";
    case Overlap::kCancelOther: return "cancel_other";
    case Overlap::kAllowAll: return "allow_all";
  }
  return "skip";
}

const char* missed_name(Missed m) { return m == Missed::kSkip ? "skip" : "run_once"; }

OverlapAction overlap_action(Overlap policy, bool active, bool buffered) {
  OverlapAction a;
  if (!active) return a;
  switch (policy) {
    case Overlap::kSkip:
      a.fire = false;
      break;
    case Overlap::kQueue:
    case Overlap::kAllowAll:
      break;
    case Overlap::kBufferOne:
      a.fire = false;
      a.buffer = !buffered;
      break;
    case Overlap::kCancelOther:
      a.cancel_active = true;
      break;
  }
  return a;
}

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

Result<ScheduleSpec> parse_api_schedule(const json& def, const std::string& zoneinfo_dir,
                                        std::string* field) {
  static const std::vector<std::string> kKnown = {"id",       "workflow", "cron",   "timezone",
                                                  "inputs",   "priority", "overlap", "missed",
                                                  "paused"};
  if (!def.is_object()) return invalid_argument("expected a JSON object");
  for (const auto& [k, v] : def.items()) {
    if (std::find(kKnown.begin(), kKnown.end(), k) == kKnown.end()) {
      *field = k;
      return invalid_argument("unknown field '" + k +
                              "' (expected id, workflow, cron, timezone, inputs, priority, "
                              "overlap, missed, paused)");
    }
  }
  ScheduleSpec s;
  s.source = "api";
  if (!def.contains("workflow") || !def["workflow"].is_string() ||
      def["workflow"].get<std::string>().empty()) {
    *field = "workflow";
    return invalid_argument("workflow: expected the name of a workflow");
  }
  s.workflow = def["workflow"].get<std::string>();
  if (!def.contains("id") || !def["id"].is_string()) {
    *field = "id";
    return invalid_argument("id: expected a string");
  }
  s.id = def["id"].get<std::string>();
  if (s.id.empty() || s.id.size() > 128 ||
      s.id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-#") !=
          std::string::npos) {
    *field = "id";
    return invalid_argument("id: '" + s.id +
                            "' must be 1-128 characters of letters, digits, '_', '.', '-' and '#'");
  }
  if (def.contains("paused")) {
    if (!def["paused"].is_boolean()) {
      *field = "paused";
      return invalid_argument("paused: expected true or false");
    }
    s.paused = def["paused"].get<bool>();
  }
  REAM_RETURN_IF_ERROR(parse_common(def, "", zoneinfo_dir, &s, field));
  return s;
}

std::vector<int64_t> fire_times_after(const ScheduleSpec& spec, int64_t after_ms, int count) {
  std::vector<int64_t> out;
  int64_t t = after_ms;
  while (static_cast<int>(out.size()) < count) {
    t = next_fire(spec.expr, *spec.tz, t);
    if (t < 0) break;
    out.push_back(t);
  }
  return out;
}

std::vector<int64_t> fire_times_between(const ScheduleSpec& spec, int64_t start_ms,
                                        int64_t end_ms, int limit) {
  std::vector<int64_t> out;
  int64_t t = start_ms - 1;
  while (static_cast<int>(out.size()) <= limit) {
    t = next_fire(spec.expr, *spec.tz, t);
    if (t < 0 || t >= end_ms) break;
    out.push_back(t);
  }
  return out;
}

}  // namespace ream::cron
