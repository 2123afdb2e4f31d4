// ECMAScript regular expressions (JSON Schema's `pattern` subset) -> one GBNF expression.
// A recursive-descent parser over code points that writes GBNF as it goes.
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "grammar/compile.h"

namespace ream::grammar {
namespace {

struct RegexError : std::runtime_error {
  size_t at;
  RegexError(size_t a, const std::string& m) : std::runtime_error(m), at(a) {}
};

std::string hex_cp(uint32_t cp) {
  char buf[16];
  snprintf(buf, sizeof buf, "\\U%08X", cp);
  return buf;
}

const std::vector<CodeRange> kDigit = {{'0', '9'}};
const std::vector<CodeRange> kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const std::vector<CodeRange> kSpace = {{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x2000, 0x200A},
                                       {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
                                       {0xFEFF, 0xFEFF}};
const std::vector<CodeRange> kLineTerminators = {{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}};

class RegexParser {
 public:
  RegexParser(std::string_view p, RegexMode mode, std::string json_char)
      : mode_(mode), json_char_(std::move(json_char)) {
    for (size_t i = 0; i < p.size();) {  // decode UTF-8
      const unsigned char c = static_cast<unsigned char>(p[i]);
      int n = c < 0x80 ? 0 : c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
      if (n < 0 || i + n >= p.size() + (n == 0 ? 1 : 0)) throw RegexError(cps_.size(), "invalid UTF-8");
      uint32_t cp = n == 0 ? c : c & (0x3F >> n);
      for (int k = 1; k <= n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(p[i + k]) & 0x3F);
      cps_.push_back(cp);
      i += n + 1;
    }
  }

  std::string parse() {
    std::vector<std::string> alts;
    while (true) {
      bool start = false, end = false;
      if (peek('^')) start = true, ++pos_;
      std::string body = parse_concat(true, &end);
      if (mode_ == RegexMode::kJsonString) {
        // An unanchored side may have any characters before / after the match.
        body = (start ? "" : json_char_ + "* ") + body + (end ? "" : " " + json_char_ + "*");
      }
      alts.push_back("(" + body + ")");
      if (pos_ >= cps_.size()) break;
      if (cps_[pos_] != '|') throw RegexError(pos_, "unbalanced ')'");
      ++pos_;
    }
    std::string out;
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
    return "(" + out + ")";
  }

 private:
  bool peek(uint32_t c) const { return pos_ < cps_.size() && cps_[pos_] == c; }

  // A sequence up to '|' or ')' (or the end). `top`: '$' may end it.
  std::string parse_concat(bool top, bool* anchored_end) {
    std::string out;
    while (pos_ < cps_.size() && cps_[pos_] != '|' && cps_[pos_] != ')') {
      if (cps_[pos_] == '$') {
        if (!top || (pos_ + 1 < cps_.size() && cps_[pos_ + 1] != '|'))
          throw RegexError(pos_, "'$' is only supported at the end of the pattern");
        *anchored_end = true;
        ++pos_;
        break;
      }
      if (cps_[pos_] == '^') throw RegexError(pos_, "'^' is only supported at the start of the pattern");
      std::string atom = parse_atom();
      out += (out.empty() ? "" : " ") + parse_quantifier(atom);
    }
    return out.empty() ? "\"\"" : out;
  }

  std::string parse_quantifier(const std::string& atom) {
    if (pos_ >= cps_.size()) return atom;
    const uint32_t c = cps_[pos_];
    std::string q;
    if (c == '*' || c == '+' || c == '?') {
      q = std::string(1, static_cast<char>(c));
      ++pos_;
    } else if (c == '{') {
      size_t p = pos_ + 1;
      auto num = [&](std::string* out) {
        while (p < cps_.size() && cps_[p] >= '0' && cps_[p] <= '9') *out += static_cast<char>(cps_[p++]);
        return !out->empty();
      };
      std::string lo, hi;
      bool comma = false;
      if (!num(&lo)) return atom;  // a literal '{' (ECMAScript's Annex B)
      if (p < cps_.size() && cps_[p] == ',') comma = true, ++p, num(&hi);
      if (p >= cps_.size() || cps_[p] != '}') return atom;
      if (lo.size() > 5 || hi.size() > 5) throw RegexError(pos_, "repetition count is too large");
      q = "{" + lo + (comma ? "," + hi : "") + "}";
      pos_ = p + 1;
    } else {
      return atom;
    }
    if (peek('?')) ++pos_;  // lazy: the same language
    if (pos_ < cps_.size() && (cps_[pos_] == '*' || cps_[pos_] == '+' || cps_[pos_] == '?' || cps_[pos_] == '{'))
      throw RegexError(pos_, "nothing to repeat");
    return "(" + atom + ")" + q;
  }

  std::string parse_atom() {
    const uint32_t c = cps_[pos_];
    if (c == '(') return parse_group();
    if (c == '[') return emit_class(parse_class());
    if (c == '.') {
      ++pos_;
      return emit_class(complement(kLineTerminators));
    }
    if (c == '\\') return parse_escape_atom();
    if (c == '*' || c == '+' || c == '?') throw RegexError(pos_, "nothing to repeat");
    ++pos_;
    return emit_class({{c, c}});
  }

  std::string parse_group() {
    const size_t at = pos_++;
    if (peek('?')) {
      ++pos_;
      if (peek(':')) {
        ++pos_;
      } else if (peek('<') && pos_ + 1 < cps_.size() && cps_[pos_ + 1] != '=' && cps_[pos_ + 1] != '!') {
        while (pos_ < cps_.size() && cps_[pos_] != '>') ++pos_;  // a named group
        if (pos_ >= cps_.size()) throw RegexError(at, "unterminated group name");
        ++pos_;
      } else {
        throw RegexError(at, "lookaround assertions are not supported");
      }
    }
    std::vector<std::string> alts;
    while (true) {
      bool end = false;
      alts.push_back(parse_concat(false, &end));
      if (peek(')')) break;
      if (!peek('|')) throw RegexError(at, "unterminated group");
      ++pos_;
    }
    ++pos_;
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
    return out + ")";
  }

  uint32_t hex(size_t digits) {
    uint32_t v = 0;
    for (size_t i = 0; i < digits; ++i, ++pos_) {
      if (pos_ >= cps_.size()) throw RegexError(pos_, "expected a hex digit");
      const uint32_t c = cps_[pos_];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) throw RegexError(pos_, "expected a hex digit");
      v = v * 16 + d;
    }
    return v;
  }

  // After '\': a class (\d...) or one code point. `in_class`: \b is backspace.
  std::vector<CodeRange> parse_escape(bool in_class) {
    const size_t at = pos_++;
    if (pos_ >= cps_.size()) throw RegexError(at, "pattern ends with '\\'");
    const uint32_t e = cps_[pos_++];
    switch (e) {
      case 'd': return kDigit;
      case 'D': return complement(kDigit);
      case 'w': return kWord;
      case 'W': return complement(kWord);
      case 's': return kSpace;
      case 'S': return complement(kSpace);
      case 'n': return {{'\n', '\n'}};
      case 't': return {{'\t', '\t'}};
      case 'r': return {{'\r', '\r'}};
      case 'f': return {{'\f', '\f'}};
      case 'v': return {{'\v', '\v'}};
      case '0': return {{0, 0}};
      case 'x': {
        const uint32_t v = hex(2);
        return {{v, v}};
      }
      case 'u': {
        uint32_t v;
        if (peek('{')) {
          ++pos_;
          v = 0;
          while (pos_ < cps_.size() && cps_[pos_] != '}') v = v * 16 + hex(1);
          ++pos_;
        } else {
          v = hex(4);
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) throw RegexError(at, "\\u escape of a surrogate or beyond Unicode");
        return {{v, v}};
      }
      case 'b':
        if (in_class) return {{8, 8}};
        throw RegexError(at, "word boundaries (\\b) are not supported");
      case 'B': throw RegexError(at, "word boundaries (\\B) are not supported");
      case 'k': throw RegexError(at, "backreferences are not supported");
      case 'p': case 'P': throw RegexError(at, "Unicode property escapes (\\p) are not supported");
      case 'c': throw RegexError(at, "control escapes (\\c) are not supported");
      default:
        if (e >= '1' && e <= '9') throw RegexError(at, "backreferences are not supported");
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))
          throw RegexError(at, std::string("unknown escape '\\") + static_cast<char>(e) + "'");
        return {{e, e}};
    }
  }

