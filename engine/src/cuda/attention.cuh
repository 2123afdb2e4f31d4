// Paged flash attention (prefill chunks and decode), GQA, causal, bf16 in and out.
#pragma once

#include <vector>

#include "cuda/common.cuh"

namespace ream::cuda {

constexpr int kAttnKvTile = 64;     // keys per tile; split pieces are whole tiles
constexpr int kAttnRowsPrefill = 128;  // (query token, head) rows per block, prefill kernel
constexpr int kAttnRowsDecode = 16;   // rows per block, decode kernel
// Warps of a decode block: the first computes its 16 rows, all of them load the K/V tiles
// (a lone warp issues 64 copies a lane a tile; a second would halve that without losing a
// block an SM: bench/NOTES.md, session 10). One: the measured setting.
constexpr int kAttnDecodeWarps = 1;
// Keys per piece (see attention.cu): a row's softmax runs piece by piece over absolute key
// ranges [z * piece_len, (z + 1) * piece_len) and the pieces are folded in order. Fixed
// (kAttnPiece) for batch invariance; a fold-mode launch may use any multiple of
// kAttnKvTile (kAttnPieceWhole: one piece) when results may follow the batch.
constexpr int kAttnPiece = 256;
constexpr int kAttnPieceWhole = 1 << 30;

// One sequence of the step, as the kernels see it.
struct AttnSeq {
  int32_t query_start;  // first new token's row in q / out
  int32_t query_len;    // new tokens, at positions [context_len - query_len, context_len)
  int32_t context_len;  // keys in the cache, the new tokens' included
  int32_t bt_offset;    // its block table starts at block_tables[bt_offset]
};

// One block's share: sequence `seq`, new tokens [q0, q0 + rows / group) of it.
// shared_pieces: split mode, pieces [0, shared_pieces) of this item are computed by a
// shared-prefix block (AttnShareGroup), not by the item's own blocks.
struct AttnWork {
  int32_t seq;
  int32_t q0;
  int32_t shared_pieces = 0;
};

// Decode work items whose sequences begin with the same cache blocks (a document cached
// once and asked several questions): one block of kAttnShareWarps warps loads each of their
// common pieces' K/V tiles once; the members' rows are packed 16 a warp (7 members of a
// 4-head group: 28 rows, 2 warps compute), each row computed exactly as the item's own
// block would (same tiles, same piece, same per-row arithmetic: a row's products do not
// depend on the other rows of its mma), and each member's partial is written where that
// block would write it. So sharing changes how often the keys are read, never a bit of
// the result. Split mode only.
constexpr int kAttnShareMax = 8;
// 8 warps (measured, session 10). At 255 registers a thread one such block fits an SM;
// 2 warps would fit three (as the shared memory does): bench/NOTES.md, session 10.
constexpr int kAttnShareWarps = 8;
constexpr int kAttnShareRows = 16 * kAttnShareWarps;  // members' rows (tokens x group) a group holds
struct AttnShareGroup {
  int32_t n = 0;       // members, 2 .. kAttnShareMax
  int32_t pieces = 0;  // pieces [0, pieces): the same blocks in every member's table, each
                       // piece wholly visible to every member's rows
  int32_t work[kAttnShareMax] = {};  // the members' decode work items
};

// Finds the shared-prefix groups of a step's decode work (one item per sequence): items
// whose block tables agree on their first whole pieces (piece_len keys, a multiple of
// block_size), at most kAttnShareMax a group and kAttnShareRows rows (an item's rows: its
// tokens x `group` query heads per KV head), each at least one piece. Sets each member's
// shared_pieces. `tables[i]` is sequence i's block table, `seqs[i]` its AttnSeq.
std::vector<AttnShareGroup> plan_shared_decode(const std::vector<AttnSeq>& seqs,
                                               const std::vector<const int32_t*>& tables, int block_size,
                                               int piece_len, int group, std::vector<AttnWork>* work);

struct AttentionArgs {
  const bf16* q = nullptr;      // token t's query head h at q + t*q_stride + h*head_dim
  int64_t q_stride = 0;
  const bf16* k_cache = nullptr;  // this layer, [num_blocks][n_kv_heads][block_size][head_dim]
  const bf16* v_cache = nullptr;
  bf16* out = nullptr;          // token t's head h at out + t*out_stride + h*head_dim
  int64_t out_stride = 0;
  const int32_t* block_tables = nullptr;
  const AttnSeq* seqs = nullptr;
  const AttnWork* work = nullptr;  // device array of n_work items
  int n_work = 0;
  int n_heads = 0, n_kv_heads = 0, head_dim = 128, block_size = 16;
  int64_t num_blocks = 0;       // blocks in the cache (the Hopper kernel's TMA bounds; 0: unknown)
  bool portable_only = false;   // run the mma.sync kernel even where the Hopper kernel applies
  float scale = 0;              // 1/sqrt(head_dim)
  int piece_len = kAttnPiece;   // keys per piece, a multiple of kAttnKvTile
  int num_splits = 1;           // 1: fold mode; > 1: split mode, block z computes piece z of a
                                // round; rounds * num_splits >= attention_pieces(longest context)
  int rounds = 1;               // split mode: rounds of num_splits pieces, each folded into a
                                // running state in order (fold_state), so a few rows over a long
                                // context fill the GPU with partial buffers of num_splits pieces
  float* fold_state = nullptr;  // rounds > 1: (n_work * n_kv_heads * rows, head_dim + 2) fp32
  int rows = 0;                 // set by launch_paged_attention
  int piece0 = 0;               // set by launch_paged_attention: this round's first piece
  bool first_round = true, last_round = true;  // set by launch_paged_attention
  float* part_o = nullptr;      // (num_splits * n_work * n_kv_heads * rows, head_dim) fp32
  float* part_ml = nullptr;     // (num_splits * n_work * n_kv_heads * rows, 2) fp32
  // Split mode, decode rows: the shared-prefix groups (device array), launched beside the
  // items' own blocks each round; nullptr / 0: none.
  const AttnShareGroup* share = nullptr;
  int n_share = 0;
  // Set by launch_paged_attention (REAM_ATTN_PAGES_BY_LANE): the mma.sync kernel reads a
  // tile's block-table entries once a warp and shuffles them to its copies.
  bool pages_by_lane = false;
};

// The blocks of one launch: every sequence's new tokens in tiles of rows / group tokens.
// `rows` is kAttnRowsPrefill or kAttnRowsDecode; `group` = n_heads / n_kv_heads <= rows.
void append_attention_work(int32_t seq_index, int32_t query_len, int rows, int group,
                           std::vector<AttnWork>* work);

// Pieces of piece_len keys covering max_keys keys (at least 1).
int attention_pieces(int64_t max_keys, int piece_len);

// Split mode or fold mode for one launch of `base_blocks` blocks (work items x KV heads)
// whose longest context is max_keys: 1 (fold) when the blocks fill `sm_count`
// multiprocessors, a single piece suffices or the partial buffers (capacity_rows rows)
// cannot hold every piece; else a power of two >= attention_pieces(max_keys, piece_len).
// Either way the results are the same, bit for bit.
int choose_attention_splits(int64_t base_blocks, int64_t max_keys, int sm_count, int64_t capacity_rows, int rows,
                            int piece_len);

// Split mode in rounds, for launches whose blocks are far too few for the GPU (a short
// prefill chunk over a long cached context: 8 blocks for 16 new tokens) and whose pieces
// do not fit the partial buffers at once: {splits, rounds} with splits a power of two whose
// partials fit capacity_rows and rounds * splits >= the pieces, when base_blocks < sm_count,
// the base rows fit state_rows and at least 8 splits fit; else {choose_attention_splits, 1}.
// The rounds fold the pieces in the same order as fold mode: results are the same, bit for bit.
// The backend chooses it for prefill launches: on an H100 (session 4), 16 new tokens after
// a cached 200,000-token document reach their first token in 42 ms with rounds against
// 122 ms in fold mode (8 Hopper blocks), once the combine kernel stopped folding with one
// dependent global load after another (a warp per row, each round's (max, sum) loaded 32
// pieces at once, the partial outputs 8 pieces ahead).
struct AttnSplitPlan {
  int splits = 1, rounds = 1;
};
AttnSplitPlan choose_attention_split_rounds(int64_t base_blocks, int64_t max_keys, int sm_count,
                                            int64_t capacity_rows, int64_t state_rows, int rows, int piece_len);

// Decode launches (one-warp blocks): split mode whenever the longest context has more
// than one piece, in rounds where every piece's partials would not fit capacity_rows at
// once (a few sequences over a long document: 7 x 64K keys is 56 blocks x 256 pieces),
// and fold mode only when the rows outgrow the fold state. One warp walking a long
// context alone reads its keys at a fraction of the bandwidth: session 9 (H100) measured
// ~256 ms a step for 7 sequences at 64K keys in fold mode.
AttnSplitPlan choose_decode_split_rounds(int64_t base_blocks, int64_t max_keys, int64_t capacity_rows,
                                         int64_t state_rows, int rows, int piece_len);

// The head_dims the kernels are built for: 16, 32, 64 and 128 (Qwen3: 128).
bool attention_supports_head_dim(int64_t head_dim);

// Whether the Hopper prefill kernel (attention_hopper.cu: wgmma, TMA) takes a launch
// with these arguments and rows = kAttnRowsPrefill: sm_90a build, compute capability
// 9.0, head_dim 128, fold mode, block_size a multiple of 8 dividing 64 (or a multiple
// of 64), num_blocks set. Its results are the mma.sync kernel's, bit for bit.
bool hopper_attention_supported(const AttentionArgs& args);
Status launch_paged_attention_hopper(const AttentionArgs& args, cudaStream_t stream);
// Benchmarks only: the Hopper kernel's scheduling variant (bit 0: the consumer warpgroups
// take turns issuing products; bit 1: Q read from shared memory, not registers; bit 2: the
// folded pieces' outputs kept in shared memory, not registers; bit 3: a tile's softmax
// runs while the previous tile's P V is still in the tensor cores). Every variant gives
// the same bits. -1 restores the default. kHopperVariants lists the ones built. Default:
// 9 (ping-pong, softmax under P V; H100, session 12: 131,072-token prefill 13.76-13.79 s
// against variant 1's 13.99-14.04 s, alternating in one call).
constexpr int kHopperVariantDefault = 9;
constexpr int kHopperVariants[] = {0, 1, 2, 3, 5, 9, 12, 13, 15};
void set_hopper_attention_variant(int variant);

// Causal attention of every work item's query rows over its sequence's paged keys;
// out = softmax(q k^T * scale) v per query head, head h reading KV head h / group.
// rows = kAttnRowsPrefill (8 warps) or kAttnRowsDecode (1 warp) sizes the blocks; a row's
// result depends only on its inputs and piece_len, never on rows, the work list or
// num_splits. Prefill launches go to the Hopper kernel where it applies (unless
// portable_only). Twin: paged_attention_cpu.
Status launch_paged_attention(const AttentionArgs& args, int rows, cudaStream_t stream);

}  // namespace ream::cuda
