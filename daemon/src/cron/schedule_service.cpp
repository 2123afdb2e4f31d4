#include "cron/schedule_service.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdio>
#include <ctime>
#include <random>

namespace ream::cron {

using nlohmann::json;

namespace {

Status no_schedule(const std::string& id, std::string* field) {
  *field = "id";
  return not_found("no schedule '" + id + "'");
}

// A file schedule cannot be changed over the API: its file is its definition.
Status file_owned(const ScheduleSpec& spec, const std::string& what) {
  return failed_precondition("schedule '" + spec.id + "' comes from the workflow file " + spec.file +
                             "; " + what + " it there (and reload), or create an API schedule");
}

std::string random_suffix() {
  std::random_device rd;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", rd());
  return buf;
}

// A job the schedule could not make: bad inputs name `inputs`.
Status job_error(Status st, std::string* field) {
  if (st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kFailedPrecondition) {
    *field = "inputs";
  }
  return st;
}

}  // namespace

ScheduleService::ScheduleService(store::Store& store, Scheduler& scheduler, std::string zoneinfo_dir,
                                 WorkflowCheck check)
    : store_(store), scheduler_(scheduler), zoneinfo_dir_(std::move(zoneinfo_dir)), check_(std::move(check)) {}

void ScheduleService::load_stored() {
  auto all = store_.api_schedules();
  if (!all.ok()) {
    spdlog::error("schedules: could not read API schedules: {}", all.status().message());
    return;
  }
  for (const auto& rec : all.value()) {
    std::string field;
    auto spec = parse_api_schedule(json::parse(rec.definition_json, nullptr, false), zoneinfo_dir_, &field);
    if (!spec.ok()) {
      spdlog::error("schedule {}: stored definition no longer valid: {}", rec.id, spec.status().message());
      continue;
    }
    if (auto other = scheduler_.find(rec.id); other && other->source == "file") {
      spdlog::error("schedule {}: the workflow file {} now declares this id too; the API "
                    "schedule is kept and the file's entry ignored",
                    rec.id, other->file);
    }
    scheduler_.put_api(std::move(spec).value());
  }
}

Result<ScheduleSpec> ScheduleService::check_definition(const json& def, std::string* field) {
  REAM_ASSIGN_OR_RETURN(ScheduleSpec spec, parse_api_schedule(def, zoneinfo_dir_, field));
  REAM_RETURN_IF_ERROR(check_(spec, field));
  return spec;
}

Result<json> ScheduleService::get(const std::string& id, std::string* field) {
  json j = scheduler_.describe(id);
  if (j.is_null()) return no_schedule(id, field);
  return j;
}

Result<json> ScheduleService::create(json def, std::string* field) {
  if (!def.contains("id") && def.contains("workflow") && def["workflow"].is_string()) {
    def["id"] = def["workflow"].get<std::string>() + "-" + random_suffix();
  }
  REAM_ASSIGN_OR_RETURN(ScheduleSpec spec, check_definition(def, field));
  if (auto existing = scheduler_.find(spec.id); existing && existing->source == "file") {
    *field = "id";
    return failed_precondition("id '" + spec.id + "' is a schedule of the workflow file " + existing->file +
                               "; choose another id");
  }
  REAM_ASSIGN_OR_RETURN(bool inserted, store_.insert_api_schedule(spec.id, def.dump()));
  if (!inserted) {
    *field = "id";
    return Status(StatusCode::kAlreadyExists, "schedule '" + spec.id + "' already exists");
  }
  scheduler_.put_api(spec);
  spdlog::info("schedule {}: created over the API (workflow {}, cron '{}'{})", spec.id, spec.workflow,
               spec.expr.text, spec.paused ? ", paused" : "");
  return scheduler_.describe(spec.id);
}

Result<json> ScheduleService::api_definition(const std::string& id, const std::string& what,
                                             std::string* field) {
  auto spec = scheduler_.find(id);
  if (!spec) return no_schedule(id, field);
  if (spec->source == "file") return file_owned(*spec, what);
  REAM_ASSIGN_OR_RETURN(auto all, store_.api_schedules());
  for (const auto& rec : all) {
    if (rec.id == id) return json::parse(rec.definition_json, nullptr, false);
  }
  return no_schedule(id, field);
}

Result<json> ScheduleService::update(const std::string& id, const json& patch, std::string* field) {
  REAM_ASSIGN_OR_RETURN(json def, api_definition(id, "change", field));
  for (const auto& [k, v] : patch.items()) {
    if (k == "id" || k == "workflow") {
      *field = k;
      return invalid_argument("'" + k + "' cannot be changed; create a new schedule instead");
    }
  }
  def.merge_patch(patch);
  REAM_ASSIGN_OR_RETURN(ScheduleSpec spec, check_definition(def, field));
  REAM_ASSIGN_OR_RETURN(bool updated, store_.update_api_schedule(id, def.dump()));
  if (!updated) return no_schedule(id, field);
  scheduler_.put_api(spec);
  spdlog::info("schedule {}: updated over the API ({}){}", id, patch.dump(), spec.paused ? " (paused)" : "");
  return scheduler_.describe(id);
}

Status ScheduleService::remove(const std::string& id, std::string* field) {
  REAM_RETURN_IF_ERROR(api_definition(id, "delete", field).status());
  REAM_RETURN_IF_ERROR(store_.remove_api_schedule(id).status());
  scheduler_.remove_api(id);
  spdlog::info("schedule {}: deleted over the API", id);
  return {};
}

Result<int64_t> ScheduleService::trigger(const std::string& id, std::string* field) {
  if (!scheduler_.find(id)) return no_schedule(id, field);
  auto job = scheduler_.trigger(id);
  if (!job.ok()) return job_error(job.status(), field);
  return job.value();
}

Result<ScheduleService::Upcoming> ScheduleService::upcoming(const std::string& id, int count,
                                                            std::string* field) {
  auto spec = scheduler_.find(id);
  if (!spec) return no_schedule(id, field);
  Upcoming u{*spec, fire_times_after(*spec, store::now_ms(), count)};
  return u;
}

Result<std::vector<std::pair<int64_t, int64_t>>> ScheduleService::backfill(const std::string& id,
                                                                          int64_t start_ms, int64_t end_ms,
                                                                          std::string* field) {
  auto spec = scheduler_.find(id);
  if (!spec) return no_schedule(id, field);
  if (start_ms >= end_ms) {
    *field = "start";
    return invalid_argument("'start' must be before 'end'");
  }
  if (end_ms > store::now_ms()) {
    *field = "end";
    return invalid_argument(
        "'end' is in the future; a backfill covers past fire times (POST /v1/schedules/{id}/trigger "
        "runs one now)");
  }
  auto slots = fire_times_between(*spec, start_ms, end_ms, kMaxBackfill);
  if (static_cast<int>(slots.size()) > kMaxBackfill) {
    *field = "end";
    return invalid_argument("the range holds more than " + std::to_string(kMaxBackfill) +
                            " fire times (the most one backfill creates); split it into smaller ranges");
  }
  auto jobs = scheduler_.backfill(id, slots);
  if (!jobs.ok()) return job_error(jobs.status(), field);
  std::vector<std::pair<int64_t, int64_t>> out;
  for (size_t i = 0; i < slots.size(); ++i) out.emplace_back(slots[i], jobs.value()[i]);
  return out;
}

std::optional<int64_t> parse_rfc3339(const std::string& s) {
  int y, mo, d, h, mi, sec, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  size_t i = 19;
  int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    int64_t scale = 100;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
      frac_ms += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  int64_t offset_s = 0;
  std::string rest = s.substr(i);
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(rest.c_str() + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (rest[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return (static_cast<int64_t>(timegm(&tm)) - offset_s) * 1000 + frac_ms;
}

}  // namespace ream::cron
