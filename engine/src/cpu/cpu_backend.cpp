// The CPU reference backend: Qwen3 forward pass in fp32 over the paged KV cache.
//
// Weights are used in place from the mapping when F32 or BF16 (bf16 matrices are widened
// to fp32 inside the dot products); F16 ones are converted to fp32 once at load. Activation buffers grow to the largest step seen and are reused.
#include <algorithm>
#include <cstring>
#include <memory>

#include <spdlog/spdlog.h>

#include "backend.h"
#include "cpu/ops_cpu.h"
#include "cpu/thread_pool.h"
#include "model/qwen3.h"
#include "sampler.h"

namespace ream {
namespace {

// An fp32 view of a tensor: the mapping itself when it is aligned F32, else a copy.
class F32Tensor {
 public:
  F32Tensor() = default;
  explicit F32Tensor(const TensorView* t) {
    const bool aligned = reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0;
    if (t->dtype == DType::kF32 && aligned) {
      ptr_ = static_cast<const float*>(t->data);
    } else {
      own_.resize(t->numel());
      to_f32(t->dtype, t->data, own_.data(), t->numel());
      ptr_ = own_.data();
    }
  }
  const float* data() const { return ptr_; }

 private:
  const float* ptr_ = nullptr;
  std::vector<float> own_;
};

// A weight matrix used in place from the mapping when it is bf16 (fp32 math on the
// fly, half the bytes per token), else as fp32.
class MatrixWeight {
 public:
  MatrixWeight() = default;
  explicit MatrixWeight(const TensorView* t) {
    const bool aligned = reinterpret_cast<uintptr_t>(t->data) % alignof(uint16_t) == 0;
    if (t->dtype == DType::kBF16 && aligned) bf16_ = static_cast<const uint16_t*>(t->data);
    else f32_ = F32Tensor(t);
  }
  // y (n, out) = x (n, in) @ W^T
  void matmul(const float* x, int64_t n, int64_t in, int64_t out, float* y, ThreadPool* pool) const {
    if (bf16_) matmul_bf16w_cpu(x, bf16_, n, in, out, y, pool);
    else matmul_cpu(x, f32_.data(), n, in, out, y, pool);
  }
  // Row `r` (length dim) as fp32.
  void row(int64_t r, int64_t dim, float* out) const {
    if (bf16_) to_f32(DType::kBF16, bf16_ + r * dim, out, dim);
    else std::memcpy(out, f32_.data() + r * dim, dim * sizeof(float));
  }

 private:
  const uint16_t* bf16_ = nullptr;
  F32Tensor f32_;
};

struct CpuLayer {
  F32Tensor ln1;
  MatrixWeight wq, wk, wv, wo;
  F32Tensor q_norm, k_norm, ln2;
  MatrixWeight w_gate, w_up, w_down;
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(std::shared_ptr<LoadedModel> model, const BackendOptions& options)
      : model_(std::move(model)), cfg_(model_->config), pool_(options.num_threads, options.thread_nice),
        block_size_(options.block_size) {
    const Qwen3Weights& w = model_->weights;
    embed_ = MatrixWeight(w.embed_tokens);
    norm_ = F32Tensor(w.norm);
    lm_head_ = MatrixWeight(w.lm_head);  // the same mapping as embed_ when tied
    for (const auto& l : w.layers) {
      layers_.push_back({F32Tensor(l.input_layernorm), MatrixWeight(l.q_proj), MatrixWeight(l.k_proj),
                         MatrixWeight(l.v_proj), MatrixWeight(l.o_proj), F32Tensor(l.q_norm),
                         F32Tensor(l.k_norm), F32Tensor(l.post_attention_layernorm),
                         MatrixWeight(l.gate_proj), MatrixWeight(l.up_proj), MatrixWeight(l.down_proj)});
    }
    const int64_t per_block = cfg_.num_key_value_heads * block_size_ * cfg_.head_dim;
    const int64_t bytes_per_block = per_block * 2 * cfg_.num_hidden_layers * sizeof(float);
    int64_t budget = options.kv_cache_bytes;
    if (budget <= 0) {
      const int64_t need = (cfg_.max_position_embeddings + block_size_) / block_size_ * bytes_per_block;
      budget = std::min<int64_t>(need, int64_t{2} << 30);
    }
    num_blocks_ = std::max<int64_t>(1, budget / bytes_per_block);
    k_cache_.resize(cfg_.num_hidden_layers);
    v_cache_.resize(cfg_.num_hidden_layers);
    for (int64_t l = 0; l < cfg_.num_hidden_layers; ++l) {
      // Left uninitialised: pages are touched only as blocks fill.
      k_cache_[l].reset(new float[num_blocks_ * per_block]);
      v_cache_[l].reset(new float[num_blocks_ * per_block]);
    }
    spdlog::info("cpu backend: {} threads, {} KV blocks of {} tokens ({:.1f} MiB)", pool_.size(),
                 num_blocks_, block_size_, num_blocks_ * bytes_per_block / 1048576.0);
  }

  std::string name() const override { return "cpu"; }
  int64_t num_kv_blocks() const override { return num_blocks_; }

