// ream_cuda_bench: throughput of the CUDA backend on a random Qwen3-4B-shaped model held
// in host memory (no checkpoint on disk needed), plus the attention kernels alone.
//
//   ream_cuda_bench [all|decode|decode32|prefill|attention|gemm|shared|stream-probe] [prefill_tokens]
//
// Prints one line per measurement: weight upload, batch-1 and batch-32 greedy decode
// (tokens/s), a long prompt prefilled in chunks (s), attention TFLOP/s and GB/s; `gemm`:
// cuBLAS at 8192^3 and Qwen3-4B's prefill products through each batch-invariant large-n
// kernel and cuBLAS (TFLOP/s; the invariant kernels' outputs compared bit for bit).
// REAM_BENCH_INVARIANT_ONLY=1 skips the fast path's backend.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <cublas_v2.h>

#include "backend.h"
#include "cuda/attention.cuh"
#include "cuda/gemm.cuh"
#include "cuda/gemm_hopper.cuh"
#include "model/qwen3.h"
#include "rng.h"

using namespace ream;
using Clock = std::chrono::steady_clock;

namespace ream::bench {
void run_stream_probe(int64_t rows, int64_t row_bytes);  // stream_probe.cu
}

namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct HostModel {
  std::vector<std::vector<uint16_t>> data;
  std::vector<std::unique_ptr<TensorView>> views;
  std::shared_ptr<LoadedModel> model;
};

// bf16 noise ~ U(-a, a) (a = std * sqrt(3)), filled on all cores.
void fill(std::vector<uint16_t>& v, float std, float mean, uint64_t seed) {
  const unsigned n_threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> th;
  const size_t per = (v.size() + n_threads - 1) / n_threads;
  for (unsigned t = 0; t < n_threads; ++t)
    th.emplace_back([&, t] {
      const size_t lo = t * per, hi = std::min(v.size(), lo + per);
      for (size_t i = lo; i < hi; ++i) {
        const float u = uniform_at(seed, static_cast<int64_t>(i)) * 2.0f - 1.0f;
        v[i] = f32_to_bf16(mean + u * std * 1.7320508f);
      }
    });
  for (auto& x : th) x.join();
}

HostModel make_qwen3_4b() {
  HostModel h;
  auto m = std::make_shared<LoadedModel>();
  ModelConfig& c = m->config;
  c.vocab_size = 151936; c.hidden_size = 2560; c.intermediate_size = 9728; c.num_hidden_layers = 36;
  c.num_attention_heads = 32; c.num_key_value_heads = 8; c.head_dim = 128;
  c.max_position_embeddings = 262144; c.rms_norm_eps = 1e-6; c.rope_theta = 5e6; c.tie_word_embeddings = true;
  uint64_t seed = 1;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float std, float mean = 0.0f) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    h.data.emplace_back(n);
    fill(h.data.back(), std, mean, seed++);
    auto v = std::make_unique<TensorView>();
    v->name = name; v->dtype = DType::kBF16; v->shape = shape; v->data = h.data.back().data();
    v->nbytes = n * 2; v->file = "memory";
    h.views.push_back(std::move(v));
    return h.views.back().get();
  };
  const int64_t H = c.hidden_size, I = c.intermediate_size, q = c.num_attention_heads * c.head_dim,
                kv = c.num_key_value_heads * c.head_dim;
  m->weights.embed_tokens = add("embed", {c.vocab_size, H}, 0.02f);
  m->weights.lm_head = m->weights.embed_tokens;
  m->weights.norm = add("norm", {H}, 0.05f, 1.0f);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    Qwen3LayerWeights w{};
    w.input_layernorm = add("ln1", {H}, 0.05f, 1.0f);
    w.q_proj = add("q", {q, H}, 0.02f);
    w.k_proj = add("k", {kv, H}, 0.02f);
    w.v_proj = add("v", {kv, H}, 0.02f);
    w.o_proj = add("o", {H, q}, 0.02f);
    w.q_norm = add("qn", {c.head_dim}, 0.05f, 1.0f);
    w.k_norm = add("kn", {c.head_dim}, 0.05f, 1.0f);
    w.post_attention_layernorm = add("ln2", {H}, 0.05f, 1.0f);
    w.gate_proj = add("gate", {I, H}, 0.02f);
    w.up_proj = add("up", {I, H}, 0.02f);
    w.down_proj = add("down", {H, I}, 0.02f);
    m->weights.layers.push_back(w);
  }
  h.model = m;
  return h;
}

