// Each elementwise / normalisation / GEMM kernel of the CUDA backend against its CPU twin
// (cpu/ops_cpu.h) on fresh random inputs of Qwen3-4B shapes. bf16 outputs are held to a
// relative L2 error of 1e-2 (bf16 has 8 significant bits); exact copies must be exact.
// The kernels of the bf16 dataflow (norms, RoPE, SwiGLU) must also reproduce, almost
// bitwise, host models of the roundings a bf16 Qwen3 makes in transformers.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "cpu/ops_cpu.h"
#include "cuda/activation.cuh"
#include "cuda/convert.cuh"
#include "cuda/embedding.cuh"
#include "cuda/gemm.cuh"
#include "cuda/gemm_stream.cuh"
#include "cuda/kv_cache.cuh"
#include "cuda/norm.cuh"
#include "cuda/rope.cuh"
#include "cuda_test_util.h"

namespace ream::test {
namespace {

using cuda::bf16;
constexpr int64_t kHidden = 2560, kHeads = 32, kKvHeads = 8, kHeadDim = 128, kInter = 9728;
constexpr float kEps = 1e-6f;

// ---- host models of transformers' bf16 roundings (what the CUDA kernels reproduce) ----

// Qwen3RMSNorm on bf16 input: fp32 statistics, normalised value rounded, times the weight, rounded.
void hf_rmsnorm(const float* x, const float* w, int64_t dim, float eps, float* out) {
  float ss = 0.0f;
  for (int64_t j = 0; j < dim; ++j) ss += x[j] * x[j];
  const float inv = 1.0f / std::sqrt(ss * (1.0f / static_cast<float>(dim)) + eps);
  for (int64_t j = 0; j < dim; ++j) out[j] = rbf16(w[j] * rbf16(x[j] * inv));
}

// Per head: hf_rmsnorm, then q*cos + rotate_half(q)*sin with bf16 cos/sin and every product
// and the sum rounded (transformers' apply_rotary_pos_emb in bf16).
void hf_qk_norm_rope(float* qk, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const float* norm_w,
                     const int32_t* positions, double theta, float eps) {
  const int64_t half = head_dim / 2;
  std::vector<float> c(half), sn(half), v(head_dim);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t j = 0; j < half; ++j) {
      const float expo = static_cast<float>(2 * j) / static_cast<float>(head_dim);
      const float inv_freq = 1.0f / static_cast<float>(std::pow(static_cast<double>(static_cast<float>(theta)), expo));
      const float angle = static_cast<float>(positions[t]) * inv_freq;
      c[j] = rbf16(static_cast<float>(std::cos(static_cast<double>(angle))));
      sn[j] = rbf16(static_cast<float>(std::sin(static_cast<double>(angle))));
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* x = qk + (t * n_heads + h) * head_dim;
      hf_rmsnorm(x, norm_w, head_dim, eps, v.data());
      for (int64_t j = 0; j < half; ++j) {
        x[j] = rbf16(rbf16(v[j] * c[j]) - rbf16(v[j + half] * sn[j]));
        x[j + half] = rbf16(rbf16(v[j + half] * c[j]) + rbf16(v[j] * sn[j]));
      }
    }
  }
}

// A kernel reproducing a host model: almost every element bitwise, the rest a unit or two
// away (fp32 details such as rsqrtf or expf can put a value across a rounding boundary).
void expect_reproduces(const std::vector<float>& got, const std::vector<float>& want, int64_t max_ulps,
                       const std::string& what) {
  const UlpDiff d = ulp_diff(got, want);
  EXPECT_LT(d.frac_differ, 1e-3) << what << ": elements not bitwise equal to transformers' roundings";
  EXPECT_LE(d.max_ulps, max_ulps) << what;
}

TEST(CudaKernels, EmbeddingMatchesCpu) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const int64_t vocab = 3001, n = 37;
  const auto table = randn_bf16(rng, vocab * kHidden);
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % vocab);
  DevVec<uint16_t> d_table(to_bf16(table));
  DevVec<int32_t> d_ids(ids);
  DevVec<uint16_t> d_out(n * kHidden);
  ASSERT_TRUE(cuda::launch_embedding(d_table.as<bf16>(), d_ids.get(), n, kHidden, d_out.as<bf16>(), nullptr).ok());
  std::vector<float> ref(n * kHidden);
  embedding_cpu(table.data(), ids.data(), n, kHidden, ref.data());
  EXPECT_EQ(from_bf16(d_out.host()), ref);
}

