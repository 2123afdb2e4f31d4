// Cron expressions, TZif/POSIX time zones (held against glibc's localtime_r, which
// reads the same zone files with code nobody here wrote) and next_fire across
// daylight-saving changes.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <random>

#include "cron/cron.h"
#include "cron/planner.h"
#include "cron/tz.h"

namespace ream::cron {
namespace {

// glibc's offset for `utc` under TZ=`tz` (a zone name or a POSIX rule).
long glibc_offset(const std::string& tz, int64_t utc) {
  setenv("TZ", tz.c_str(), 1);
  tzset();
  time_t t = static_cast<time_t>(utc);
  struct tm tm {};
  localtime_r(&t, &tm);
  return tm.tm_gmtoff;
}

int64_t utc_of(int y, int mo, int d, int h, int mi) {
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return static_cast<int64_t>(timegm(&tm));
}

TEST(CronParse, FieldsListsRangesStepsAndNames) {
  auto e = parse_cron("*/15 9-17 * jan,JUL mon-fri");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->minutes.count(), 4u);
  EXPECT_TRUE(e->minutes.test(45));
  EXPECT_EQ(e->hours.count(), 9u);
  EXPECT_TRUE(e->months.test(1) && e->months.test(7) && !e->months.test(2));
  EXPECT_TRUE(e->weekdays.test(1) && e->weekdays.test(5) && !e->weekdays.test(0));
  auto s = parse_cron("5/20 0 1,15 * 7");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->minutes.test(5) && s->minutes.test(25) && s->minutes.test(45));
  EXPECT_EQ(s->minutes.count(), 3u);
  EXPECT_TRUE(s->weekdays.test(0));  // 7 is Sunday
  // Both day fields restricted: either matches (Vixie).
  EXPECT_TRUE(s->day_matches(3, 1, 3));
  EXPECT_TRUE(s->day_matches(3, 2, 0));
  EXPECT_FALSE(s->day_matches(3, 2, 3));
  auto d = parse_cron("@daily");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->day_matches(2, 29, 4));
}

TEST(CronParse, ErrorsNameTheField) {
  struct Case {
    const char* expr;
    const char* message;
  } cases[] = {
      {"* * * *", "cron: '* * * *' has 4 fields; expected 5"},
      {"0 24 * * *", "cron: hour: 24 is out of range 0-23"},
      {"0 0 0 * *", "cron: day-of-month: 0 is out of range 1-31"},
      {"0 0 * foo *", "cron: month: unknown name 'foo'"},
      {"0 0 * * 3-1", "cron: day-of-week: range '3-1' runs backwards"},
      {"*/0 * * * *", "cron: minute: bad step in '*/0'"},
      {"@sometimes", "cron: unknown macro '@sometimes'"},
  };
  for (const auto& c : cases) {
    auto r = parse_cron(c.expr);
    ASSERT_FALSE(r.ok()) << c.expr;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.expr << " -> " << r.status().message();
  }
}

TEST(TimeZone, OffsetsMatchGlibcAtRandomInstants) {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  // 1900 .. 2200: includes the far future, where slim TZif files rely on the footer.
  std::uniform_int_distribution<int64_t> when(-2208988800LL, 7258118400LL);
  for (const char* name : {"America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
                           "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham",
                           "Africa/Casablanca", "UTC"}) {
    auto tz = TimeZone::load(name);
    ASSERT_TRUE(tz.ok()) << name << ": " << tz.status().message();
    for (int i = 0; i < 2000; ++i) {
      int64_t t = when(rng);
      ASSERT_EQ((*tz)->offset_at(t), glibc_offset(name, t)) << name << " at " << t;
    }
  }
}

