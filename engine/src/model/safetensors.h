// Memory-mapped safetensors checkpoints: one `model.safetensors` or shards listed by
// `model.safetensors.index.json`.
//
// Opening validates every header up front (JSON well formed, dtypes known, shapes and
// offsets inside the file, no overlaps), so a truncated or lying file is reported with
// the file and tensor name before any math runs. Tensor data stays mapped for the life
// of the archive and is never copied by it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ream/engine/model_config.h"
#include "ream/engine/status.h"

namespace ream {

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, outermost first
  const void* data = nullptr;  // inside the mapping
  size_t nbytes = 0;
  std::string file;            // shard path, for messages
  int64_t numel() const;
};

class MappedFile;

class SafetensorsArchive {
 public:
  // `dir` holds model.safetensors or model.safetensors.index.json (+ shards).
  static Result<std::unique_ptr<SafetensorsArchive>> open_dir(const std::string& dir);
  // A single .safetensors file.
  static Result<std::unique_ptr<SafetensorsArchive>> open_file(const std::string& path);
  ~SafetensorsArchive();

  // nullptr when absent.
  const TensorView* find(const std::string& name) const;
  // The tensor, checked against `shape`; the error names tensor, file, expected and found.
  Result<const TensorView*> get(const std::string& name, const std::vector<int64_t>& shape) const;
  std::vector<std::string> names() const;

 private:
  SafetensorsArchive() = default;
  Status add_file(const std::string& path);
  Status add_index(const std::string& dir, const std::string& index_path);
  std::string source_;  // the directory or file opened, for messages
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorView> tensors_;
};

// Converts `count` elements of `dtype` at `src` to fp32.
void to_f32(DType dtype, const void* src, float* dst, int64_t count);
float bf16_to_f32(uint16_t v);
uint16_t f32_to_bf16(float v);  // round to nearest even
float f16_to_f32(uint16_t v);
uint16_t f32_to_f16(float v);

// Writes tensors to a .safetensors file (used by `ream init-model` and tests).
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // numel * dtype_size(dtype) bytes
};
Status write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

// Streams tensors into a .safetensors file without holding them all in memory (a 4B
// model is ~8 GB). The header is written first (keys sorted, padded with spaces so the
// data starts 8-byte aligned); the data of `specs[0]`, `specs[1]`, ... must then be
// appended in that order, in as many pieces as convenient. Not thread-safe.
struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
};
class SafetensorsWriter {
 public:
  static Result<std::unique_ptr<SafetensorsWriter>> create(
      const std::string& path, std::vector<TensorSpec> specs,
      const std::map<std::string, std::string>& metadata = {});
  // Closes the file; one never finish()ed is removed, so no partial checkpoint remains.
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // The next `nbytes` of tensor data; may span tensor boundaries.
  Status append(const void* data, size_t nbytes);
  // Checks that every tensor was written in full and flushes the file.
  Status finish();

 private:
  SafetensorsWriter() = default;
  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t expected_bytes_ = 0;  // sum of all tensors' sizes
  uint64_t written_bytes_ = 0;
  bool finished_ = false;
};

}  // namespace ream
