// glob_match (wildmatch with "**") and IgnoreRules.
#include "ingest/gitignore.h"

namespace ream::ingest {
namespace {

struct Matcher {
  const char* pat_begin;

  // Matches a bracket class at p (p[0] == '['); advances p past it. Returns -1
  // when the class is unterminated (then '[' is literal).
  int match_class(const char*& p, const char* pe, char c) const {
    const char* q = p + 1;
    bool negate = false;
    if (q < pe && (*q == '!' || *q == '^')) { negate = true; ++q; }
    bool hit = false;
    bool first = true;
    while (q < pe && (*q != ']' || first)) {
      first = false;
      char lo = *q;
      if (lo == '\\' && q + 1 < pe) lo = *++q;
      if (q + 2 < pe && q[1] == '-' && q[2] != ']') {
        char hi = q[2];
        if (hi == '\\' && q + 3 < pe) { hi = q[3]; ++q; }
        if (c >= lo && c <= hi) hit = true;
        q += 3;
      } else {
        if (c == lo) hit = true;
        ++q;
      }
    }
    if (q >= pe) return -1;
    p = q + 1;
    return hit != negate ? 1 : 0;
  }

  bool match(const char* p, const char* pe, const char* s, const char* se) const {
    while (p < pe) {
      const char c = *p;
      if (c == '*') {
        const char* q = p;
        while (q < pe && *q == '*') ++q;
        const bool seg_start = p == pat_begin || p[-1] == '/';
        const bool seg_end = q == pe || *q == '/';
        if (q - p >= 2 && seg_start && seg_end) {
          if (q == pe) return true;             // "a/**": everything below
          ++q;                                  // "**/": zero or more folders
          for (const char* t = s;;) {
            if (match(q, pe, t, se)) return true;
            while (t < se && *t != '/') ++t;
            if (t == se) return false;
            ++t;
          }
        }
        if (q == pe) {
          for (const char* t = s; t < se; ++t)
            if (*t == '/') return false;
          return true;
        }
        for (const char* t = s; t <= se; ++t) {
          if (match(q, pe, t, se)) return true;
          if (t < se && *t == '/') return false;
        }
        return false;
      }
      if (s == se) return false;
      if (c == '?') {
        if (*s == '/') return false;
      } else if (c == '[') {
        const char* q = p;
        const int r = *s == '/' ? 0 : match_class(q, pe, *s);
        if (r == 0) return false;
        if (r == 1) { p = q; ++s; continue; }
        if (*s != '[') return false;  // unterminated: literal '['
      } else if (c == '\\' && p + 1 < pe) {
        ++p;
        if (*p != *s) return false;
      } else if (c != *s) {
        return false;
      }
      ++p;
      ++s;
    }
    return s == se;
  }
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  Matcher m{pattern.data()};
  return m.match(pattern.data(), pattern.data() + pattern.size(), path.data(), path.data() + path.size());
}

void IgnoreRules::add_file(const std::string& base, std::string_view content) {
  size_t i = 0;
  while (i <= content.size()) {
    size_t e = content.find('\n', i);
    if (e == std::string_view::npos) e = content.size();
    add_line(base, content.substr(i, e - i));
    i = e + 1;
  }
}

void IgnoreRules::add_line(const std::string& base, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // Trailing spaces are dropped unless escaped with a backslash.
  while (!line.empty() && line.back() == ' ' && !(line.size() >= 2 && line[line.size() - 2] == '\\'))
    line.remove_suffix(1);
  if (line.empty() || line[0] == '#') return;
  Rule r;
  r.base = base;
  if (line[0] == '!') {
    r.negate = true;
    line.remove_prefix(1);
  } else if (line[0] == '\\' && line.size() > 1 && (line[1] == '!' || line[1] == '#')) {
    line.remove_prefix(1);
  }
  if (!line.empty() && line.back() == '/') {
    r.dir_only = true;
    line.remove_suffix(1);
  }
  if (line.empty()) return;
  r.anchored = line.find('/') != std::string_view::npos;
  if (line[0] == '/') line.remove_prefix(1);
  r.pattern = std::string(line);
  rules_.push_back(std::move(r));
}

bool IgnoreRules::ignored(std::string_view path, bool is_dir) const {
  const size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (size_t k = rules_.size(); k-- > 0;) {  // the last matching rule decides
    const Rule& r = rules_[k];
    if (r.dir_only && !is_dir) continue;
    std::string_view rel = path;
    if (!r.base.empty()) {
      if (path.size() <= r.base.size() || path.compare(0, r.base.size(), r.base) != 0 ||
          path[r.base.size()] != '/')
        continue;
      rel = path.substr(r.base.size() + 1);
    }
    if (r.anchored ? glob_match(r.pattern, rel) : glob_match(r.pattern, name)) return !r.negate;
  }
  return false;
}

}  // namespace ream::ingest
