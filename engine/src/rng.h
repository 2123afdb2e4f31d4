// Counter-based random numbers shared by the CPU and CUDA samplers, so a seeded
// request draws the same uniform for its n-th token on either backend.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define REAM_HD __host__ __device__
#else
#define REAM_HD
#endif

namespace ream {

// splitmix64 finaliser: a strong 64-bit mix.
REAM_HD inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A uniform in [0, 1) for draw `index` of stream `seed` (24 random bits: exact in float).
REAM_HD inline float uniform_at(uint64_t seed, int64_t index) {
  uint64_t h = mix64(seed ^ mix64(static_cast<uint64_t>(index) + 0x632BE59BD9B4E019ull));
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

}  // namespace ream