  Status step(const StepBatch& batch, std::vector<SampleResult>* out) override {
    const int64_t T = static_cast<int64_t>(batch.tokens.size());
    if (T == 0) return Status();
    const int64_t H = cfg_.hidden_size, nh = cfg_.num_attention_heads,
                  nkv = cfg_.num_key_value_heads, hd = cfg_.head_dim, I = cfg_.intermediate_size;
    const float eps = static_cast<float>(cfg_.rms_norm_eps);
    for (int32_t id : batch.tokens)
      if (id < 0 || id >= cfg_.vocab_size)
        return invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                                std::to_string(cfg_.vocab_size) + ")");
    x_.resize(T * H); xn_.resize(T * H);
    q_.resize(T * nh * hd); k_.resize(T * nkv * hd); v_.resize(T * nkv * hd);
    attn_.resize(T * nh * hd); tmp_.resize(T * H);
    gate_.resize(T * I); up_.resize(T * I);
    slots_.resize(T);
    for (const SeqSlice& s : batch.seqs)
      for (int32_t i = 0; i < s.query_len; ++i) {
        const int64_t pos = s.context_len - s.query_len + i;
        slots_[s.query_start + i] = static_cast<int64_t>(s.block_table[pos / block_size_]) * block_size_ +
                                    pos % block_size_;
      }

    for (int64_t t = 0; t < T; ++t) embed_.row(batch.tokens[t], H, x_.data() + t * H);
    for (int64_t l = 0; l < cfg_.num_hidden_layers; ++l) {
      const CpuLayer& L = layers_[l];
      rmsnorm_cpu(x_.data(), L.ln1.data(), T, H, eps, xn_.data());
      L.wq.matmul(xn_.data(), T, H, nh * hd, q_.data(), &pool_);
      L.wk.matmul(xn_.data(), T, H, nkv * hd, k_.data(), &pool_);
      L.wv.matmul(xn_.data(), T, H, nkv * hd, v_.data(), &pool_);
      qk_norm_rope_cpu(q_.data(), T, nh, hd, L.q_norm.data(), batch.positions.data(), cfg_.rope_theta, eps);
      qk_norm_rope_cpu(k_.data(), T, nkv, hd, L.k_norm.data(), batch.positions.data(), cfg_.rope_theta, eps);
      kv_store_cpu(k_.data(), v_.data(), slots_.data(), T, nkv, hd, block_size_, k_cache_[l].get(),
                   v_cache_[l].get());
      attention(batch, l);
      L.wo.matmul(attn_.data(), T, nh * hd, H, tmp_.data(), &pool_);
      add_rmsnorm_cpu(x_.data(), tmp_.data(), L.ln2.data(), T, H, eps, xn_.data());
      L.w_gate.matmul(xn_.data(), T, H, I, gate_.data(), &pool_);
      L.w_up.matmul(xn_.data(), T, H, I, up_.data(), &pool_);
      swiglu_cpu(gate_.data(), up_.data(), T, I, gate_.data());
      L.w_down.matmul(gate_.data(), T, I, H, tmp_.data(), &pool_);
      for (int64_t i = 0; i < T * H; ++i) x_[i] += tmp_[i];
    }
    return sample(batch, out);
  }

 private:
  void attention(const StepBatch& batch, int64_t layer) {
    const int64_t nh = cfg_.num_attention_heads, nkv = cfg_.num_key_value_heads, hd = cfg_.head_dim;
    for (const SeqSlice& s : batch.seqs) {
      const int64_t first = s.context_len - s.query_len;
      const float* q = q_.data() + s.query_start * nh * hd;
      float* o = attn_.data() + s.query_start * nh * hd;
      // A sub-range [a, b) of the queries is the same problem with context_len first + b.
      pool_.parallel_for(s.query_len, 1, [&](int64_t a, int64_t b) {
        paged_attention_cpu(q + a * nh * hd, k_cache_[layer].get(), v_cache_[layer].get(),
                            s.block_table.data(), b - a, first + b, nh, nkv, hd, block_size_,
                            o + a * nh * hd);
      });
    }
  }

  Status sample(const StepBatch& batch, std::vector<SampleResult>* out) {
    const int64_t H = cfg_.hidden_size, V = cfg_.vocab_size;
    row_.resize(H);
    logits_.resize(V);
    if (batch.fill_masks) batch.fill_masks();
    for (const SeqSlice& s : batch.seqs) {
      if (!s.sample) continue;
      const int64_t last = s.query_start + s.query_len - 1;
      rmsnorm_cpu(x_.data() + last * H, norm_.data(), 1, H, static_cast<float>(cfg_.rms_norm_eps), row_.data());
      lm_head_.matmul(row_.data(), 1, H, V, logits_.data(), &pool_);
      out->push_back(sample_cpu(logits_.data(), V, s));
    }
    return Status();
  }

  std::shared_ptr<LoadedModel> model_;
  ModelConfig cfg_;
  ThreadPool pool_;
  int block_size_;
  int64_t num_blocks_ = 0;
  MatrixWeight embed_, lm_head_;
  F32Tensor norm_;
  std::vector<CpuLayer> layers_;
  std::vector<std::unique_ptr<float[]>> k_cache_, v_cache_;  // per layer [blocks][nkv][block_size][hd]
  std::vector<float> x_, xn_, q_, k_, v_, attn_, tmp_, gate_, up_, row_, logits_;
  std::vector<int64_t> slots_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_cpu_backend(std::shared_ptr<LoadedModel> model,
                                                  const BackendOptions& options) {
  if (options.block_size <= 0) return invalid_argument("kv_block_size must be positive");
  return std::unique_ptr<Backend>(new CpuBackend(std::move(model), options));
}

}  // namespace ream
