// The decode fusions and the streaming small-n product against the kernels they replace,
// bit for bit, on fresh random inputs: QK-norm + RoPE + KV store in one launch against
// launch_qk_norm_rope then launch_kv_store; the streaming product (blocks of 16 and of 32
// weight rows) against session 4's "rounds" kernel for n in {1, 2, 3, 7, 16, 31, 32, 33,
// 64, 200} at Qwen3-4B's decode shapes and ragged ones; the gate/up product with SwiGLU in
// its epilogue against the product followed by launch_swiglu; the fast path's GEMV with
// SwiGLU in its epilogue against the GEMV then launch_swiglu. The kernels they are compared with are held to
// the CPU twins by kernels_test.cpp, so these inherit that meaning. Launches go to a
// created stream, back to back as in the forward pass (with programmatic dependent
// launch where the device has it when REAM_PDL=1 is set: pdl.cuh).
#include <numeric>
#include <string>
#include <vector>

#include "cuda/activation.cuh"
#include "cuda/gemm.cuh"
#include "cuda/gemm_hopper.cuh"
#include "cuda/kv_cache.cuh"
#include "cuda/rope.cuh"
#include "cuda_test_util.h"

namespace ream::test {
namespace {

using cuda::bf16;
constexpr int64_t kHidden = 2560, kHeads = 32, kKvHeads = 8, kHeadDim = 128, kInter = 9728;
constexpr float kEps = 1e-6f;
const std::vector<int64_t> kRows = {1, 2, 3, 7, 16, 31, 32, 33, 64, 200};
// The streaming kernel's block widths (16 and 32 weight rows) and its own choice.
const std::vector<std::pair<cuda::SmallGemm, const char*>> kStreamKinds = {
    {cuda::SmallGemm::kStreamNarrow, "narrow blocks"},
    {cuda::SmallGemm::kStreamWide, "wide blocks"},
    {cuda::SmallGemm::kStream, "the kernel's choice"}};

// n bf16 values uniform in [-scale, scale) (raw generator bits: fast enough for the
// 50M-element weight matrices of the real shapes).
std::vector<uint16_t> rand_bf16(std::mt19937_64& rng, size_t n, float scale) {
  std::vector<uint16_t> v(n);
  for (auto& x : v) {
    const float u = static_cast<float>(rng() >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    x = f32_to_bf16((2.0f * u - 1.0f) * scale);
  }
  return v;
}

// got == want word for word; on a difference, how many words differ and the first few.
template <class T>
void expect_same_bits(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int64_t differ = 0;
  std::string first;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;
    if (++differ <= 4)
      first += " [" + std::to_string(i) + "] " + std::to_string(got[i]) + " != " + std::to_string(want[i]);
  }
  EXPECT_EQ(differ, 0) << what << ": " << differ << " of " << got.size() << " words differ:" << first;
}

class TestStream {
 public:
  TestStream() { EXPECT_EQ(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), cudaSuccess); }
  ~TestStream() { cudaStreamDestroy(s_); }
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

TEST(CudaFused, QkNormRopeKvStoreIsTheTwoKernelsBitForBit) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  TestStream stream;
  const int64_t stride = (kHeads + 2 * kKvHeads) * kHeadDim;
  for (const int64_t T : {int64_t{1}, int64_t{32}, int64_t{300}}) {
    for (const int64_t bs : {int64_t{16}, int64_t{64}}) {
      SCOPED_TRACE("tokens " + std::to_string(T) + ", block size " + std::to_string(bs));
      const int64_t blocks = (T + bs - 1) / bs + 3;
      const int64_t cache_n = blocks * kKvHeads * bs * kHeadDim;
      const auto qkv = to_bf16(randn_bf16(rng, T * stride, 2.0f));
      std::vector<int32_t> pos(T);
      for (auto& p : pos) p = static_cast<int32_t>(rng() % 262144);
      std::vector<int64_t> all(blocks * bs);
      std::iota(all.begin(), all.end(), 0);
      std::shuffle(all.begin(), all.end(), rng);
      std::vector<int64_t> slots(all.begin(), all.begin() + T);
      for (int64_t t = 0; t < T; t += 7) slots[t] = -1;  // not stored
      const auto qn = randn_bf16(rng, kHeadDim, 0.3f, 1.0f), kn = randn_bf16(rng, kHeadDim, 0.3f, 1.0f);
      const auto kc = to_bf16(randn_bf16(rng, cache_n)), vc = to_bf16(randn_bf16(rng, cache_n));
      DevVec<int32_t> d_pos(pos);
      DevVec<int64_t> d_slots(slots);
      DevVec<float> d_qn(qn), d_kn(kn);
      DevVec<float2> d_cs(T * kHeadDim / 2);
      ASSERT_TRUE(cuda::launch_rope_cos_sin(d_pos.get(), T, kHeadDim, 5e6, d_cs.get(), stream.get()).ok());

      DevVec<uint16_t> a_qkv(qkv), a_kc(kc), a_vc(vc);  // the two launches
      bf16* a = a_qkv.as<bf16>();
      ASSERT_TRUE(cuda::launch_qk_norm_rope(a, T, kHeads, kKvHeads, kHeadDim, stride, d_qn.get(), d_kn.get(),
                                            d_cs.get(), kEps, stream.get())
                      .ok());
      ASSERT_TRUE(cuda::launch_kv_store(a + kHeads * kHeadDim, a + (kHeads + kKvHeads) * kHeadDim, stride,
                                        d_slots.get(), T, kKvHeads, kHeadDim, bs, a_kc.as<bf16>(), a_vc.as<bf16>(),
                                        stream.get())
                      .ok());
      DevVec<uint16_t> b_qkv(qkv), b_kc(kc), b_vc(vc);  // the fused launch
      const Status st = cuda::launch_qk_norm_rope_kv_store(b_qkv.as<bf16>(), T, kHeads, kKvHeads, kHeadDim, stride,
                                                           d_qn.get(), d_kn.get(), d_cs.get(), kEps, d_slots.get(), bs,
                                                           b_kc.as<bf16>(), b_vc.as<bf16>(), stream.get());
      ASSERT_TRUE(st.ok()) << st.message();
      const auto got_qkv = b_qkv.host();
      expect_same_bits(got_qkv, a_qkv.host(), "q and k after the norm and the rotation");
      expect_same_bits(b_kc.host(), a_kc.host(), "key cache");
      expect_same_bits(b_vc.host(), a_vc.host(), "value cache");
      EXPECT_NE(got_qkv, qkv) << "the kernel changed nothing";
    }
  }
}

// y for `rows` rows of x through the given small-n kernel choice; fp32 or bf16 output.
std::vector<uint32_t> product_bits(cuda::SmallGemm which, const DevVec<uint16_t>& x, const DevVec<uint16_t>& w,
                                   int64_t rows, int64_t in, int64_t out, bool f32, cudaStream_t stream) {
  DevVec<uint32_t> y(rows * out);  // bf16 output: the first half, the rest stays poisoned alike
  const Status st =
      cuda::launch_matmul_invariant_with(which, x.as<bf16>(), w.as<bf16>(), rows, in, out, y.get(), f32, stream);
  EXPECT_TRUE(st.ok()) << st.message();
  return y.host();
}

TEST(CudaFused, StreamingProductIsTheRoundsKernelBitForBit) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  TestStream stream;
  // Qwen3-4B's decode products (qkv, o, down) and ragged ones (a K tail shorter than a
  // segment, an output tile cut short).
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {kHidden, (kHeads + 2 * kKvHeads) * kHeadDim}, {kHeads * kHeadDim, kHidden}, {kInter, kHidden}, {1312, 999}};
  for (const auto& [in, out] : shapes) {
    const int64_t max_rows = kRows.back();
    DevVec<uint16_t> x(rand_bf16(rng, max_rows * in, 2.0f)), w(rand_bf16(rng, out * in, 0.05f));
    for (const int64_t n : kRows) {
      for (const bool f32 : {true, false}) {
        SCOPED_TRACE("in " + std::to_string(in) + ", out " + std::to_string(out) + ", rows " + std::to_string(n) +
                     (f32 ? ", fp32" : ", bf16"));
        const auto want = product_bits(cuda::SmallGemm::kRounds, x, w, n, in, out, f32, stream.get());
        for (const auto& [which, name] : kStreamKinds) {
          const auto got = product_bits(which, x, w, n, in, out, f32, stream.get());
          ASSERT_EQ(got.size(), want.size());
          int64_t differ = 0;
          for (size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
          EXPECT_EQ(differ, 0) << name << ": of " << got.size() << " output words";
        }
      }
    }
  }
}

