// Token-budget chunking at structural boundaries.
#include "flow/chunker.h"

#include <algorithm>
#include <string>

namespace ream::flow {

namespace {

bool is_continuation(std::string_view t, size_t i) {
  return i < t.size() && (static_cast<unsigned char>(t[i]) & 0xC0) == 0x80;
}

// The best cut at or before `end` and after `floor`: paragraph, line, sentence,
// then word boundary; else `end` moved back to a character boundary.
size_t snap_back(std::string_view t, size_t floor, size_t end) {
  if (end >= t.size()) return t.size();
  std::string_view window = t.substr(floor, end - floor);
  for (std::string_view sep : {"\n\n", "\n", ". ", " "}) {
    size_t at = window.rfind(sep);
    if (at != std::string_view::npos && at > window.size() / 2) return floor + at + sep.size();
  }
  while (end > floor && is_continuation(t, end)) --end;
  return end;
}

// The next word start at or after `pos`.
size_t snap_forward(std::string_view t, size_t pos, size_t limit) {
  size_t p = pos;
  while (p < limit && t[p] != ' ' && t[p] != '\n') ++p;
  while (p < limit && (t[p] == ' ' || t[p] == '\n')) ++p;
  if (p >= limit) {
    p = pos;
    while (p < limit && is_continuation(t, p)) ++p;
  }
  return p;
}

}  // namespace

std::vector<Chunk> chunk_text(std::string_view text, int64_t budget, int64_t overlap,
                              const std::function<int64_t(std::string_view)>& count_tokens) {
  const size_t n = text.size();
  if (n == 0) return {{0, 0}};
  int64_t total = count_tokens(text);
  if (budget <= 0 || total <= budget) return {{0, static_cast<int64_t>(n)}};
  double bytes_per_token = static_cast<double>(n) / static_cast<double>(std::max<int64_t>(total, 1));
  size_t target = std::max<size_t>(16, static_cast<size_t>(budget * bytes_per_token * 0.9));
  size_t overlap_bytes = static_cast<size_t>(std::max<int64_t>(overlap, 0) * bytes_per_token);
  std::vector<Chunk> out;
  size_t pos = 0;
  while (pos < n) {
    size_t want = target;
    size_t end = n;
    for (int tries = 0; tries < 30; ++tries) {
      end = snap_back(text, pos, std::min(n, pos + want));
      if (end <= pos) end = std::min(n, pos + std::max<size_t>(want, 1));
      if (count_tokens(text.substr(pos, end - pos)) <= budget || want <= 16) break;
      want = want * 8 / 10;
    }
    out.push_back({static_cast<int64_t>(pos), static_cast<int64_t>(end)});
    if (end >= n) break;
    size_t next = end > overlap_bytes ? end - overlap_bytes : 0;
    if (next <= pos) next = end;  // overlap must not stall progress
    pos = next == end ? end : snap_forward(text, next, end);
  }
  return out;
}

}  // namespace ream::flow
