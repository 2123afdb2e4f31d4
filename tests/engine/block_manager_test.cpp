// BlockManager: allocation, reference counts, prefix reuse and LRU eviction.
#include "sched/block_manager.h"

#include <gtest/gtest.h>

#include <random>

namespace ream {
namespace {

std::vector<int32_t> random_tokens(std::mt19937& rng, int n) {
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % 1000);
  return t;
}

// Registers the full blocks of `tokens` held in `table`, as the scheduler does.
void register_all(BlockManager& bm, const std::vector<int32_t>& tokens, const std::vector<int32_t>& table) {
  uint64_t parent = 0;
  for (size_t i = 0; (i + 1) * bm.block_size() <= tokens.size(); ++i) {
    const int32_t* t = tokens.data() + i * bm.block_size();
    uint64_t h = BlockManager::chain_hash(parent, t, bm.block_size());
    bm.register_full(table[i], h, parent, t);
    parent = h;
  }
}

TEST(BlockManager, AllocateAndReleaseCountBlocks) {
  BlockManager bm(10, 4, true);
  std::vector<int32_t> a;
  ASSERT_TRUE(bm.allocate(7, &a));
  EXPECT_EQ(bm.num_free(), 3);
  std::vector<int32_t> b;
  EXPECT_FALSE(bm.allocate(4, &b));
  EXPECT_TRUE(b.empty());
  bm.release(a);
  EXPECT_EQ(bm.num_free(), 10);
}

TEST(BlockManager, PrefixOfFullBlocksIsReused) {
  std::mt19937 rng(std::random_device{}());
  BlockManager bm(16, 4, true);
  auto tokens = random_tokens(rng, 14);  // 3 full blocks + 2 tokens
  std::vector<int32_t> table;
  ASSERT_TRUE(bm.allocate(4, &table));
  register_all(bm, tokens, table);
  bm.release(table);

  std::vector<uint64_t> hashes;
  auto hit = bm.acquire_prefix(tokens, 13, &hashes);
  ASSERT_EQ(hit.size(), 3u);
  EXPECT_EQ(hit, std::vector<int32_t>(table.begin(), table.begin() + 3));
  EXPECT_EQ(bm.num_used(), 3);

  // A prompt that diverges inside block 2 reuses only blocks 0 and 1.
  auto other = tokens;
  other[9] = (other[9] + 1) % 1000;
  std::vector<uint64_t> h2;
  auto hit2 = bm.acquire_prefix(other, 13, &h2);
  EXPECT_EQ(hit2, std::vector<int32_t>(table.begin(), table.begin() + 2));
}

TEST(BlockManager, MaxTokensLimitsTheMatch) {
  std::mt19937 rng(std::random_device{}());
  BlockManager bm(8, 4, true);
  auto tokens = random_tokens(rng, 8);
  std::vector<int32_t> table;
  ASSERT_TRUE(bm.allocate(2, &table));
  register_all(bm, tokens, table);
  std::vector<uint64_t> hashes;
  // At least one token must stay uncomputed, so an 8-token prompt reuses one block.
  EXPECT_EQ(bm.acquire_prefix(tokens, 7, &hashes).size(), 1u);
}

TEST(BlockManager, EvictsLeastRecentlyUsedCachedBlocks) {
  std::mt19937 rng(std::random_device{}());
  BlockManager bm(4, 2, true);
  auto first = random_tokens(rng, 4), second = random_tokens(rng, 4);
  std::vector<int32_t> t1, t2;
  ASSERT_TRUE(bm.allocate(2, &t1));
  register_all(bm, first, t1);
  bm.release(t1);
  ASSERT_TRUE(bm.allocate(2, &t2));  // takes the two never-used blocks
  register_all(bm, second, t2);
  bm.release(t2);
  // Both prefixes are still cached.
  std::vector<uint64_t> h;
  auto again = bm.acquire_prefix(first, 4, &h);
  EXPECT_EQ(again.size(), 2u);
  bm.release(again);
  // Now `second` is the least recently used; allocating 2 evicts it, not `first`.
  std::vector<int32_t> t3;
  ASSERT_TRUE(bm.allocate(2, &t3));
  h.clear();
  EXPECT_EQ(bm.acquire_prefix(second, 4, &h).size(), 0u);
  h.clear();
  EXPECT_EQ(bm.acquire_prefix(first, 4, &h).size(), 2u);
}

TEST(BlockManager, DisabledCachingNeverMatches) {
  std::mt19937 rng(std::random_device{}());
  BlockManager bm(4, 2, false);
  auto tokens = random_tokens(rng, 4);
  std::vector<int32_t> t;
  ASSERT_TRUE(bm.allocate(2, &t));
  register_all(bm, tokens, t);
  bm.release(t);
  std::vector<uint64_t> h;
  EXPECT_TRUE(bm.acquire_prefix(tokens, 4, &h).empty());
}

}  // namespace
}  // namespace ream
