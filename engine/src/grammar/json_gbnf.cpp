// JSON grammar pieces: literals, numbers, integer ranges, formats (see json_gbnf.h).
#include "grammar/json_gbnf.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "grammar/compile.h"

namespace ream::grammar {

std::string gbnf_literal(std::string_view bytes) {
  std::string out = "\"";
  for (char ch : bytes) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string json_number_text(const nlohmann::ordered_json& v) {
  if (v.is_number_integer()) return v.dump();
  const double d = v.get<double>();
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e18) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
    return buf;
  }
  char buf[40];
  for (int p = 1; p <= 17; ++p) {
    snprintf(buf, sizeof buf, "%.*g", p, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

std::string json_literal_gbnf(const nlohmann::ordered_json& v) {
  if (v.is_object()) {
    if (v.empty()) return "\"{\" ws \"}\"";
    std::string out = "\"{\" ws";
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!first) out += " ws \",\" ws";
      first = false;
      out += " " + gbnf_literal(nlohmann::ordered_json(it.key()).dump()) + " ws \":\" ws " + json_literal_gbnf(it.value());
    }
    return "(" + out + " ws \"}\")";
  }
  if (v.is_array()) {
    if (v.empty()) return "\"[\" ws \"]\"";
    std::string out = "\"[\" ws";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? " ws \",\" ws " : " ") + json_literal_gbnf(v[i]);
    return "(" + out + " ws \"]\")";
  }
  if (v.is_number()) return gbnf_literal(json_number_text(v));
  return gbnf_literal(v.dump());
}

namespace {

// Equal-length digit strings lo <= hi: the numbers between them, digit by digit.
std::string same_length(const std::string& lo, const std::string& hi) {
  const size_t n = lo.size();
  if (n == 0) return "";
  if (lo == hi) return gbnf_literal(lo);
  if (n == 1) return std::string("[") + lo[0] + "-" + hi[0] + "]";
  const std::string lo_rest = lo.substr(1), hi_rest = hi.substr(1);
  if (lo[0] == hi[0]) return gbnf_literal(lo.substr(0, 1)) + " " + same_length(lo_rest, hi_rest);
  const std::string zeros(n - 1, '0'), nines(n - 1, '9');
  const std::string any = "[0-9]{" + std::to_string(n - 1) + "}";
  std::vector<std::string> parts;
  char first = lo[0], last = hi[0];
  if (lo_rest != zeros) {
    parts.push_back(gbnf_literal(lo.substr(0, 1)) + " (" + same_length(lo_rest, nines) + ")");
    ++first;
  }
  std::string tail;
  if (hi_rest != nines) {
    tail = gbnf_literal(hi.substr(0, 1)) + " (" + same_length(zeros, hi_rest) + ")";
    --last;
  }
  if (first <= last) parts.push_back(std::string("[") + first + "-" + last + "] " + any);
  if (!tail.empty()) parts.push_back(tail);
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
  return "(" + out + ")";
}

// Non-negative integers in [a, b]; b < 0 means no upper bound, which is written as
// kMaxIntDigits digits at most (see json-int).
std::string unsigned_range(int64_t a, int64_t b) {
  const std::string as = std::to_string(a);
  std::vector<std::string> parts;
  if (b < 0) {
    parts.push_back(same_length(as, std::string(as.size(), '9')));
    if (as.size() < kMaxIntDigits) {
      parts.push_back("[1-9] [0-9]{" + std::to_string(as.size()) + "," + std::to_string(kMaxIntDigits - 1) + "}");
    }
  } else {
    const std::string bs = std::to_string(b);
    for (size_t len = as.size(); len <= bs.size(); ++len) {
      const std::string lo = len == as.size() ? as : "1" + std::string(len - 1, '0');
      const std::string hi = len == bs.size() ? bs : std::string(len, '9');
      parts.push_back(same_length(lo, hi));
    }
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
  return "(" + out + ")";
}

}  // namespace

std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<std::string> parts;
  // Negative values -m with m in [max(1, -hi), -lo].
  if (!lo || *lo < 0) {
    const int64_t m_lo = hi && *hi < 0 ? -*hi : 1;
    if (!lo) parts.push_back("\"-\" " + unsigned_range(m_lo, -1));
    else if (m_lo <= -*lo) parts.push_back("\"-\" " + unsigned_range(m_lo, -*lo));
  }
  // Non-negative values in [max(0, lo), hi].
  if (!hi || *hi >= 0) {
    const int64_t a = lo && *lo > 0 ? *lo : 0;
    if (!hi || a <= *hi) parts.push_back(unsigned_range(a, hi ? *hi : -1));
  }
  if (parts.empty()) return "";
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
  return "(" + out + ")";
}

