// Weight upload: plans one device allocation for all tensors, then streams each tensor
// from the mmap'd checkpoint through double-buffered pinned staging (host memcpy of
// chunk i+1 overlaps the DMA of chunk i). BF16 sources go straight to their place;
// F32/F16 sources (and bf16 norm weights, kept in fp32) land in a device staging buffer
// and are converted by a kernel.
#include "cuda/weights.cuh"

#include <cstring>
#include <string>

#include "cuda/convert.cuh"
#include "model/qwen3.h"

namespace ream::cuda {
namespace {

constexpr size_t kChunkBytes = size_t{32} << 20;
constexpr size_t kAlign = 256;

struct CopyJob {
  const TensorView* src;
  size_t dst_offset;  // bytes into the storage
  bool to_f32;        // else bf16
};

int64_t numel(const TensorView& t) {
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  return n;
}

class Planner {
 public:
  // Reserves room for tensors concatenated row-wise (same dtype on the device).
  size_t add(std::initializer_list<const TensorView*> parts, bool to_f32) {
    offset_ = align_up(offset_, kAlign);
    const size_t start = offset_;
    for (const TensorView* t : parts) {
      jobs_.push_back({t, offset_, to_f32});
      offset_ += static_cast<size_t>(numel(*t)) * (to_f32 ? 4 : 2);
    }
    return start;
  }
  size_t total() const { return align_up(offset_, kAlign); }
  const std::vector<CopyJob>& jobs() const { return jobs_; }

 private:
  size_t offset_ = 0;
  std::vector<CopyJob> jobs_;
};

class Uploader {
 public:
  explicit Uploader(cudaStream_t stream) : stream_(stream) {}

  Status init() {
    for (int i = 0; i < 2; ++i) {
      REAM_RETURN_IF_ERROR(pinned_[i].allocate(kChunkBytes, "weight staging"));
      REAM_RETURN_IF_ERROR(device_[i].allocate(kChunkBytes, "weight conversion staging"));
      REAM_RETURN_IF_ERROR(done_[i].create());
    }
    return Status();
  }

  Status copy(const CopyJob& job, char* base) {
    const TensorView& t = *job.src;
    const size_t elem = t.dtype == DType::kF32 ? 4 : 2;
    const bool direct = (t.dtype == DType::kBF16 && !job.to_f32) || (t.dtype == DType::kF32 && job.to_f32);
    const size_t dst_elem = job.to_f32 ? 4 : 2;
    const size_t chunk_elems = kChunkBytes / elem;
    const int64_t n = numel(t);
    if (static_cast<size_t>(n) * elem > t.nbytes)
      return data_loss("tensor '" + t.name + "' in " + t.file + " is shorter than its shape");
    for (int64_t first = 0; first < n; first += static_cast<int64_t>(chunk_elems)) {
      const int64_t count = std::min<int64_t>(chunk_elems, n - first);
      const int b = buf_;
      buf_ ^= 1;
      CUDA_CHECK(cudaEventSynchronize(done_[b].get()));  // the staging buffer is free again
      std::memcpy(pinned_[b].get(), static_cast<const char*>(t.data) + first * elem, count * elem);
      char* dst = base + job.dst_offset + first * dst_elem;
      if (direct) {
        CUDA_CHECK(cudaMemcpyAsync(dst, pinned_[b].get(), count * elem, cudaMemcpyHostToDevice, stream_));
      } else {
        CUDA_CHECK(cudaMemcpyAsync(device_[b].get(), pinned_[b].get(), count * elem, cudaMemcpyHostToDevice,
                                   stream_));
        if (job.to_f32)
          REAM_RETURN_IF_ERROR(launch_convert_to_f32(t.dtype, device_[b].get(), count, reinterpret_cast<float*>(dst),
                                                     stream_));
        else
          REAM_RETURN_IF_ERROR(launch_convert_to_bf16(t.dtype, device_[b].get(), count, reinterpret_cast<bf16*>(dst),
                                                      stream_));
      }
      CUDA_CHECK(cudaEventRecord(done_[b].get(), stream_));
    }
    return Status();
  }

  Status finish() {
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    return Status();
  }

 private:
  cudaStream_t stream_;
  PinnedBuffer pinned_[2];
  DeviceBuffer device_[2];
  Event done_[2];
  int buf_ = 0;
};

}  // namespace

Status upload_weights(const LoadedModel& model, cudaStream_t stream, DeviceWeights* out) {
  const Qwen3Weights& w = model.weights;
  Planner plan;
  const size_t embed = plan.add({w.embed_tokens}, false);
  const size_t norm = plan.add({w.norm}, true);
  const bool tied = w.lm_head == w.embed_tokens;
  const size_t lm_head = tied ? embed : plan.add({w.lm_head}, false);
  struct LayerOffsets {
    size_t ln1, ln2, qn, kn, qkv, o, gate_up, down;
  };
  std::vector<LayerOffsets> lo;
  for (const Qwen3LayerWeights& l : w.layers) {
    LayerOffsets x{};
    x.ln1 = plan.add({l.input_layernorm}, true);
    x.ln2 = plan.add({l.post_attention_layernorm}, true);
    x.qn = plan.add({l.q_norm}, true);
    x.kn = plan.add({l.k_norm}, true);
    x.qkv = plan.add({l.q_proj, l.k_proj, l.v_proj}, false);
    x.o = plan.add({l.o_proj}, false);
    x.gate_up = plan.add({l.gate_proj, l.up_proj}, false);
    x.down = plan.add({l.down_proj}, false);
    lo.push_back(x);
  }
  REAM_RETURN_IF_ERROR(out->storage.allocate(plan.total(), "model weights"));
  char* base = out->storage.as<char>();
  {
    Uploader up(stream);
    REAM_RETURN_IF_ERROR(up.init());
    for (const CopyJob& job : plan.jobs()) REAM_RETURN_IF_ERROR(up.copy(job, base));
    REAM_RETURN_IF_ERROR(up.finish());
  }
  auto f32 = [&](size_t off) { return reinterpret_cast<const float*>(base + off); };
  auto b16 = [&](size_t off) { return reinterpret_cast<const bf16*>(base + off); };
  out->embed = b16(embed);
  out->lm_head = b16(lm_head);
  out->norm = f32(norm);
  out->layers.clear();
  for (const LayerOffsets& x : lo)
    out->layers.push_back({f32(x.ln1), f32(x.ln2), f32(x.qn), f32(x.kn), b16(x.qkv), b16(x.o), b16(x.gate_up),
                           b16(x.down)});
  return Status();
}

}  // namespace ream::cuda
