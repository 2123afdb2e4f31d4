// Helpers shared by the CUDA tests: GPU detection (tests skip without one), fresh random
// inputs, bf16 rounding on the host, device buffers from vectors, relative L2 error.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <random>
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "model/safetensors.h"

namespace ream::test {

inline bool have_gpu() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return n > 0;
}

#define REAM_REQUIRE_GPU()                                                                   \
  do {                                                                                       \
    if (!::ream::test::have_gpu()) GTEST_SKIP() << "no CUDA device: GPU tests need one (label gpu)"; \
  } while (0)

// A generator seeded from std::random_device: inputs are fresh on every run. The seed
// is printed so a failure can be replayed.
inline std::mt19937_64 fresh_rng() {
  const uint64_t seed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  std::printf("[ rng seed ] %llu\n", static_cast<unsigned long long>(seed));
  return std::mt19937_64(seed);
}

// n values ~ N(mean, std^2), rounded to bf16 (so host and device see the same numbers).
inline std::vector<float> randn_bf16(std::mt19937_64& rng, size_t n, float std = 1.0f, float mean = 0.0f) {
  std::normal_distribution<float> d(mean, std);
  std::vector<float> v(n);
  for (auto& x : v) x = bf16_to_f32(f32_to_bf16(d(rng)));
  return v;
}

inline std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f32_to_bf16(v[i]);
  return out;
}

inline std::vector<float> from_bf16(const std::vector<uint16_t>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = bf16_to_f32(v[i]);
  return out;
}

// x rounded to bf16 (nearest even), as a float.
inline float rbf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// How two vectors of bf16 values differ, in bf16 units in the last place: the fraction of
// elements that differ at all and the largest difference. A kernel that rounds where its
// host model rounds differs only where fp32 details (an rsqrtf, an expf, a summation
// order) put a value on the other side of a rounding boundary: rarely, and by one unit.
struct UlpDiff {
  double frac_differ = 0;
  int64_t max_ulps = 0;
};
inline UlpDiff ulp_diff(const std::vector<float>& got, const std::vector<float>& want) {
  auto ordered = [](float v) {  // bf16 bit pattern -> integers in the order of the values
    const int32_t b = f32_to_bf16(v);
    return (b & 0x8000) ? -static_cast<int64_t>(b & 0x7FFF) : static_cast<int64_t>(b);
  };
  UlpDiff d;
  int64_t n_diff = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const int64_t u = std::llabs(ordered(got[i]) - ordered(want[i]));
    if (std::isnan(got[i]) != std::isnan(want[i])) return {1.0, INT64_MAX};
    n_diff += u != 0;
    d.max_ulps = std::max(d.max_ulps, u);
  }
  d.frac_differ = got.empty() ? 0.0 : static_cast<double>(n_diff) / static_cast<double>(got.size());
  return d;
}

// ||a - b|| / ||b||; NaN anywhere gives +inf.
inline double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return INFINITY;
    const double d = static_cast<double>(a[i]) - b[i];
    num += d * d;
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// A device allocation filled from / read into host vectors.
template <class T>
class DevVec {
 public:
  explicit DevVec(size_t n) : n_(n) {
    EXPECT_EQ(cudaMalloc(&p_, std::max<size_t>(n, 1) * sizeof(T)), cudaSuccess);
    // Poison: every output element must be written by the kernel under test.
    EXPECT_EQ(cudaMemset(p_, 0xFF, std::max<size_t>(n, 1) * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  // The upload is complete when the constructor returns: a pageable cudaMemcpy may return
  // before its last DMA lands, and kernels under test run on created (non-blocking)
  // streams that do not wait for the legacy stream's memset and copy.
  explicit DevVec(const std::vector<T>& v) : DevVec(v.size()) {
    EXPECT_EQ(cudaMemcpy(p_, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  ~DevVec() { cudaFree(p_); }
  DevVec(const DevVec&) = delete;
  DevVec& operator=(const DevVec&) = delete;
  T* get() const { return p_; }
  template <class U> U* as() const { return reinterpret_cast<U*>(p_); }
  std::vector<T> host() const {
    std::vector<T> v(n_);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(v.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return v;
  }

 private:
  T* p_ = nullptr;
  size_t n_;
};

}  // namespace ream::test