  std::string parse_escape_atom() { return emit_class(parse_escape(false)); }

  std::vector<CodeRange> class_item() {
    if (cps_[pos_] == '\\') return parse_escape(true);
    const uint32_t c = cps_[pos_++];
    return {{c, c}};
  }

  std::vector<CodeRange> parse_class() {
    const size_t at = pos_++;
    const bool neg = peek('^');
    if (neg) ++pos_;
    std::vector<CodeRange> out;
    while (true) {
      if (pos_ >= cps_.size()) throw RegexError(at, "unterminated character class");
      if (cps_[pos_] == ']') break;
      std::vector<CodeRange> lo = class_item();
      out.insert(out.end(), lo.begin(), lo.end());
      if (peek('-') && pos_ + 1 < cps_.size() && cps_[pos_ + 1] != ']' && lo.size() == 1 && lo[0].lo == lo[0].hi) {
        ++pos_;
        const size_t hi_at = pos_;
        std::vector<CodeRange> hi = class_item();
        if (hi.size() != 1 || hi[0].lo != hi[0].hi) throw RegexError(hi_at, "a class cannot end a range");
        if (hi[0].lo < lo[0].lo) throw RegexError(hi_at, "character range is out of order");
        out.back().hi = hi[0].lo;
      }
    }
    ++pos_;
    return neg ? complement(out) : out;
  }

