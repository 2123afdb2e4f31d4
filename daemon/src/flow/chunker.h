// Splitting a long text into chunks that fit a token budget, cutting at
// paragraph, line, sentence or word boundaries, with optional overlap.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace ream::flow {

struct Chunk {
  int64_t start = 0;  // byte offsets into the text
  int64_t end = 0;
};

// Returns one chunk spanning the whole text when it fits `budget_tokens`, else
// consecutive chunks of at most `budget_tokens` tokens each (per count_tokens)
// that cover the text; each after the first starts about `overlap_tokens` before
// the previous one ended. Cuts never split a UTF-8 character.
std::vector<Chunk> chunk_text(std::string_view text, int64_t budget_tokens, int64_t overlap_tokens,
                              const std::function<int64_t(std::string_view)>& count_tokens);

}  // namespace ream::flow
