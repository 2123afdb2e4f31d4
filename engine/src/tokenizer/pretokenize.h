// The Qwen2 pre-tokenizer: splits normalised text into pieces exactly as HF's
// Split(pattern, behavior=Isolated) does with the pattern
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// The matcher is written by hand (std::regex has no \p{L}); it follows backtracking
// regex semantics: at each position the first alternative that matches wins, each
// quantifier is greedy and gives back characters only where the rest needs them.
#pragma once

#include <string_view>
#include <vector>

namespace ream::tok {

// Splits valid UTF-8 `text` into consecutive pieces whose concatenation is `text`.
// The views point into `text`.
std::vector<std::string_view> pretokenize_qwen2(std::string_view text);

}  // namespace ream::tok
