// The tolerant HTML tokenizer and character references (named, decimal, hex).
#include "ingest/html_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "ingest/utf8.h"

namespace ream::ingest {
namespace {

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// Case-insensitive search for `needle` (lower-case) in `hay` from `from`.
size_t find_ci(std::string_view hay, std::string_view needle, size_t from) {
  auto it = std::search(hay.begin() + static_cast<std::ptrdiff_t>(std::min(from, hay.size())), hay.end(),
                        needle.begin(), needle.end(), [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) == b;
                        });
  return it == hay.end() ? std::string_view::npos : static_cast<size_t>(it - hay.begin());
}

struct NamedEntity {
  const char* name;
  char32_t cp;
};
// The references that occur in filings and contracts; numeric ones cover the rest.
constexpr NamedEntity kEntities[] = {
    {"amp", '&'},       {"lt", '<'},         {"gt", '>'},         {"quot", '"'},
    {"apos", '\''},     {"nbsp", 0xA0},      {"ensp", 0x2002},    {"emsp", 0x2003},
    {"thinsp", 0x2009}, {"zwnj", 0x200C},    {"zwj", 0x200D},     {"lrm", 0x200E},
    {"rlm", 0x200F},    {"shy", 0xAD},       {"ndash", 0x2013},   {"mdash", 0x2014},
    {"lsquo", 0x2018},  {"rsquo", 0x2019},   {"sbquo", 0x201A},   {"ldquo", 0x201C},
    {"rdquo", 0x201D},  {"bdquo", 0x201E},   {"hellip", 0x2026},  {"bull", 0x2022},
    {"middot", 0xB7},   {"sect", 0xA7},      {"para", 0xB6},      {"copy", 0xA9},
    {"reg", 0xAE},      {"trade", 0x2122},   {"deg", 0xB0},       {"plusmn", 0xB1},
    {"times", 0xD7},    {"divide", 0xF7},    {"frac12", 0xBD},    {"frac14", 0xBC},
    {"frac34", 0xBE},   {"cent", 0xA2},      {"pound", 0xA3},     {"euro", 0x20AC},
    {"yen", 0xA5},      {"dagger", 0x2020},  {"Dagger", 0x2021},  {"laquo", 0xAB},
    {"raquo", 0xBB},    {"iexcl", 0xA1},     {"iquest", 0xBF},    {"micro", 0xB5},
    {"sup1", 0xB9},     {"sup2", 0xB2},      {"sup3", 0xB3},      {"ordf", 0xAA},
    {"ordm", 0xBA},     {"eacute", 0xE9},    {"Eacute", 0xC9},    {"egrave", 0xE8},
    {"aacute", 0xE1},   {"agrave", 0xE0},    {"ccedil", 0xE7},    {"uuml", 0xFC},
    {"ouml", 0xF6},     {"auml", 0xE4},      {"szlig", 0xDF},     {"ntilde", 0xF1},
    {"oacute", 0xF3},   {"iacute", 0xED},    {"uacute", 0xFA},    {"rarr", 0x2192},
    {"larr", 0x2190},   {"le", 0x2264},      {"ge", 0x2265},      {"ne", 0x2260},
    {"minus", 0x2212},  {"prime", 0x2032},   {"Prime", 0x2033},   {"check", 0x2713},
    {"squ", 0x25A1},    {"cir", 0x25CB},
};

}  // namespace

bool decode_entity(std::string_view s, size_t i, std::string& out, size_t* len) {
  if (i + 2 >= s.size() || s[i] != '&') return false;
  size_t j = i + 1;
  if (s[j] == '#') {
    ++j;
    const bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
    if (hex) ++j;
    const size_t digits = j;
    char32_t cp = 0;
    while (j < s.size() && j - digits < 8 &&
           (hex ? std::isxdigit(static_cast<unsigned char>(s[j])) : std::isdigit(static_cast<unsigned char>(s[j])))) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[j])));
      cp = cp * (hex ? 16 : 10) + static_cast<char32_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      ++j;
    }
    if (j == digits) return false;
    if (j < s.size() && s[j] == ';') ++j;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp >= 0x80 && cp < 0xA0) cp = cp1252_to_unicode(static_cast<unsigned char>(cp));  // HTML5 rule
    utf8::append(out, cp);
    *len = j - i;
    return true;
  }
  while (j < s.size() && j - i <= 8 && std::isalnum(static_cast<unsigned char>(s[j]))) ++j;
  const std::string_view name = s.substr(i + 1, j - i - 1);
  const bool semi = j < s.size() && s[j] == ';';
  for (const NamedEntity& e : kEntities) {
    if (name != e.name) continue;
    // Without ';' only the legacy few are references ("AT&T" stays as it is).
    if (!semi && name != "amp" && name != "lt" && name != "gt" && name != "nbsp" && name != "quot")
      return false;
    utf8::append(out, e.cp);
    *len = j - i + (semi ? 1 : 0);
    return true;
  }
  return false;
}

