// Paged flash attention against paged_attention_cpu: several sequences of different
// lengths in one launch (decode tokens, prefill chunks over earlier context, a whole
// prompt), block tables drawn from a shuffled pool over a cache full of noise, both
// block shapes (decode: 16 rows, prefill: 128 rows), fold and split mode, head_dim 128
// (Qwen3) and the smaller ones the kernels are built for, the Hopper prefill kernel
// (wgmma) where the device and block size allow. Batch invariance: every variant, and the
// same query rows cut into other chunks, give bitwise-identical outputs.
#include <algorithm>
#include <numeric>
#include <string>
#include <utility>

#include "cpu/ops_cpu.h"
#include "cuda/attention.cuh"
#include "cuda_test_util.h"

namespace ream::test {
namespace {

using cuda::AttnSeq;
using cuda::AttnWork;
using cuda::bf16;

struct SeqSpec {
  int32_t query_len, context_len;
};

struct Problem {
  int64_t n_heads, n_kv_heads, head_dim = 128, block_size, num_blocks;
  std::vector<SeqSpec> seqs;
  std::vector<std::vector<int32_t>> tables;
  std::vector<int32_t> query_start;
  int64_t n_tokens = 0;
  std::vector<float> q, k_cache, v_cache;  // bf16-exact values
};

Problem make_problem(std::mt19937_64& rng, int64_t n_heads, int64_t n_kv, int64_t bs, std::vector<SeqSpec> seqs,
                     int64_t head_dim = 128) {
  Problem p;
  p.head_dim = head_dim;
  p.n_heads = n_heads;
  p.n_kv_heads = n_kv;
  p.block_size = bs;
  p.seqs = std::move(seqs);
  int64_t blocks_needed = 0;
  for (const auto& s : p.seqs) blocks_needed += (s.context_len + bs - 1) / bs;
  p.num_blocks = blocks_needed + 7;
  std::vector<int32_t> pool(p.num_blocks);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  size_t next = 0;
  for (const auto& s : p.seqs) {
    std::vector<int32_t> t((s.context_len + bs - 1) / bs);
    for (auto& b : t) b = pool[next++];
    p.tables.push_back(t);
    p.query_start.push_back(static_cast<int32_t>(p.n_tokens));
    p.n_tokens += s.query_len;
  }
  p.q = randn_bf16(rng, p.n_tokens * n_heads * p.head_dim, 1.5f);
  const int64_t cache_n = p.num_blocks * n_kv * bs * p.head_dim;
  p.k_cache = randn_bf16(rng, cache_n, 1.5f);
  p.v_cache = randn_bf16(rng, cache_n, 1.0f);
  return p;
}

std::vector<float> cpu_reference(const Problem& p) {
  std::vector<float> out(p.n_tokens * p.n_heads * p.head_dim);
  for (size_t i = 0; i < p.seqs.size(); ++i) {
    const int64_t off = p.query_start[i] * p.n_heads * p.head_dim;
    paged_attention_cpu(p.q.data() + off, p.k_cache.data(), p.v_cache.data(), p.tables[i].data(), p.seqs[i].query_len,
                        p.seqs[i].context_len, p.n_heads, p.n_kv_heads, p.head_dim, p.block_size, out.data() + off);
  }
  return out;
}

// The same query rows and cache, the single sequence of `p` cut into chunks at `cuts`
// (each chunk a sequence of its own over the shared block table, as later steps see it).
Problem rechunk(const Problem& p, const std::vector<int32_t>& cuts) {
  Problem r = p;
  r.seqs.clear();
  r.tables.clear();
  r.query_start.clear();
  const SeqSpec whole = p.seqs.at(0);
  int32_t a = 0;
  std::vector<int32_t> ends = cuts;
  ends.push_back(whole.query_len);
  for (int32_t b : ends) {
    const int32_t ctx = whole.context_len - whole.query_len + b;
    r.seqs.push_back({b - a, ctx});
    r.tables.push_back(p.tables[0]);
    r.query_start.push_back(a);
    a = b;
  }
  return r;
}

int max_context(const Problem& p) {
  int m = 0;
  for (const auto& s : p.seqs) m = std::max(m, s.context_len);
  return m;
}

// Splits that cover every piece of the longest context (split mode), or 1 (fold mode).
int split_mode(const Problem& p) {
  int s = 2;
  while (s < cuda::attention_pieces(max_context(p), cuda::kAttnPiece)) s *= 2;
  return s;
}

// Runs every sequence through the kernel with `rows`, in fold mode (splits 1) or split
// mode (splits >= the pieces of the longest context). `portable`: the mma.sync kernel even
// where the Hopper kernel would take the launch.
// `rounds` > 1: split mode in rounds of `splits` pieces, through a running fold state.
// `share`: decode rows in split mode with the shared-prefix groups plan_shared_decode finds
// (their count returned through `n_groups`).
std::vector<float> gpu_attention(const Problem& p, int rows, int splits, bool portable = false, int rounds = 1,
                                 bool share = false, int* n_groups = nullptr) {
  std::vector<AttnSeq> seqs;
  std::vector<int32_t> bt;
  std::vector<AttnWork> work;
  for (size_t i = 0; i < p.seqs.size(); ++i) {
    seqs.push_back({p.query_start[i], p.seqs[i].query_len, p.seqs[i].context_len, static_cast<int32_t>(bt.size())});
    bt.insert(bt.end(), p.tables[i].begin(), p.tables[i].end());
    cuda::append_attention_work(static_cast<int32_t>(i), p.seqs[i].query_len, rows,
                                static_cast<int>(p.n_heads / p.n_kv_heads), &work);
  }
  std::vector<cuda::AttnShareGroup> groups;
  if (share) {
    std::vector<const int32_t*> tables;
    for (const auto& t : p.tables) tables.push_back(t.data());
    groups = cuda::plan_shared_decode(seqs, tables, static_cast<int>(p.block_size), cuda::kAttnPiece,
                                      static_cast<int>(p.n_heads / p.n_kv_heads), &work);
  }
  if (n_groups) *n_groups = static_cast<int>(groups.size());
  DevVec<cuda::AttnShareGroup> d_groups(groups.empty() ? std::vector<cuda::AttnShareGroup>(1) : groups);
  DevVec<uint16_t> d_q(to_bf16(p.q)), d_k(to_bf16(p.k_cache)), d_v(to_bf16(p.v_cache));
  DevVec<uint16_t> d_out(p.n_tokens * p.n_heads * p.head_dim);
  DevVec<int32_t> d_bt(bt);
  DevVec<AttnSeq> d_seqs(seqs);
  DevVec<AttnWork> d_work(work);
  cuda::AttentionArgs a;
  a.q = d_q.as<bf16>();
  a.q_stride = p.n_heads * p.head_dim;
  a.k_cache = d_k.as<bf16>();
  a.v_cache = d_v.as<bf16>();
  a.out = d_out.as<bf16>();
  a.out_stride = p.n_heads * p.head_dim;
  a.block_tables = d_bt.get();
  a.seqs = d_seqs.get();
  a.work = d_work.get();
  a.n_work = static_cast<int>(work.size());
  a.n_heads = static_cast<int>(p.n_heads);
  a.n_kv_heads = static_cast<int>(p.n_kv_heads);
  a.head_dim = static_cast<int>(p.head_dim);
  a.block_size = static_cast<int>(p.block_size);
  a.num_blocks = p.num_blocks;
  a.portable_only = portable;
  a.scale = 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  const int64_t part_rows = splits * static_cast<int64_t>(work.size()) * p.n_kv_heads * rows;
  DevVec<float> d_part_o(splits > 1 ? part_rows * p.head_dim : 1), d_part_ml(splits > 1 ? part_rows * 2 : 1);
  const int64_t base_rows = static_cast<int64_t>(work.size()) * p.n_kv_heads * rows;
  DevVec<float> d_state(rounds > 1 ? base_rows * (p.head_dim + 2) : 1);
  if (splits > 1) {
    a.num_splits = splits;
    a.rounds = rounds;
    a.part_o = d_part_o.get();
    a.part_ml = d_part_ml.get();
    a.fold_state = d_state.get();
    if (!groups.empty()) {
      a.share = d_groups.get();
      a.n_share = static_cast<int>(groups.size());
    }
  }
  const Status st = cuda::launch_paged_attention(a, rows, nullptr);
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  return from_bf16(d_out.host());
}

void check_all_variants(const Problem& p, bool decode_kernel_too) {
  const auto ref = cpu_reference(p);
  const double tol = 2e-2;  // bf16 inputs and probabilities, fp32 accumulation
  const auto base = gpu_attention(p, cuda::kAttnRowsPrefill, 1, /*portable=*/true);
  EXPECT_LT(rel_l2(base, ref), tol) << "prefill blocks, fold mode";
  EXPECT_EQ(gpu_attention(p, cuda::kAttnRowsPrefill, 1), base) << "prefill blocks, fold mode, Hopper kernel if any";
  const int splits = split_mode(p);
  EXPECT_EQ(gpu_attention(p, cuda::kAttnRowsPrefill, splits), base) << "prefill blocks, " << splits << " splits";
  EXPECT_EQ(gpu_attention(p, cuda::kAttnRowsPrefill, 2 * splits), base) << "prefill blocks, " << 2 * splits;
  if (decode_kernel_too) {
    EXPECT_EQ(gpu_attention(p, cuda::kAttnRowsDecode, 1), base) << "decode blocks, fold mode";
    EXPECT_EQ(gpu_attention(p, cuda::kAttnRowsDecode, splits), base) << "decode blocks, " << splits << " splits";
  }
}

class CudaAttention : public ::testing::TestWithParam<int> {};

TEST_P(CudaAttention, MixedBatchMatchesCpu) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const int bs = GetParam();
  // Qwen3-4B heads: 32 query heads over 8 KV heads.
  const Problem p = make_problem(rng, 32, 8, bs,
                                 {{1, 3000}, {1, 17}, {3, 301}, {200, 1200}, {77, 77}, {1, 1}, {130, 2500}});
  check_all_variants(p, true);
}

TEST_P(CudaAttention, DecodeOnlyLongContextsMatchCpu) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const Problem p = make_problem(rng, 32, 8, GetParam(), {{1, 6000}, {1, 4097}, {2, 64}, {4, 129}});
  check_all_variants(p, true);
}

