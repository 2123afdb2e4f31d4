// The CUDA backend: Qwen3 forward over the paged bf16 KV cache, one stream, everything
// allocated at creation.
//
// Creation uploads the weights (weights.cpp), preallocates every activation for
// max_batch_tokens / max_num_seqs, then gives the KV cache what is left (kv_cache_bytes,
// or gpu_memory_utilization of the card minus what is in use). A step: validate and pack
// the metadata on the host (step_inputs.cpp), one H2D copy, the forward pass (8-11
// launches per layer, none allocating, each through launch_pdl: programmatic dependent
// launch when REAM_PDL=1, pdl.cuh), the LM head on the sampled rows only, the sampler, one D2H copy of the
// results and one synchronisation. Buffers never move, so decode steps (one token and one
// sample per sequence) run as CUDA graphs, captured once per (batch size, attention
// splits and rounds, shared-prefix groups) and replayed: ~300-400 launches become one.
// Decode sequences whose tables begin with the same cached blocks (questions over one
// document) read those keys once a step (plan_shared_decode; REAM_DECODE_SHARE=0: off).
// REAM_CUDA_GRAPHS=0 in the environment turns graphs off. A step with constrained rows
// (grammar masks) launches the forward pass and the LM head first, computes the masks on
// the host while they run (StepBatch::fill_masks), then uploads them and samples.
//
// Dataflow: bf16 between kernels, fp32 inside them, rounded where a bf16 Qwen3 in
// transformers rounds: the residual stream after every add, each projection's output, the
// norms' normalised value and their product with the weight, cos/sin and each RoPE product,
// silu(gate) and its product with up, and the logits (then widened to fp32 for the
// sampler). So ream computes the function people serve, not a near neighbour of it: its
// logits are within one bf16 unit of a model of this dataflow (docs/cuda_backend.md).
//
// Batch invariance (BackendOptions::batch_invariant, on by default): the matrix products
// run ream's fixed-order kernels (gemm_invariant.cu) instead of GEMV / cuBLAS, and
// attention folds fixed pieces of kAttnPiece keys (attention.cu), so every token's K/V and
// every sampled row's logits are bitwise the same whatever else is in the step, however
// the prompt was chunked and whether its prefix came from the cache. Every other kernel
// already works row by row. Off: cuBLAS and the GEMV kernel (faster prefill products).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include <spdlog/spdlog.h>

#include "backend.h"
#include "cuda/attention.cuh"
#include "cuda/common.cuh"
#include "cuda/convert.cuh"
#include "cuda/embedding.cuh"
#include "cuda/gemm.cuh"
#include "cuda/norm.cuh"
#include "cuda/rope.cuh"
#include "cuda/sampling.cuh"
#include "cuda/step_inputs.cuh"
#include "cuda/weights.cuh"
#include "model/qwen3.h"

