// The device sampler: one block of 1024 threads per sampled sequence, the logits row read
// from L2 in a handful of passes, no sort.
//
// Everything the CPU sampler does with a sorted vocabulary (top-k, top-p, the inverse-CDF
// draw, the top logprobs) is a question about "the token at which a running total over
// the tokens sorted by value (ties: lower id) crosses a target". `block_select` answers it
// by radix selection: four passes build 256-bin histograms (per warp, in shared memory)
// of the weights (1 per token, or the probability mass) of the tokens under the current
// key prefix, 8 bits of the order-preserving key at a time, and descend into the bin
// where the total crosses; a last pass ranks the tokens tied on the final key by id.
// Each filter then keeps a prefix of the sorted order, held as a "cut" (key, id). Masses
// are unnormalised exp(s - s_max) in 2^-40 fixed point: integer sums are exact and
// order-independent, so the same logits always give the same token.
#include "cuda/sampling.cuh"

#include <climits>

#include "rng.h"

namespace ream::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
constexpr int kBins = 256;
constexpr size_t kHistBytes = sizeof(unsigned long long) * kWarps * kBins;  // dynamic smem
constexpr float kFixedScale = 1099511627776.0f;  // 2^40

// ---- device helpers ----

// Larger float -> larger key.
__device__ __forceinline__ uint32_t order_key(float f) {
  const uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float key_value(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k);
}

// The logits row is rewritten in place by the penalties, so every read goes through L2
// (ld.global.cg): an L1 / read-only-cache copy of a raw value would be stale.
__device__ __forceinline__ float ld(const float* p) { return __ldcg(p); }

// Keeps the tokens sorted at or before (key, id) in (key desc, id asc) order.
struct Cut {
  uint32_t key;
  int32_t id;
};
__device__ __forceinline__ bool at_or_before(uint32_t key, int id, Cut c) {
  return key > c.key || (key == c.key && id <= c.id);
}

// One row as a selection pass sees it: value s = x * mul; weight 1 or fixed(exp(s - m));
// eligible when at or before `cut` and (min_w == 0 or exp(s - m) >= min_w).
struct RowView {
  const float* x;
  int vocab;
  float mul;
  float m;
  bool mass;
  float min_w;
  Cut cut;
  __device__ bool eligible(int i, uint32_t key, float s) const {
    if (!at_or_before(key, i, cut)) return false;
    return !(min_w > 0.0f && expf(s - m) < min_w);
  }
  __device__ unsigned long long weight(float s) const {
    return mass ? __float2ull_rn(expf(s - m) * kFixedScale) : 1ull;
  }
};

struct Shared {
  unsigned long long tot[kBins];
  unsigned long long red_u64[kWarps];
  float red_f[kWarps];
  uint32_t scan[kWarps];
  uint32_t scan_total;
  int min_digit;
  int sel_digit;
  int sel_fallback;
  unsigned long long sel_rem;
  unsigned long long tie_rank;
  Cut result;
  int n_collected;
  int top_ids[kMaxTopLogprobs];
  float top_vals[kMaxTopLogprobs];
  float raw_logit;
};

__device__ unsigned long long block_sum_u64(unsigned long long v, Shared& sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if (lane == 0) sh.red_u64[warp] = v;
  __syncthreads();
  v = sh.red_u64[lane];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ unsigned long long block_max_u64(unsigned long long v, Shared& sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const unsigned long long w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  __syncthreads();
  if (lane == 0) sh.red_u64[warp] = v;
  __syncthreads();
  v = sh.red_u64[lane];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const unsigned long long w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return v;
}

__device__ float block_reduce_f(float v, bool is_max, Shared& sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = is_max ? warp_max(v) : warp_sum(v);
  __syncthreads();
  if (lane == 0) sh.red_f[warp] = v;
  __syncthreads();
  v = sh.red_f[lane];
  return is_max ? warp_max(v) : warp_sum(v);
}

// Exclusive prefix sum of one value per thread, in thread order; *total gets the sum.
__device__ uint32_t block_exclusive_scan(uint32_t v, uint32_t* total, Shared& sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  uint32_t incl = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const uint32_t n = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += n;
  }
  __syncthreads();
  if (lane == 31) sh.scan[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    const uint32_t x = sh.scan[lane];
    uint32_t y = x;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const uint32_t n = __shfl_up_sync(0xffffffffu, y, o);
      if (lane >= o) y += n;
    }
    sh.scan[lane] = y - x;
    if (lane == 31) sh.scan_total = y;
  }
  __syncthreads();
  *total = sh.scan_total;
  return sh.scan[warp] + incl - v;
}