struct Runner {
  Backend* b;
  int block_size;
  int64_t next_block = 0;
  SamplingParams sp;
  struct Seq {
    std::vector<int32_t> table;
    int32_t len = 0;
    int32_t last = 0;
  };
  Seq new_seq(int32_t max_len) {
    Seq s;
    for (int32_t i = 0; i < (max_len + block_size - 1) / block_size; ++i) s.table.push_back(next_block++);
    return s;
  }
  void add(StepBatch& batch, Seq& s, int32_t n, bool sample) {
    SeqSlice sl;
    sl.query_start = static_cast<int32_t>(batch.tokens.size());
    sl.query_len = n;
    sl.context_len = s.len + n;
    sl.block_table = s.table;
    sl.sample = sample;
    sl.sampling = &sp;
    for (int32_t i = 0; i < n; ++i) {
      batch.tokens.push_back(n == 1 ? s.last : static_cast<int32_t>((s.len + i) * 7919 % 150000));
      batch.positions.push_back(s.len + i);
    }
    s.len += n;
    batch.seqs.push_back(sl);
  }
  bool run(const StepBatch& batch, std::vector<SampleResult>* out) {
    const Status st = b->step(batch, out);
    if (!st.ok()) std::printf("step failed: %s\n", st.message().c_str());
    return st.ok();
  }
};

void bench_decode(Backend* b, int batch_size, int prompt, int steps, int chunk) {
  Runner r{b, 16};
  r.sp.temperature = 0.0f;
  std::vector<Runner::Seq> seqs;
  for (int i = 0; i < batch_size; ++i) seqs.push_back(r.new_seq(prompt + steps + 1));
  // Prefill, several sequences per step.
  for (size_t i = 0; i < seqs.size();) {
    StepBatch batch;
    int64_t used = 0;
    for (; i < seqs.size() && used + prompt <= chunk; ++i, used += prompt) r.add(batch, seqs[i], prompt, true);
    std::vector<SampleResult> out;
    if (!r.run(batch, &out)) return;
  }
  for (auto& s : seqs) s.last = 42;
  double t = 0;
  for (int step = 0; step < steps + 3; ++step) {
    StepBatch batch;
    for (auto& s : seqs) r.add(batch, s, 1, true);
    std::vector<SampleResult> out;
    const auto t0 = Clock::now();
    if (!r.run(batch, &out)) return;
    if (step >= 3) t += since(t0);  // the first steps warm up
    for (size_t k = 0; k < seqs.size(); ++k) seqs[k].last = out[k].token;
  }
  std::printf("decode batch %-3d context %5d: %8.1f tok/s  (%.3f ms/step)\n", batch_size, prompt,
              batch_size * steps / t, 1e3 * t / steps);
}

// n questions over one cached document (legal_review's shape): the document prefilled once,
// every sequence's table beginning with its blocks (as the prefix cache hands them out), a
// `suffix`-token question each, then `steps` decode steps of all n together. Run with
// REAM_DECODE_SHARE=0 to time the same steps with every sequence reading its own copy of the
// document's keys.
void bench_shared_decode(Backend* b, int n, int doc, int suffix, int steps, int chunk) {
  Runner r{b, 16};
  r.sp.temperature = 0.0f;
  Runner::Seq d = r.new_seq(doc);
  for (int done = 0; done < doc; done += chunk) {
    StepBatch batch;
    r.add(batch, d, std::min(chunk, doc - done), false);
    std::vector<SampleResult> out;
    if (!r.run(batch, &out)) return;
  }
  std::vector<Runner::Seq> seqs;
  for (int i = 0; i < n; ++i) {
    Runner::Seq s = r.new_seq(suffix + steps + 4);
    s.table.insert(s.table.begin(), d.table.begin(), d.table.end());
    s.len = doc;
    seqs.push_back(std::move(s));
  }
  {
    StepBatch batch;
    for (auto& s : seqs) r.add(batch, s, suffix, true);
    std::vector<SampleResult> out;
    if (!r.run(batch, &out)) return;
    for (size_t k = 0; k < seqs.size(); ++k) seqs[k].last = out[k].token;
  }
  double t = 0;
  for (int step = 0; step < steps + 3; ++step) {
    StepBatch batch;
    for (auto& s : seqs) r.add(batch, s, 1, true);
    std::vector<SampleResult> out;
    const auto t0 = Clock::now();
    if (!r.run(batch, &out)) return;
    if (step >= 3) t += since(t0);
    for (size_t k = 0; k < seqs.size(); ++k) seqs[k].last = out[k].token;
  }
  const char* env = std::getenv("REAM_DECODE_SHARE");
  std::printf("decode %d questions over one %d-token document (sharing %s): %8.1f tok/s  (%.3f ms/step)\n", n, doc,
              env && std::string(env) == "0" ? "off" : "on", n * steps / t, 1e3 * t / steps);
}

