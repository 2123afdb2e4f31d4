// BlockManager: reference counts, an LRU free list and a hash -> block map.
#include "sched/block_manager.h"

#include <algorithm>
#include <cstring>

#include "rng.h"

namespace ream {

BlockManager::BlockManager(int64_t num_blocks, int block_size, bool enable_prefix_caching)
    : block_size_(block_size), prefix_caching_(enable_prefix_caching), blocks_(num_blocks) {
  for (int32_t i = 0; i < num_blocks; ++i) {
    blocks_[i].free_it = free_.insert(free_.end(), i);
    blocks_[i].on_free_list = true;
  }
}

uint64_t BlockManager::chain_hash(uint64_t parent, const int32_t* tokens, int n) {
  uint64_t h = mix64(parent ^ 0x5EA1u);
  for (int i = 0; i < n; ++i) h = mix64(h ^ static_cast<uint32_t>(tokens[i]));
  return h == 0 ? 1 : h;  // 0 means "no hash"
}

void BlockManager::take_from_free(int32_t id) {
  Block& b = blocks_[id];
  if (b.on_free_list) {
    free_.erase(b.free_it);
    b.on_free_list = false;
  }
}

std::vector<int32_t> BlockManager::acquire_prefix(const std::vector<int32_t>& tokens,
                                                  int64_t max_tokens, std::vector<uint64_t>* hashes) {
  std::vector<int32_t> out;
  if (!prefix_caching_) return out;
  uint64_t parent = 0;
  const int64_t limit = std::min<int64_t>(max_tokens, static_cast<int64_t>(tokens.size()));
  for (int64_t start = 0; start + block_size_ <= limit; start += block_size_) {
    const int32_t* t = tokens.data() + start;
    const uint64_t h = chain_hash(parent, t, block_size_);
    auto it = cached_.find(h);
    if (it == cached_.end()) break;
    Block& b = blocks_[it->second];
    if (b.parent != parent || std::memcmp(b.tokens.data(), t, block_size_ * sizeof(int32_t)) != 0) break;
    take_from_free(it->second);
    ++b.ref_count;
    out.push_back(it->second);
    hashes->push_back(h);
    parent = h;
  }
  return out;
}

bool BlockManager::allocate(int64_t n, std::vector<int32_t>* out) {
  if (n > num_free()) return false;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = free_.front();
    take_from_free(id);
    Block& b = blocks_[id];
    if (b.hash != 0) {  // evict its cached identity
      auto it = cached_.find(b.hash);
      if (it != cached_.end() && it->second == id) cached_.erase(it);
      b.hash = 0;
      b.tokens.clear();
    }
    b.ref_count = 1;
    out->push_back(id);
  }
  return true;
}

void BlockManager::release(const std::vector<int32_t>& blocks) {
  // Release tail first so that, among this sequence's blocks, later ones are evicted first.
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    Block& b = blocks_[*it];
    if (--b.ref_count > 0) continue;
    if (b.hash == 0) {
      b.free_it = free_.insert(free_.begin(), *it);  // uncached: reuse first
    } else {
      b.free_it = free_.insert(free_.end(), *it);
    }
    b.on_free_list = true;
  }
}

void BlockManager::register_full(int32_t block, uint64_t hash, uint64_t parent, const int32_t* tokens) {
  if (!prefix_caching_) return;
  Block& b = blocks_[block];
  if (b.hash != 0) return;
  if (cached_.count(hash)) return;  // another block already holds this content
  b.hash = hash;
  b.parent = parent;
  b.tokens.assign(tokens, tokens + block_size_);
  cached_.emplace(hash, block);
}

}  // namespace ream