TEST_P(CudaAttention, OtherGroupSizesMatchCpu) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const int bs = GetParam();
  // 16 query heads per KV head (one decode row tile), and no grouping (MHA).
  check_all_variants(make_problem(rng, 16, 1, bs, {{1, 700}, {40, 300}}), true);
  check_all_variants(make_problem(rng, 4, 4, bs, {{1, 500}, {90, 90}, {5, 1000}}), true);
  check_all_variants(make_problem(rng, 6, 2, bs, {{1, 333}, {33, 400}}), true);
}

// The smaller head sizes the kernels are built for (the tiny golden models use 16 and 32).
TEST_P(CudaAttention, OtherHeadDimsMatchCpu) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const int bs = GetParam();
  for (const int64_t hd : {16, 32, 64}) {
    SCOPED_TRACE("head_dim " + std::to_string(hd));
    check_all_variants(make_problem(rng, 8, 2, bs, {{1, 700}, {40, 300}, {3, 77}}, hd), true);
    check_all_variants(make_problem(rng, 4, 4, bs, {{1, 500}, {90, 90}}, hd), true);
  }
}

// A prompt's rows computed in one chunk, in other chunks, and token by token (decode)
// over the same cache are bitwise the same: what prefix caching and preemption rely on.
TEST_P(CudaAttention, ChunkingDoesNotChangeAnyBit) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const Problem p = make_problem(rng, 32, 8, GetParam(), {{700, 1900}});
  const auto whole = gpu_attention(p, cuda::kAttnRowsPrefill, 1);
  EXPECT_LT(rel_l2(whole, cpu_reference(p)), 2e-2);
  for (const std::vector<int32_t>& cuts : std::vector<std::vector<int32_t>>{{1}, {63, 64, 300}, {250, 699}}) {
    const Problem c = rechunk(p, cuts);
    EXPECT_EQ(gpu_attention(c, cuda::kAttnRowsPrefill, 1), whole) << "chunks cut at " << cuts.size();
    EXPECT_EQ(gpu_attention(c, cuda::kAttnRowsPrefill, split_mode(c)), whole) << "split, cut at " << cuts.size();
  }
  std::vector<int32_t> every;  // the last 20 rows one by one, as decode steps
  for (int32_t i = 680; i < 700; ++i) every.push_back(i);
  const Problem d = rechunk(p, every);
  EXPECT_EQ(gpu_attention(d, cuda::kAttnRowsDecode, 1), whole);
  EXPECT_EQ(gpu_attention(d, cuda::kAttnRowsDecode, split_mode(d)), whole);
}