  // GBNF for one code point of `ranges`; in kJsonString mode the code points JSON must
  // escape are written escaped (\" \\ \n \t \r \b \f \u00XX) and the rest raw.
  std::string emit_class(const std::vector<CodeRange>& ranges) {
    std::vector<std::string> alts;
    std::vector<CodeRange> raw = ranges;
    if (mode_ == RegexMode::kJsonString) {
      std::vector<bool> esc(0x60, false);
      for (CodeRange r : ranges)
        for (uint32_t c = r.lo; c <= std::min<uint32_t>(r.hi, 0x5F); ++c) esc[c] = c < 0x20 || c == '"' || c == '\\';
      for (uint32_t c = 0; c < 0x60; ++c) {
        if (!esc[c]) continue;
        static const char* kShort[] = {"b", "t", "n", nullptr, "f", "r"};
        std::string e;
        if (c == '"') e = "\\\\\\\"";
        else if (c == '\\') e = "\\\\\\\\";
        else if (c >= 8 && c <= 13 && kShort[c - 8]) e = std::string("\\\\") + kShort[c - 8];
        else {
          char buf[16];
          snprintf(buf, sizeof buf, "\\\\u%04x", c);
          e = buf;
        }
        alts.push_back("\"" + e + "\"");
      }
      // Keep only what may be written raw: [\x20-\x21] [\x23-\x5B] [\x5D-...].
      raw = complement(complement(ranges));
      std::vector<CodeRange> kept;
      for (CodeRange r : raw)
        for (CodeRange ok : {CodeRange{0x20, 0x21}, CodeRange{0x23, 0x5B}, CodeRange{0x5D, 0x10FFFF}}) {
          const uint32_t lo = std::max(r.lo, ok.lo), hi = std::min(r.hi, ok.hi);
          if (lo <= hi) kept.push_back({lo, hi});
        }
      raw = kept;
    }
    std::string cls;
    for (CodeRange r : raw) cls += hex_cp(r.lo) + "-" + hex_cp(r.hi);
    if (!cls.empty()) alts.push_back("[" + cls + "]");
    if (alts.empty()) throw RegexError(pos_, "a character class matches nothing");
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
    return out + ")";
  }

  RegexMode mode_;
  std::string json_char_;
  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::string> regex_to_gbnf(std::string_view pattern, RegexMode mode, const std::string& json_char) {
  try {
    RegexParser p(pattern, mode, json_char);
    return p.parse();
  } catch (const RegexError& e) {
    return invalid_argument("regex /" + std::string(pattern) + "/ at character " + std::to_string(e.at + 1) + ": " +
                            e.what());
  }
}

}  // namespace ream::grammar
