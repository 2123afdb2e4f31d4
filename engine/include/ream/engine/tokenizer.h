// Tokenizer: byte-level BPE loaded from a Hugging Face tokenizer.json (Qwen2/Qwen3 family).
//
// encode() reproduces HF `tokenizers`: added tokens are matched first (longest match,
// special ones only when `parse_special`), the remaining text is NFC-normalised, split by
// the Qwen2 pre-tokenizer pattern, mapped to byte-level symbols and merged by BPE rank.
// decode() maps ids back to bytes; StreamDecoder yields text incrementally and never
// emits a broken UTF-8 character.
//
// Thread-safety: a loaded Tokenizer is immutable; encode/decode may be called from
// many threads at once. StreamDecoder is per-stream and not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ream/engine/status.h"

namespace ream {

using TokenId = int32_t;

class Tokenizer {
 public:
  // Loads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json`
  // (eos/pad token names, chat template). Errors name the file and what was wrong.
  static Result<std::shared_ptr<const Tokenizer>> load(const std::string& dir);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Text -> ids. With parse_special=false, special added tokens in `text` are treated
  // as ordinary text (as HF does with split_special_tokens=True).
  std::vector<TokenId> encode(std::string_view text, bool parse_special = true) const;
  // Special tokens are parsed everywhere but inside `literal_ranges` (sorted, disjoint
  // byte ranges [begin, end) of `text`), where they are ordinary text. Text in and out
  // of the ranges is otherwise tokenized as one string.
  std::vector<TokenId> encode(std::string_view text,
                              const std::vector<std::pair<size_t, size_t>>& literal_ranges) const;

  // Ids -> UTF-8 text. Invalid UTF-8 sequences are replaced with U+FFFD
  // (HF's errors="replace"). With skip_special, special added tokens are dropped.
  std::string decode(const std::vector<TokenId>& ids, bool skip_special = false) const;

  // The raw bytes a single token stands for (may be a partial UTF-8 character).
  // Empty for ids out of range.
  std::string token_bytes(TokenId id) const;

  // The string form of an id as tokenizer.json spells it (HF convert_ids_to_tokens): the
  // byte-level symbols of a vocabulary token ("Ġhello"), an added token's content. Empty
  // for ids out of range.
  std::string id_to_token(TokenId id) const;
  // Id of a vocabulary or added token given its string form ("<|im_end|>"), or -1.
  TokenId token_to_id(std::string_view token) const;
  // Total number of ids, added tokens included (the largest id + 1).
  int32_t vocab_size() const;
  bool is_special(TokenId id) const;

  // From tokenizer_config.json; -1 when absent.
  TokenId eos_token_id() const;
  TokenId pad_token_id() const;
  // The Jinja chat template string from tokenizer_config.json ("" when absent).
  const std::string& chat_template() const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of ids into text pieces. A UTF-8 character split across tokens is
// held back until complete; flush() returns what remains (broken bytes as U+FFFD).
class StreamDecoder {
 public:
  explicit StreamDecoder(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special = false);
  // Returns the text that became complete with this token (often "", never broken).
  std::string push(TokenId id);
  std::string flush();

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  bool skip_special_;
  std::string pending_;  // bytes of an incomplete UTF-8 character
};

}  // namespace ream