// The first eligible token, in (value desc, id asc) order, at which the running total of
// weights reaches `target` (>=, or > when `strict`); the last eligible token when it
// never does.
__device__ Cut block_select(const RowView& rv, unsigned long long target, bool strict, Shared& sh,
                            unsigned long long* whist) {
  const int tid = threadIdx.x, warp = tid >> 5;
  uint32_t prefix = 0, mask = 0;
  unsigned long long rem = target;
  bool fallback = false;
  for (int level = 0; level < 4; ++level) {
    const int shift = 24 - 8 * level;
    for (int b = tid; b < kWarps * kBins; b += kThreads) whist[b] = 0;
    if (tid == 0) sh.min_digit = kBins;
    __syncthreads();
    unsigned long long* wh = whist + warp * kBins;
    int my_min = kBins;
    for (int i = tid; i < rv.vocab; i += kThreads) {
      const float s = ld(rv.x + i) * rv.mul;
      const uint32_t key = order_key(s);
      if ((key & mask) != prefix || !rv.eligible(i, key, s)) continue;
      const int d = (key >> shift) & 0xFF;
      atomicAdd(wh + d, rv.weight(s));
      my_min = min(my_min, d);
    }
    if (my_min < kBins) atomicMin(&sh.min_digit, my_min);
    __syncthreads();
    if (tid < kBins) {
      unsigned long long t = 0;
      for (int w = 0; w < kWarps; ++w) t += whist[w * kBins + tid];
      sh.tot[tid] = t;
    }
    __syncthreads();
    if (tid == 0) {
      int chosen = -1;
      if (!fallback) {
        unsigned long long acc = 0;
        for (int b = kBins - 1; b >= 0; --b) {
          const unsigned long long h = sh.tot[b];
          if (h > 0 && (strict ? acc + h > rem : acc + h >= rem)) {
            chosen = b;
            rem -= acc;
            break;
          }
          acc += h;
        }
      }
      if (chosen < 0) {  // never reached: descend towards the last eligible token
        fallback = true;
        chosen = sh.min_digit < kBins ? sh.min_digit : 0;
      }
      sh.sel_digit = chosen;
      sh.sel_rem = rem;
      sh.sel_fallback = fallback;
    }
    __syncthreads();
    prefix |= static_cast<uint32_t>(sh.sel_digit) << shift;
    mask |= 0xFFu << shift;
    rem = sh.sel_rem;
    fallback = sh.sel_fallback;
  }

  // Tokens tied on the final key: rank them by id (contiguous id ranges per thread).
  const int chunk = (rv.vocab + kThreads - 1) / kThreads;
  const int lo = min(tid * chunk, rv.vocab), hi = min(lo + chunk, rv.vocab);
  uint32_t cnt = 0;
  for (int i = lo; i < hi; ++i) {
    const float s = ld(rv.x + i) * rv.mul;
    const uint32_t key = order_key(s);
    if (key == prefix && rv.eligible(i, key, s)) ++cnt;
  }
  uint32_t total = 0;
  const uint32_t before = block_exclusive_scan(cnt, &total, sh);
  if (tid == 0) {
    unsigned long long r = 0;
    if (total == 0) {
      r = 0;
    } else if (fallback) {
      r = total - 1;
    } else if (!rv.mass) {
      r = rem >= 1 ? rem - 1 : 0;
    } else {
      const unsigned long long wv = rv.weight(key_value(prefix));
      if (wv == 0) r = total - 1;
      else if (strict) r = rem / wv;
      else r = rem == 0 ? 0 : (rem + wv - 1) / wv - 1;
    }
    sh.tie_rank = r < total ? r : total - 1;
    sh.result = Cut{prefix, total == 0 ? INT_MAX : -1};
  }
  __syncthreads();
  const unsigned long long r = sh.tie_rank;
  if (cnt > 0 && r >= before && r < before + cnt) {
    uint32_t k = before;
    for (int i = lo; i < hi; ++i) {
      const float s = ld(rv.x + i) * rv.mul;
      const uint32_t key = order_key(s);
      if (key == prefix && rv.eligible(i, key, s)) {
        if (k == r) {
          sh.result.id = i;
          break;
        }
        ++k;
      }
    }
  }
  __syncthreads();
  const Cut c = sh.result;
  __syncthreads();
  return c;
}