std::string string_format_gbnf(const std::string& f) {
  const std::string d2 = "[0-9]{2}";
  const std::string year = "[0-9]{4}";
  // Day 29 and 30 in every month but February, 31 in the long months, 01-28 always.
  const std::string date =
      "(" + year + " \"-\" ((\"0\" [1-9] | \"1\" [0-2]) \"-\" (\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8])"
      " | (\"0\" [13-9] | \"1\" [0-2]) \"-\" (\"29\" | \"30\")"
      " | (\"0\" [13578] | \"1\" [02]) \"-\" \"31\"))";
  const std::string hh = "([01] [0-9] | \"2\" [0-3])", mm = "[0-5] [0-9]";
  const std::string time = "(" + hh + " \":\" " + mm + " \":\" " + mm + " (\".\" [0-9]{1,9})? ([zZ] | [-+] " + hh +
                           " \":\" " + mm + "))";
  const std::string label = "[a-zA-Z0-9] ([a-zA-Z0-9-]{0,61} [a-zA-Z0-9])?";
  const std::string hostname = "(" + label + " (\".\" " + label + "){0,2})";
  const std::string octet = "(\"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9]? [0-9])";
  const std::string hex = "[0-9a-fA-F]";
  if (f == "date") return date;
  if (f == "time") return time;
  if (f == "date-time") return "(" + date + " [tT] " + time + ")";
  if (f == "email")
    return "([a-zA-Z0-9_+-]{1,32} (\".\" [a-zA-Z0-9_+-]{1,32}){0,4} \"@\" " + label + " (\".\" " + label + "){1,4})";
  if (f == "hostname") return hostname;
  if (f == "ipv4") return "(" + octet + " \".\" " + octet + " \".\" " + octet + " \".\" " + octet + ")";
  if (f == "ipv6") return "(" + hex + "{1,4} (\":\" " + hex + "{1,4}){7})";
  if (f == "uuid")
    return "(" + hex + "{8} \"-\" " + hex + "{4} \"-\" " + hex + "{4} \"-\" " + hex + "{4} \"-\" " + hex + "{12})";
  if (f == "uri")
    return "([a-zA-Z] [a-zA-Z0-9+.-]{0,15} \"://\" " + hostname + " (\":\" [0-9]{1,5})? (\"/\" [a-zA-Z0-9._~-]{0,64}){0,16}"
           " (\"?\" [a-zA-Z0-9._~=&-]{0,128})?)";
  return "";
}

std::string json_common_rules() {
  const std::string w = std::to_string(kJsonMaxWhitespace);
  return "ws ::= [ \\t\\n\\r]{0," + w + "}\n"
         "json-value ::= json-object | json-array | json-string | json-number | \"true\" | \"false\" | \"null\"\n"
         "json-object ::= \"{\" ws ( json-string ws \":\" ws json-value ( ws \",\" ws json-string ws \":\" ws json-value )* ws )? \"}\"\n"
         "json-array ::= \"[\" ws ( json-value ( ws \",\" ws json-value )* ws )? \"]\"\n"
         "json-string ::= \"\\\"\" json-char* \"\\\"\"\n"
         "json-char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" json-hex4 )\n"
         "json-hex4 ::= [0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}\n"
         "json-number ::= \"-\"? ( \"0\" | [1-9] [0-9]* ) ( \".\" [0-9]+ )? ( [eE] [-+]? [0-9]+ )?\n"
         "json-int ::= \"-\"? ( \"0\" | [1-9] [0-9]{0," + std::to_string(kMaxIntDigits - 1) + "} )\n";
}

}  // namespace ream::grammar