// The Hopper kernel (wgmma, TMA) against the mma.sync kernel, bit for bit, on prompts
// long enough for many pieces and every pipeline stage to wrap: whole prompts, chunks
// over earlier context, every block size and group size it takes.
TEST_P(CudaAttention, HopperKernelIsTheMmaSyncKernelBitForBit) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const int bs = GetParam();
  Problem probe = make_problem(rng, 32, 8, bs, {{1, 1}});
  cuda::AttentionArgs args;
  args.head_dim = 128;
  args.block_size = bs;
  args.num_blocks = probe.num_blocks;
  args.n_heads = 32;
  args.n_kv_heads = 8;
  if (!cuda::hopper_attention_supported(args))
    GTEST_SKIP() << "the Hopper kernel does not take block size " << bs << " on this device/build";
  bool first = true;
  for (const auto& [nh, nkv] : std::vector<std::pair<int64_t, int64_t>>{{32, 8}, {16, 1}, {8, 8}, {12, 4}}) {
    SCOPED_TRACE("heads " + std::to_string(nh) + "/" + std::to_string(nkv));
    const Problem p = make_problem(rng, nh, nkv, bs, {{600, 1800}, {200, 200}, {64, 700}, {129, 1300}});
    const auto portable = gpu_attention(p, cuda::kAttnRowsPrefill, 1, true);
    if (std::exchange(first, false)) EXPECT_LT(rel_l2(portable, cpu_reference(p)), 2e-2);
    for (const int variant : cuda::kHopperVariants) {  // every scheduling of the Hopper kernel
      cuda::set_hopper_attention_variant(variant);
      const auto hopper = gpu_attention(p, cuda::kAttnRowsPrefill, 1);
      size_t diff = 0;
      for (size_t i = 0; i < hopper.size(); ++i) diff += hopper[i] != portable[i];
      EXPECT_EQ(diff, 0u) << "of " << hopper.size() << " outputs differ, Hopper variant " << variant;
    }
    cuda::set_hopper_attention_variant(-1);
  }
}

