// Time zone files: TZif bytes (RFC 8536) as cron::TimeZone reads them from
// /usr/share/zoneinfo, and the POSIX TZ rule of their footer.
//
// Each input is a TZif file. One that loads answers offset and local-time questions around
// its transitions and far in the past and future (where the footer rule applies); its
// offsets must be those RFC 8536 allows (within about a day of UTC), which the local-time
// search relies on. The text
// after the input's last newline is also read as a POSIX TZ string. A refusal is fine.
#include "cron/tz.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ream;
  const std::string bytes(fuzz::bytes(data, size));
  size_t nl = bytes.rfind('\n', bytes.size() >= 2 ? bytes.size() - 2 : 0);
  std::string footer = nl == std::string::npos ? bytes : bytes.substr(nl + 1);
  if (!footer.empty() && footer.back() == '\n') footer.pop_back();
  if (auto rule = cron::parse_posix_tz(footer); rule.ok()) {
    for (int64_t t : {-2208988800LL, 0LL, 1743294600LL, 4102444800LL}) (void)rule->offset_at(t);
  }
  auto tz = cron::TimeZone::from_tzif(bytes, "Fuzz/Zone");
  if (!tz.ok()) return 0;
  // Instants from 1900 to 9999, the years reamd plans and parses schedules for.
  for (int64_t t : {-2208988800LL, 0LL, 1711846800LL, 1743294600LL, 1762061400LL, 2147483648LL,
                    4102444800LL, 253402300799LL}) {
    int64_t offset = tz.value()->offset_at(t);
    fuzz::check(offset >= -89999 && offset <= 93599, "an offset outside RFC 8536's -89999..93599 s: " + std::to_string(offset));
    const int64_t local = t + offset;
    for (int64_t u : tz.value()->from_local(local)) (void)tz.value()->offset_at(u);
    (void)tz.value()->gap_end(local);
  }
  return 0;
}
