// Grammar helpers: sets and rules, UTF-8 classes, the left-recursion check, a listing.
#include "grammar/grammar.h"

#include <algorithm>
#include <functional>
#include <map>

namespace ream::grammar {

int32_t Grammar::add_set(const ByteSet& set) {
  for (size_t i = 0; i < sets.size(); ++i)
    if (sets[i] == set) return static_cast<int32_t>(i);
  sets.push_back(set);
  return static_cast<int32_t>(sets.size() - 1);
}

int32_t Grammar::rule_id(const std::string& name) {
  for (size_t i = 0; i < rules.size(); ++i)
    if (rules[i].name == name) return static_cast<int32_t>(i);
  rules.push_back(Rule{name, {}, false});
  return static_cast<int32_t>(rules.size() - 1);
}

int32_t Grammar::new_rule(const std::string& base) {
  rules.push_back(Rule{base + "_" + std::to_string(rules.size()), {}, true});
  return static_cast<int32_t>(rules.size() - 1);
}

namespace {

std::string set_string(const ByteSet& s) {
  if (s.count() == 1) {
    for (int b = 0; b < 256; ++b)
      if (s[b]) {
        if (b >= 0x20 && b < 0x7F && b != '"' && b != '\\') return "\"" + std::string(1, static_cast<char>(b)) + "\"";
        char buf[16];
        snprintf(buf, sizeof buf, "[\\x%02X]", b);
        return buf;
      }
  }
  std::string out = "[";
  for (int b = 0; b < 256;) {
    if (!s[b]) {
      ++b;
      continue;
    }
    int e = b;
    while (e + 1 < 256 && s[e + 1]) ++e;
    char buf[32];
    if (e == b) snprintf(buf, sizeof buf, "\\x%02X", b);
    else snprintf(buf, sizeof buf, "\\x%02X-\\x%02X", b, e);
    out += buf;
    b = e + 1;
  }
  return out + "]";
}

}  // namespace

std::string Grammar::to_string() const {
  std::string out;
  for (const Rule& r : rules) {
    out += r.name + " ::=";
    for (size_t a = 0; a < r.alts.size(); ++a) {
      if (a) out += " |";
      if (r.alts[a].empty()) out += " \"\"";
      for (const Element& e : r.alts[a])
        out += " " + (e.kind == Element::Kind::kBytes ? set_string(sets[e.arg]) : rules[e.arg].name);
    }
    out += "\n";
  }
  return out;
}

// ---- UTF-8 ----

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

using ByteRanges = std::vector<std::pair<uint8_t, uint8_t>>;  // one (lo, hi) per byte position

// Splits [lo, hi] into ranges whose UTF-8 encodings are products of byte ranges.
void utf8_split(uint32_t lo, uint32_t hi, std::vector<ByteRanges>* out) {
  if (lo > hi) return;
  if (lo <= 0xDFFF && hi >= 0xD800) {  // surrogates are not characters
    if (lo < 0xD800) utf8_split(lo, 0xD7FF, out);
    if (hi > 0xDFFF) utf8_split(0xE000, hi, out);
    return;
  }
  for (uint32_t max : {0x7Fu, 0x7FFu, 0xFFFFu}) {
    if (lo <= max && hi > max) {
      utf8_split(lo, max, out);
      utf8_split(max + 1, hi, out);
      return;
    }
  }
  if (hi <= 0x7F) {
    out->push_back({{static_cast<uint8_t>(lo), static_cast<uint8_t>(hi)}});
    return;
  }
  const int n = hi <= 0x7FF ? 2 : hi <= 0xFFFF ? 3 : 4;
  for (int i = 1; i < n; ++i) {
    const uint32_t m = (1u << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        utf8_split(lo, lo | m, out);
        utf8_split((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        utf8_split(lo, (hi & ~m) - 1, out);
        utf8_split(hi & ~m, hi, out);
        return;
      }
    }
  }
  std::string a, b;
  append_utf8(lo, &a);
  append_utf8(hi, &b);
  ByteRanges r;
  for (size_t i = 0; i < a.size(); ++i) r.push_back({static_cast<uint8_t>(a[i]), static_cast<uint8_t>(b[i])});
  out->push_back(std::move(r));
}

std::vector<CodeRange> normalise(std::vector<CodeRange> r) {
  std::sort(r.begin(), r.end(), [](CodeRange a, CodeRange b) { return a.lo < b.lo; });
  std::vector<CodeRange> out;
  for (CodeRange c : r) {
    if (c.lo > c.hi) continue;
    c.hi = std::min<uint32_t>(c.hi, 0x10FFFF);
    if (!out.empty() && c.lo <= out.back().hi + 1) out.back().hi = std::max(out.back().hi, c.hi);
    else out.push_back(c);
  }
  return out;
}

}  // namespace

std::vector<CodeRange> complement(std::vector<CodeRange> ranges) {
  ranges = normalise(std::move(ranges));
  std::vector<CodeRange> out;
  uint32_t next = 0;
  for (CodeRange c : ranges) {
    if (c.lo > next) out.push_back({next, c.lo - 1});
    next = c.hi + 1;
  }
  if (next <= 0x10FFFF) out.push_back({next, 0x10FFFF});
  return out;
}

void append_code_point(Grammar* g, uint32_t cp, Sequence* seq) {
  std::string bytes;
  append_utf8(cp, &bytes);
  for (unsigned char c : bytes) {
    ByteSet s;
    s.set(c);
    seq->push_back({Element::Kind::kBytes, g->add_set(s)});
  }
}

void append_code_class(Grammar* g, const std::vector<CodeRange>& ranges, const std::string& base, Sequence* seq) {
  std::vector<ByteRanges> parts;
  for (CodeRange c : normalise(ranges)) utf8_split(c.lo, c.hi, &parts);
  ByteSet ascii;
  std::vector<ByteRanges> multi;
  for (const ByteRanges& p : parts) {
    if (p.size() == 1) {
      for (int b = p[0].first; b <= p[0].second; ++b) ascii.set(b);
    } else {
      multi.push_back(p);
    }
  }
  if (multi.empty()) {
    seq->push_back({Element::Kind::kBytes, g->add_set(ascii)});  // an empty set matches nothing
    return;
  }
  const int32_t r = g->new_rule(base);
  std::vector<Sequence> alts;
  if (ascii.any()) alts.push_back({{Element::Kind::kBytes, g->add_set(ascii)}});
  for (const ByteRanges& p : multi) {
    Sequence s;
    for (auto [lo, hi] : p) {
      ByteSet set;
      for (int b = lo; b <= hi; ++b) set.set(b);
      s.push_back({Element::Kind::kBytes, g->add_set(set)});
    }
    alts.push_back(std::move(s));
  }
  g->rules[r].alts = std::move(alts);
  seq->push_back({Element::Kind::kRule, r});
}

// ---- checks ----

Status check_grammar(const Grammar& g) {
  if (g.root < 0 || g.root >= static_cast<int32_t>(g.rules.size())) return invalid_argument("grammar has no root rule");
  const size_t n = g.rules.size();
  // Nullable rules, to a fixed point.
  std::vector<bool> nullable(n, false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < n; ++r) {
      if (nullable[r]) continue;
      for (const Sequence& s : g.rules[r].alts) {
        bool all = true;
        for (const Element& e : s)
          if (e.kind == Element::Kind::kBytes || !nullable[e.arg]) {
            all = false;
            break;
          }
        if (all) {
          nullable[r] = changed = true;
          break;
        }
      }
    }
  }
  // Left edges r -> t (t called before any byte of r), marked when the call pushes a frame.
  std::vector<std::vector<std::pair<int32_t, bool>>> edges(n);
  for (size_t r = 0; r < n; ++r)
    for (const Sequence& s : g.rules[r].alts)
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i].kind == Element::Kind::kBytes) break;
        edges[r].push_back({s[i].arg, i + 1 < s.size()});
        if (!nullable[s[i].arg]) break;
      }
  // A cycle through a pushing edge grows the stack without consuming input.
  for (size_t start = 0; start < n; ++start) {
    std::vector<uint8_t> seen(2 * n, 0);
    std::vector<std::pair<int32_t, bool>> work;
    for (auto [t, push] : edges[start]) work.push_back({t, push});
    while (!work.empty()) {
      auto [r, pushed] = work.back();
      work.pop_back();
      if (static_cast<size_t>(r) == start && pushed)
        return invalid_argument("grammar: rule '" + g.rules[start].name +
                                "' is left-recursive (it can call itself before matching anything)");
      uint8_t& s = seen[2 * r + (pushed ? 1 : 0)];
      if (s) continue;
      s = 1;
      for (auto [t, push] : edges[r]) work.push_back({t, pushed || push});
    }
  }
  return Status();
}

}  // namespace ream::grammar
