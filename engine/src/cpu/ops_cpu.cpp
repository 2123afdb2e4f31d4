// CPU twins of the model's operations, fp32. Written for clarity first; the matrix
// product and attention are blocked and threaded so a tiny model answers instantly
// and a 0.6B model is usable.
#include "cpu/ops_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/thread_pool.h"

// One version per instruction set, picked at load time. Not under ThreadSanitizer: the
// clones' ifunc resolvers run inside the dynamic loader, before the sanitizer's runtime
// is set up, and clang 14 instruments them, so every program crashed at start-up
// (scripts/sanitize.sh); the TSan build has the default version only.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define REAM_CPU_CLONES
#endif
#endif
#ifndef REAM_CPU_CLONES
#define REAM_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

namespace ream {
namespace {

// Dot product with 8 independent accumulators so the compiler can use SIMD lanes.
REAM_CPU_CLONES
float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Dot product of fp32 `a` with bf16 `b` (a bf16 is the top half of an fp32).
REAM_CPU_CLONES
float dot_bf16(const float* a, const uint16_t* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) {
      uint32_t bits = static_cast<uint32_t>(b[i + k]) << 16;
      float w;
      std::memcpy(&w, &bits, sizeof w);
      acc[k] += a[i + k] * w;
    }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) {
    uint32_t bits = static_cast<uint32_t>(b[i]) << 16;
    float w;
    std::memcpy(&w, &bits, sizeof w);
    s += a[i] * w;
  }
  return s;
}

REAM_CPU_CLONES
void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

void embedding_cpu(const float* table, const int32_t* ids, int64_t n, int64_t dim, float* out) {
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out + i * dim, table + static_cast<int64_t>(ids[i]) * dim, dim * sizeof(float));
}

void rmsnorm_cpu(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * dim;
    double ss = 0;
    for (int64_t j = 0; j < dim; ++j) ss += static_cast<double>(xi[j]) * xi[j];
    float inv = 1.0f / std::sqrt(static_cast<float>(ss / dim) + eps);
    for (int64_t j = 0; j < dim; ++j) out[i * dim + j] = xi[j] * inv * w[j];
  }
}

void add_rmsnorm_cpu(float* residual, const float* x, const float* w, int64_t n, int64_t dim,
                     float eps, float* out) {
  for (int64_t i = 0; i < n * dim; ++i) residual[i] += x[i];
  rmsnorm_cpu(residual, w, n, dim, eps, out);
}

void qk_norm_rope_cpu(float* qk, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                      const float* norm_w, const int32_t* positions, double theta, float eps) {
  const int64_t half = head_dim / 2;
  std::vector<float> cos_t(half), sin_t(half);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t j = 0; j < half; ++j) {
      // inv_freq is computed in fp32 as transformers does, then the angle in fp32.
      const float expo = static_cast<float>(2 * j) / static_cast<float>(head_dim);
      const float inv_freq =
          1.0f / static_cast<float>(std::pow(static_cast<double>(static_cast<float>(theta)), static_cast<double>(expo)));
      float angle = static_cast<float>(positions[t]) * inv_freq;
      cos_t[j] = std::cos(angle);
      sin_t[j] = std::sin(angle);
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = qk + (t * n_heads + h) * head_dim;
      rmsnorm_cpu(v, norm_w, 1, head_dim, eps, v);
      for (int64_t j = 0; j < half; ++j) {
        float a = v[j], b = v[j + half];
        v[j] = a * cos_t[j] - b * sin_t[j];
        v[j + half] = b * cos_t[j] + a * sin_t[j];
      }
    }
  }
}

namespace {

// Blocks of output features keep a slab of W hot in cache while every row of x passes.
template <class W, class Dot>
void blocked_matmul(const float* x, const W* w, int64_t n, int64_t in, int64_t out, float* y,
                    ThreadPool* pool, Dot dot_fn) {
  constexpr int64_t kBlock = 16;
  const int64_t n_blocks = (out + kBlock - 1) / kBlock;
  auto run = [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t j0 = b * kBlock, j1 = std::min(out, j0 + kBlock);
      for (int64_t i = 0; i < n; ++i) {
        const float* xi = x + i * in;
        for (int64_t j = j0; j < j1; ++j) y[i * out + j] = dot_fn(xi, w + j * in, in);
      }
    }
  };
  if (pool) pool->parallel_for(n_blocks, 1, run);
  else run(0, n_blocks);
}

}  // namespace

void matmul_cpu(const float* x, const float* w, int64_t n, int64_t in, int64_t out, float* y,
                ThreadPool* pool) {
  blocked_matmul(x, w, n, in, out, y, pool, dot);
}

void matmul_bf16w_cpu(const float* x, const uint16_t* w, int64_t n, int64_t in, int64_t out,
                      float* y, ThreadPool* pool) {
  blocked_matmul(x, w, n, in, out, y, pool, dot_bf16);
}

void swiglu_cpu(const float* gate, const float* up, int64_t n, int64_t width, float* out) {
  for (int64_t i = 0; i < n * width; ++i) {
    float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void kv_store_cpu(const float* k, const float* v, const int64_t* slot_mapping, int64_t n_tokens,
                  int64_t n_kv_heads, int64_t head_dim, int64_t block_size, float* k_cache,
                  float* v_cache) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t block = slot_mapping[t] / block_size, offset = slot_mapping[t] % block_size;
    for (int64_t h = 0; h < n_kv_heads; ++h) {
      const int64_t dst = ((block * n_kv_heads + h) * block_size + offset) * head_dim;
      const int64_t src = (t * n_kv_heads + h) * head_dim;
      std::memcpy(k_cache + dst, k + src, head_dim * sizeof(float));
      std::memcpy(v_cache + dst, v + src, head_dim * sizeof(float));
    }
  }
}

void paged_attention_cpu(const float* q, const float* k_cache, const float* v_cache,
                         const int32_t* block_table, int64_t query_len, int64_t context_len,
                         int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t block_size,
                         float* out) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t group = n_heads / n_kv_heads;
  const int64_t first_pos = context_len - query_len;
  std::vector<float> scores(context_len);
  for (int64_t i = 0; i < query_len; ++i) {
    const int64_t n_keys = first_pos + i + 1;  // causal: keys at positions <= the query's
    for (int64_t h = 0; h < n_heads; ++h) {
      const int64_t kvh = h / group;
      const float* qi = q + (i * n_heads + h) * head_dim;
      float max_s = -INFINITY;
      for (int64_t p = 0; p < n_keys; ++p) {
        const int64_t block = block_table[p / block_size], off = p % block_size;
        const float* kp = k_cache + ((block * n_kv_heads + kvh) * block_size + off) * head_dim;
        scores[p] = dot(qi, kp, head_dim) * scale;
        max_s = std::max(max_s, scores[p]);
      }
      double sum = 0;
      for (int64_t p = 0; p < n_keys; ++p) {
        scores[p] = std::exp(scores[p] - max_s);
        sum += scores[p];
      }
      float* oi = out + (i * n_heads + h) * head_dim;
      std::fill(oi, oi + head_dim, 0.0f);
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t p = 0; p < n_keys; ++p) {
        const int64_t block = block_table[p / block_size], off = p % block_size;
        const float* vp = v_cache + ((block * n_kv_heads + kvh) * block_size + off) * head_dim;
        axpy(scores[p] * inv, vp, oi, head_dim);
      }
    }
  }
}

}  // namespace ream