namespace ream {
namespace cuda {
namespace {

constexpr size_t kCublasWorkspace = size_t{32} << 20;
constexpr int64_t kPartialRows = 131072;  // split-attention partial rows (x head_dim fp32)
constexpr int64_t kFoldStateRows = 16384;  // split-round running states (x head_dim + 2 fp32)
constexpr size_t kReserveBytes = size_t{512} << 20;  // left free for cuBLAS, the driver, graphs

// How many bytes of the next products' weights a decode product asks the L2 cache for
// (l2_prefetch.cuh): after_qkv for the attention window, after_other for the gap before
// the next product. Steps of up to kL2PrefetchMaxRows tokens (the streaming kernel's).
struct L2PrefetchBudget {
  int64_t after_qkv = 0, after_other = 0;
};
constexpr int64_t kL2PrefetchMaxRows = 32;

// REAM_L2_PREFETCH="A,N" (MiB) in the environment, read once; unset or "0": none.
L2PrefetchBudget l2_prefetch_budget() {
  static const L2PrefetchBudget v = [] {
    L2PrefetchBudget b;
    const char* env = std::getenv("REAM_L2_PREFETCH");
    if (!env) return b;
    double a = 0, n = 0;
    const int got = std::sscanf(env, "%lf,%lf", &a, &n);
    if (got >= 1) b.after_qkv = static_cast<int64_t>(a * (1 << 20));
    if (got >= 2) b.after_other = static_cast<int64_t>(n * (1 << 20));
    return b;
  }();
  return v;
}

// Activations, carved from one allocation. Shapes use T = max_batch_tokens, S = max_num_seqs.
struct Activations {
  bf16* residual;      // (T, hidden) residual stream
  bf16* x;             // (T, hidden) normalised input of the next projection
  bf16* qkv;           // (T, (n_heads + 2 n_kv) * head_dim)
  bf16* attn;          // (T, n_heads * head_dim)
  bf16* proj;          // (T, hidden) o_proj / down_proj output
  bf16* gate_up;       // (T, 2 * intermediate)
  bf16* act;           // (T, intermediate)
  float2* cos_sin;     // (T, head_dim / 2)
  bf16* x_sample;      // (S, hidden) rows that sample
  bf16* logits_bf16;   // (S, vocab) the LM head's output
  float* logits;       // (S, vocab) the same, in fp32 for the sampler
  float* pen_saved;    // (S * vocab) raw logits of penalised tokens
  float* bias_saved;   // (S * kMaxLogitBias) raw logits of biased tokens
  SampleOut* samples;  // (S)
  float* part_o;       // (kPartialRows, head_dim)
  float* part_ml;      // (kPartialRows, 2)
  float* fold_state;   // (kFoldStateRows, head_dim + 2)
};

// An instantiated CUDA graph. Copy deleted, move allowed.
class GraphExec : public UniqueHandle<cudaGraphExec_t, cudaGraphExecDestroy> {
 public:
  explicit GraphExec(cudaGraphExec_t e) { h_ = e; }
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(std::shared_ptr<LoadedModel> model, const BackendOptions& options)
      : model_(std::move(model)), cfg_(model_->config), opt_(options) {}

  ~CudaBackend() override {
    if (stream_.get()) cudaStreamSynchronize(stream_.get());
  }

  Status init();
  std::string name() const override { return name_; }
  int64_t num_kv_blocks() const override { return num_blocks_; }
  Status step(const StepBatch& batch, std::vector<SampleResult>* out) override;

 private:
  Status check_model() const;
  Status allocate_activations();
  Status allocate_kv_cache();
  Status forward(const StepPlan& plan);
  Status attention(const StepPlan& plan, int64_t layer);
  Status matmul(const bf16* x, const bf16* w, int64_t n, int64_t in, int64_t out, void* y, bool y_f32,
                const L2Prefetch& pf = {});
  Status matmul_swiglu(const bf16* x, const bf16* w_gate_up, int64_t n, int64_t in, int64_t inter,
                       const L2Prefetch& pf = {});
  Status logits_kernels(const StepPlan& plan);
  Status sampler_kernel(const StepPlan& plan);
  // forward + logits (+ the sampler when `sample`): what a graph holds
  Status device_work(const StepPlan& plan, bool sample);
  Status run_graph(const StepPlan& plan, bool sample);
  Status upload_masks(const StepPlan& plan, const StepBatch& batch);
  Status collect(const StepPlan& plan, const StepBatch& batch, std::vector<SampleResult>* out);
  template <class T>
  T* meta(size_t offset) const { return reinterpret_cast<T*>(meta_dev_.as<char>() + offset); }
  bf16* k_cache(int64_t layer) const { return kv_.as<bf16>() + 2 * layer * layer_kv_elems_; }
  bf16* v_cache(int64_t layer) const { return kv_.as<bf16>() + (2 * layer + 1) * layer_kv_elems_; }