// A few new rows over a long context (a question after a cached document) in split rounds:
// each round's pieces folded into the running state in order give fold mode's bits.
TEST_P(CudaAttention, SplitRoundsAreFoldModeBitForBit) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const Problem p = make_problem(rng, 32, 8, GetParam(), {{16, 20000}, {3, 9000}, {1, 300}});
  const auto fold = gpu_attention(p, cuda::kAttnRowsPrefill, 1, /*portable=*/true);
  EXPECT_LT(rel_l2(fold, cpu_reference(p)), 2e-2);
  const int pieces = cuda::attention_pieces(max_context(p), cuda::kAttnPiece);
  for (const int splits : {8, 16, 64}) {
    const int rounds = (pieces + splits - 1) / splits;
    EXPECT_EQ(gpu_attention(p, cuda::kAttnRowsPrefill, splits, false, rounds), fold)
        << splits << " splits x " << rounds << " rounds, prefill blocks";
    EXPECT_EQ(gpu_attention(p, cuda::kAttnRowsDecode, splits, false, rounds), fold)
        << splits << " splits x " << rounds << " rounds, decode blocks";
  }
}

// Questions over one cached document: decode rows whose block tables begin with the same
// blocks, read once by shared-prefix blocks (one warp a member), give fold mode's bits, in
// one round or several; so do groups cut short by a member whose own blocks start early.
TEST_P(CudaAttention, SharedPrefixDecodeIsFoldModeBitForBit) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const int bs = GetParam();
  Problem p = make_problem(rng, 32, 8, bs,
                           {{1, 3000}, {1, 2500}, {1, 4100}, {1, 700}, {2, 3333}, {1, 100}, {1, 2900}, {1, 5000},
                            {1, 2600}, {1, 3100}});
  // Sequences 1-4 and 6-9 begin with sequence 0's first 2,048 keys' blocks (sequence 3 has
  // only 700 keys: it shares what it has); sequence 5 shares nothing.
  const size_t doc_blocks = 2048 / bs;
  for (const size_t i : {1, 2, 3, 4, 6, 7, 8, 9}) {
    const size_t n = std::min(doc_blocks, p.tables[i].size());
    std::copy(p.tables[0].begin(), p.tables[0].begin() + n, p.tables[i].begin());
  }
  const auto fold = gpu_attention(p, cuda::kAttnRowsDecode, 1);
  EXPECT_LT(rel_l2(fold, cpu_reference(p)), 2e-2);
  const int splits = split_mode(p);
  int groups = 0;
  EXPECT_EQ(gpu_attention(p, cuda::kAttnRowsDecode, splits, false, 1, true, &groups), fold) << "one round";
  if (cuda::kAttnPiece % bs == 0) {
    EXPECT_EQ(groups, 1) << "9 sequences share the document: a group of 8; the ninth (the shortest) alone";
  } else {
    EXPECT_EQ(groups, 0) << "pieces are not whole blocks: nothing is shared";
  }
  const int pieces = cuda::attention_pieces(max_context(p), cuda::kAttnPiece);
  EXPECT_EQ(gpu_attention(p, cuda::kAttnRowsDecode, 4, false, (pieces + 3) / 4, true), fold) << "rounds of 4";
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, CudaAttention, ::testing::Values(16, 32, 7, 128));