TEST(TimeZone, PosixRulesMatchGlibc) {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  std::uniform_int_distribution<int64_t> when(0, 4102444800LL);
  for (const char* rule : {"EST5EDT,M3.2.0,M11.1.0", "CET-1CEST,M3.5.0,M10.5.0/3",
                           "<+0330>-3:30", "IST-2IDT,M3.4.4/26,M10.5.0",
                           "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", "AEST-10AEDT,M10.1.0,M4.1.0/3",
                           "XXX3YYY,J60/2,J300/2", "AAA-2BBB,100/0,250/0"}) {
    auto p = parse_posix_tz(rule);
    ASSERT_TRUE(p.ok()) << rule << ": " << p.status().message();
    for (int i = 0; i < 2000; ++i) {
      int64_t t = when(rng);
      ASSERT_EQ(p->offset_at(t), glibc_offset(rule, t)) << rule << " at " << t;
    }
  }
  EXPECT_FALSE(parse_posix_tz("E").ok());
  EXPECT_FALSE(parse_posix_tz("EST5EDT,M13.1.0,M11.1.0").ok());
}

TEST(TimeZone, RefusesPathsAndUnknownNames) {
  EXPECT_FALSE(TimeZone::load("../etc/passwd").ok());
  EXPECT_FALSE(TimeZone::load("/etc/localtime").ok());
  auto r = TimeZone::load("Mars/Olympus_Mons");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown time zone 'Mars/Olympus_Mons'"), std::string::npos);
}

TEST(TimeZone, FromLocalInGapsAndRepeats) {
  auto tz = *TimeZone::load("America/New_York");
  // 2024-03-10 02:30 does not exist; the gap ends at 07:00 UTC (03:00 EDT).
  int64_t gap_local = utc_of(2024, 3, 10, 2, 30);
  EXPECT_TRUE(tz->from_local(gap_local).empty());
  EXPECT_EQ(tz->gap_end(gap_local), utc_of(2024, 3, 10, 7, 0));
  // 2024-11-03 01:30 happens twice: 05:30 UTC (EDT) and 06:30 UTC (EST).
  auto two = tz->from_local(utc_of(2024, 11, 3, 1, 30));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0], utc_of(2024, 11, 3, 5, 30));
  EXPECT_EQ(two[1], utc_of(2024, 11, 3, 6, 30));
}

// TZif bytes (RFC 8536): a header of `version` with these counts (isutcnt, isstdcnt and
// leapcnt 0), then `body`.
std::string tzif_header(char version, uint32_t timecnt, uint32_t typecnt, uint32_t charcnt) {
  std::string b = "TZif";
  b.push_back(version);
  b.append(15, '\0');
  for (uint32_t v : {0u, 0u, 0u, timecnt, typecnt, charcnt}) {
    for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<char>((v >> shift) & 0xFF));
  }
  return b;
}
// One local time type: UT offset `utoff`, not DST, abbreviation index 0.
std::string tzif_type(int32_t utoff) {
  std::string t;
  for (int shift : {24, 16, 8, 0}) t.push_back(static_cast<char>((static_cast<uint32_t>(utoff) >> shift) & 0xFF));
  return t + std::string("\0\0", 2);
}

// Found by fuzz_tzif (tests/fuzz): offsets of years were taken, and local times were then
// looked for two days either side of the wrong instants.
TEST(TimeZone, OffsetsOutsideRfc8536AreRefused) {
  for (int32_t bad : {259200, -1828716467, -90000, 93600}) {
    auto tz = TimeZone::from_tzif(tzif_header('\0', 0, 1, 3) + tzif_type(bad) + "XYZ", "Bad/Offset");
    ASSERT_FALSE(tz.ok()) << bad;
    EXPECT_NE(tz.status().message().find("UT offset of " + std::to_string(bad)), std::string::npos)
        << tz.status().message();
  }
  for (int32_t edge : {-89999, 93599, 50400}) {
    auto tz = TimeZone::from_tzif(tzif_header('\0', 0, 1, 3) + tzif_type(edge) + "XYZ", "Edge/Offset");
    ASSERT_TRUE(tz.ok()) << edge << ": " << tz.status().message();
    EXPECT_EQ((*tz)->offset_at(1700000000), edge);
  }
}

