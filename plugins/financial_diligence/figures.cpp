// Amount parsing and figure matching.
#include "figures.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <vector>

namespace diligence {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Scale named by words in `s`, or 1.
double scale_of(const std::string& s) {
  if (s.find("trillion") != std::string::npos) return 1e12;
  if (s.find("billion") != std::string::npos || s.find("bn") != std::string::npos) return 1e9;
  if (s.find("million") != std::string::npos || s.find("mm") != std::string::npos) return 1e6;
  if (s.find("thousand") != std::string::npos) return 1e3;
  return 1;
}

}  // namespace

std::optional<double> parse_amount(std::string_view value, std::string_view unit, bool* percent) {
  std::string v = lower(value);
  size_t first = v.find_first_of("0123456789");
  if (first == std::string::npos) return std::nullopt;
  std::string digits;
  size_t i = first;
  for (; i < v.size(); ++i) {
    char c = v[i];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') digits += c;
    else if (c != ',') break;
  }
  double x = 0;
  try {
    x = std::stod(digits);
  } catch (...) {
    return std::nullopt;
  }
  std::string before = v.substr(0, first), after = v.substr(i);
  bool negative = before.find('(') != std::string::npos || before.find('-') != std::string::npos ||
                  before.find("\xe2\x88\x92") != std::string::npos;  // U+2212 minus sign
  bool pct = after.find('%') != std::string::npos || after.find("percent") != std::string::npos;
  if (percent) *percent = pct;
  if (!pct) {
    double s = scale_of(after);
    // A single-letter suffix right after the number: 2.5B, 300M, 40K.
    std::string suffix = after.substr(0, after.find_first_not_of("bmk"));
    if (s == 1 && suffix.size() == 1) s = suffix == "b" ? 1e9 : suffix == "m" ? 1e6 : 1e3;
    if (s == 1) s = scale_of(lower(unit));
    x *= s;
  }
  return negative ? -x : x;
}

std::string figure_key(std::string_view name) {
  static const std::vector<std::string> kDrop = {"total", "net", "the", "of", "and", "a", "for", "in"};
  std::string words, word;
  auto flush = [&] {
    if (!word.empty() && std::find(kDrop.begin(), kDrop.end(), word) == kDrop.end()) {
      words += (words.empty() ? "" : " ") + word;
    }
    word.clear();
  };
  for (char c : lower(name)) {
    if (std::isalnum(static_cast<unsigned char>(c))) word += c;
    else flush();
  }
  flush();
  return words;
}

bool amounts_differ(double a, double b, double relative) {
  double m = std::max(std::fabs(a), std::fabs(b));
  return m > 0 && std::fabs(a - b) > relative * m;
}

}  // namespace diligence
