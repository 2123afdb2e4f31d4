// dtype conversions (bf16/f16 <-> fp32, round to nearest even) and writing
// safetensors files, whole (write_safetensors) or streamed (SafetensorsWriter).
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "model/safetensors.h"

namespace ream {

namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16_to_f32_slow(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return bits_float(sign);
    int e = -1;  // subnormal: normalise the mantissa
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    mant &= 0x3ffu;
    return bits_float(sign | static_cast<uint32_t>(127 - 15 - e) << 23 | mant << 13);
  }
  if (exp == 31) return bits_float(sign | 0x7f800000u | mant << 13);
  return bits_float(sign | (exp + 112) << 23 | mant << 13);
}

// All 65,536 halves, decoded once: the fastest f16 -> fp32 on a CPU without F16C.
const std::array<float, 65536>& f16_table() {
  static const std::array<float, 65536> table = [] {
    std::array<float, 65536> t{};
    for (uint32_t i = 0; i < 65536; ++i) t[i] = f16_to_f32_slow(static_cast<uint16_t>(i));
    return t;
  }();
  return table;
}

}  // namespace

float bf16_to_f32(uint16_t v) { return bits_float(static_cast<uint32_t>(v) << 16); }

uint16_t f32_to_bf16(float v) {
  uint32_t x = float_bits(v);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

float f16_to_f32(uint16_t v) { return f16_table()[v]; }

uint16_t f32_to_f16(float v) {
  uint32_t x = float_bits(v);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN, inf
  if (x >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to inf
  if (x <= 0x33000000u) return sign;            // <= 2^-25 rounds to zero
  uint32_t e = x >> 23;
  if (e < 113) {  // result is subnormal: q = round(value * 2^24)
    uint32_t m = (x & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = (e - 112) << 10 | (x & 0x7fffffu) >> 13;
  uint32_t rem = x & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
  return static_cast<uint16_t>(sign | h);
}

void to_f32(DType dtype, const void* src, float* dst, int64_t count) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(count) * 4);
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < count; ++i) {
        uint16_t v;
        std::memcpy(&v, bytes + 2 * i, 2);  // the mapping need not be 2-byte aligned
        dst[i] = bits_float(static_cast<uint32_t>(v) << 16);
      }
      return;
    case DType::kF16: {
      const std::array<float, 65536>& table = f16_table();
      for (int64_t i = 0; i < count; ++i) {
        uint16_t v;
        std::memcpy(&v, bytes + 2 * i, 2);
        dst[i] = table[v];
      }
      return;
    }
  }
}

Result<std::unique_ptr<SafetensorsWriter>> SafetensorsWriter::create(
    const std::string& path, std::vector<TensorSpec> specs,
    const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();  // std::map underneath: keys sorted
  uint64_t offset = 0;
  for (const TensorSpec& s : specs) {
    if (s.name.empty() || s.name == "__metadata__" || header.contains(s.name)) {
      return invalid_argument(path + ": tensor name '" + s.name + "' is empty, reserved or repeated");
    }
    uint64_t numel = 1;
    for (int64_t d : s.shape) {
      if (d < 0) return invalid_argument(path + ": tensor '" + s.name + "' has a negative dimension");
      numel *= static_cast<uint64_t>(d);
    }
    uint64_t nbytes = numel * dtype_size(s.dtype);
    header[s.name] = {{"dtype", dtype_name(s.dtype)}, {"shape", s.shape}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned

  std::unique_ptr<SafetensorsWriter> w(new SafetensorsWriter());
  w->path_ = path;
  w->expected_bytes_ = offset;
  w->file_ = std::fopen(path.c_str(), "wb");
  if (!w->file_) return not_found("cannot create " + path + ": " + std::strerror(errno));
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  if (std::fwrite(len, 1, 8, w->file_) != 8 || std::fwrite(text.data(), 1, text.size(), w->file_) != text.size()) {
    return internal_error("cannot write the header of " + path + ": " + std::strerror(errno));
  }
  return w;
}

SafetensorsWriter::~SafetensorsWriter() {
  if (file_) std::fclose(file_);
  if (!finished_) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

Status SafetensorsWriter::append(const void* data, size_t nbytes) {
  if (!file_ || finished_) return failed_precondition(path_ + ": append after finish");
  if (written_bytes_ + nbytes > expected_bytes_) {
    return invalid_argument(path_ + ": more tensor data appended than the header announced (" +
                            std::to_string(expected_bytes_) + " bytes)");
  }
  if (nbytes && std::fwrite(data, 1, nbytes, file_) != nbytes) {
    return internal_error("cannot write " + path_ + ": " + std::strerror(errno));
  }
  written_bytes_ += nbytes;
  return Status::ok_status();
}

Status SafetensorsWriter::finish() {
  if (!file_ || finished_) return failed_precondition(path_ + ": finish called twice");
  if (written_bytes_ != expected_bytes_) {
    return invalid_argument(path_ + ": " + std::to_string(written_bytes_) + " bytes of tensor data written, header announced " +
                            std::to_string(expected_bytes_));
  }
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) return internal_error("cannot close " + path_ + ": " + std::strerror(errno));
  finished_ = true;
  return Status::ok_status();
}

Status write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  for (const TensorToWrite& t : tensors) {
    uint64_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d < 0 ? 0 : d);
    if (t.bytes.size() != numel * dtype_size(t.dtype)) {
      return invalid_argument(path + ": tensor '" + t.name + "' has " + std::to_string(t.bytes.size()) +
                              " bytes, its shape and dtype need " + std::to_string(numel * dtype_size(t.dtype)));
    }
    specs.push_back({t.name, t.dtype, t.shape});
  }
  REAM_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsWriter> writer,
                        SafetensorsWriter::create(path, std::move(specs), metadata));
  for (const TensorToWrite& t : tensors) REAM_RETURN_IF_ERROR(writer->append(t.bytes.data(), t.bytes.size()));
  return writer->finish();
}

}  // namespace ream
