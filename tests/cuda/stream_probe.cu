// Read-bandwidth probes for the decode products' weight loads (issue 11, ream_cuda_bench
// stream-probe). The streaming product (engine/src/cuda/gemm_stream.cu) reads its weights
// as mma B-fragments: each warp load instruction takes 16 bytes from each of 8 rows at 4
// consecutive offsets, i.e. 8 rows x 64 bytes. These kernels read the same bytes the same
// way (a unit: 16 rows x 256 bytes, 8 loads a lane, two units in flight a warp, as the
// product keeps two groups) and, for comparison, as 512 contiguous bytes a warp
// instruction (a unit: 4 KB in one run), with the same loads in flight. Nothing is
// computed but an XOR of what was read, so the difference is the access pattern alone.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>

#include "cuda/gemm_math.cuh"  // ld_stream: the products' own weight load

namespace ream::bench {
namespace {

__device__ __forceinline__ uint4 ld_nc(const unsigned char* p) {
  return cuda::gemm_detail::ld_stream(reinterpret_cast<const cuda::bf16*>(p));
}

// Unit u's 8 loads of this lane. kRows: unit u = row tile u / seg_units (16 rows), bytes
// [256 (u % seg_units), +256) of each row (row_bytes apart); lane (g = lane / 4, t4 =
// lane % 4), load q: row 8 (q & 1) + g, bytes 64 (q / 2) + 16 t4. Else: unit u = 4 KB at
// 4096 u, load q = bytes 512 q + 16 lane.
template <bool kRows>
__device__ __forceinline__ void load_unit(uint4 (&v)[8], const unsigned char* base, int64_t u, int64_t row_bytes,
                                          int64_t seg_units, int lane) {
#pragma unroll
  for (int q = 0; q < 8; ++q) {
    int64_t off;
    if (kRows) {
      const int64_t rt = u / seg_units, s = u % seg_units;
      off = (16 * rt + 8 * (q & 1) + (lane >> 2)) * row_bytes + 256 * s + 64 * (q >> 1) + 16 * (lane & 3);
    } else {
      off = 4096 * u + 512 * q + 16 * lane;
    }
    v[q] = ld_nc(base + off);
  }
}

template <bool kRows>
__global__ void __launch_bounds__(256) probe_kernel(const unsigned char* base, int64_t units, int64_t row_bytes,
                                                    int64_t seg_units, uint32_t* sink) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int64_t n_warps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  uint32_t acc = 0;
  uint4 a[8], b[8];
  int64_t u = warp;
  if (u < units) load_unit<kRows>(a, base, u, row_bytes, seg_units, lane);
  if (u + n_warps < units) load_unit<kRows>(b, base, u + n_warps, row_bytes, seg_units, lane);
  for (; u < units; u += 2 * n_warps) {
#pragma unroll
    for (int q = 0; q < 8; ++q) acc ^= a[q].x ^ a[q].y ^ a[q].z ^ a[q].w;
    if (u + 2 * n_warps < units) load_unit<kRows>(a, base, u + 2 * n_warps, row_bytes, seg_units, lane);
    if (u + n_warps < units) {
#pragma unroll
      for (int q = 0; q < 8; ++q) acc ^= b[q].x ^ b[q].y ^ b[q].z ^ b[q].w;
    }
    if (u + 3 * n_warps < units) load_unit<kRows>(b, base, u + 3 * n_warps, row_bytes, seg_units, lane);
  }
  if (acc == 0x9e3779b9u) sink[0] = acc;  // keeps the loads; practically never stores
}

}  // namespace

// Times both patterns over a rows x row_bytes matrix (rows % 16 == 0, row_bytes % 256 ==
// 0) and a device-to-device copy of the same bytes; prints GB/s (bytes read / time).
void run_stream_probe(int64_t rows, int64_t row_bytes) {
  const int64_t bytes = rows * row_bytes;
  unsigned char* buf = nullptr;
  unsigned char* dst = nullptr;
  uint32_t* sink = nullptr;
  if (cudaMalloc(&buf, bytes) != cudaSuccess || cudaMalloc(&dst, bytes) != cudaSuccess ||
      cudaMalloc(&sink, 4) != cudaSuccess) {
    std::printf("stream probe: cudaMalloc failed\n");
    return;
  }
  cudaMemset(buf, 1, bytes);
  int sms = 0, dev = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  const int64_t units = bytes / 4096, seg_units = row_bytes / 256;
  auto time = [&](auto launch) {
    launch();  // warm-up
    const int reps = 20;
    cudaEventRecord(e0);
    for (int r = 0; r < reps; ++r) launch();
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    return static_cast<double>(bytes) * reps / (ms * 1e-3) / 1e9;
  };
  for (const int per_sm : {2, 4, 8}) {
    const int blocks = sms * per_sm;
    const double rows_gbps =
        time([&] { probe_kernel<true><<<blocks, 256>>>(buf, units, row_bytes, seg_units, sink); });
    const double contig_gbps =
        time([&] { probe_kernel<false><<<blocks, 256>>>(buf, units, row_bytes, seg_units, sink); });
    std::printf("stream probe %lld x %lld bytes (%.1f MB), %d blocks of 8 warps an SM: 8 rows x 64 B a load %.0f GB/s, "
                "512 contiguous bytes a load %.0f GB/s\n",
                static_cast<long long>(rows), static_cast<long long>(row_bytes), bytes / 1e6, per_sm, rows_gbps,
                contig_gbps);
  }
  const double copy_gbps = time([&] { cudaMemcpyAsync(dst, buf, bytes, cudaMemcpyDeviceToDevice); });
  std::printf("stream probe %.1f MB: device-to-device copy %.0f GB/s read (as much again written)\n", bytes / 1e6,
              copy_gbps);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) std::printf("stream probe failed: %s\n", cudaGetErrorString(err));
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaFree(buf);
  cudaFree(dst);
  cudaFree(sink);
}

}  // namespace ream::bench
