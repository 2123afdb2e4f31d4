// next_fire: a scan over wall-clock minutes, day by day, mapped back to UTC.
#include "cron/planner.h"

#include <chrono>

namespace ream::cron {

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The first hour >= h (and minute >= m in that hour) the expression allows;
// false when none is left today.
bool next_time_today(const CronExpr& e, int h, int m, int* out_h, int* out_m) {
  for (int hh = h; hh < 24; ++hh) {
    if (!e.hours.test(static_cast<size_t>(hh))) continue;
    for (int mm = hh == h ? m : 0; mm < 60; ++mm) {
      if (e.minutes.test(static_cast<size_t>(mm))) {
        *out_h = hh;
        *out_m = mm;
        return true;
      }
    }
  }
  return false;
}

bool civil_matches(const CronExpr& e, int64_t local, bool* day_ok) {
  using namespace std::chrono;
  int64_t day = floor_div(local, 86400);
  year_month_day ymd{sys_days(days(day))};
  int wd = static_cast<int>(weekday(sys_days(days(day))).c_encoding());
  *day_ok = e.day_matches(static_cast<int>(static_cast<unsigned>(ymd.month())),
                          static_cast<int>(static_cast<unsigned>(ymd.day())), wd);
  int64_t sod = local - day * 86400;
  return *day_ok && e.hours.test(static_cast<size_t>(sod / 3600)) &&
         e.minutes.test(static_cast<size_t>(sod % 3600 / 60));
}

// Every-hour expressions measure elapsed time: walk UTC minutes and read each on
// the local clock, so a repeated hour fires again and a skipped one does not.
int64_t next_fire_elapsed(const CronExpr& e, const TimeZone& tz, int64_t after_s) {
  int64_t u = floor_div(after_s, 60) * 60 + 60;
  const int64_t limit = u + 8LL * 366 * 86400;
  while (u < limit) {
    int64_t local = u + tz.offset_at(u);
    bool day_ok = false;
    if (civil_matches(e, local, &day_ok)) return u * 1000;
    int64_t to_midnight = 86400 - (local - floor_div(local, 86400) * 86400);
    // A day that cannot match is skipped up to three hours before its end, which
    // no offset change can carry past the next day's first minute.
    u += (!day_ok && to_midnight > 3 * 3600) ? to_midnight - 3 * 3600 : 60;
  }
  return -1;
}

}  // namespace

int64_t next_fire(const CronExpr& expr, const TimeZone& tz, int64_t after_ms) {
  using namespace std::chrono;
  const int64_t after_s = floor_div(after_ms, 1000);
  const int64_t local_after = after_s + tz.offset_at(after_s);
  int64_t cursor = floor_div(local_after, 60) * 60 + 60;  // local seconds, minute-aligned
  const int64_t limit = cursor + 8LL * 366 * 86400;
  if (expr.hours.all()) return next_fire_elapsed(expr, tz, after_s);
  while (cursor < limit) {
    int64_t day = floor_div(cursor, 86400);
    year_month_day ymd{sys_days(days(day))};
    int wd = static_cast<int>(weekday(sys_days(days(day))).c_encoding());
    if (!expr.day_matches(static_cast<int>(static_cast<unsigned>(ymd.month())),
                          static_cast<int>(static_cast<unsigned>(ymd.day())), wd)) {
      cursor = (day + 1) * 86400;
      continue;
    }
    int64_t sec_of_day = cursor - day * 86400;
    int h = 0, m = 0;
    if (!next_time_today(expr, static_cast<int>(sec_of_day / 3600),
                         static_cast<int>(sec_of_day % 3600 / 60), &h, &m)) {
      cursor = (day + 1) * 86400;
      continue;
    }
    int64_t civil = day * 86400 + h * 3600 + m * 60;
    auto occurrences = tz.from_local(civil);
    if (occurrences.empty()) {
      int64_t t = tz.gap_end(civil);
      if (t > after_s) return t * 1000;
    } else if (occurrences.front() > after_s) {
      return occurrences.front() * 1000;
    }
    cursor = civil + 60;
  }
  return -1;
}

}  // namespace ream::cron