TEST(CudaKernels, RmsNormAndAddRmsNormMatchCpuInBf16Roundings) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  for (int64_t dim : {kHidden, int64_t{1000}, int64_t{37}}) {  // vector and scalar paths
    SCOPED_TRACE("dim " + std::to_string(dim));
    const int64_t n = 33;
    auto residual = randn_bf16(rng, n * dim, 3.0f);
    const auto x = randn_bf16(rng, n * dim, 1.0f);
    const auto w = randn_bf16(rng, dim, 0.2f, 1.0f);
    DevVec<uint16_t> d_res(to_bf16(residual)), d_x(to_bf16(x)), d_out(n * dim);
    DevVec<float> d_w(w);
    ASSERT_TRUE(cuda::launch_rmsnorm(d_res.as<bf16>(), d_w.get(), n, dim, kEps, d_out.as<bf16>(), nullptr).ok());
    std::vector<float> ref(n * dim), hf(n * dim);
    rmsnorm_cpu(residual.data(), w.data(), n, dim, kEps, ref.data());
    for (int64_t i = 0; i < n; ++i) hf_rmsnorm(&residual[i * dim], w.data(), dim, kEps, &hf[i * dim]);
    auto got = from_bf16(d_out.host());
    EXPECT_LT(rel_l2(got, ref), 1e-2) << "rmsnorm against the fp32 twin";
    expect_reproduces(got, hf, 2, "rmsnorm");

    ASSERT_TRUE(cuda::launch_add_rmsnorm(d_res.as<bf16>(), d_x.as<bf16>(), d_w.get(), n, dim, kEps,
                                         d_out.as<bf16>(), nullptr)
                    .ok());
    std::vector<float> summed(n * dim);
    for (size_t i = 0; i < summed.size(); ++i) summed[i] = rbf16(residual[i] + x[i]);
    EXPECT_EQ(from_bf16(d_res.host()), summed) << "residual = bf16(residual + x)";
    add_rmsnorm_cpu(residual.data(), x.data(), w.data(), n, dim, kEps, ref.data());
    for (int64_t i = 0; i < n; ++i) hf_rmsnorm(&summed[i * dim], w.data(), dim, kEps, &hf[i * dim]);
    got = from_bf16(d_out.host());
    EXPECT_LT(rel_l2(got, ref), 1e-2) << "add_rmsnorm against the fp32 twin";
    expect_reproduces(got, hf, 2, "add_rmsnorm");
  }
}

TEST(CudaKernels, QkNormRopeMatchesCpuInBf16Roundings) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const int64_t T = 45, stride = (kHeads + 2 * kKvHeads) * kHeadDim;
  auto qkv = randn_bf16(rng, T * stride, 2.0f);
  std::vector<int32_t> pos(T);
  for (auto& p : pos) p = static_cast<int32_t>(rng() % 262144);
  const auto qn = randn_bf16(rng, kHeadDim, 0.3f, 1.0f), kn = randn_bf16(rng, kHeadDim, 0.3f, 1.0f);
  for (const double theta : {1e6, 5e6}) {
    SCOPED_TRACE("theta " + std::to_string(theta));
    DevVec<uint16_t> d_qkv(to_bf16(qkv));
    DevVec<int32_t> d_pos(pos);
    DevVec<float> d_qn(qn), d_kn(kn);
    DevVec<float2> d_cs(T * kHeadDim / 2);
    ASSERT_TRUE(cuda::launch_rope_cos_sin(d_pos.get(), T, kHeadDim, theta, d_cs.get(), nullptr).ok());
    ASSERT_TRUE(cuda::launch_qk_norm_rope(d_qkv.as<bf16>(), T, kHeads, kKvHeads, kHeadDim, stride, d_qn.get(),
                                          d_kn.get(), d_cs.get(), kEps, nullptr)
                    .ok());
    const auto got = from_bf16(d_qkv.host());
    // CPU: q and k as separate contiguous tensors.
    std::vector<float> q(T * kHeads * kHeadDim), k(T * kKvHeads * kHeadDim), gq(q.size()), gk(k.size());
    for (int64_t t = 0; t < T; ++t) {
      std::copy_n(qkv.begin() + t * stride, kHeads * kHeadDim, q.begin() + t * kHeads * kHeadDim);
      std::copy_n(qkv.begin() + t * stride + kHeads * kHeadDim, kKvHeads * kHeadDim,
                  k.begin() + t * kKvHeads * kHeadDim);
      std::copy_n(got.begin() + t * stride, kHeads * kHeadDim, gq.begin() + t * kHeads * kHeadDim);
      std::copy_n(got.begin() + t * stride + kHeads * kHeadDim, kKvHeads * kHeadDim,
                  gk.begin() + t * kKvHeads * kHeadDim);
      // V is untouched.
      for (int64_t j = (kHeads + kKvHeads) * kHeadDim; j < stride; ++j)
        ASSERT_EQ(got[t * stride + j], qkv[t * stride + j]);
    }
    std::vector<float> hq = q, hk = k;
    qk_norm_rope_cpu(q.data(), T, kHeads, kHeadDim, qn.data(), pos.data(), theta, kEps);
    qk_norm_rope_cpu(k.data(), T, kKvHeads, kHeadDim, kn.data(), pos.data(), theta, kEps);
    EXPECT_LT(rel_l2(gq, q), 1e-2);
    EXPECT_LT(rel_l2(gk, k), 1e-2);
    hf_qk_norm_rope(hq.data(), T, kHeads, kHeadDim, qn.data(), pos.data(), theta, kEps);
    hf_qk_norm_rope(hk.data(), T, kKvHeads, kHeadDim, kn.data(), pos.data(), theta, kEps);
    // A sum can cancel, so a one-unit change in a product is many units of the result:
    // held to the fraction of differing elements and a tight relative error instead.
    EXPECT_LT(ulp_diff(gq, hq).frac_differ, 1e-3);
    EXPECT_LT(ulp_diff(gk, hk).frac_differ, 1e-3);
    EXPECT_LT(rel_l2(gq, hq), 1e-4);
    EXPECT_LT(rel_l2(gk, hk), 1e-4);
  }
}