// Sum of the weights of the eligible tokens.
__device__ unsigned long long eligible_mass(const RowView& rv, Shared& sh) {
  unsigned long long t = 0;
  for (int i = threadIdx.x; i < rv.vocab; i += kThreads) {
    const float s = ld(rv.x + i) * rv.mul;
    if (rv.eligible(i, order_key(s), s)) t += rv.weight(s);
  }
  return block_sum_u64(t, sh);
}

// ---- kernels ----

__global__ void __launch_bounds__(kThreads) sample_kernel(float* logits, int vocab, const SampleParamsDev* params,
                                                         const PenaltyEntry* entries, float* saved,
                                                         const BiasEntry* biases, float* bias_saved,
                                                         const uint32_t* masks, SampleOut* out) {
  extern __shared__ unsigned long long whist[];  // [kWarps][kBins]
  __shared__ Shared sh;
  const int tid = threadIdx.x;
  float* x = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  const SampleParamsDev p = params[blockIdx.x];
  SampleOut* o = out + blockIdx.x;

  // 1. log_softmax of the raw logits.
  float mx = -INFINITY;
  for (int i = tid; i < vocab; i += kThreads) mx = fmaxf(mx, ld(x + i));
  mx = block_reduce_f(mx, true, sh);
  float se = 0.0f;
  for (int i = tid; i < vocab; i += kThreads) se += expf(ld(x + i) - mx);
  se = block_reduce_f(se, false, sh);
  const float lse = mx + logf(se);

  // 2. The top raw logits, for top_logprobs.
  const int n_top = min(min(p.n_logprobs, kMaxTopLogprobs), vocab);
  if (n_top > 0) {
    const RowView raw{x, vocab, 1.0f, 0.0f, false, 0.0f, Cut{0u, INT_MAX}};
    const Cut c = block_select(raw, static_cast<unsigned long long>(n_top), false, sh, whist);
    if (tid == 0) sh.n_collected = 0;
    __syncthreads();
    for (int i = tid; i < vocab; i += kThreads) {
      const float v = ld(x + i);
      if (!at_or_before(order_key(v), i, c)) continue;
      const int slot = atomicAdd(&sh.n_collected, 1);
      if (slot < kMaxTopLogprobs) {
        sh.top_ids[slot] = i;
        sh.top_vals[slot] = v;
      }
    }
    __syncthreads();
    if (tid == 0) {
      const int n = min(sh.n_collected, n_top);
      for (int a = 1; a < n; ++a) {  // insertion sort: value desc, id asc
        const int id = sh.top_ids[a];
        const float v = sh.top_vals[a];
        int b = a - 1;
        while (b >= 0 && (sh.top_vals[b] < v || (sh.top_vals[b] == v && sh.top_ids[b] > id))) {
          sh.top_ids[b + 1] = sh.top_ids[b];
          sh.top_vals[b + 1] = sh.top_vals[b];
          --b;
        }
        sh.top_ids[b + 1] = id;
        sh.top_vals[b + 1] = v;
      }
      for (int a = 0; a < n; ++a) {
        o->top_ids[a] = sh.top_ids[a];
        o->top_logprobs[a] = sh.top_vals[a] - lse;
      }
      o->n_top = n;
    }
  } else if (tid == 0) {
    o->n_top = 0;
  }

  // 3. logit_bias then penalties, in place; the raw values are kept for the chosen
  // token's logprob.
  for (int e = tid; e < p.bias_count; e += kThreads) {
    const BiasEntry be = biases[p.bias_offset + e];
    const float v = ld(x + be.token);
    bias_saved[p.bias_offset + e] = v;
    x[be.token] = v + be.bias;
  }
  __syncthreads();
  const bool rep = p.repetition_penalty != 1.0f;
  const bool pres_freq = p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
  for (int e = tid; e < p.pen_count; e += kThreads) {
    const PenaltyEntry pe = entries[p.pen_offset + e];
    const float v = ld(x + pe.token);
    saved[p.pen_offset + e] = v;
    float l = v;
    if (rep) l = l > 0 ? l / p.repetition_penalty : l * p.repetition_penalty;
    if (pres_freq && pe.out_count > 0)
      l -= p.frequency_penalty * static_cast<float>(pe.out_count) + p.presence_penalty;
    x[pe.token] = l;
  }
  __syncthreads();
  // 3b. The constraint's mask: disallowed tokens to -inf (unconstrained rows skip this).
  if (p.mask_row >= 0) {
    const uint32_t* m = masks + static_cast<int64_t>(p.mask_row) * ((vocab + 31) / 32);
    for (int i = tid; i < vocab; i += kThreads)
      if (!((__ldg(m + (i >> 5)) >> (i & 31)) & 1u)) x[i] = -INFINITY;
    __syncthreads();
  }

  // 4. Choose the token.
  unsigned long long best = 0;
  for (int i = tid; i < vocab; i += kThreads) {
    const unsigned long long v =
        (static_cast<unsigned long long>(order_key(ld(x + i))) << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(i));
    best = v > best ? v : best;
  }
  best = block_max_u64(best, sh);
  const int argmax = static_cast<int>(0xFFFFFFFFu - static_cast<uint32_t>(best & 0xFFFFFFFFull));
  int token = argmax;
  if (p.temperature != 0.0f) {
    const float inv_t = 1.0f / p.temperature;
    RowView rv{x, vocab, inv_t, ld(x + argmax) * inv_t, false, 0.0f, Cut{0u, INT_MAX}};
    if (p.top_k > 0 && p.top_k < vocab)
      rv.cut = block_select(rv, static_cast<unsigned long long>(p.top_k), false, sh, whist);
    rv.mass = true;
    if (p.top_p < 1.0f) {
      const unsigned long long z = eligible_mass(rv, sh);
      const auto target = static_cast<unsigned long long>(static_cast<double>(p.top_p) * static_cast<double>(z));
      rv.cut = block_select(rv, target, false, sh, whist);
    }
    rv.min_w = p.min_p;
    const unsigned long long z2 = eligible_mass(rv, sh);
    const double u = uniform_at(p.seed, p.index);
    const auto target = static_cast<unsigned long long>(u * static_cast<double>(z2));
    token = block_select(rv, target, true, sh, whist).id;
    if (token < 0 || token >= vocab) token = argmax;  // no eligible token (NaN logits)
  }

  // 5. The chosen token's raw logit (saved if a penalty changed it).
  if (tid == 0) sh.raw_logit = ld(x + token);
  __syncthreads();
  for (int e = tid; e < p.pen_count; e += kThreads)
    if (entries[p.pen_offset + e].token == token) sh.raw_logit = __ldcg(saved + p.pen_offset + e);
  __syncthreads();
  for (int e = tid; e < p.bias_count; e += kThreads)  // before the bias: the raw value
    if (biases[p.bias_offset + e].token == token) sh.raw_logit = __ldcg(bias_saved + p.bias_offset + e);
  __syncthreads();
  if (tid == 0) {
    o->token = token;
    o->logprob = sh.raw_logit - lse;
  }
}

}  // namespace

// ---- launchers ----

Status launch_sample(float* logits, int64_t n, int64_t vocab, const SampleParamsDev* params,
                     const PenaltyEntry* entries, float* saved, const BiasEntry* biases, float* bias_saved,
                     const uint32_t* masks, SampleOut* out, cudaStream_t stream) {
  if (n == 0) return Status();
  if (vocab <= 0 || vocab > INT32_MAX / 2) return invalid_argument("sample: bad vocabulary size");
  CUDA_CHECK(cudaFuncSetAttribute(sample_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(kHistBytes)));
  sample_kernel<<<static_cast<unsigned>(n), kThreads, kHistBytes, stream>>>(
      logits, static_cast<int>(vocab), params, entries, saved, biases, bias_saved, masks, out);
  CUDA_CHECK_LAUNCH("sample_kernel");
  return Status();
}

}  // namespace ream::cuda