// Counts near 2^32 once wrapped the size arithmetic (32-bit), so a v1 block that claims
// 715,827,883 types (6 bytes each: 2^32 + 2) was skipped as 2 bytes and the file accepted;
// in the 64-bit block the same wrap passed the size check and read past the file.
TEST(TimeZone, HugeCountsAreRefusedNotWrapped) {
  const uint32_t wraps = 0x2AAAAAABu;  // x 6 = 2^32 + 2
  std::string v2 = tzif_header('2', 0, 1, 4) + tzif_type(3600) + "CET" + std::string(1, '\0') + "\nCET-1\n";
  auto tz = TimeZone::from_tzif(tzif_header('2', 0, wraps, 0) + "xx" + v2, "Wrapped/V1");
  ASSERT_FALSE(tz.ok());
  EXPECT_NE(tz.status().message().find("second header missing"), std::string::npos) << tz.status().message();
  tz = TimeZone::from_tzif(tzif_header('\0', 0, wraps, 0) + "xx", "Wrapped/Types");
  ASSERT_FALSE(tz.ok());
  EXPECT_NE(tz.status().message().find("truncated"), std::string::npos) << tz.status().message();
}

TEST(NextFire, DailyAcrossSpringForwardAndFallBack) {
  auto tz = *TimeZone::load("America/New_York");
  auto at230 = *parse_cron("30 2 * * *");
  int64_t t = utc_of(2024, 3, 9, 8, 0) * 1000;  // after the 9th's run
  t = next_fire(at230, *tz, t);
  EXPECT_EQ(t, utc_of(2024, 3, 10, 7, 0) * 1000);  // 02:30 skipped: runs as the gap ends
  t = next_fire(at230, *tz, t);
  EXPECT_EQ(t, utc_of(2024, 3, 11, 6, 30) * 1000);  // 02:30 EDT

  auto at130 = *parse_cron("30 1 * * *");
  t = next_fire(at130, *tz, utc_of(2024, 11, 2, 12, 0) * 1000);
  EXPECT_EQ(t, utc_of(2024, 11, 3, 5, 30) * 1000);  // first 01:30 (EDT)
  t = next_fire(at130, *tz, t);
  EXPECT_EQ(t, utc_of(2024, 11, 4, 6, 30) * 1000);  // not the repeated 01:30 EST
}

TEST(NextFire, EveryQuarterHourCountsElapsedTime) {
  auto tz = *TimeZone::load("America/New_York");
  auto q = *parse_cron("*/15 * * * *");
  // Fall back: 05:00..07:00 UTC is 01:00..01:59 twice; all eight quarters fire.
  int64_t t = utc_of(2024, 11, 3, 4, 59) * 1000;
  for (int i = 0; i < 8; ++i) {
    t = next_fire(q, *tz, t);
    EXPECT_EQ(t, (utc_of(2024, 11, 3, 5, 0) + i * 900) * 1000) << i;
  }
  // Spring forward: local 02:xx does not exist; 01:45 EST is followed by 03:00 EDT.
  t = next_fire(q, *tz, utc_of(2024, 3, 10, 6, 45) * 1000);
  EXPECT_EQ(t, utc_of(2024, 3, 10, 7, 0) * 1000);
}

TEST(NextFire, WeekdaysMonthEndsAndNever) {
  auto utc = TimeZone::utc();
  auto e = *parse_cron("0 9 * * mon-fri");
  // Friday 2024-06-07 10:00 -> Monday 2024-06-10 09:00.
  EXPECT_EQ(next_fire(e, *utc, utc_of(2024, 6, 7, 10, 0) * 1000),
            utc_of(2024, 6, 10, 9, 0) * 1000);
  auto leap = *parse_cron("0 0 29 2 *");
  EXPECT_EQ(next_fire(leap, *utc, utc_of(2025, 1, 1, 0, 0) * 1000),
            utc_of(2028, 2, 29, 0, 0) * 1000);
  auto never = *parse_cron("0 0 30 2 *");
  EXPECT_EQ(next_fire(never, *utc, utc_of(2025, 1, 1, 0, 0) * 1000), -1);
  // Berlin, 00:00 on the 1st, read in local time (23:00 UTC the day before in winter).
  auto berlin = *TimeZone::load("Europe/Berlin");
  auto monthly = *parse_cron("@monthly");
  EXPECT_EQ(next_fire(monthly, *berlin, utc_of(2024, 12, 15, 0, 0) * 1000),
            utc_of(2024, 12, 31, 23, 0) * 1000);
}

}  // namespace
}  // namespace ream::cron
