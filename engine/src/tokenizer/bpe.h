// Byte-level BPE model: vocabulary, merge ranks and the per-word merge loop of HF
// `tokenizers` (models::bpe::Word::merge_all): a min-heap of (rank, position) over
// adjacent symbol pairs in a linked list, stale entries skipped when popped.
// Words (pre-tokenized pieces, as raw bytes) are cached; the cache is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ream/engine/status.h"
#include "ream/engine/tokenizer.h"

namespace ream::tok {

class BpeModel {
 public:
  // `vocab` maps byte-level token strings ("Ġthe") to ids; `merges` are pairs of
  // byte-level strings in rank order. Fails when a merge names an unknown token.
  static Result<std::unique_ptr<BpeModel>> build(
      std::unordered_map<std::string, TokenId> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges);

  // Raw bytes of one pre-tokenized piece -> ids, appended to `out`.
  void encode_word(std::string_view bytes, std::vector<TokenId>& out) const;

  // Byte-level string of an id ("" when unknown) and the raw bytes it stands for.
  const std::string* token_string(TokenId id) const;
  const std::string* token_raw_bytes(TokenId id) const;
  TokenId token_to_id(std::string_view token) const;
  // The largest id + 1.
  int32_t id_limit() const { return static_cast<int32_t>(id_to_token_.size()); }

 private:
  struct MergeTarget {
    int32_t rank;
    TokenId id;
  };
  BpeModel() = default;
  static uint64_t pair_key(TokenId a, TokenId b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void merge_word(std::string_view bytes, std::vector<TokenId>& out) const;

  std::unordered_map<std::string, TokenId> vocab_;
  std::vector<std::string> id_to_token_;  // byte-level strings; "" for holes
  std::vector<std::string> id_to_bytes_;  // raw bytes
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, MergeTarget> merges_;
  TokenId byte_ids_[256];  // id of each single byte, -1 when missing

  static constexpr size_t kCacheCapacity = 200000;
  static constexpr size_t kMaxCachedWordBytes = 256;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<TokenId>> cache_;
};

}  // namespace ream::tok