void bench_prefill(Backend* b, int total, int chunk) {
  Runner r{b, 16};
  r.sp.temperature = 0.0f;
  Runner::Seq s = r.new_seq(total + 1);
  const auto t0 = Clock::now();
  for (int done = 0; done < total; done += chunk) {
    const int n = std::min(chunk, total - done);
    StepBatch batch;
    r.add(batch, s, n, done + n == total);
    std::vector<SampleResult> out;
    const auto t1 = Clock::now();
    if (!r.run(batch, &out)) return;
    if ((done / chunk) % 8 == 7 || done + n == total)
      std::printf("  prefill chunk ending at %6d: %.3f s (total %.2f s)\n", done + n, since(t1), since(t0));
  }
  const double t = since(t0);
  std::printf("prefill %d tokens (chunks of %d): %.2f s, %.0f tok/s\n", total, chunk, t, total / t);
}

// The attention kernels alone. Prefill: whole prompts of N tokens in chunks of 8192 (each
// chunk attends to everything before it), the mma.sync kernel and the Hopper kernel
// (wgmma) side by side, their outputs compared bit for bit; then decode.
void bench_attention() {
  using namespace ream::cuda;
  const int nh = 32, nkv = 8, hd = 128, chunk = 8192;
  const int bs = std::getenv("REAM_ATTN_BS") ? std::atoi(std::getenv("REAM_ATTN_BS")) : 16;  // KV block size
  // REAM_ATTN_PROFILE=1: only the default Hopper variant, once per length (for a profiler).
  const bool profile = std::getenv("REAM_ATTN_PROFILE") != nullptr;
  // REAM_ATTN_DEFAULT_ONLY=1: the default Hopper variant only (the performance table).
  const bool only_default = std::getenv("REAM_ATTN_DEFAULT_ONLY") != nullptr;
  const int ctx = 262144;
  const int64_t blocks = ctx / bs;
  const int64_t cache_elems = blocks * nkv * bs * hd;
  bf16 *k, *v, *q, *o, *o2;
  int32_t* bt;
  AttnSeq* seqs;
  AttnWork* work;
  float *po, *pml;
  {  // noise, not constants (they hide wrong indexing); the same query rows serve every chunk
    std::vector<uint16_t> h(cache_elems);
    cudaMalloc(&k, cache_elems * 2); cudaMalloc(&v, cache_elems * 2);
    fill(h, 1.0f, 0.0f, 11); cudaMemcpy(k, h.data(), cache_elems * 2, cudaMemcpyHostToDevice);
    fill(h, 1.0f, 0.0f, 12); cudaMemcpy(v, h.data(), cache_elems * 2, cudaMemcpyHostToDevice);
    h.resize(int64_t{chunk} * nh * hd);
    fill(h, 1.0f, 0.0f, 13);
    cudaMalloc(&q, h.size() * 2); cudaMemcpy(q, h.data(), h.size() * 2, cudaMemcpyHostToDevice);
  }
  cudaMalloc(&o, int64_t{chunk} * nh * hd * 2);
  cudaMalloc(&o2, int64_t{chunk} * nh * hd * 2);
  std::vector<int32_t> table(blocks);
  std::iota(table.begin(), table.end(), 0);
  std::mt19937_64 rng(7);
  std::shuffle(table.begin(), table.end(), rng);  // pages scattered, as a long-running cache has them
  cudaMalloc(&bt, blocks * 4); cudaMemcpy(bt, table.data(), blocks * 4, cudaMemcpyHostToDevice);
  const int max_seqs = ctx / chunk;
  cudaMalloc(&seqs, max_seqs * sizeof(AttnSeq));
  cudaMalloc(&work, (ctx / 32 + 64) * sizeof(AttnWork));  // >= every work list below
  cudaMalloc(&po, int64_t{131072} * hd * 4); cudaMalloc(&pml, 131072 * 8);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0); cudaEventCreate(&e1);
  AttentionArgs a;
  a.q_stride = nh * hd; a.k_cache = k; a.v_cache = v; a.out_stride = nh * hd;
  a.block_tables = bt; a.seqs = seqs; a.n_heads = nh; a.n_kv_heads = nkv; a.head_dim = hd; a.block_size = bs;
  a.num_blocks = blocks; a.scale = 1.0f / std::sqrt(128.0f); a.part_o = po; a.part_ml = pml;
  std::printf("attention: Hopper kernel %s on this device\n", hopper_attention_supported(a) ? "available" : "NOT available");
  // One prompt of n tokens in chunks: chunk i is sequence i (its rows read the same query
  // rows, query_start 0) over context (i + 1) * chunk; its work items start at i * per_chunk.
  const int per_chunk = chunk / (kAttnRowsPrefill / (nh / nkv));
  auto setup_prompt = [&](int n) {
    std::vector<AttnSeq> ss;
    std::vector<AttnWork> w;
    for (int c0 = 0, i = 0; c0 < n; c0 += chunk, ++i) {
      ss.push_back({0, std::min(chunk, n - c0), c0 + std::min(chunk, n - c0), 0});
      append_attention_work(i, ss.back().query_len, kAttnRowsPrefill, nh / nkv, &w);
    }
    cudaMemcpy(seqs, ss.data(), ss.size() * sizeof(AttnSeq), cudaMemcpyHostToDevice);
    cudaMemcpy(work, w.data(), w.size() * sizeof(AttnWork), cudaMemcpyHostToDevice);
  };
  auto run_prompt = [&](int n, bool portable, int piece_len, bf16* out) -> Status {
    a.portable_only = portable;
    a.piece_len = piece_len;
    a.q = q; a.out = out; a.seqs = seqs;
    for (int c0 = 0, i = 0; c0 < n; c0 += chunk, ++i) {
      a.work = work + static_cast<int64_t>(i) * per_chunk;
      a.n_work = (std::min(chunk, n - c0) + kAttnRowsPrefill / (nh / nkv) - 1) / (kAttnRowsPrefill / (nh / nkv));
      a.num_splits = choose_attention_splits(int64_t{a.n_work} * nkv, c0 + chunk, 132, 131072, kAttnRowsPrefill,
                                             piece_len);
      REAM_RETURN_IF_ERROR(launch_paged_attention(a, kAttnRowsPrefill, nullptr));
    }
    return Status();
  };
  // Lengths from argv (REAM_ATTN_LENGTHS, comma-separated) or the default set. Each length:
  // the mma.sync kernel, then every Hopper scheduling variant (set_hopper_attention_variant)
  // held bit for bit against it; all with the batch-invariant 256-key pieces, and the
  // default variant again with one piece (the fast path's setting) against mma.sync's.
  std::vector<int> lengths = {8192, 32768, 131072, 262144};
  if (const char* env = std::getenv("REAM_ATTN_LENGTHS")) {
    lengths.clear();
    for (const char* p = env; *p;) {
      lengths.push_back(std::atoi(p));
      while (*p && *p != ',') ++p;
      if (*p == ',') ++p;
    }
  }
  // Piece lengths (REAM_ATTN_PIECES, comma-separated, 0 = one piece): the batch-invariant
  // 256 and one piece by default; others to measure what the folds cost.
  std::vector<int> pieces = {kAttnPiece, kAttnPieceWhole};
  if (const char* env = std::getenv("REAM_ATTN_PIECES")) {
    pieces.clear();
    for (const char* p = env; *p;) {
      const int v = std::atoi(p);
      pieces.push_back(v == 0 ? kAttnPieceWhole : v);
      while (*p && *p != ',') ++p;
      if (*p == ',') ++p;
    }
  }
  const int64_t elems = int64_t{chunk} * nh * hd;  // the last chunk's rows
  auto count_diff = [&]() {
    std::vector<uint16_t> h1(elems), h2(elems);
    cudaMemcpy(h1.data(), o, elems * 2, cudaMemcpyDeviceToHost);
    cudaMemcpy(h2.data(), o2, elems * 2, cudaMemcpyDeviceToHost);
    int64_t diff = 0;
    for (int64_t i = 0; i < elems; ++i) diff += h1[i] != h2[i];
    return diff;
  };
  for (int n : lengths) {
    setup_prompt(n);
    const double flops = 4.0 * hd * nh * (0.5 * n * (n + 1.0));  // causal: sum over queries of keys seen
    auto time_prompt = [&](bool portable, int piece_len, bf16* out, float* ms) -> bool {
      Status st = run_prompt(n, portable, piece_len, out);  // warm-up
      if (!st.ok()) { std::printf("attention failed: %s\n", st.message().c_str()); return false; }
      const int reps = n >= 131072 ? 2 : 5;
      cudaEventRecord(e0);
      for (int r = 0; r < reps; ++r) (void)run_prompt(n, portable, piece_len, out);
      cudaEventRecord(e1);
      cudaEventSynchronize(e1);
      cudaEventElapsedTime(ms, e0, e1);
      *ms /= reps;
      const cudaError_t err = cudaGetLastError();
      if (err != cudaSuccess) { std::printf("attention failed: %s\n", cudaGetErrorString(err)); return false; }
      return true;
    };
    if (profile) {
      const Status st = run_prompt(n, false, kAttnPiece, o2);
      cudaDeviceSynchronize();
      std::printf("attention prefill %6d tokens, default Hopper variant, once: %s\n", n, st.ok() ? "ok" : st.message().c_str());
      continue;
    }
    for (int piece : pieces) {
      const std::string pname_s = piece == kAttnPieceWhole ? "one piece" : "pieces of " + std::to_string(piece);
      const char* pname = pname_s.c_str();
      float ms_ref = 0;
      if (!time_prompt(true, piece, o, &ms_ref)) return;
      std::printf("attention prefill %6d tokens (chunks of %d, %s), mma.sync: %8.2f ms/layer, %6.1f TFLOP/s\n", n,
                  chunk, pname, ms_ref, flops / (ms_ref * 1e-3) / 1e12);
      if (!hopper_attention_supported(a)) continue;
      for (const int variant : kHopperVariants) {
        if ((piece != kAttnPiece || only_default) && variant != kHopperVariantDefault) continue;
        set_hopper_attention_variant(variant);
        float ms = 0;
        if (!time_prompt(false, piece, o2, &ms)) return;
        std::printf("attention prefill %6d tokens (chunks of %d, %s), wgmma v%d (%s, Q in %s, folds in %s, %s): "
                    "%8.2f ms/layer, "
                    "%6.1f TFLOP/s, %.2fx mma.sync, %lld of %lld outputs differ\n",
                    n, chunk, pname, variant, variant & 1 ? "ping-pong" : "free-running",
                    variant & 2 ? "smem" : "registers", variant & 4 ? "smem" : "registers",
                    variant & 8 ? "softmax under P V" : "softmax after P V", ms, flops / (ms * 1e-3) / 1e12, ms_ref / ms,
                    static_cast<long long>(count_diff()), static_cast<long long>(elems));
      }
      set_hopper_attention_variant(-1);
    }
  }
  a.piece_len = kAttnPiece;
  a.portable_only = false;
  a.q = q; a.out = o;
  auto time_it = [&](const AttentionArgs& args, int rows) {
    for (int i = 0; i < 2; ++i) (void)launch_paged_attention(args, rows, nullptr);
    cudaEventRecord(e0);
    const int reps = 5;
    for (int i = 0; i < reps; ++i) (void)launch_paged_attention(args, rows, nullptr);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    return ms / reps;
  };
  for (int batch : {1, 32}) {
    for (int c : {4096, 32768, 131072}) {
      if (int64_t{batch} * c > ctx * 2) continue;
      std::vector<AttnSeq> ss;
      std::vector<AttnWork> w;
      for (int i = 0; i < batch; ++i) {
        ss.push_back({i, 1, std::min(c, ctx), 0});  // all share one block table: bytes still move
        append_attention_work(i, 1, kAttnRowsDecode, nh / nkv, &w);
      }
      cudaMemcpy(seqs, ss.data(), ss.size() * sizeof(AttnSeq), cudaMemcpyHostToDevice);
      cudaMemcpy(work, w.data(), w.size() * sizeof(AttnWork), cudaMemcpyHostToDevice);
      a.work = work; a.n_work = static_cast<int>(w.size());
      a.num_splits = choose_attention_splits(a.n_work * nkv, c, 132, 131072, kAttnRowsDecode, kAttnPiece);
      const float ms = time_it(a, kAttnRowsDecode);
      const double bytes = 2.0 * batch * c * nkv * hd * 2;
      std::printf("attention decode batch %2d context %6d: %7.3f ms, %6.0f GB/s (splits %d)\n", batch, c, ms,
                  bytes / (ms * 1e-3) / 1e9, a.num_splits);
    }
  }
  cudaFree(k); cudaFree(v); cudaFree(q); cudaFree(o); cudaFree(o2); cudaFree(bt); cudaFree(seqs); cudaFree(work);
  cudaFree(po); cudaFree(pml);
}

}  // namespace

