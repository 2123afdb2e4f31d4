// Weights fetched into the L2 cache ahead of the product that reads them (decode).
//
// At batch 1 a step's matrix products stream 8 GB of weights, but the memory is idle
// between them: while a product's last blocks add up their sums, while the next kernel
// launches, and through the small kernels (QK-norm + RoPE, attention, the norms: 29% of
// a batch-1 step's kernel time at 512 keys in session 10's profile, attention 17%, before
// the gaps between kernels). A product whose blocks have issued their last weight
// loads asks the L2 cache to fetch the next products' first bytes
// (`cp.async.bulk.prefetch.L2`: one instruction a lane, nothing waits for it), so the
// next product finds them there. Only timing: no sum changes.
//
// Where (the backend decides, CudaBackend::forward): the QKV product prefetches the output
// projection and the start of gate/up for the attention window; the other products the
// start of the next one. Off unless REAM_L2_PREFETCH="A,N" (MiB) is in the environment: A
// after QKV, N after the others (tools/device_run20.sh P measures settings side by side).
#pragma once

#include <cstdint>

namespace ream::cuda {

// Up to two byte ranges, taken as one (the first, then the second). Each begins 16-byte
// aligned; a length is rounded down to 16 bytes.
struct L2Prefetch {
  const void* p[2] = {nullptr, nullptr};
  int64_t bytes[2] = {0, 0};
};

#if defined(__CUDACC__)
// The calling warp's share `part` of `parts` equal shares of pf, one piece a lane.
__device__ __forceinline__ void prefetch_l2_share(const L2Prefetch& pf, int part, int parts) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const int64_t total = (pf.bytes[0] & ~int64_t{15}) + (pf.bytes[1] & ~int64_t{15});
  if (total <= 0) return;
  const int lane = threadIdx.x & 31;
  const int64_t unit = 16 * 32;  // so that every lane's piece is a multiple of 16 bytes
  const int64_t share = (total / unit + parts - 1) / parts * unit;
  const int64_t piece = share / 32;
  int64_t lo = part * share + lane * piece, hi = lo + piece;
  if (hi > total) hi = total;
  const int64_t b0 = pf.bytes[0] & ~int64_t{15};
  for (int r = 0; r < 2 && lo < hi; ++r) {
    const int64_t start = r == 0 ? 0 : b0, end = r == 0 ? b0 : total;
    const int64_t a = lo > start ? lo : start, e = hi < end ? hi : end;
    for (int64_t o = a; o < e; o += 65536) {
      const int64_t n = e - o < 65536 ? e - o : 65536;
      const char* src = static_cast<const char*>(pf.p[r]) + (o - start);
      asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(src), "r"(static_cast<uint32_t>(n)) : "memory");
    }
  }
#endif
}
#endif

}  // namespace ream::cuda
