// TZif (RFC 8536) and POSIX TZ rule parsing; UTC <-> local conversion.
#include "cron/tz.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

namespace ream::cron {

namespace {

using namespace std::chrono;

int64_t days_from_civil(int y, unsigned m, unsigned d) {
  return sys_days(year{y} / month{m} / day{d}).time_since_epoch().count();
}

int year_of(int64_t secs) {
  auto dp = floor<days>(sys_seconds(seconds(secs)));
  return static_cast<int>(year_month_day(dp).year());
}

// Seconds since the epoch (as if UTC) of the local moment a rule names in `y`.
int64_t rule_local_time(int y, const PosixTz::Rule& r) {
  int64_t day;
  if (r.kind == 'M') {
    auto first = sys_days(year{y} / month{static_cast<unsigned>(r.month)} / 1);
    int wd0 = static_cast<int>(weekday(first).c_encoding());
    int dom = 1 + (r.day - wd0 + 7) % 7 + (r.week - 1) * 7;
    auto last = year_month_day_last(year{y}, month_day_last(month{static_cast<unsigned>(r.month)}));
    while (dom > static_cast<int>(static_cast<unsigned>(last.day()))) dom -= 7;
    day = first.time_since_epoch().count() + dom - 1;
  } else if (r.kind == 'J') {  // 1..365, Feb 29 never counted
    day = days_from_civil(y, 1, 1) + r.day - 1;
    if (r.day >= 60 && year{y}.is_leap()) ++day;
  } else {  // 0..365, leap days counted
    day = days_from_civil(y, 1, 1) + r.day;
  }
  return day * 86400 + r.time;
}

struct Cursor {
  const std::string& s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }
};

bool parse_tz_name(Cursor& c) {
  if (c.peek() == '<') {
    size_t end = c.s.find('>', c.i);
    if (end == std::string::npos) return false;
    c.i = end + 1;
    return true;
  }
  size_t start = c.i;
  while (std::isalpha(static_cast<unsigned char>(c.peek()))) ++c.i;
  return c.i - start >= 3;
}

// [+-]hh[:mm[:ss]] -> seconds (sign as written).
bool parse_hms(Cursor& c, int max_hours, int64_t* out) {
  int sign = 1;
  if (c.peek() == '+' || c.peek() == '-') sign = c.s[c.i++] == '-' ? -1 : 1;
  int64_t parts[3] = {0, 0, 0};
  for (int p = 0; p < 3; ++p) {
    if (p > 0) {
      if (c.peek() != ':') break;
      ++c.i;
    }
    size_t start = c.i;
    while (std::isdigit(static_cast<unsigned char>(c.peek()))) ++c.i;
    if (c.i == start || c.i - start > 3) return false;
    parts[p] = std::stoll(c.s.substr(start, c.i - start));
  }
  if (parts[0] > max_hours || parts[1] > 59 || parts[2] > 59) return false;
  *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

bool parse_int(Cursor& c, int* out) {
  size_t start = c.i;
  while (std::isdigit(static_cast<unsigned char>(c.peek()))) ++c.i;
  if (c.i == start || c.i - start > 3) return false;
  *out = std::stoi(c.s.substr(start, c.i - start));
  return true;
}

bool parse_rule(Cursor& c, PosixTz::Rule* r) {
  if (c.peek() == 'M') {
    ++c.i;
    r->kind = 'M';
    if (!parse_int(c, &r->month) || c.peek() != '.') return false;
    ++c.i;
    if (!parse_int(c, &r->week) || c.peek() != '.') return false;
    ++c.i;
    if (!parse_int(c, &r->day)) return false;
    if (r->month < 1 || r->month > 12 || r->week < 1 || r->week > 5 || r->day > 6) return false;
  } else if (c.peek() == 'J') {
    ++c.i;
    r->kind = 'J';
    if (!parse_int(c, &r->day) || r->day < 1 || r->day > 365) return false;
  } else {
    r->kind = 'D';
    if (!parse_int(c, &r->day) || r->day > 365) return false;
  }
  r->time = 7200;
  if (c.peek() == '/') {
    ++c.i;
    if (!parse_hms(c, 167, &r->time)) return false;
  }
  return true;
}

uint32_t be32(const std::string& b, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}
int64_t be64(const std::string& b, size_t at) {
  return static_cast<int64_t>((static_cast<uint64_t>(be32(b, at)) << 32) | be32(b, at + 4));
}

}  // namespace

Result<PosixTz> parse_posix_tz(const std::string& text) {
  PosixTz tz;
  Cursor c{text};
  auto bad = [&]() { return invalid_argument("bad POSIX TZ string '" + text + "'"); };
  if (!parse_tz_name(c)) return bad();
  int64_t off = 0;
  if (!parse_hms(c, 24, &off)) return bad();
  tz.std_offset = -off;
  if (c.done()) return tz;
  if (!parse_tz_name(c)) return bad();
  tz.has_dst = true;
  tz.dst_offset = tz.std_offset + 3600;
  if (!c.done() && c.peek() != ',') {
    if (!parse_hms(c, 24, &off)) return bad();
    tz.dst_offset = -off;
  }
  if (c.done()) {  // POSIX's implementation-defined default: the US rules
    tz.start = {'M', 3, 2, 0, 7200};
    tz.end = {'M', 11, 1, 0, 7200};
    return tz;
  }
  if (c.peek() != ',') return bad();
  ++c.i;
  if (!parse_rule(c, &tz.start) || c.peek() != ',') return bad();
  ++c.i;
  if (!parse_rule(c, &tz.end) || !c.done()) return bad();
  return tz;
}

int64_t PosixTz::offset_at(int64_t utc) const {
  if (!has_dst) return std_offset;
  int y = year_of(utc + std_offset);
  int64_t start_utc = rule_local_time(y, start) - std_offset;
  int64_t end_utc = rule_local_time(y, end) - dst_offset;
  if (start_utc < end_utc) return (utc >= start_utc && utc < end_utc) ? dst_offset : std_offset;
  return (utc >= end_utc && utc < start_utc) ? std_offset : dst_offset;
}

Result<std::shared_ptr<const TimeZone>> TimeZone::load(const std::string& name,
                                                       const std::string& zoneinfo_dir) {
  bool ok_name = !name.empty() && name[0] != '/' && name.find("..") == std::string::npos &&
                 std::all_of(name.begin(), name.end(), [](char ch) {
                   return std::isalnum(static_cast<unsigned char>(ch)) || ch == '/' ||
                          ch == '_' || ch == '-' || ch == '+';
                 });
  if (!ok_name) return invalid_argument("time zone '" + name + "' is not an IANA zone name");
  std::ifstream in(zoneinfo_dir + "/" + name, std::ios::binary);
  if (!in) {
    if (name == "UTC" || name == "Etc/UTC") return utc();
    return not_found("unknown time zone '" + name + "' (no " + zoneinfo_dir + "/" + name + ")");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return from_tzif(ss.str(), name);
}

Result<std::shared_ptr<const TimeZone>> TimeZone::from_tzif(const std::string& b,
                                                            const std::string& name) {
  auto bad = [&](const std::string& why) {
    return data_loss("time zone '" + name + "': TZif " + why);
  };
  if (b.size() < 44 || b.compare(0, 4, "TZif") != 0) return bad("magic missing");
  auto tz = std::make_shared<TimeZone>();
  tz->name_ = name;
  char version = b[4];
  size_t at = 0;
  int time_size = 4;
  if (version >= '2') {  // skip the v1 block to the 64-bit one
    uint32_t isut = be32(b, 20), isstd = be32(b, 24), leap = be32(b, 28), timecnt = be32(b, 32),
             typecnt = be32(b, 36), charcnt = be32(b, 40);
    // In size_t: counts near 2^32 must not wrap the sum back into the file.
    at = 44 + size_t{timecnt} * 5 + size_t{typecnt} * 6 + charcnt + size_t{leap} * 8 + isstd + isut;
    if (b.size() < at + 44 || b.compare(at, 4, "TZif") != 0) return bad("second header missing");
    time_size = 8;
  }
  uint32_t isut = be32(b, at + 20), isstd = be32(b, at + 24), leap = be32(b, at + 28),
           timecnt = be32(b, at + 32), typecnt = be32(b, at + 36), charcnt = be32(b, at + 40);
  size_t p = at + 44;
  size_t need = size_t{timecnt} * (time_size + 1) + size_t{typecnt} * 6 + charcnt +
                size_t{leap} * (time_size + 4) + isstd + isut;
  if (typecnt == 0 || b.size() < p + need) return bad("truncated");
  std::vector<int64_t> times(timecnt);
  for (uint32_t i = 0; i < timecnt; ++i) {
    times[i] = time_size == 8 ? be64(b, p + i * 8)
                              : static_cast<int32_t>(be32(b, p + i * 4));
  }
  p += static_cast<size_t>(timecnt) * time_size;
  std::vector<uint8_t> idx(timecnt);
  for (uint32_t i = 0; i < timecnt; ++i) idx[i] = static_cast<uint8_t>(b[p + i]);
  p += timecnt;
  std::vector<int64_t> type_off(typecnt);
  for (uint32_t i = 0; i < typecnt; ++i) {
    type_off[i] = static_cast<int32_t>(be32(b, p + size_t{i} * 6));
    // RFC 8536 3.2: -89999..93599 s (within about a day). from_local() and gap_end() look
    // two days either side for a transition, which holds only for offsets like these.
    if (type_off[i] < -89999 || type_off[i] > 93599) {
      return bad("local time type " + std::to_string(i) + " has a UT offset of " + std::to_string(type_off[i]) +
                 " s (RFC 8536 allows -89999..93599)");
    }
  }
  p += size_t{typecnt} * 6 + charcnt + size_t{leap} * (time_size + 4) + isstd + isut;
  for (uint32_t i = 0; i < timecnt; ++i) {
    if (idx[i] >= typecnt) return bad("transition type out of range");
    tz->transitions_.push_back(times[i]);
    tz->offsets_.push_back(type_off[idx[i]]);
  }
  tz->initial_offset_ = type_off[0];
  if (time_size == 8 && p < b.size() && b[p] == '\n') {
    size_t end = b.find('\n', p + 1);
    if (end != std::string::npos && end > p + 1) {
      auto footer = parse_posix_tz(b.substr(p + 1, end - p - 1));
      if (!footer.ok()) return bad(footer.status().message());
      tz->footer_ = footer.value();
      tz->has_footer_ = true;
    }
  }
  return std::shared_ptr<const TimeZone>(tz);
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static auto tz = [] {
    auto t = std::make_shared<TimeZone>();
    t->name_ = "UTC";
    return std::shared_ptr<const TimeZone>(t);
  }();
  return tz;
}

int64_t TimeZone::offset_at(int64_t utc) const {
  if (transitions_.empty()) return has_footer_ ? footer_.offset_at(utc) : initial_offset_;
  if (utc < transitions_.front()) return initial_offset_;
  if (utc >= transitions_.back() && has_footer_) return footer_.offset_at(utc);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc);
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

std::vector<int64_t> TimeZone::from_local(int64_t local) const {
  // Offsets in effect within two days either side cover any one transition.
  std::set<int64_t> offsets = {offset_at(local - 2 * 86400), offset_at(local + 2 * 86400),
                               offset_at(local)};
  std::vector<int64_t> out;
  for (int64_t o : offsets) {
    int64_t u = local - o;
    if (offset_at(u) == o) out.push_back(u);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int64_t TimeZone::gap_end(int64_t local) const {
  int64_t before = offset_at(local - 2 * 86400);
  int64_t after = offset_at(local + 2 * 86400);
  // The transition lies in (local - max, local - min]; find the first instant whose
  // offset is `after`.
  int64_t lo = local - std::max(before, after) - 1, hi = local - std::min(before, after);
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (offset_at(mid) == after) hi = mid;
    else lo = mid;
  }
  return hi;
}

}  // namespace ream::cron