TEST(CudaKernels, SwigluMatchesCpuInBf16Roundings) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  for (int64_t width : {kInter, int64_t{333}}) {
    const int64_t n = 19;
    const auto gate_up = randn_bf16(rng, n * 2 * width, 2.0f);
    std::vector<float> gate(n * width), up(n * width), ref(n * width), hf(n * width);
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(gate_up.begin() + i * 2 * width, width, gate.begin() + i * width);
      std::copy_n(gate_up.begin() + i * 2 * width + width, width, up.begin() + i * width);
    }
    swiglu_cpu(gate.data(), up.data(), n, width, ref.data());
    for (size_t i = 0; i < hf.size(); ++i) hf[i] = rbf16(rbf16(gate[i] / (1.0f + std::exp(-gate[i]))) * up[i]);
    DevVec<uint16_t> d_in(to_bf16(gate_up)), d_out(n * width);
    ASSERT_TRUE(cuda::launch_swiglu(d_in.as<bf16>(), n, width, d_out.as<bf16>(), nullptr).ok());
    const auto got = from_bf16(d_out.host());
    EXPECT_LT(rel_l2(got, ref), 1e-2) << "width " << width;
    expect_reproduces(got, hf, 2, "swiglu width " + std::to_string(width));
  }
}

TEST(CudaKernels, KvStoreMatchesCpu) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const int64_t T = 70, blocks = 40, bs = 16, stride = (kHeads + 2 * kKvHeads) * kHeadDim;
  const int64_t cache_n = blocks * kKvHeads * bs * kHeadDim;
  const auto qkv = randn_bf16(rng, T * stride);
  std::vector<int64_t> all(blocks * bs);
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), rng);
  std::vector<int64_t> slots(all.begin(), all.begin() + T);
  auto kc = randn_bf16(rng, cache_n), vc = randn_bf16(rng, cache_n);
  DevVec<uint16_t> d_qkv(to_bf16(qkv)), d_kc(to_bf16(kc)), d_vc(to_bf16(vc));
  DevVec<int64_t> d_slots(slots);
  const bf16* base = d_qkv.as<bf16>();
  ASSERT_TRUE(cuda::launch_kv_store(base + kHeads * kHeadDim, base + (kHeads + kKvHeads) * kHeadDim, stride,
                                    d_slots.get(), T, kKvHeads, kHeadDim, bs, d_kc.as<bf16>(), d_vc.as<bf16>(),
                                    nullptr)
                  .ok());
  std::vector<float> k(T * kKvHeads * kHeadDim), v(k.size());
  for (int64_t t = 0; t < T; ++t) {
    std::copy_n(qkv.begin() + t * stride + kHeads * kHeadDim, kKvHeads * kHeadDim, k.begin() + t * kKvHeads * kHeadDim);
    std::copy_n(qkv.begin() + t * stride + (kHeads + kKvHeads) * kHeadDim, kKvHeads * kHeadDim,
                v.begin() + t * kKvHeads * kHeadDim);
  }
  kv_store_cpu(k.data(), v.data(), slots.data(), T, kKvHeads, kHeadDim, bs, kc.data(), vc.data());
  EXPECT_EQ(from_bf16(d_kc.host()), kc);
  EXPECT_EQ(from_bf16(d_vc.host()), vc);
}

