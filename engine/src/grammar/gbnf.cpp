// The GBNF parser (llama.cpp's grammar syntax) -> Grammar. A recursive-descent parser
// over the text; errors are exceptions inside and a Status at the edge, with line:col.
#include <map>
#include <stdexcept>

#include "grammar/grammar.h"

namespace ream::grammar {
namespace {

constexpr int64_t kMaxRepeat = 100000;  // copies a {m,n} may expand to

struct ParseError : std::runtime_error {
  size_t at;
  ParseError(size_t pos, const std::string& m) : std::runtime_error(m), at(pos) {}
};

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class GbnfParser {
 public:
  explicit GbnfParser(std::string_view text) : s_(text) {}

  Grammar parse() {
    skip_space(true);
    while (pos_ < s_.size()) {
      parse_rule();
      skip_space(true);
    }
    for (size_t r = 0; r < g_.rules.size(); ++r)
      if (!g_.rules[r].defined) throw ParseError(first_use_[g_.rules[r].name], "rule '" + g_.rules[r].name + "' is not defined");
    for (size_t r = 0; r < g_.rules.size(); ++r)
      if (g_.rules[r].name == "root") g_.root = static_cast<int32_t>(r);
    if (g_.root < 0) throw ParseError(s_.size(), "the grammar has no 'root' rule");
    return std::move(g_);
  }

 private:
  void skip_space(bool newlines) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  std::string parse_name() {
    const size_t b = pos_;
    while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
    if (pos_ == b) throw ParseError(b, "expected a rule name");
    return std::string(s_.substr(b, pos_ - b));
  }

  void parse_rule() {
    const size_t at = pos_;
    const std::string name = parse_name();
    skip_space(false);
    if (s_.substr(pos_, 3) != "::=") throw ParseError(pos_, "expected '::=' after rule name '" + name + "'");
    pos_ += 3;
    skip_space(true);
    const int32_t r = g_.rule_id(name);
    if (g_.rules[r].defined) throw ParseError(at, "rule '" + name + "' is defined twice");
    g_.rules[r].defined = true;
    std::vector<Sequence> alts = parse_alternates(name, false);
    g_.rules[r].alts = std::move(alts);
    if (pos_ < s_.size() && s_[pos_] != '\n') throw ParseError(pos_, std::string("unexpected '") + s_[pos_] + "'");
  }

  std::vector<Sequence> parse_alternates(const std::string& rule, bool nested) {
    std::vector<Sequence> alts;
    alts.push_back(parse_sequence(rule, nested));
    while (true) {
      const size_t save = pos_;
      skip_space(true);  // a line may start with '|' to go on with the alternatives
      if (pos_ >= s_.size() || s_[pos_] != '|') {
        pos_ = save;
        break;
      }
      ++pos_;
      skip_space(true);
      alts.push_back(parse_sequence(rule, nested));
    }
    return alts;
  }

  uint32_t parse_hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i, ++pos_) {
      if (pos_ >= s_.size()) throw ParseError(pos_, "expected a hex digit");
      const char c = s_[pos_];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) throw ParseError(pos_, std::string("expected a hex digit, got '") + c + "'");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) throw ParseError(pos_, "escape is not a Unicode character");
    return v;
  }

  // One character of a literal or class, escapes decoded, UTF-8 decoded.
  uint32_t parse_char() {
    if (pos_ >= s_.size()) throw ParseError(pos_, "unexpected end of grammar");
    const unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c == '\\') {
      ++pos_;
      if (pos_ >= s_.size()) throw ParseError(pos_, "unexpected end after '\\'");
      const char e = s_[pos_++];
      switch (e) {
        case 'x': return parse_hex(2);
        case 'u': return parse_hex(4);
        case 'U': return parse_hex(8);
        case 't': return '\t';
        case 'r': return '\r';
        case 'n': return '\n';
        case '\\': case '"': case '[': case ']': case '-': case '^': case '/': return static_cast<unsigned char>(e);
        default: throw ParseError(pos_ - 2, std::string("unknown escape '\\") + e + "'");
      }
    }
    if (c < 0x80) {
      ++pos_;
      return c;
    }
    int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
    if (n < 0 || pos_ + n >= s_.size() + 0) throw ParseError(pos_, "invalid UTF-8 in the grammar");
    uint32_t cp = c & (0x3F >> n);
    for (int i = 1; i <= n; ++i) {
      const unsigned char d = static_cast<unsigned char>(s_[pos_ + i]);
      if ((d & 0xC0) != 0x80) throw ParseError(pos_, "invalid UTF-8 in the grammar");
      cp = (cp << 6) | (d & 0x3F);
    }
    pos_ += n + 1;
    return cp;
  }

  Sequence parse_literal() {
    ++pos_;  // "
    Sequence seq;
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] == '\n') throw ParseError(pos_, "unterminated string literal");
      if (s_[pos_] == '"') break;
      append_code_point(&g_, parse_char(), &seq);
    }
    ++pos_;
    return seq;
  }

  std::vector<CodeRange> parse_class(bool* negated) {
    ++pos_;  // [
    *negated = pos_ < s_.size() && s_[pos_] == '^';
    if (*negated) ++pos_;
    std::vector<CodeRange> ranges;
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] == '\n') throw ParseError(pos_, "expected ']'");
      if (s_[pos_] == ']') break;
      const uint32_t lo = parse_char();
      uint32_t hi = lo;
      if (pos_ + 1 < s_.size() && s_[pos_] == '-' && s_[pos_ + 1] != ']') {
        ++pos_;
        const size_t at = pos_;
        hi = parse_char();
        if (hi < lo) throw ParseError(at, "character range is out of order");
      }
      ranges.push_back({lo, hi});
    }
    ++pos_;
    return ranges;
  }

  int64_t parse_int() {
    const size_t b = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      v = v * 10 + (s_[pos_++] - '0');
      if (v > kMaxRepeat) throw ParseError(b, "repetition count is larger than " + std::to_string(kMaxRepeat));
    }
    if (pos_ == b) throw ParseError(b, "expected a number");
    return v;
  }

  // The elements of one quantified atom, appended to `seq`.
  void repeat(const Sequence& atom, int64_t min, int64_t max, const std::string& rule, Sequence* seq, size_t at) {
    if (max >= 0 && max < min) throw ParseError(at, "repetition {m,n} has n < m");
    if (min * static_cast<int64_t>(atom.size()) > kMaxRepeat || (max > 0 && max * static_cast<int64_t>(atom.size()) > kMaxRepeat))
      throw ParseError(at, "repetition expands to more than " + std::to_string(kMaxRepeat) + " elements");
    for (int64_t i = 0; i < min; ++i) seq->insert(seq->end(), atom.begin(), atom.end());
    if (max < 0) {  // x* : S ::= x S | ""
      const int32_t s = g_.new_rule(rule);
      Sequence body = atom;
      body.push_back({Element::Kind::kRule, s});
      g_.rules[s].alts = {body, {}};
      seq->push_back({Element::Kind::kRule, s});
      return;
    }
    // Optional copies, nested: R_1 ::= x | "", R_k ::= x R_{k-1} | "".
    int32_t prev = -1;
    for (int64_t k = 1; k <= max - min; ++k) {
      const int32_t r = g_.new_rule(rule);
      Sequence body = atom;
      if (prev >= 0) body.push_back({Element::Kind::kRule, prev});
      g_.rules[r].alts = {body, {}};
      prev = r;
    }
    if (prev >= 0) seq->push_back({Element::Kind::kRule, prev});
  }

  Sequence parse_sequence(const std::string& rule, bool nested) {
    Sequence seq;
    while (pos_ < s_.size()) {
      const size_t atom_at = pos_;
      const char c = s_[pos_];
      Sequence atom;
      if (c == '"') {
        atom = parse_literal();
      } else if (c == '[') {
        bool neg = false;
        std::vector<CodeRange> ranges = parse_class(&neg);
        append_code_class(&g_, neg ? complement(ranges) : ranges, rule, &atom);
      } else if (c == '.') {
        ++pos_;
        append_code_class(&g_, {{0, 0x10FFFF}}, rule, &atom);
      } else if (c == '(') {
        ++pos_;
        skip_space(true);
        const int32_t r = g_.new_rule(rule);
        std::vector<Sequence> alts = parse_alternates(rule, true);
        if (pos_ >= s_.size() || s_[pos_] != ')') throw ParseError(pos_, "expected ')'");
        ++pos_;
        g_.rules[r].alts = std::move(alts);
        atom.push_back({Element::Kind::kRule, r});
      } else if (is_name_char(c)) {
        const std::string name = parse_name();
        skip_space(false);
        if (s_.substr(pos_, 3) == "::=") throw ParseError(atom_at, "missing newline before rule '" + name + "'");
        first_use_.emplace(name, atom_at);
        atom.push_back({Element::Kind::kRule, g_.rule_id(name)});
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        throw ParseError(pos_, std::string("'") + c + "' has nothing to repeat");
      } else {
        break;
      }
      skip_space(nested);
      if (pos_ < s_.size() && (s_[pos_] == '*' || s_[pos_] == '+' || s_[pos_] == '?' || s_[pos_] == '{')) {
        const size_t q = pos_;
        int64_t min = 0, max = -1;
        if (s_[pos_] == '*') {
          ++pos_;
        } else if (s_[pos_] == '+') {
          min = 1, ++pos_;
        } else if (s_[pos_] == '?') {
          max = 1, ++pos_;
        } else {
          ++pos_;
          skip_space(nested);
          min = parse_int();
          skip_space(nested);
          max = min;
          if (pos_ < s_.size() && s_[pos_] == ',') {
            ++pos_;
            skip_space(nested);
            max = pos_ < s_.size() && s_[pos_] == '}' ? -1 : parse_int();
            skip_space(nested);
          }
          if (pos_ >= s_.size() || s_[pos_] != '}') throw ParseError(pos_, "expected '}'");
          ++pos_;
        }
        repeat(atom, min, max, rule, &seq, q);
        skip_space(nested);
      } else {
        seq.insert(seq.end(), atom.begin(), atom.end());
      }
    }
    return seq;
  }

  std::string_view s_;
  size_t pos_ = 0;
  Grammar g_;
  std::map<std::string, size_t> first_use_;
};

}  // namespace

Result<Grammar> parse_gbnf(std::string_view text) {
  try {
    GbnfParser p(text);
    Grammar g = p.parse();
    REAM_RETURN_IF_ERROR(check_grammar(g));
    return g;
  } catch (const ParseError& e) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < e.at && i < text.size(); ++i) {
      if (text[i] == '\n') ++line, col = 1;
      else ++col;
    }
    return invalid_argument("grammar " + std::to_string(line) + ":" + std::to_string(col) + ": " + e.what());
  }
}

}  // namespace ream::grammar