// The grouping itself (host code): who shares how many pieces.
TEST(CudaAttentionShare, GroupsFollowTheCommonBlocks) {
  const int bs = 16, per_piece = cuda::kAttnPiece / bs;
  // Tables of 40 blocks; sequences 0-9 share 20 blocks (doc), 10 shares only block 0 (a
  // common system prompt), 11 shares the doc but has only 300 cached keys.
  std::vector<std::vector<int32_t>> tables(12, std::vector<int32_t>(40));
  int32_t next = 1000;
  for (auto& t : tables)
    for (auto& b : t) b = next++;
  for (int i = 1; i < 12; ++i) {
    const int n = i == 10 ? 1 : 20;
    std::copy(tables[0].begin(), tables[0].begin() + n, tables[i].begin());
  }
  std::vector<cuda::AttnSeq> seqs;
  std::vector<cuda::AttnWork> work;
  std::vector<const int32_t*> ptrs;
  for (int i = 0; i < 12; ++i) {
    const int32_t ctx = i == 11 ? 301 : 600;
    seqs.push_back({i, 1, ctx, 0});
    work.push_back({i, 0});
    ptrs.push_back(tables[i].data());
  }
  const int group = 4;  // query heads per KV head: a one-token item is 4 rows, 8 fill a group
  const auto groups = cuda::plan_shared_decode(seqs, ptrs, bs, cuda::kAttnPiece, group, &work);
  ASSERT_EQ(groups.size(), 2u);
  int grouped = 0;
  for (const auto& g : groups) {
    EXPECT_GE(g.n, 2);
    EXPECT_LE(g.n, cuda::kAttnShareMax);
    grouped += g.n;
    for (int m = 0; m < g.n; ++m) {
      EXPECT_NE(g.work[m], 10) << "the system-prompt sequence shares no whole piece";
      EXPECT_EQ(work[g.work[m]].shared_pieces, g.pieces);
    }
    // 20 common blocks = 1 whole piece of 16 blocks (the second is only 4 blocks in);
    // sequence 11's 300 cached keys hold one whole piece too.
    EXPECT_EQ(g.pieces, 20 / per_piece);
  }
  EXPECT_EQ(grouped, 11);
  EXPECT_EQ(work[10].shared_pieces, 0);
  // A group holds at most kAttnShareMax items and kAttnShareRows rows (an item's rows: its
  // tokens x heads a KV head): 8 heads and one token, 4 heads and two, 16 heads and one.
  for (const auto& [g_heads, tokens] : {std::pair{8, 1}, std::pair{4, 2}, std::pair{16, 1}}) {
    for (auto& s : seqs) s.query_len = tokens;
    const auto capped = cuda::plan_shared_decode(seqs, ptrs, bs, cuda::kAttnPiece, g_heads, &work);
    const int per_group = std::min(cuda::kAttnShareMax, cuda::kAttnShareRows / (tokens * g_heads));
    int members = 0;
    for (const auto& g : capped) {
      EXPECT_LE(g.n * tokens * g_heads, cuda::kAttnShareRows);
      EXPECT_LE(g.n, per_group);
      members += g.n;
    }
    EXPECT_EQ(capped.size(), static_cast<size_t>((11 + per_group - 1) / per_group))
        << g_heads << " heads, " << tokens << " tokens";
    EXPECT_EQ(members, 11);
  }
  for (auto& s : seqs) s.query_len = 1;
  // Block size not dividing the piece: no groups.
  EXPECT_TRUE(cuda::plan_shared_decode(seqs, ptrs, 7, cuda::kAttnPiece, group, &work).empty());
  for (const auto& w : work) EXPECT_EQ(w.shared_pieces, 0);
}