TEST(CudaFused, GateUpProductWithSwigluIsTheProductThenSwigluBitForBit) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  TestStream stream;
  for (const int64_t inter : {kInter, int64_t{1004}}) {  // 1004: the last block's 8 features cut short
    const int64_t in = kHidden, max_rows = kRows.back();
    DevVec<uint16_t> x(rand_bf16(rng, max_rows * in, 2.0f)), w(rand_bf16(rng, 2 * inter * in, 0.05f));
    for (const int64_t n : kRows) {
      SCOPED_TRACE("intermediate " + std::to_string(inter) + ", rows " + std::to_string(n));
      DevVec<uint16_t> gate_up(n * 2 * inter), want(n * inter);
      ASSERT_TRUE(cuda::launch_matmul_invariant_with(cuda::SmallGemm::kRounds, x.as<bf16>(), w.as<bf16>(), n, in,
                                                     2 * inter, gate_up.get(), false, stream.get())
                      .ok());
      ASSERT_TRUE(cuda::launch_swiglu(gate_up.as<bf16>(), n, inter, want.as<bf16>(), stream.get()).ok());
      const auto h = want.host();
      for (const auto& [which, name] : kStreamKinds) {
        DevVec<uint16_t> got(n * inter), scratch(n * 2 * inter);
        const Status st = cuda::launch_matmul_swiglu_invariant_with(which, x.as<bf16>(), w.as<bf16>(), n, in, inter,
                                                                    scratch.as<bf16>(), got.as<bf16>(), stream.get());
        ASSERT_TRUE(st.ok()) << st.message();
        const auto g = got.host();
        int64_t differ = 0;
        for (size_t i = 0; i < g.size(); ++i) differ += g[i] != h[i];
        EXPECT_EQ(differ, 0) << name << ": of " << g.size() << " activations";
      }
    }
  }
}