  std::shared_ptr<LoadedModel> model_;
  ModelConfig cfg_;
  BackendOptions opt_;
  std::string name_ = "cuda";
  int sm_count_ = 0;
  Stream stream_;
  CublasHandle cublas_;
  DeviceBuffer cublas_ws_;
  DeviceWeights w_;
  DeviceBuffer act_buf_;
  Activations a_{};
  DeviceBuffer kv_;
  int64_t num_blocks_ = 0;
  int64_t layer_kv_elems_ = 0;
  StepLimits lim_;
  StepLayout layout_{};
  PinnedBuffer meta_host_;
  DeviceBuffer meta_dev_;
  PinnedBuffer samples_host_;
  std::vector<int32_t> pen_scratch_;
  bool use_graphs_ = true;
  // (batch size, decode splits, rounds, shared-prefix groups, sampler) -> graph
  std::map<std::tuple<int, int, int, int, bool>, GraphExec> graphs_;
};

Status CudaBackend::check_model() const {
  if (!attention_supports_head_dim(cfg_.head_dim))
    return unimplemented("the CUDA backend supports head_dim 16, 32, 64 and 128, the model has " +
                         std::to_string(cfg_.head_dim));
  if (cfg_.num_key_value_heads <= 0 || cfg_.num_attention_heads % cfg_.num_key_value_heads != 0 ||
      cfg_.num_attention_heads / cfg_.num_key_value_heads > kAttnRowsDecode)
    return unimplemented("the CUDA backend supports up to " + std::to_string(kAttnRowsDecode) +
                         " query heads per KV head");
  if (cfg_.hidden_size % 8 != 0 || cfg_.intermediate_size % 8 != 0)
    return unimplemented("the CUDA backend needs hidden_size and intermediate_size divisible by 8");
  if (cfg_.num_hidden_layers < 1) return invalid_argument("the model has no layers");
  if (opt_.block_size <= 0) return invalid_argument("kv_block_size must be positive");
  if (opt_.max_batch_tokens <= 0 || opt_.max_num_seqs <= 0)
    return invalid_argument("max_batch_tokens and max_num_seqs must be positive");
  return Status();
}

Status CudaBackend::matmul(const bf16* x, const bf16* w, int64_t n, int64_t in, int64_t out, void* y, bool y_f32,
                           const L2Prefetch& pf) {
  // gate_up is idle in every product that goes through here (the large-n Hopper kernel
  // copies x into it; matmul_swiglu lends act instead).
  if (opt_.batch_invariant)
    return launch_matmul_invariant(x, w, n, in, out, y, y_f32, stream_.get(), a_.gate_up,
                                   lim_.max_tokens * 2 * cfg_.intermediate_size, pf);
  return launch_matmul(cublas_.get(), x, w, n, in, out, y, y_f32, stream_.get());
}

// act = swiglu(x W_gate_up^T): SwiGLU in the product's epilogue where the kernel allows it
// (invariant: n <= 32; fast path: n <= 8), else the product into gate_up then SwiGLU.
Status CudaBackend::matmul_swiglu(const bf16* x, const bf16* w_gate_up, int64_t n, int64_t in, int64_t inter,
                                  const L2Prefetch& pf) {
  if (opt_.batch_invariant)
    return launch_matmul_swiglu_invariant(x, w_gate_up, n, in, inter, a_.gate_up, a_.act, stream_.get(), pf);
  return launch_matmul_swiglu(cublas_.get(), x, w_gate_up, n, in, inter, a_.gate_up, a_.act, stream_.get());
}

Status CudaBackend::allocate_activations() {
  const int64_t T = opt_.max_batch_tokens, S = opt_.max_num_seqs, H = cfg_.hidden_size, I = cfg_.intermediate_size;
  const int64_t hd = cfg_.head_dim, nh = cfg_.num_attention_heads, nkv = cfg_.num_key_value_heads;
  const int64_t V = cfg_.vocab_size;
  size_t off = 0;
  std::vector<std::pair<void**, size_t>> parts;
  auto add = [&](auto** ptr, size_t bytes) {
    parts.push_back({reinterpret_cast<void**>(ptr), off});
    off = align_up(off + bytes, 256);
  };
  add(&a_.residual, T * H * 2);
  add(&a_.x, T * H * 2);
  add(&a_.qkv, T * (nh + 2 * nkv) * hd * 2);
  add(&a_.attn, T * nh * hd * 2);
  add(&a_.proj, T * H * 2);
  add(&a_.gate_up, T * 2 * I * 2);
  add(&a_.act, T * I * 2);
  add(&a_.cos_sin, T * (hd / 2) * sizeof(float2));
  add(&a_.x_sample, S * H * 2);
  add(&a_.logits_bf16, S * V * 2);
  add(&a_.logits, S * V * 4);
  add(&a_.pen_saved, S * V * 4);
  add(&a_.bias_saved, S * kMaxLogitBias * 4);
  add(&a_.samples, S * sizeof(SampleOut));
  add(&a_.part_o, kPartialRows * hd * 4);
  add(&a_.part_ml, kPartialRows * 2 * 4);
  add(&a_.fold_state, kFoldStateRows * (hd + 2) * 4);
  REAM_RETURN_IF_ERROR(act_buf_.allocate(off, "activations"));
  for (auto& [ptr, at] : parts) *ptr = act_buf_.as<char>() + at;

  lim_.max_tokens = T;
  lim_.max_seqs = S;
  const int64_t max_pos = std::max<int64_t>(cfg_.max_position_embeddings, 1);
  lim_.max_blocks_total = S * ((max_pos + opt_.block_size - 1) / opt_.block_size + 1);
  lim_.vocab = V;
  lim_.block_size = opt_.block_size;
  lim_.group = static_cast<int>(nh / nkv);
  if (const char* share = std::getenv("REAM_DECODE_SHARE")) lim_.share_decode = std::string(share) != "0";
  layout_ = StepLayout::make(lim_);
  REAM_RETURN_IF_ERROR(meta_host_.allocate(layout_.total, "step metadata"));
  REAM_RETURN_IF_ERROR(meta_dev_.allocate(layout_.total, "step metadata"));
  REAM_RETURN_IF_ERROR(samples_host_.allocate(S * sizeof(SampleOut), "sampling results"));
  pen_scratch_.assign(V, -1);
  return Status();
}

Status CudaBackend::allocate_kv_cache() {
  const int64_t per_block = cfg_.num_key_value_heads * opt_.block_size * cfg_.head_dim;  // elements, K or V
  const int64_t bytes_per_block = per_block * 2 /*K,V*/ * cfg_.num_hidden_layers * 2 /*bf16*/;
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  const int64_t usable = static_cast<int64_t>(free_b) - static_cast<int64_t>(kReserveBytes);
  int64_t budget = opt_.kv_cache_bytes;
  if (budget <= 0) {
    budget = static_cast<int64_t>(free_b) - static_cast<int64_t>((1.0 - opt_.gpu_memory_utilization) * total_b);
    budget = std::min(budget, usable);
  } else if (budget > usable) {
    return resource_exhausted("kv_cache_bytes " + std::to_string(budget >> 20) + " MiB does not fit: " +
                              std::to_string(free_b >> 20) + " MiB free after weights and activations");
  }
  num_blocks_ = budget / bytes_per_block;
  num_blocks_ = std::min<int64_t>(num_blocks_, INT32_MAX / opt_.block_size);
  if (num_blocks_ < 1)
    return resource_exhausted("no device memory left for the KV cache (" + std::to_string(free_b >> 20) +
                              " MiB free of " + std::to_string(total_b >> 20) +
                              " MiB; gpu_memory_utilization " + std::to_string(opt_.gpu_memory_utilization) + ")");
  layer_kv_elems_ = num_blocks_ * per_block;
  REAM_RETURN_IF_ERROR(kv_.allocate(static_cast<size_t>(num_blocks_ * bytes_per_block), "KV cache"));
  lim_.num_kv_blocks = num_blocks_;
  return Status();
}

Status CudaBackend::init() {
  REAM_RETURN_IF_ERROR(check_model());
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  sm_count_ = prop.multiProcessorCount;
  name_ = std::string("cuda:") + prop.name;
  REAM_RETURN_IF_ERROR(stream_.create());
  REAM_RETURN_IF_ERROR(cublas_.create());
  REAM_RETURN_IF_ERROR(cublas_ws_.allocate(kCublasWorkspace, "cuBLAS workspace"));
  CUBLAS_CHECK(cublasSetWorkspace(cublas_.get(), cublas_ws_.get(), kCublasWorkspace));
  CUBLAS_CHECK(cublasSetStream(cublas_.get(), stream_.get()));

  const auto t0 = std::chrono::steady_clock::now();
  REAM_RETURN_IF_ERROR(upload_weights(*model_, stream_.get(), &w_));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REAM_RETURN_IF_ERROR(allocate_activations());
  REAM_RETURN_IF_ERROR(allocate_kv_cache());
  const char* env = std::getenv("REAM_CUDA_GRAPHS");
  use_graphs_ = !(env && std::string(env) == "0");
  if (opt_.batch_invariant && (cfg_.hidden_size % 32 != 0 || cfg_.intermediate_size % 32 != 0)) {
    spdlog::warn("cuda backend: hidden_size {} / intermediate_size {} not multiples of 32: batch invariance off",
                 cfg_.hidden_size, cfg_.intermediate_size);
    opt_.batch_invariant = false;
  }
  spdlog::info("cuda backend: {} ({} SMs); weights {:.2f} GiB uploaded in {:.2f} s; activations {:.0f} MiB; "
               "{} KV blocks of {} tokens ({:.2f} GiB); batch invariant: {}",
               prop.name, sm_count_, w_.storage.size() / 1073741824.0, secs, act_buf_.size() / 1048576.0,
               num_blocks_, opt_.block_size, kv_.size() / 1073741824.0, opt_.batch_invariant ? "yes" : "no");
  return Status();
}

Status CudaBackend::attention(const StepPlan& plan, int64_t layer) {
  const int64_t nh = cfg_.num_attention_heads, nkv = cfg_.num_key_value_heads, hd = cfg_.head_dim;
  AttentionArgs args;
  args.q = a_.qkv;
  args.q_stride = (nh + 2 * nkv) * hd;
  args.k_cache = k_cache(layer);
  args.v_cache = v_cache(layer);
  args.out = a_.attn;
  args.out_stride = nh * hd;
  args.block_tables = meta<int32_t>(layout_.block_tables);
  args.seqs = meta<AttnSeq>(layout_.seqs);
  args.n_heads = static_cast<int>(nh);
  args.n_kv_heads = static_cast<int>(nkv);
  args.head_dim = static_cast<int>(hd);
  args.block_size = opt_.block_size;
  args.num_blocks = num_blocks_;
  args.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  args.part_o = a_.part_o;
  args.part_ml = a_.part_ml;
  args.fold_state = a_.fold_state;
  struct Launch {
    int n_work, rows;
    size_t work;
    int splits, rounds, n_share;
  };
  const Launch launches[2] = {
      {plan.n_work_prefill, kAttnRowsPrefill, layout_.work_prefill, plan.splits_prefill, plan.rounds_prefill, 0},
      {plan.n_work_decode, kAttnRowsDecode, layout_.work_decode, plan.splits_decode, plan.rounds_decode,
       plan.splits_decode > 1 ? plan.n_share : 0}};
  for (const Launch& l : launches) {
    if (l.n_work == 0) continue;
    args.work = meta<AttnWork>(l.work);
    args.n_work = l.n_work;
    args.num_splits = l.splits;
    args.rounds = l.rounds;
    args.n_share = l.n_share;
    args.share = l.n_share > 0 ? meta<AttnShareGroup>(layout_.share) : nullptr;
    // Invariant: always the fixed pieces. Otherwise a fold launch runs one piece (no folds).
    args.piece_len = opt_.batch_invariant || l.splits > 1 ? kAttnPiece : kAttnPieceWhole;
    REAM_RETURN_IF_ERROR(launch_paged_attention(args, l.rows, stream_.get()));
  }
  return Status();
}

Status CudaBackend::forward(const StepPlan& plan) {
  const int64_t T = plan.n_tokens, H = cfg_.hidden_size, I = cfg_.intermediate_size;
  const int64_t nh = cfg_.num_attention_heads, nkv = cfg_.num_key_value_heads, hd = cfg_.head_dim;
  const int64_t qkv_w = (nh + 2 * nkv) * hd;
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  cudaStream_t s = stream_.get();
  REAM_RETURN_IF_ERROR(launch_embedding(w_.embed, meta<int32_t>(layout_.tokens), T, H, a_.residual, s));
  REAM_RETURN_IF_ERROR(launch_rmsnorm(a_.residual, w_.layers[0].input_layernorm, T, H, eps, a_.x, s));
  REAM_RETURN_IF_ERROR(launch_rope_cos_sin(meta<int32_t>(layout_.positions), T, hd, cfg_.rope_theta, a_.cos_sin, s));
  // Decode: each product asks the L2 cache for the next ones' first weights once its own
  // are loaded (l2_prefetch.cuh); the QKV product the most, for the attention window.
  const int64_t b_qkv = qkv_w * H * 2, b_o = H * nh * hd * 2, b_gu = 2 * I * H * 2, b_down = H * I * 2;
  const L2PrefetchBudget budget = T <= kL2PrefetchMaxRows ? l2_prefetch_budget() : L2PrefetchBudget{};
  const int64_t gu_after_qkv = std::clamp<int64_t>(budget.after_qkv - b_o, 0, b_gu);
  auto range = [](const void* p, int64_t bytes, int64_t from, int64_t n) {
    L2Prefetch pf;
    n = std::clamp<int64_t>(n, 0, bytes - from);
    if (n > 0) {
      pf.p[0] = static_cast<const char*>(p) + from;
      pf.bytes[0] = n;
    }
    return pf;
  };
  for (size_t l = 0; l < w_.layers.size(); ++l) {
    const DeviceLayer& L = w_.layers[l];
    L2Prefetch after_qkv = range(L.w_o, b_o, 0, budget.after_qkv);
    after_qkv.p[1] = L.w_gate_up;
    after_qkv.bytes[1] = gu_after_qkv;
    const L2Prefetch after_o = range(L.w_gate_up, b_gu, gu_after_qkv, budget.after_other);
    const L2Prefetch after_gu = range(L.w_down, b_down, 0, budget.after_other);
    const L2Prefetch after_down = l + 1 < w_.layers.size()
                                      ? range(w_.layers[l + 1].w_qkv, b_qkv, 0, budget.after_other)
                                      : range(w_.lm_head, cfg_.vocab_size * H * 2, 0, budget.after_other);
    REAM_RETURN_IF_ERROR(matmul(a_.x, L.w_qkv, T, H, qkv_w, a_.qkv, false, after_qkv));
    REAM_RETURN_IF_ERROR(launch_qk_norm_rope_kv_store(a_.qkv, T, nh, nkv, hd, qkv_w, L.q_norm, L.k_norm, a_.cos_sin,
                                                      eps, meta<int64_t>(layout_.slots), opt_.block_size,
                                                      k_cache(static_cast<int64_t>(l)),
                                                      v_cache(static_cast<int64_t>(l)), s));
    REAM_RETURN_IF_ERROR(attention(plan, static_cast<int64_t>(l)));
    REAM_RETURN_IF_ERROR(matmul(a_.attn, L.w_o, T, nh * hd, H, a_.proj, false, after_o));
    REAM_RETURN_IF_ERROR(launch_add_rmsnorm(a_.residual, a_.proj, L.post_attention_layernorm, T, H, eps, a_.x, s));
    REAM_RETURN_IF_ERROR(matmul_swiglu(a_.x, L.w_gate_up, T, H, I, after_gu));  // one launch at decode sizes
    REAM_RETURN_IF_ERROR(matmul(a_.act, L.w_down, T, I, H, a_.proj, false, after_down));
    const float* next_norm = l + 1 < w_.layers.size() ? w_.layers[l + 1].input_layernorm : w_.norm;
    REAM_RETURN_IF_ERROR(launch_add_rmsnorm(a_.residual, a_.proj, next_norm, T, H, eps, a_.x, s));
  }
  return Status();
}

Status CudaBackend::logits_kernels(const StepPlan& plan) {
  const int64_t n = plan.n_sample, H = cfg_.hidden_size, V = cfg_.vocab_size;
  cudaStream_t s = stream_.get();
  REAM_RETURN_IF_ERROR(launch_gather_rows(a_.x, meta<int32_t>(layout_.sample_rows), n, H, a_.x_sample, s));
  // bf16 logits, as transformers' bf16 LM head gives them, widened for the sampler.
  REAM_RETURN_IF_ERROR(matmul(a_.x_sample, w_.lm_head, n, H, V, a_.logits_bf16, false));
  return launch_convert_to_f32(DType::kBF16, a_.logits_bf16, n * V, a_.logits, s);
}

Status CudaBackend::sampler_kernel(const StepPlan& plan) {
  return launch_sample(a_.logits, plan.n_sample, cfg_.vocab_size, meta<SampleParamsDev>(layout_.sample_params),
                       meta<PenaltyEntry>(layout_.penalties), a_.pen_saved, meta<BiasEntry>(layout_.biases),
                       a_.bias_saved, meta<uint32_t>(layout_.masks), a_.samples, stream_.get());
}

Status CudaBackend::device_work(const StepPlan& plan, bool sample) {
  REAM_RETURN_IF_ERROR(forward(plan));
  if (plan.n_sample > 0) REAM_RETURN_IF_ERROR(logits_kernels(plan));
  if (plan.n_sample > 0 && sample) REAM_RETURN_IF_ERROR(sampler_kernel(plan));
  return Status();
}

// The masks of constrained rows, computed on the host while the forward runs (the
// caller launched it), then uploaded behind it on the stream.
Status CudaBackend::upload_masks(const StepPlan& plan, const StepBatch& batch) {
  if (batch.fill_masks) batch.fill_masks();
  const size_t row_bytes = static_cast<size_t>(lim_.mask_words()) * sizeof(uint32_t);
  char* host = meta_host_.as<char>() + layout_.masks;
  for (int k = 0; k < plan.n_masked; ++k) {
    const SeqSlice& s = batch.seqs[plan.masked_seq[k]];
    if (!s.allowed) return internal_error("constrained sequence without a mask");
    std::memcpy(host + k * row_bytes, s.allowed, row_bytes);
  }
  CUDA_CHECK(cudaMemcpyAsync(meta_dev_.as<char>() + layout_.masks, host, plan.n_masked * row_bytes,
                             cudaMemcpyHostToDevice, stream_.get()));
  return Status();
}

Status CudaBackend::run_graph(const StepPlan& plan, bool sample) {
  cudaStream_t s = stream_.get();
  const auto key = std::make_tuple(plan.n_seqs, plan.splits_decode, plan.rounds_decode,
                                   plan.splits_decode > 1 ? plan.n_share : 0, sample);
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    // Relaxed: launchers call host-side APIs (cudaFuncSetAttribute) while capturing.
    CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
    const Status work = device_work(plan, sample);
    cudaGraph_t graph = nullptr;
    const cudaError_t end = cudaStreamEndCapture(s, &graph);
    if (!work.ok() || end != cudaSuccess) {
      if (graph) cudaGraphDestroy(graph);
      cudaGetLastError();
      use_graphs_ = false;  // run eagerly from now on
      spdlog::warn("cuda backend: graph capture failed ({}); running without graphs",
                   work.ok() ? std::string(cudaGetErrorString(end)) : work.message());
      return device_work(plan, sample);
    }
    cudaGraphExec_t exec = nullptr;
    const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    CUDA_CHECK(inst);
    it = graphs_.emplace(key, GraphExec(exec)).first;
  }
  CUDA_CHECK(cudaGraphLaunch(it->second.get(), s));
  return Status();
}

Status CudaBackend::collect(const StepPlan& plan, const StepBatch& batch, std::vector<SampleResult>* out) {
  cudaStream_t s = stream_.get();
  const int64_t n = plan.n_sample;
  if (n > 0)
    CUDA_CHECK(cudaMemcpyAsync(samples_host_.get(), a_.samples, n * sizeof(SampleOut), cudaMemcpyDeviceToHost, s));
  CUDA_CHECK(cudaStreamSynchronize(s));
  const SampleOut* res = samples_host_.as<SampleOut>();
  for (int64_t k = 0; k < n; ++k) {
    SampleResult r;
    r.token = res[k].token;
    r.logprob = res[k].logprob;
    const int want = std::min(batch.seqs[plan.sample_seq[k]].sampling->top_logprobs, kMaxTopLogprobs);
    for (int j = 0; j < std::min(res[k].n_top, want); ++j) r.top.push_back({res[k].top_ids[j], res[k].top_logprobs[j]});
    out->push_back(std::move(r));
  }
  return Status();
}

Status CudaBackend::step(const StepBatch& batch, std::vector<SampleResult>* out) {
  if (batch.tokens.empty() && batch.seqs.empty()) return Status();
  StepPlan plan;
  REAM_RETURN_IF_ERROR(build_step_inputs(batch, lim_, layout_, meta_host_.as<char>(), &pen_scratch_, &plan));
  if (plan.n_tokens == 0) return Status();
  const int64_t nkv = cfg_.num_key_value_heads;
  // A short prefill chunk over a long context (a question after a cached document) gets
  // split rounds: its few blocks would otherwise walk the whole context alone.
  const AttnSplitPlan prefill_split =
      choose_attention_split_rounds(plan.n_work_prefill * nkv, plan.max_keys_prefill, sm_count_, kPartialRows,
                                    kFoldStateRows, kAttnRowsPrefill, kAttnPiece);
  plan.splits_prefill = prefill_split.splits;
  plan.rounds_prefill = prefill_split.rounds;
  const AttnSplitPlan decode_split = choose_decode_split_rounds(plan.n_work_decode * nkv, plan.max_keys_decode,
                                                                kPartialRows, kFoldStateRows, kAttnRowsDecode,
                                                                kAttnPiece);
  plan.splits_decode = decode_split.splits;
  plan.rounds_decode = decode_split.rounds;
  // Whatever fails below, the stream is drained before returning so the pinned metadata
  // is never rewritten under a copy still in flight, and the next step starts clean.
  struct Drain {
    cudaStream_t s;
    ~Drain() { cudaStreamSynchronize(s); }
  } drain{stream_.get()};
  cudaStream_t s = stream_.get();
  CUDA_CHECK(cudaMemcpyAsync(meta_dev_.get(), meta_host_.get(), plan.upload_bytes, cudaMemcpyHostToDevice, s));
  if (plan.penalty_bytes > 0)
    CUDA_CHECK(cudaMemcpyAsync(meta_dev_.as<char>() + layout_.penalties, meta_host_.as<char>() + layout_.penalties,
                               plan.penalty_bytes, cudaMemcpyHostToDevice, s));
  if (plan.bias_bytes > 0)
    CUDA_CHECK(cudaMemcpyAsync(meta_dev_.as<char>() + layout_.biases, meta_host_.as<char>() + layout_.biases,
                               plan.bias_bytes, cudaMemcpyHostToDevice, s));
  // With constrained rows the sampler waits for their masks: the forward and the logits
  // are launched first, the host computes the masks while they run, then the masks and
  // the sampler follow on the stream. Otherwise one graph holds everything.
  const bool masked = plan.n_masked > 0;
  if (use_graphs_ && plan.decode_only) {
    REAM_RETURN_IF_ERROR(run_graph(plan, !masked));
  } else {
    REAM_RETURN_IF_ERROR(device_work(plan, !masked));
  }
  if (masked) {
    REAM_RETURN_IF_ERROR(upload_masks(plan, batch));
    REAM_RETURN_IF_ERROR(sampler_kernel(plan));
  }
  return collect(plan, batch, out);
}

}  // namespace
}  // namespace cuda

Result<std::unique_ptr<Backend>> make_cuda_backend(std::shared_ptr<LoadedModel> model, const BackendOptions& options) {
  if (!model) return invalid_argument("make_cuda_backend: no model");
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    cudaGetLastError();
    return unavailable(std::string("no CUDA device is available (") +
                       (err != cudaSuccess ? cudaGetErrorString(err) : "0 devices") + ")");
  }
  auto backend = std::make_unique<cuda::CudaBackend>(std::move(model), options);
  REAM_RETURN_IF_ERROR(backend->init());
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace ream
