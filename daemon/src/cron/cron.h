// Cron expressions: the five fields of crontab(5) as Vixie/ISC cron reads them.
//
//   minute (0-59)  hour (0-23)  day-of-month (1-31)  month (1-12 or jan-dec)
//   day-of-week (0-7 or sun-sat; 0 and 7 are Sunday)
//
// Each field is a comma list of `*`, `N`, `A-B`, each optionally `/STEP` (`N/STEP`
// means N-max/STEP). Names are case-insensitive. The macros @yearly (@annually),
// @monthly, @weekly, @daily (@midnight) and @hourly are accepted. When both
// day-of-month and day-of-week are restricted (neither starts with `*`), a day
// matches if either does, as in Vixie cron.
#pragma once

#include <bitset>
#include <string>

#include "ream/engine/status.h"

namespace ream::cron {

struct CronExpr {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;     // 1..31
  std::bitset<13> months;   // 1..12
  std::bitset<7> weekdays;  // 0 = Sunday
  bool dom_star = false;    // day-of-month field began with '*'
  bool dow_star = false;
  std::string text;

  // Whether a civil date matches the day fields (weekday 0 = Sunday).
  bool day_matches(int month, int day, int weekday) const;
};

// Errors name the field and what was wrong: "cron: hour: 24 is out of range 0-23".
Result<CronExpr> parse_cron(const std::string& text);

}  // namespace ream::cron