// cuBLAS's bf16 GEMM (fp32 accumulation) at m = n = k = 8192: what this card's tensor cores
// deliver under a long matrix load, the yardstick for the attention kernels' TFLOP/s.
void bench_gemm() {
  const int n = 8192;
  using ream::cuda::bf16;
  bf16 *a, *b, *c;
  cudaMalloc(&a, int64_t{n} * n * 2); cudaMalloc(&b, int64_t{n} * n * 2); cudaMalloc(&c, int64_t{n} * n * 2);
  cudaMemset(a, 0, int64_t{n} * n * 2); cudaMemset(b, 0, int64_t{n} * n * 2);
  {
    std::vector<uint16_t> h(int64_t{n} * n);
    fill(h, 1.0f, 0.0f, 21); cudaMemcpy(a, h.data(), h.size() * 2, cudaMemcpyHostToDevice);
    fill(h, 1.0f, 0.0f, 22); cudaMemcpy(b, h.data(), h.size() * 2, cudaMemcpyHostToDevice);
  }
  cublasHandle_t handle;
  cublasCreate(&handle);
  const float one = 1.0f, zero = 0.0f;
  auto gemm = [&] {
    return cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, a, CUDA_R_16BF, n, b, CUDA_R_16BF, n, &zero, c,
                        CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  };
  for (int i = 0; i < 3; ++i) gemm();
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0); cudaEventCreate(&e1);
  const int reps = 20;
  cudaEventRecord(e0);
  for (int i = 0; i < reps; ++i) gemm();
  cudaEventRecord(e1);
  cudaEventSynchronize(e1);
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  ms /= reps;
  std::printf("cuBLAS bf16 GEMM %d^3: %.3f ms, %.1f TFLOP/s\n", n, ms, 2.0 * n * n * n / (ms * 1e-3) / 1e12);
  cublasDestroy(handle);
  cudaFree(a); cudaFree(b); cudaFree(c);
}