// The fast path's GEMV with SwiGLU in its epilogue (n <= 8) against the GEMV into bf16
// then launch_swiglu; above 8 rows both are cuBLAS then launch_swiglu.
TEST(CudaFused, GemvWithSwigluIsTheGemvThenSwigluBitForBit) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  TestStream stream;
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  for (const int64_t inter : {kInter, int64_t{1003}}) {  // 1003: a last block of 8 warps cut short
    const int64_t in = kHidden;
    DevVec<uint16_t> x(rand_bf16(rng, 9 * in, 2.0f)), w(rand_bf16(rng, 2 * inter * in, 0.05f));
    for (int64_t n = 1; n <= 9; ++n) {
      SCOPED_TRACE("intermediate " + std::to_string(inter) + ", rows " + std::to_string(n));
      DevVec<uint16_t> gate_up(n * 2 * inter), want(n * inter), got(n * inter), scratch(n * 2 * inter);
      ASSERT_TRUE(cuda::launch_matmul(h, x.as<bf16>(), w.as<bf16>(), n, in, 2 * inter, gate_up.get(), false,
                                      stream.get())
                      .ok());
      ASSERT_TRUE(cuda::launch_swiglu(gate_up.as<bf16>(), n, inter, want.as<bf16>(), stream.get()).ok());
      const Status st = cuda::launch_matmul_swiglu(h, x.as<bf16>(), w.as<bf16>(), n, in, inter, scratch.as<bf16>(),
                                                   got.as<bf16>(), stream.get());
      ASSERT_TRUE(st.ok()) << st.message();
      const auto g = got.host(), e = want.host();
      int64_t differ = 0;
      for (size_t i = 0; i < g.size(); ++i) differ += g[i] != e[i];
      EXPECT_EQ(differ, 0) << "of " << g.size() << " activations";
    }
  }
  cublasDestroy(h);
}