std::optional<std::string> html_attr(std::string_view a, std::string_view name) {
  size_t i = 0;
  while (i < a.size()) {
    while (i < a.size() && (is_space(a[i]) || a[i] == '/')) ++i;
    const size_t ns = i;
    while (i < a.size() && !is_space(a[i]) && a[i] != '=' && a[i] != '/' && a[i] != '>') ++i;
    const std::string key = lower(a.substr(ns, i - ns));
    if (i == ns) { ++i; continue; }
    while (i < a.size() && is_space(a[i])) ++i;
    std::string value;
    if (i < a.size() && a[i] == '=') {
      ++i;
      while (i < a.size() && is_space(a[i])) ++i;
      if (i < a.size() && (a[i] == '"' || a[i] == '\'')) {
        const char q = a[i++];
        const size_t e = a.find(q, i);
        const size_t end = e == std::string_view::npos ? a.size() : e;
        value = std::string(a.substr(i, end - i));
        i = end + 1;
      } else {
        const size_t vs = i;
        while (i < a.size() && !is_space(a[i])) ++i;
        value = std::string(a.substr(vs, i - vs));
      }
    }
    if (key == name) return value;
  }
  return std::nullopt;
}

bool HtmlTokenizer::read_tag(HtmlToken& tok) {
  const size_t start = pos_;
  size_t i = pos_ + 1;
  const bool end_tag = src_[i] == '/';
  if (end_tag) ++i;
  const size_t ns = i;
  while (i < src_.size() && !is_space(src_[i]) && src_[i] != '>' && src_[i] != '/') ++i;
  tok.name = lower(src_.substr(ns, i - ns));
  // Attributes run to the first '>' outside quotes.
  const size_t as = i;
  char quote = 0;
  while (i < src_.size()) {
    const char c = src_[i];
    if (quote) { if (c == quote) quote = 0; }
    else if (c == '"' || c == '\'') quote = c;
    else if (c == '>') break;
    ++i;
  }
  size_t ae = i;
  tok.self_closing = ae > as && src_[ae - 1] == '/';
  if (tok.self_closing) --ae;
  tok.attrs = src_.substr(as, ae - as);
  tok.kind = end_tag ? HtmlTokenKind::kEndTag : HtmlTokenKind::kStartTag;
  tok.begin = start;
  pos_ = std::min(i + 1, src_.size());
  tok.end = pos_;
  if (!end_tag && !tok.self_closing && (tok.name == "script" || tok.name == "style")) raw_end_ = tok.name;
  return true;
}

bool HtmlTokenizer::next(HtmlToken& tok) {
  if (pos_ >= src_.size()) return false;
  tok = HtmlToken();
  if (!raw_end_.empty()) {
    const size_t e = find_ci(src_, "</" + raw_end_, pos_);
    const size_t end = e == std::string_view::npos ? src_.size() : e;
    tok.kind = HtmlTokenKind::kText;
    tok.raw = true;
    tok.begin = pos_;
    tok.end = end;
    pos_ = end;
    raw_end_.clear();
    if (tok.end > tok.begin) return true;
    return next(tok);
  }
  if (src_[pos_] == '<' && pos_ + 1 < src_.size()) {
    const char c = src_[pos_ + 1];
    if (src_.compare(pos_, 4, "<!--") == 0) {
      const size_t e = src_.find("-->", pos_ + 4);
      tok.kind = HtmlTokenKind::kComment;
      tok.begin = pos_;
      pos_ = e == std::string_view::npos ? src_.size() : e + 3;
      tok.end = pos_;
      return true;
    }
    if (c == '!' || c == '?') {
      const std::string_view close = src_.compare(pos_, 9, "<![CDATA[") == 0 ? "]]>" : ">";
      const size_t e = src_.find(close, pos_ + 2);
      tok.kind = HtmlTokenKind::kOther;
      tok.begin = pos_;
      pos_ = e == std::string_view::npos ? src_.size() : e + close.size();
      tok.end = pos_;
      return true;
    }
    if (is_name_start(c) || (c == '/' && pos_ + 2 < src_.size() && is_name_start(src_[pos_ + 2])))
      return read_tag(tok);
  }
  // Text up to the next '<' that can open something.
  size_t i = pos_ + 1;
  for (;;) {
    i = src_.find('<', i);
    if (i == std::string_view::npos || i + 1 >= src_.size()) { i = src_.size(); break; }
    const char c = src_[i + 1];
    if (is_name_start(c) || c == '/' || c == '!' || c == '?') break;
    ++i;
  }
  tok.kind = HtmlTokenKind::kText;
  tok.begin = pos_;
  tok.end = i;
  pos_ = i;
  return true;
}

}  // namespace ream::ingest
