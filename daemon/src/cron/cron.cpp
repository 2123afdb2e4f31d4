// Cron expression parsing.
#include "cron/cron.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

namespace ream::cron {

namespace {

struct FieldSpec {
  const char* name;
  int lo, hi;
  const char* const* names;  // null or names for lo.. (3 letters)
};

const char* const kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec", nullptr};
const char* const kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

Result<int> parse_value(const std::string& s, const FieldSpec& f) {
  if (s.empty()) return invalid_argument(std::string("cron: ") + f.name + ": empty value");
  if (f.names != nullptr && std::isalpha(static_cast<unsigned char>(s[0]))) {
    std::string low = s;
    for (char& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (int i = 0; f.names[i] != nullptr; ++i) {
      if (low == f.names[i]) return f.lo + i;
    }
    return invalid_argument(std::string("cron: ") + f.name + ": unknown name '" + s + "'");
  }
  if (!std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
      s.size() > 4) {
    return invalid_argument(std::string("cron: ") + f.name + ": '" + s + "' is not a number");
  }
  int v = std::stoi(s);
  if (v < f.lo || v > f.hi) {
    return invalid_argument(std::string("cron: ") + f.name + ": " + s + " is out of range " +
                            std::to_string(f.lo) + "-" + std::to_string(f.hi));
  }
  return v;
}

// Parses one field into the set of values it allows.
Result<std::vector<bool>> parse_field(const std::string& text, const FieldSpec& f) {
  std::vector<bool> set(static_cast<size_t>(f.hi + 1), false);
  std::stringstream ss(text);
  std::string item;
  bool any = false;
  while (std::getline(ss, item, ',')) {
    any = true;
    int step = 1;
    size_t slash = item.find('/');
    std::string range = item.substr(0, slash);
    if (slash != std::string::npos) {
      std::string st = item.substr(slash + 1);
      if (st.empty() || st.size() > 4 ||
          !std::all_of(st.begin(), st.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
          std::stoi(st) == 0) {
        return invalid_argument(std::string("cron: ") + f.name + ": bad step in '" + item + "'");
      }
      step = std::stoi(st);
    }
    int a = f.lo, b = f.hi;
    if (range != "*") {
      size_t dash = range.find('-');
      REAM_ASSIGN_OR_RETURN(a, parse_value(range.substr(0, dash), f));
      if (dash != std::string::npos) {
        REAM_ASSIGN_OR_RETURN(b, parse_value(range.substr(dash + 1), f));
        if (b < a) {
          return invalid_argument(std::string("cron: ") + f.name + ": range '" + range +
                                  "' runs backwards");
        }
      } else if (slash == std::string::npos) {
        b = a;
      }
    }
    for (int v = a; v <= b; v += step) set[static_cast<size_t>(v)] = true;
  }
  if (!any) return invalid_argument(std::string("cron: ") + f.name + ": empty field");
  return set;
}

std::string expand_macro(const std::string& t) {
  if (t == "@yearly" || t == "@annually") return "0 0 1 1 *";
  if (t == "@monthly") return "0 0 1 * *";
  if (t == "@weekly") return "0 0 * * 0";
  if (t == "@daily" || t == "@midnight") return "0 0 * * *";
  if (t == "@hourly") return "0 * * * *";
  return t;
}

}  // namespace

bool CronExpr::day_matches(int month, int day, int weekday) const {
  if (!months.test(static_cast<size_t>(month))) return false;
  bool dom = days.test(static_cast<size_t>(day));
  bool dow = weekdays.test(static_cast<size_t>(weekday));
  if (dom_star || dow_star) return dom && dow;
  return dom || dow;
}

Result<CronExpr> parse_cron(const std::string& text) {
  std::string t = text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(0, 1);
  if (!t.empty() && t[0] == '@') {
    std::string e = expand_macro(t);
    if (e == t) return invalid_argument("cron: unknown macro '" + t + "'");
    t = e;
  }
  std::vector<std::string> fields;
  std::stringstream ss(t);
  std::string f;
  while (ss >> f) fields.push_back(f);
  if (fields.size() != 5) {
    return invalid_argument("cron: '" + text + "' has " + std::to_string(fields.size()) +
                            " fields; expected 5 (minute hour day-of-month month day-of-week)");
  }
  static const FieldSpec kSpecs[5] = {{"minute", 0, 59, nullptr},
                                      {"hour", 0, 23, nullptr},
                                      {"day-of-month", 1, 31, nullptr},
                                      {"month", 1, 12, kMonthNames},
                                      {"day-of-week", 0, 7, kDayNames}};
  CronExpr e;
  e.text = text;
  for (size_t i = 0; i < 5; ++i) {
    REAM_ASSIGN_OR_RETURN(auto set, parse_field(fields[i], kSpecs[i]));
    for (size_t v = 0; v < set.size(); ++v) {
      if (!set[v]) continue;
      switch (i) {
        case 0: e.minutes.set(v); break;
        case 1: e.hours.set(v); break;
        case 2: e.days.set(v); break;
        case 3: e.months.set(v); break;
        case 4: e.weekdays.set(v % 7); break;
      }
    }
  }
  e.dom_star = fields[2][0] == '*';
  e.dow_star = fields[4][0] == '*';
  return e;
}

}  // namespace ream::cron
