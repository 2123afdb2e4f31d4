// Chunk planning: boundaries from line structure, token counts per piece (prefix
// sums), a greedy cut at the strongest boundary in the second half of each
// window, a checked count per chunk, overlap by whole pieces.
#include "ingest/chunking.h"

#include <algorithm>
#include <cctype>

namespace ream::ingest {
namespace {

struct Boundary {
  int64_t offset;
  int strength;  // see line_strength(); 0 is a sentence/word cut
};

bool starts_with_word(std::string_view s, std::string_view w) {
  if (s.size() < w.size() || s.substr(0, w.size()) != w) return false;
  return s.size() == w.size() || !std::isalpha(static_cast<unsigned char>(s[w.size()]));
}

bool is_upper_heading(std::string_view s) {
  if (s.size() > 80) return false;
  int letters = 0;
  for (char c : s) {
    if (std::islower(static_cast<unsigned char>(c))) return false;
    if (std::isupper(static_cast<unsigned char>(c))) ++letters;
  }
  return letters >= 3;
}

// Depth of a numbered clause at the start of a line: 1 for "12." / "2)", 2 for
// "12.3" or deeper ("1.2.3"); 0 when the line does not start with one.
int clause_depth(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || i > 3 || i >= s.size()) return 0;
  if (s[i] == ')') return 1;
  if (s[i] != '.') return 0;
  if (i + 1 >= s.size() || s[i + 1] == ' ' || s[i + 1] == '\t') return 1;
  return std::isdigit(static_cast<unsigned char>(s[i + 1])) ? 2 : 0;
}

// Offset of a cut at most `max_len` bytes into s, at a sentence end, else a
// space, else a UTF-8 character boundary; never 0 unless s is empty.
size_t soft_cut(std::string_view s, size_t max_len) {
  if (max_len >= s.size()) return s.size();
  max_len = std::max<size_t>(max_len, 1);
  const size_t floor = max_len / 2;
  for (size_t i = max_len; i > floor; --i)
    if ((s[i - 1] == '.' || s[i - 1] == ';' || s[i - 1] == '?' || s[i - 1] == '!') && s[i] == ' ') return i + 1;
  for (size_t i = max_len; i > floor; --i)
    if (s[i] == ' ' || s[i] == '\t') return i + 1;
  size_t i = max_len;
  while (i > 1 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

std::vector<Boundary> line_boundaries(std::string_view text, const std::vector<int64_t>& hard) {
  std::vector<Boundary> b;
  bool prev_blank = false;
  for (size_t ls = 0; ls < text.size();) {
    size_t le = text.find('\n', ls);
    if (le == std::string_view::npos) le = text.size();
    const std::string_view line = text.substr(ls, le - ls);
    const bool blank = line.find_first_not_of(" \t\r\f") == std::string_view::npos;
    if (ls > 0 && !blank) b.push_back({static_cast<int64_t>(ls), line_strength(line, prev_blank)});
    prev_blank = blank;
    ls = le + 1;
  }
  for (int64_t h : hard) {
    if (h <= 0 || h >= static_cast<int64_t>(text.size())) continue;
    auto it = std::lower_bound(b.begin(), b.end(), h, [](const Boundary& x, int64_t o) { return x.offset < o; });
    if (it != b.end() && it->offset == h) it->strength = 6;
    else b.insert(it, {h, 6});
  }
  return b;
}

std::string heading_at(std::string_view text, const std::vector<Boundary>& b, int64_t offset) {
  auto it = std::upper_bound(b.begin(), b.end(), offset, [](int64_t o, const Boundary& x) { return o < x.offset; });
  int64_t at = 0;  // the first line when no heading comes before `offset`
  while (it != b.begin()) {
    --it;
    if (it->strength >= 4) { at = it->offset; break; }
  }
  std::string_view line = text.substr(static_cast<size_t>(at));
  line = line.substr(0, std::min(line.find('\n'), size_t{100}));
  while (!line.empty() && (line.back() & 0xC0) == 0x80) line.remove_suffix(1);  // whole characters
  if (!line.empty() && static_cast<unsigned char>(line.back()) >= 0xC0) line.remove_suffix(1);
  return std::string(line);
}

}  // namespace

int line_strength(std::string_view line, bool after_blank) {
  const size_t lead = line.find_first_not_of(" \t");
  if (lead == std::string_view::npos) return 1;
  const std::string_view s = line.substr(lead);
  if (s.substr(0, 4) == "==> " && s.find(" <==") != std::string_view::npos) return 6;
  if (s[0] == '#') return s.substr(0, 3) == "###" ? 4 : 5;
  const bool short_line = s.size() < 100;
  for (std::string_view w : {"ARTICLE", "Article", "ITEM", "Item", "PART", "Part", "SCHEDULE", "Schedule",
                             "EXHIBIT", "Exhibit", "APPENDIX", "Appendix", "ANNEX", "Annex", "CHAPTER", "Chapter"})
    if (starts_with_word(s, w) && (after_blank || short_line)) return 5;
  for (std::string_view w : {"SECTION", "Section", "\xC2\xA7"})
    if (starts_with_word(s, w) && (after_blank || short_line)) return 4;
  if (const int depth = clause_depth(s)) return depth == 1 ? 4 : 3;
  if (after_blank && is_upper_heading(s)) return 4;
  return after_blank ? 2 : 1;
}

namespace {

// Cut points and token prefix sums: pieces between line boundaries, lines longer
// than `piece_max` tokens split at sentences/words (strength 0).
struct Pieces {
  std::vector<Boundary> cuts;   // cuts.front() is 0, cuts.back() the text's end
  std::vector<int64_t> prefix;  // prefix[k]: tokens before cuts[k]
};

Pieces make_pieces(std::string_view text, const std::vector<Boundary>& lines, int64_t piece_max,
                   const TokenCounter& count) {
  Pieces p{{{0, 6}}, {0}};
  const auto n = static_cast<int64_t>(text.size());
  for (size_t k = 0; k <= lines.size(); ++k) {
    const int64_t begin = p.cuts.back().offset;
    const int64_t end = k < lines.size() ? lines[k].offset : n;
    std::string_view piece = text.substr(static_cast<size_t>(begin), static_cast<size_t>(end - begin));
    int64_t t = count(piece);
    while (t > piece_max && piece.size() > 1) {
      const auto bytes = static_cast<size_t>(static_cast<double>(piece.size()) * piece_max / t * 0.9);
      const size_t cut = soft_cut(piece, bytes);
      const int64_t head = count(piece.substr(0, cut));
      p.prefix.push_back(p.prefix.back() + head);
      p.cuts.push_back({p.cuts.back().offset + static_cast<int64_t>(cut), 0});
      piece.remove_prefix(cut);
      t = std::max<int64_t>(1, t - head);  // estimate: recounting the rest would be quadratic
    }
    p.prefix.push_back(p.prefix.back() + t);
    p.cuts.push_back(k < lines.size() ? lines[k] : Boundary{n, 6});
  }
  return p;
}

// The cut ending a chunk that starts at s, whose window ends at e; new content
// starts at `fresh`. The strongest boundary in the second half of the window's
// new content (latest on ties); one at least two levels stronger (an article
// rather than a sub-clause or paragraph) may be taken from its second third.
size_t choose_cut(const Pieces& p, size_t s, size_t e, size_t fresh) {
  size_t c = e;
  const size_t from = std::max(s, fresh);
  const int64_t w = p.prefix[e] - p.prefix[from];
  for (size_t k = e; k > from && p.prefix[k] - p.prefix[from] >= w / 2; --k)
    if (p.cuts[k].strength > p.cuts[c].strength) c = k;
  size_t strong = c;
  for (size_t k = c; k > from && p.prefix[k] - p.prefix[from] > w / 3; --k)
    if (p.cuts[k].strength >= p.cuts[c].strength + 2 && p.cuts[k].strength > p.cuts[strong].strength) strong = k;
  return strong;
}

// Where the chunk after [s, c) starts: about `overlap` tokens before c, at a line
// start when one is near (not in the middle of a sentence); always after s.
size_t overlap_start(const Pieces& p, size_t s, size_t c, int64_t overlap, int64_t piece_max) {
  size_t next = c;
  while (next > s + 1 && p.prefix[c] - p.prefix[next] < overlap) --next;
  if (overlap <= 0) return next;
  size_t full = 0, half = 0;  // line starts giving >= overlap, >= overlap / 2
  for (size_t k = c - 1; k > s && p.prefix[c] - p.prefix[k] <= 2 * overlap + piece_max; --k) {
    if (p.cuts[k].strength < 1) continue;
    if (p.prefix[c] - p.prefix[k] >= overlap) { full = k; break; }
    if (p.prefix[c] - p.prefix[k] >= overlap / 2) half = k;
  }
  return full ? full : half ? half : next;
}

}  // namespace

Result<ChunkPlan> plan_text_chunks(std::string_view text, int64_t budget, int64_t overlap,
                                   const TokenCounter& count, const std::vector<int64_t>& hard) {
  if (budget < 1) return invalid_argument("chunk budget must be at least 1 token, got " + std::to_string(budget));
  if (!count) return invalid_argument("chunk planning needs a token counter");
  ChunkPlan plan;
  plan.total_tokens = count(text);
  if (plan.total_tokens <= budget) {
    plan.fits = true;
    plan.chunks.push_back(Chunk{0, static_cast<int64_t>(text.size()), plan.total_tokens, ""});
    return plan;
  }
  overlap = std::clamp<int64_t>(overlap, 0, budget / 3);
  const int64_t piece_max = std::max<int64_t>(1, budget / 4);
  const std::vector<Boundary> lines = line_boundaries(text, hard);
  const Pieces p = make_pieces(text, lines, piece_max, count);
  const size_t m = p.cuts.size() - 1;
  auto range = [&](size_t a, size_t b) {
    return text.substr(static_cast<size_t>(p.cuts[a].offset), static_cast<size_t>(p.cuts[b].offset - p.cuts[a].offset));
  };
  size_t s = 0, fresh = 0;  // chunk start; where the previous chunk ended
  while (s < m) {
    // Furthest cut e with the pieces' sum within budget.
    size_t e = static_cast<size_t>(std::upper_bound(p.prefix.begin() + static_cast<std::ptrdiff_t>(s), p.prefix.end(),
                                                    p.prefix[s] + budget) - p.prefix.begin()) - 1;
    e = std::max(e, s + 1);
    size_t c = e < m ? choose_cut(p, s, e, fresh) : e;
    int64_t tokens = count(range(s, c));
    while (tokens > budget && c > s + 1) tokens = count(range(s, --c));  // pieces did not add up exactly
    plan.chunks.push_back(Chunk{p.cuts[s].offset, p.cuts[c].offset, tokens, heading_at(text, lines, p.cuts[s].offset)});
    if (c >= m) break;
    fresh = c;
    s = overlap_start(p, s, c, overlap, piece_max);
  }
  return plan;
}

Result<ChunkPlan> plan_chunks(const Document& doc, int64_t budget, int64_t overlap, const TokenCounter& count) {
  std::vector<int64_t> hard;
  for (const Part& p : doc.parts) hard.push_back(p.text_begin);
  return plan_text_chunks(doc.text, budget, overlap, count, hard);
}

}  // namespace ream::ingest