// Qwen3-4B's prefill products (qkv, o, gate_up, down) at n tokens: the mma.sync tiled
// kernel, the Hopper kernel and cuBLAS (the fast path), ms and TFLOP/s each; the two
// invariant kernels' bf16 outputs compared word for word.
// gate_up (2,560 -> 19,456) at 4,096 tokens, three launches of the Hopper kernel (the
// variant REAM_GEMM_HOPPER_VARIANT names): a short program for ncu.
void bench_prefill_product_once() {
  using ream::cuda::bf16;
  const int n = 4096, in = 2560, out = 19456;
  bf16 *x, *w, *y;
  cudaMalloc(&x, int64_t{n} * in * 2); cudaMalloc(&w, int64_t{out} * in * 2); cudaMalloc(&y, int64_t{n} * out * 2);
  std::vector<uint16_t> h(int64_t{out} * in);
  fill(h, 0.05f, 0.0f, 32); cudaMemcpy(w, h.data(), h.size() * 2, cudaMemcpyHostToDevice);
  h.resize(int64_t{n} * in);
  fill(h, 1.0f, 0.0f, 31); cudaMemcpy(x, h.data(), h.size() * 2, cudaMemcpyHostToDevice);
  for (int i = 0; i < 3; ++i) {
    const Status st = ream::cuda::launch_matmul_invariant_large(ream::cuda::LargeGemm::kHopper, x, w, n, in, out, y, false, nullptr);
    if (!st.ok()) std::printf("gemm-one: %s\n", st.message().c_str());
  }
  cudaDeviceSynchronize();
  std::printf("gemm-one: done\n");
  cudaFree(x); cudaFree(w); cudaFree(y);
}