TEST(CudaKernels, MatmulMatchesCpu) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{8}, int64_t{37}, int64_t{300}}) {
    const int64_t in = kHidden, out = 1536;
    const auto x = randn_bf16(rng, n * in), w = randn_bf16(rng, out * in, 0.02f);
    std::vector<float> ref(n * out);
    matmul_cpu(x.data(), w.data(), n, in, out, ref.data(), nullptr);
    DevVec<uint16_t> d_x(to_bf16(x)), d_w(to_bf16(w)), d_y16(n * out);
    DevVec<float> d_y32(n * out);
    ASSERT_TRUE(cuda::launch_matmul(h, d_x.as<bf16>(), d_w.as<bf16>(), n, in, out, d_y32.get(), true, nullptr).ok());
    ASSERT_TRUE(cuda::launch_matmul(h, d_x.as<bf16>(), d_w.as<bf16>(), n, in, out, d_y16.get(), false, nullptr).ok());
    EXPECT_LT(rel_l2(d_y32.host(), ref), 1e-4) << "fp32 output, n " << n;  // n <= 8: the GEMV kernel
    EXPECT_LT(rel_l2(from_bf16(d_y16.host()), ref), 1e-2) << "bf16 output, n " << n;
  }
  cublasDestroy(h);
}

// The batch-invariant product: close to the CPU, and every row bitwise the same whatever
// the row count (small-n kernel, tiled kernel, ragged tails of features and of K segments).
TEST(CudaKernels, MatmulInvariantRowsDoNotDependOnTheBatch) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  for (const auto& [in, out] : std::vector<std::pair<int64_t, int64_t>>{{1312, 1000}, {512, 999}, {2560, 2048}}) {
    SCOPED_TRACE("in " + std::to_string(in) + ", out " + std::to_string(out));
    const int64_t big = 300;
    const auto x = randn_bf16(rng, big * in), w = randn_bf16(rng, out * in, 0.02f);
    std::vector<float> ref(big * out);
    matmul_cpu(x.data(), w.data(), big, in, out, ref.data(), nullptr);
    DevVec<uint16_t> d_w(to_bf16(w));
    auto run = [&](int64_t row0, int64_t n, bool f32) {
      const std::vector<float> xs(x.begin() + row0 * in, x.begin() + (row0 + n) * in);
      DevVec<uint16_t> d_x(to_bf16(xs)), d_y16(n * out);
      DevVec<float> d_y32(n * out);
      void* y = f32 ? static_cast<void*>(d_y32.get()) : static_cast<void*>(d_y16.get());
      const Status st = cuda::launch_matmul_invariant(d_x.as<bf16>(), d_w.as<bf16>(), n, in, out, y, f32, nullptr);
      EXPECT_TRUE(st.ok()) << st.message();
      return f32 ? d_y32.host() : from_bf16(d_y16.host());
    };
    const auto all32 = run(0, big, true), all16 = run(0, big, false);
    EXPECT_LT(rel_l2(all32, ref), 1e-4);
    EXPECT_LT(rel_l2(all16, ref), 1e-2);
    for (const auto& [row0, n] : std::vector<std::pair<int64_t, int64_t>>{
             {0, 1}, {7, 1}, {299, 1}, {3, 5}, {10, 16}, {40, 17}, {1, 33}, {100, 64}, {20, 100}, {150, 129}, {0, 256}}) {
      SCOPED_TRACE("rows " + std::to_string(row0) + " + " + std::to_string(n));
      // The streaming kernel (n <= 32) also with 3 blocks, each looping over many row tiles.
      for (const int cap : {0, 3}) {
        if (cap > 0 && n > 32) continue;
        SCOPED_TRACE("streaming kernel's blocks capped at " + std::to_string(cap));
        cuda::set_gemm_stream_block_cap(cap);
        const auto y32 = run(row0, n, true), y16 = run(row0, n, false);
        cuda::set_gemm_stream_block_cap(0);
        EXPECT_EQ(y32, std::vector<float>(all32.begin() + row0 * out, all32.begin() + (row0 + n) * out));
        EXPECT_EQ(y16, std::vector<float>(all16.begin() + row0 * out, all16.begin() + (row0 + n) * out));
      }
    }
  }
}

TEST(CudaKernels, ConvertRoundsLikeTheHost) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  std::normal_distribution<float> d(0.0f, 10.0f);
  std::vector<float> f(100003);
  for (auto& x : f) x = d(rng);
  std::vector<uint16_t> want(f.size()), half(f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    want[i] = f32_to_bf16(f[i]);
    half[i] = f32_to_f16(f[i]);
  }
  DevVec<float> d_f(f);
  DevVec<uint16_t> d_h(half), d_out(f.size());
  DevVec<float> d_back(f.size());
  ASSERT_TRUE(cuda::launch_convert_to_bf16(DType::kF32, d_f.get(), f.size(), d_out.as<bf16>(), nullptr).ok());
  EXPECT_EQ(d_out.host(), want);
  ASSERT_TRUE(cuda::launch_convert_to_f32(DType::kF16, d_h.get(), f.size(), d_back.get(), nullptr).ok());
  const auto back = d_back.host();
  for (size_t i = 0; i < f.size(); i += 997) EXPECT_EQ(back[i], f16_to_f32(half[i]));
}

}  // namespace
}  // namespace ream::test
