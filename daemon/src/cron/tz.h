// TimeZone: IANA time zones read from the system's TZif files (RFC 8536), since
// libstdc++ 12 lacks std::chrono::locate_zone.
//
// The 64-bit (version 2+) data is used when present; instants after the last
// transition follow the file's POSIX TZ footer ("EST5EDT,M3.2.0,M11.1.0"), so
// "slim" zone files work for any future date.
//
// Thread-safety: a loaded TimeZone is immutable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ream/engine/status.h"

namespace ream::cron {

// A POSIX TZ rule (the TZif footer), e.g. "CET-1CEST,M3.5.0,M10.5.0/3".
struct PosixTz {
  int64_t std_offset = 0;   // seconds east of UTC (the sign POSIX writes is flipped)
  int64_t dst_offset = 0;
  bool has_dst = false;
  struct Rule {
    char kind = 'M';        // 'M' month.week.day, 'J' julian 1..365 w/o Feb 29, 'D' 0..365
    int month = 0, week = 0, day = 0;
    int64_t time = 7200;    // seconds after local midnight (may be negative or > 24h)
  } start, end;
  // Offset east of UTC at `utc` seconds.
  int64_t offset_at(int64_t utc) const;
};
Result<PosixTz> parse_posix_tz(const std::string& text);

class TimeZone {
 public:
  // `name` is an IANA name ("Europe/Berlin", "UTC"); it must not be absolute or
  // contain "..". `zoneinfo_dir` is where the TZif files live.
  static Result<std::shared_ptr<const TimeZone>> load(
      const std::string& name, const std::string& zoneinfo_dir = "/usr/share/zoneinfo");
  // Parses TZif bytes.
  static Result<std::shared_ptr<const TimeZone>> from_tzif(const std::string& bytes,
                                                           const std::string& name);
  static std::shared_ptr<const TimeZone> utc();

  const std::string& name() const { return name_; }
  // Seconds east of UTC in effect at `utc` (seconds since the epoch).
  int64_t offset_at(int64_t utc) const;
  // The UTC instants whose local wall-clock reading is `local` (seconds since the
  // epoch as if local were UTC): one normally, two in a repeated hour (ascending),
  // none in a skipped one.
  std::vector<int64_t> from_local(int64_t local) const;
  // For a `local` reading that does not exist: the instant the gap ends.
  int64_t gap_end(int64_t local) const;

 private:
  std::string name_;
  std::vector<int64_t> transitions_;   // UTC seconds, ascending
  std::vector<int64_t> offsets_;       // offset after each transition
  int64_t initial_offset_ = 0;         // before the first transition
  bool has_footer_ = false;
  PosixTz footer_;
};

}  // namespace ream::cron
