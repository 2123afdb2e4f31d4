// Fitting a document into a context window: a chunk plan that cuts at the
// strongest structural boundary available (file or page > heading/section/clause
// > paragraph > line > sentence > word), each chunk within the token budget,
// consecutive chunks overlapping by about `overlap_tokens`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/document.h"
#include "ream/engine/status.h"

namespace ream::ingest {

struct Chunk {
  int64_t text_begin = 0;  // byte range in Document::text (UTF-8 character boundaries)
  int64_t text_end = 0;
  int64_t tokens = 0;      // the counter's count of exactly this range
  std::string heading;     // the nearest heading/file line at or before text_begin, for display
};

struct ChunkPlan {
  std::vector<Chunk> chunks;  // in text order, covering the whole text
  int64_t total_tokens = 0;   // the counter's count of the whole text
  bool fits = false;          // true when one chunk holds the whole text
};

// Plans chunks of `doc.text` of at most `budget_tokens` tokens each (per
// `count_tokens`; the count of every chunk is checked), one chunk when the whole
// text fits. Each cut is at the strongest boundary in the second half of the
// window (or one two levels stronger in its second third; see line_strength).
// Each chunk after the first starts about `overlap_tokens` before the previous
// one ended, at a line start when one is near; overlap is capped at a third of
// the budget. Fails on a budget < 1 or a missing counter. Counting work is linear
// in the text: each line is counted once and each chunk once more to check it.
Result<ChunkPlan> plan_chunks(const Document& doc, int64_t budget_tokens, int64_t overlap_tokens,
                              const TokenCounter& count_tokens);

// The same over bare text; `hard_boundaries` are offsets of extra strongest
// boundaries (file or page starts).
Result<ChunkPlan> plan_text_chunks(std::string_view text, int64_t budget_tokens, int64_t overlap_tokens,
                                   const TokenCounter& count_tokens,
                                   const std::vector<int64_t>& hard_boundaries = {});

// Strength of a line as a cut point before it:
//   6 file header ("==> path (language) <==") (PDF page starts, from Document::parts, also 6)
//   5 major division: ARTICLE, PART, CHAPTER, ITEM, SCHEDULE, EXHIBIT, APPENDIX, ANNEX, "# "/"## "
//   4 section: "Section 2", a top-level clause "12." / "3)", an all-caps heading, "###"...
//   3 sub-clause "12.3"
//   2 paragraph start (after a blank line)
//   1 any other line
// (0 is a sentence or word cut inside a long line.) `after_blank` says whether a
// blank line precedes the line.
int line_strength(std::string_view line, bool after_blank);

}  // namespace ream::ingest