// The Hopper (wgmma) large-n kernel against the mma.sync tiled kernel on Qwen3-4B's prefill
// products and ragged shapes (token and feature counts not multiples of the 128 x 128
// tile, a last segment shorter than 256 k), fp32 and bf16 outputs; and the batch-invariance
// contract itself: the first rows of a large product are bitwise the same rows computed
// alone by the small-n kernels.
TEST(CudaGemm, HopperKernelIsTheMmaKernelBitForBit) {
  REAM_REQUIRE_GPU();
  if (!cuda::gemm_hopper_supported(kHidden)) GTEST_SKIP() << "needs an sm_90a build on a compute capability 9.0 device";
  auto rng = fresh_rng();
  TestStream stream;
  struct Shape { int64_t in, out; };
  const std::vector<Shape> shapes = {{kHidden, (kHeads + 2 * kKvHeads) * kHeadDim}, {kHeads * kHeadDim, kHidden},
                                     {kInter, kHidden}, {1344, 999}};
  for (const auto& [in, out] : shapes) {
    const int64_t max_rows = 1000;
    DevVec<uint16_t> x(rand_bf16(rng, max_rows * in, 2.0f)), w(rand_bf16(rng, out * in, 0.05f));
    DevVec<uint16_t> scratch(max_rows * in);
    for (const int64_t n : {int64_t{129}, int64_t{300}, max_rows}) {
      for (const bool f32 : {true, false}) {
        SCOPED_TRACE("in " + std::to_string(in) + ", out " + std::to_string(out) + ", rows " + std::to_string(n) +
                     (f32 ? ", fp32" : ", bf16"));
        DevVec<uint32_t> want(n * out), got(n * out);
        Status st = cuda::launch_matmul_invariant_large(cuda::LargeGemm::kMma, x.as<bf16>(), w.as<bf16>(), n, in, out,
                                                        want.get(), f32, stream.get());
        ASSERT_TRUE(st.ok()) << st.message();
        const auto e = want.host();
        // Every variant but the one in natural k order (a measurement, not the arithmetic).
        for (int v = 0; v < cuda::gemm_hopper_variants(); ++v) {
          if (!cuda::gemm_hopper_variant_canonical(v)) continue;
          cuda::set_gemm_hopper_variant(v);
          // Room for x's slot-order copy lent here (the backend's way); the default launch
          // below goes without (the kernel's own buffer).
          st = cuda::launch_matmul_invariant_large(cuda::LargeGemm::kHopper, x.as<bf16>(), w.as<bf16>(), n, in, out,
                                                   got.get(), f32, stream.get(), scratch.as<bf16>(), max_rows * in);
          ASSERT_TRUE(st.ok()) << st.message();
          expect_same_bits(got.host(), e, ("hopper variant " + std::to_string(v) + " against mma.sync").c_str());
        }
        cuda::set_gemm_hopper_variant(-1);
        st = cuda::launch_matmul_invariant_large(cuda::LargeGemm::kHopper, x.as<bf16>(), w.as<bf16>(), n, in, out,
                                                 got.get(), f32, stream.get());
        ASSERT_TRUE(st.ok()) << st.message();
        const auto g = got.host();
        expect_same_bits(g, e, "hopper against mma.sync");
        // Rows 0..6 alone (the small-n kernels) are the same rows of the large product.
        const int64_t few = 7;
        DevVec<uint32_t> alone(few * out);
        st = cuda::launch_matmul_invariant(x.as<bf16>(), w.as<bf16>(), few, in, out, alone.get(), f32, stream.get());
        ASSERT_TRUE(st.ok()) << st.message();
        const auto a = alone.host();
        const size_t words = static_cast<size_t>(f32 ? few * out : (few * out + 1) / 2);
        const std::vector<uint32_t> head(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(words));
        std::vector<uint32_t> a_head(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(words));
        if (!f32 && (few * out) % 2 != 0) a_head.back() = (a_head.back() & 0xFFFFu) | (head.back() & 0xFFFF0000u);
        expect_same_bits(a_head, head, "7 rows alone against the same rows of the large product");
      }
    }
  }
}

}  // namespace
}  // namespace ream::test