void bench_prefill_products(int n) {
  using ream::cuda::bf16;
  struct Shape { const char* name; int in, out; };
  const Shape shapes[] = {{"qkv", 2560, 6144}, {"o", 4096, 2560}, {"gate_up", 2560, 19456}, {"down", 9728, 2560}};
  cublasHandle_t handle;
  cublasCreate(&handle);
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  cublasSetStream(handle, stream);
  for (const Shape& sh : shapes) {
    bf16 *x, *w, *y0, *y1;
    cudaMalloc(&x, int64_t{n} * sh.in * 2); cudaMalloc(&w, int64_t{sh.out} * sh.in * 2);
    cudaMalloc(&y0, int64_t{n} * sh.out * 2); cudaMalloc(&y1, int64_t{n} * sh.out * 2);
    {
      std::vector<uint16_t> h(int64_t{n} * sh.in);
      fill(h, 1.0f, 0.0f, 31); cudaMemcpy(x, h.data(), h.size() * 2, cudaMemcpyHostToDevice);
      h.resize(int64_t{sh.out} * sh.in);
      fill(h, 0.05f, 0.0f, 32); cudaMemcpy(w, h.data(), h.size() * 2, cudaMemcpyHostToDevice);
    }
    cudaDeviceSynchronize();
    auto timed = [&](const char* what, auto&& launch) {
      Status st = launch();
      if (!st.ok()) {
        std::printf("  %-8s %-7s n=%d: %s\n", sh.name, what, n, st.message().c_str());
        return;
      }
      for (int i = 0; i < 2; ++i) (void)launch();
      cudaEvent_t e0, e1;
      cudaEventCreate(&e0); cudaEventCreate(&e1);
      const int reps = 10;
      cudaEventRecord(e0, stream);
      for (int i = 0; i < reps; ++i) (void)launch();
      cudaEventRecord(e1, stream);
      cudaEventSynchronize(e1);
      float ms = 0;
      cudaEventElapsedTime(&ms, e0, e1);
      ms /= reps;
      std::printf("  %-8s %-7s n=%d in=%d out=%d: %.3f ms, %.1f TFLOP/s\n", sh.name, what, n, sh.in, sh.out, ms,
                  2.0 * n * sh.in * sh.out / (ms * 1e-3) / 1e12);
      cudaEventDestroy(e0); cudaEventDestroy(e1);
    };
    using ream::cuda::LargeGemm;
    timed("mma", [&] { return ream::cuda::launch_matmul_invariant_large(LargeGemm::kMma, x, w, n, sh.in, sh.out, y0, false, stream); });
    // Every variant of the Hopper kernel (gemm_hopper.cu): all but one are the canonical
    // arithmetic; that one (natural k order) measures what the slot order costs. The
    // swapped variants' times include their copy of x into slot order.
    for (int v = 0; v < ream::cuda::gemm_hopper_variants(); ++v) {
      ream::cuda::set_gemm_hopper_variant(v);
      const std::string what = "hopper" + std::to_string(v);
      cudaMemset(y1, 0, int64_t{n} * sh.out * 2);
      timed(what.c_str(), [&] { return ream::cuda::launch_matmul_invariant_large(LargeGemm::kHopper, x, w, n, sh.in, sh.out, y1, false, stream); });
      cudaDeviceSynchronize();
      std::vector<uint16_t> a(int64_t{n} * sh.out), b(a.size());
      cudaMemcpy(a.data(), y0, a.size() * 2, cudaMemcpyDeviceToHost);
      cudaMemcpy(b.data(), y1, b.size() * 2, cudaMemcpyDeviceToHost);
      int64_t differ = 0;
      for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
      std::printf("  %-8s %s vs mma: %lld of %zu outputs differ\n", sh.name, what.c_str(), static_cast<long long>(differ), a.size());
    }
    ream::cuda::set_gemm_hopper_variant(-1);
    bf16* y2;
    cudaMalloc(&y2, int64_t{n} * sh.out * 2);
    timed("cublas", [&] { return ream::cuda::launch_matmul(handle, x, w, n, sh.in, sh.out, y2, false, stream); });
    cudaDeviceSynchronize();
    cudaFree(x); cudaFree(w); cudaFree(y0); cudaFree(y1); cudaFree(y2);
  }
  cublasDestroy(handle);
  cudaStreamDestroy(stream);
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "all";
  // REAM_ATTN_VARIANT=N: the Hopper attention kernel's scheduling variant for the whole
  // run (prefill, decode; the attention mode still sweeps them all).
  if (const char* v = std::getenv("REAM_ATTN_VARIANT")) ream::cuda::set_hopper_attention_variant(std::atoi(v));
  const int prefill_tokens = argc > 2 ? std::atoi(argv[2]) : 131072;
  if (mode == "gemm-one") {  // one product (gate_up at 4,096 tokens), for ncu; REAM_GEMM_HOPPER_VARIANT picks
    bench_prefill_product_once();
    return 0;
  }
  if (mode == "stream-probe") {  // the decode products' weight-load pattern against contiguous reads
    ream::bench::run_stream_probe(19456, 2560 * 2);    // gate_up's weights (99.6 MB)
    ream::bench::run_stream_probe(151936, 2560 * 2);   // the LM head's (778 MB)
    return 0;
  }
  if (mode == "gemm") {
    bench_gemm();
    for (const int n : {4096, 8192}) bench_prefill_products(n);
    return 0;
  }
  if (mode == "attention" || mode == "all") bench_attention();
  if (mode == "attention") return 0;
  auto t0 = Clock::now();
  HostModel hm = make_qwen3_4b();
  std::printf("random Qwen3-4B in host memory: %.1f s\n", since(t0));
  // REAM_BENCH_INVARIANT_ONLY=1: the batch-invariant backend only (switches that change
  // nothing on the fast path).
  const bool invariant_only = std::getenv("REAM_BENCH_INVARIANT_ONLY") != nullptr;
  for (bool invariant : {true, false}) {
    if (!invariant && invariant_only) continue;
    BackendOptions o;
    o.max_num_seqs = 64;
    o.max_batch_tokens = 8192;
    o.gpu_memory_utilization = 0.9;
    o.batch_invariant = invariant;
    t0 = Clock::now();
    auto b = make_cuda_backend(hm.model, o);
    if (!b.ok()) {
      std::printf("make_cuda_backend failed: %s\n", b.status().message().c_str());
      return 1;
    }
    std::printf("backend ready in %.2f s (%s, %lld KV blocks), batch_invariant %s\n", since(t0),
                (*b)->name().c_str(), static_cast<long long>((*b)->num_kv_blocks()), invariant ? "on" : "off");
    if (mode == "decode" || mode == "all") {
      bench_decode(b->get(), 1, 512, 128, 8192);
      bench_decode(b->get(), 32, 512, 64, 8192);
      bench_decode(b->get(), 1, 8192, 64, 8192);
    }
    if (mode == "decode32") bench_decode(b->get(), 32, 512, 8, 8192);  // a short run of batch 32, for ncu
    if (mode == "prefill" || mode == "all") bench_prefill(b->get(), prefill_tokens, 8192);
    if (mode == "shared") {  // prefill_tokens: the document's length
      bench_shared_decode(b->get(), 7, prefill_tokens, 64, 64, 8192);
      bench_shared_decode(b->get(), 32, prefill_tokens / 4, 64, 64, 8192);
    }
  }
  return 0;
}