TEST(CudaAttentionSplits, DecodeSplitsInRoundsWhenThePiecesOutgrowThePartials) {
  // 7 sequences (56 one-warp blocks of 16 rows) over 64K keys: 256 pieces do not fit 131,072
  // partial rows at once (229,376): rounds of 128.
  const auto r = cuda::choose_decode_split_rounds(56, 65600, 131072, 16384, 16, cuda::kAttnPiece);
  EXPECT_EQ(r.splits, 128);
  EXPECT_EQ(r.rounds, 3);  // 257 pieces
  // Batch 1 at 100K keys: one round of a power of two covering every piece.
  const auto one = cuda::choose_decode_split_rounds(8, 100000, 131072, 16384, 16, cuda::kAttnPiece);
  EXPECT_EQ(one.rounds, 1);
  EXPECT_GE(one.splits, cuda::attention_pieces(100000, cuda::kAttnPiece));
  // Many sequences at short context: still split (4 pieces), not fold.
  EXPECT_EQ(cuda::choose_decode_split_rounds(512, 1000, 131072, 16384, 16, cuda::kAttnPiece).splits, 4);
  // One piece, or rows past the fold state when rounds would be needed: fold mode.
  EXPECT_EQ(cuda::choose_decode_split_rounds(8, 200, 131072, 16384, 16, cuda::kAttnPiece).splits, 1);
  EXPECT_EQ(cuda::choose_decode_split_rounds(2048, 200000, 131072, 16384, 16, cuda::kAttnPiece).splits, 1);
}

TEST(CudaAttentionSplits, ChooseSplitsFillsTheGpuWithinCapacity) {
  // Batch 1, long context: every piece its own block, a power of two.
  const int s = cuda::choose_attention_splits(8, 100000, 132, 131072, 16, cuda::kAttnPiece);
  EXPECT_GE(s, cuda::attention_pieces(100000, cuda::kAttnPiece));
  EXPECT_EQ(s & (s - 1), 0);
  EXPECT_EQ(cuda::choose_attention_splits(4096, 100000, 132, 131072, 64, cuda::kAttnPiece), 1);  // enough blocks
  EXPECT_EQ(cuda::choose_attention_splits(8, 200, 132, 131072, 16, cuda::kAttnPiece), 1);  // one piece
  EXPECT_EQ(cuda::choose_attention_splits(64, 50000, 132, 4096, 16, cuda::kAttnPiece), 1);  // over capacity
}

TEST(CudaAttentionSplits, RoundsWhenFewBlocksFaceManyPieces) {
  // 16 new tokens after a 200,000-token document: 8 blocks of 128 rows, 782 pieces.
  const auto r = cuda::choose_attention_split_rounds(8, 200016, 132, 131072, 16384, 128, cuda::kAttnPiece);
  EXPECT_EQ(r.splits, 128);  // 128 x 8 x 128 rows fill the partial buffers
  EXPECT_GE(int64_t{r.splits} * r.rounds, cuda::attention_pieces(200016, cuda::kAttnPiece));
  EXPECT_LT(int64_t{r.splits} * (r.rounds - 1), cuda::attention_pieces(200016, cuda::kAttnPiece));
  // Pieces that fit one round: plain split mode.
  const auto one = cuda::choose_attention_split_rounds(8, 20000, 132, 131072, 16384, 128, cuda::kAttnPiece);
  EXPECT_EQ(one.rounds, 1);
  EXPECT_GE(one.splits, cuda::attention_pieces(20000, cuda::kAttnPiece));
  // Enough blocks, or rows past the state buffer: fold mode.
  EXPECT_EQ(cuda::choose_attention_split_rounds(264, 200000, 132, 131072, 16384, 128, cuda::kAttnPiece).splits, 1);
  EXPECT_EQ(cuda::choose_attention_split_rounds(100, 200000, 132, 131072, 8192, 128, cuda::kAttnPiece).splits, 1);
}

}  // namespace
}  // namespace ream::test
