// glob_match (wildmatch with "**") and IgnoreRules.
//
// glob_match runs the pattern as an automaton whose states are positions in the
// pattern, all live states followed at once, one path character at a time: time
// O(pattern x path), memory O(pattern), no recursion. (A backtracking matcher, as
// here before, takes exponential time on "*a*a*a...b" or "**/a/**/a/.../b" against a
// long path that does not match; fuzz_gitignore found it.)
#include "ingest/gitignore.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace ream::ingest {
namespace {

// Matches a bracket class at p (p[0] == '['); advances p past it. Returns -1
// when the class is unterminated (then '[' is literal).
int match_class(const char*& p, const char* pe, char c) {
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

// The automaton of one pattern. State 2p (0 <= p <= n) means "the pattern from p on
// matches the rest of the path"; 2n accepts at the path's end. A run of '*' starting
// at p goes on, without consuming, to what follows it, and loops on what it may
// consume:
//   "*" (or "**" not a whole segment)  any character but '/'; then the run's end
//   "/**" at the end                   anything; accepts at the end
//   "**/" (a whole segment)            zero or more folders: the state after the '/'
//                                      right away, and after each '/' that the run's
//                                      own loop state, 2p + 1, consumes
// Each step visits only the span of states that are on (one for a literal pattern).
class Glob {
 public:
  explicit Glob(std::string_view pattern) : pat_(pattern), n_(pattern.size()) {}

  bool match(std::string_view path) const {
    // Short patterns (nearly all) keep their states on the stack.
    constexpr size_t kInline = 256;
    const size_t size = 2 * (n_ + 1);
    if (size <= kInline) {
      unsigned char on[kInline], next[kInline];
      std::fill_n(on, size, 0);
      std::fill_n(next, size, 0);
      return run(path, on, next);
    }
    std::vector<unsigned char> on(size, 0), next(size, 0);
    return run(path, on.data(), next.data());
  }

 private:
  struct Span {  // states that may be on: [lo, hi], empty when lo > hi
    size_t lo = SIZE_MAX;
    size_t hi = 0;
  };

  // on and next hold 2 * (n + 1) states each, all off.
  bool run(std::string_view path, unsigned char* on, unsigned char* next) const {
    Span span;
    mark(on, span, 0);
    close(on, span);
    for (const char c : path) {
      Span ahead;
      for (size_t i = span.lo; i <= span.hi; ++i) {
        if (!on[i]) continue;
        on[i] = 0;
        if (i == 2 * n_) continue;  // the pattern's end consumes nothing
        if (i % 2 == 0) {
          if (const size_t to = step(i / 2, c); to <= n_) mark(next, ahead, 2 * to);
        } else {
          mark(next, ahead, i);  // "**/": inside the folders it skips
          if (c == '/') mark(next, ahead, 2 * (run_end(i / 2) + 1));
        }
      }
      if (ahead.lo > ahead.hi) return false;
      close(next, ahead);
      std::swap(on, next);
      span = ahead;
    }
    return on[2 * n_] != 0;
  }
  static void mark(unsigned char* states, Span& span, size_t i) {
    states[i] = 1;
    span.lo = std::min(span.lo, i);
    span.hi = std::max(span.hi, i);
  }
  // Where the run of '*' at p ends (p itself when pat_[p] is not '*').
  size_t run_end(size_t p) const {
    while (p < n_ && pat_[p] == '*') ++p;
    return p;
  }
  // The run of '*' from p to q is "**" as a whole segment: two or more stars, nothing
  // else between the '/'s around it. Followed by a '/' (skipped folders) or the end.
  bool double_star(size_t p, size_t q) const {
    return q - p >= 2 && (p == 0 || pat_[p - 1] == '/') && (q == n_ || pat_[q] == '/');
  }
  // Adds the states reached without consuming: from a run of '*' at p, what follows
  // the run (after its '/' for "**/", whose loop state starts too). They all lie after
  // p, so one pass in order reaches them all.
  void close(unsigned char* states, Span& span) const {
    for (size_t i = span.lo; i <= span.hi; ++i) {  // span.hi grows as states are added
      const size_t p = i / 2;
      if (i % 2 != 0 || !states[i] || p == n_ || pat_[p] != '*') continue;
      const size_t q = run_end(p);
      if (double_star(p, q) && q < n_) {
        mark(states, span, 2 * (q + 1));
        mark(states, span, 2 * p + 1);
      } else {
        mark(states, span, 2 * q);
      }
    }
  }
  // The position that p (< n) reaches by consuming c; more than n when none.
  size_t step(size_t p, char c) const {
    const char k = pat_[p];
    const size_t none = n_ + 1;
    if (k == '*') {
      const size_t q = run_end(p);
      if (!double_star(p, q)) return c != '/' ? p : none;
      return q == n_ ? p : none;  // "**" at the end: anything; "**/" loops in 2p + 1
    }
    if (k == '?') return c != '/' ? p + 1 : none;
    if (k == '[') {
      if (c == '/') return none;
      const char* q = pat_.data() + p;
      const int r = match_class(q, pat_.data() + n_, c);
      if (r == 1) return static_cast<size_t>(q - pat_.data());
      return r == -1 && c == '[' ? p + 1 : none;  // unterminated: literal '['
    }
    if (k == '\\' && p + 1 < n_) return c == pat_[p + 1] ? p + 2 : none;
    return c == k ? p + 1 : none;
  }

  std::string_view pat_;
  size_t n_;
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) { return Glob(pattern).match(path); }

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
