// Cron and time zones as schedules name them: the body of POST /v1/schedules and the
// cron expressions inside it.
//
// An input that is a JSON object is an API schedule definition, read by
// cron::parse_api_schedule with the system's zoneinfo (so `timezone` names real IANA
// files, and names that try to leave the folder); a schedule that parses is planned: its
// next fire times after several instants (DST changes of its zone among them) and the
// times within a window, as the scheduler and GET /v1/schedules compute them. Any other
// input is a cron expression for cron::parse_cron. Fire times must be strictly increasing
// and after the instant asked for.
#include <nlohmann/json.hpp>

#include "cron/cron.h"
#include "cron/scheduler.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ream;
  const std::string text(fuzz::bytes(data, size));
  nlohmann::json def = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!def.is_object()) {
    auto expr = cron::parse_cron(text);
    if (!expr.ok()) fuzz::check(!expr.status().message().empty(), "a refusal without a message");
    return 0;
  }
  std::string field;
  auto spec = cron::parse_api_schedule(def, "/usr/share/zoneinfo", &field);
  if (!spec.ok()) return 0;
  // 2025-03-30 00:30 UTC (Europe's spring change), 2025-11-02 05:30 UTC (the US fall one),
  // 2024-02-29 and 2038-01-19 (past 32-bit time).
  for (int64_t after : {1743294600000LL, 1762061400000LL, 1709164800000LL, 2147483647000LL}) {
    std::vector<int64_t> times = cron::fire_times_after(spec.value(), after, 6);
    int64_t last = after;
    for (int64_t t : times) {
      fuzz::check(t > last, "fire times are not strictly increasing after the instant asked");
      last = t;
    }
  }
  std::vector<int64_t> window = cron::fire_times_between(spec.value(), 1743294600000LL,
                                                         1743294600000LL + 7LL * 86400 * 1000, 50);
  fuzz::check(window.size() <= 51, "fire_times_between returned more than limit + 1");
  for (size_t i = 1; i < window.size(); ++i) fuzz::check(window[i] > window[i - 1], "window not increasing");
  return 0;
}
