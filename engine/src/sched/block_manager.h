// BlockManager: the paged KV cache's bookkeeping, with automatic prefix caching.
//
// The KV cache is `num_blocks` blocks of `block_size` tokens. A full block is
// identified by a chained hash of its tokens and its parent block's hash, so equal
// prefixes map to equal blocks. Blocks are ref-counted; a block whose count drops to
// zero keeps its contents and hash on an LRU free list until it is needed for new
// tokens, so a later request with the same prefix can take it back.
//
// Not thread-safe: owned by the scheduler, used from the engine thread.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

namespace ream {

class BlockManager {
 public:
  BlockManager(int64_t num_blocks, int block_size, bool enable_prefix_caching);

  int block_size() const { return block_size_; }
  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  int64_t num_free() const { return static_cast<int64_t>(free_.size()); }
  int64_t num_used() const { return num_blocks() - num_free(); }

  // Hash of a full block given its parent's hash (0 for the first block).
  static uint64_t chain_hash(uint64_t parent, const int32_t* tokens, int n);

  // Longest run of cached full blocks that prefix `tokens`, at most `max_tokens` tokens
  // long. Takes a reference on each block returned; fills their hashes.
  std::vector<int32_t> acquire_prefix(const std::vector<int32_t>& tokens, int64_t max_tokens,
                                      std::vector<uint64_t>* hashes);
  // Takes `n` fresh blocks (evicting cached ones, LRU first). Returns false, taking
  // nothing, when fewer than n are free.
  bool allocate(int64_t n, std::vector<int32_t>* out);
  // Drops one reference to each block; blocks reaching zero go to the free list
  // (most recently used last, so they are evicted last; a sequence's tail goes first).
  void release(const std::vector<int32_t>& blocks);
  // Records that `block` now holds a full block with hash `hash` (first writer wins).
  void register_full(int32_t block, uint64_t hash, uint64_t parent, const int32_t* tokens);

 private:
  struct Block {
    int32_t ref_count = 0;
    uint64_t hash = 0;      // 0: not a cached full block
    uint64_t parent = 0;
    std::vector<int32_t> tokens;  // the block's tokens, compared on lookup (no false hits)
    std::list<int32_t>::iterator free_it;
    bool on_free_list = false;
  };
  void take_from_free(int32_t id);

  int block_size_;
  bool prefix_caching_;
  std::vector<Block> blocks_;
  std::list<int32_t> free_;  // LRU order: front is evicted first
  std::unordered_map<uint64_t, int32_t> cached_;  // hash -> block
};

}  // namespace ream
