// When a cron expression fires next, in a time zone, across daylight-saving changes.
//
// Rules (those of cronie/ISC cron, stated exactly):
// - A wall-clock time that occurs twice (clocks go back) fires once, at its first
//   occurrence, when the hour field is restricted ("30 1 * * *" runs once that
//   night); when the hour field is `*` the expression is about elapsed time
//   ("*/15 * * * *"): the repeated hour fires again and a skipped hour does not.
// - With a restricted hour field, a wall-clock time that does not occur (clocks go
//   forward) fires at the instant the gap ends; several such times in one gap fire
//   once.
#pragma once

#include <cstdint>

#include "cron/cron.h"
#include "cron/tz.h"

namespace ream::cron {

// The first firing instant strictly after `after_ms` (UTC milliseconds), on a whole
// second; -1 if the expression never fires within eight years (e.g. "0 0 30 2 *").
int64_t next_fire(const CronExpr& expr, const TimeZone& tz, int64_t after_ms);

}  // namespace ream::cron
