// Reading safetensors checkpoints: the memory mapping, header validation and the
// archive that indexes every tensor of one file or of all shards of an index.
//
// File layout: 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
// data region; offsets are relative to the start of the data region.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/safetensors.h"

namespace ream {

using nlohmann::json;
namespace fs = std::filesystem;

// A read-only private mapping of a whole file. Copy deleted; unmapped on destruction.
class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return not_found("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return internal_error("cannot stat " + path + ": " + std::strerror(err));
    }
    auto mf = std::unique_ptr<MappedFile>(new MappedFile());
    mf->path_ = path;
    mf->size_ = static_cast<size_t>(st.st_size);
    if (mf->size_ > 0) {
      void* p = ::mmap(nullptr, mf->size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return internal_error("cannot mmap " + path + ": " + std::strerror(err));
      }
      mf->data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
    return mf;
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Maps a safetensors dtype string; anything but F32/F16/BF16 is refused by name.
Result<DType> parse_dtype(const std::string& s, const std::string& where) {
  if (s == "F32") return DType::kF32;
  if (s == "F16") return DType::kF16;
  if (s == "BF16") return DType::kBF16;
  return unimplemented(where + ": dtype " + s + " is not supported (ream reads F32, F16, BF16)");
}

// Reads a JSON array of non-negative integers.
bool read_uint_array(const json& j, std::vector<uint64_t>& out) {
  if (!j.is_array()) return false;
  for (const json& e : j) {
    if (!e.is_number_unsigned() && !(e.is_number_integer() && e.get<int64_t>() >= 0)) return false;
    out.push_back(e.get<uint64_t>());
  }
  return true;
}

// One header entry -> TensorView (data pointer resolved against the data region).
Result<TensorView> parse_entry(const std::string& name, const json& e, const MappedFile& file,
                               const uint8_t* data_region, uint64_t data_size) {
  std::string where = file.path() + ": tensor '" + name + "'";
  if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets")) {
    return data_loss(where + ": header entry needs dtype, shape and data_offsets");
  }
  if (!e.at("dtype").is_string()) return data_loss(where + ": dtype is not a string");
  TensorView tv;
  tv.name = name;
  tv.file = file.path();
  REAM_ASSIGN_OR_RETURN(tv.dtype, parse_dtype(e.at("dtype").get<std::string>(), where));
  std::vector<uint64_t> shape, offsets;
  if (!read_uint_array(e.at("shape"), shape)) return data_loss(where + ": shape is not a list of non-negative integers");
  if (!read_uint_array(e.at("data_offsets"), offsets) || offsets.size() != 2) {
    return data_loss(where + ": data_offsets is not a pair of non-negative integers");
  }
  uint64_t numel = 1;
  for (uint64_t d : shape) {
    if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / d) {
      return data_loss(where + ": shape is too large");
    }
    numel *= d;
    tv.shape.push_back(static_cast<int64_t>(d));
  }
  uint64_t begin = offsets[0], end = offsets[1];
  if (begin > end || end > data_size) {
    return data_loss(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                     "] lie outside the data region of " + std::to_string(data_size) +
                     " bytes (truncated file?)");
  }
  uint64_t need = numel * dtype_size(tv.dtype);
  if (end - begin != need) {
    return data_loss(where + ": data_offsets span " + std::to_string(end - begin) + " bytes but shape " +
                     shape_str(tv.shape) + " of " + dtype_name(tv.dtype) + " needs " + std::to_string(need));
  }
  tv.data = data_region + begin;
  tv.nbytes = need;
  return tv;
}

struct Range {
  uint64_t begin, end;
  std::string name;
};

// Tensors must not share bytes: a file whose entries overlap lies about its contents.
Status check_overlaps(std::vector<Range>& ranges, const std::string& path) {
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const Range* prev = nullptr;
  for (const Range& r : ranges) {
    if (r.begin == r.end) continue;  // empty tensors occupy nothing
    if (prev && r.begin < prev->end) {
      return data_loss(path + ": tensor '" + r.name + "' (bytes " + std::to_string(r.begin) + ".." +
                       std::to_string(r.end) + ") overlaps tensor '" + prev->name + "' (bytes " +
                       std::to_string(prev->begin) + ".." + std::to_string(prev->end) + ")");
    }
    prev = &r;
  }
  return Status::ok_status();
}

Result<json> parse_header(const MappedFile& file, uint64_t& header_len) {
  const std::string& path = file.path();
  if (file.size() < 8) {
    return data_loss(path + ": file is " + std::to_string(file.size()) +
                     " bytes, too short for a safetensors header (truncated?)");
  }
  header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file.data()[i];
  if (header_len > file.size() - 8) {
    return data_loss(path + ": header length " + std::to_string(header_len) + " runs past the end of the " +
                     std::to_string(file.size()) + "-byte file (truncated or not safetensors)");
  }
  json header;
  try {
    header = json::parse(file.data() + 8, file.data() + 8 + header_len);
  } catch (const json::exception& e) {
    return data_loss(path + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!header.is_object()) return data_loss(path + ": header is not a JSON object");
  return header;
}

}  // namespace

SafetensorsArchive::~SafetensorsArchive() = default;

Status SafetensorsArchive::add_file(const std::string& path) {
  REAM_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::open(path));
  uint64_t header_len = 0;
  REAM_ASSIGN_OR_RETURN(json header, parse_header(*file, header_len));
  const uint8_t* data_region = file->data() + 8 + header_len;
  uint64_t data_size = file->size() - 8 - header_len;
  std::vector<Range> ranges;
  std::map<std::string, TensorView> parsed;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    REAM_ASSIGN_OR_RETURN(TensorView tv, parse_entry(it.key(), it.value(), *file, data_region, data_size));
    uint64_t begin = static_cast<const uint8_t*>(tv.data) - data_region;
    ranges.push_back({begin, begin + tv.nbytes, tv.name});
    if (tensors_.count(tv.name)) {
      return data_loss(path + ": tensor '" + tv.name + "' also appears in " + tensors_.at(tv.name).file);
    }
    parsed.emplace(tv.name, std::move(tv));
  }
  REAM_RETURN_IF_ERROR(check_overlaps(ranges, path));
  tensors_.merge(parsed);
  files_.push_back(std::move(file));
  return Status::ok_status();
}

Status SafetensorsArchive::add_index(const std::string& dir, const std::string& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) return not_found("cannot open " + index_path);
  json index;
  try {
    index = json::parse(in);
  } catch (const json::exception& e) {
    return data_loss(index_path + ": not valid JSON (" + e.what() + ")");
  }
  if (!index.is_object() || !index.contains("weight_map") || !index.at("weight_map").is_object()) {
    return data_loss(index_path + ": no 'weight_map' object");
  }
  const json& wm = index.at("weight_map");
  std::set<std::string> shards;
  for (auto it = wm.begin(); it != wm.end(); ++it) {
    if (!it.value().is_string()) return data_loss(index_path + ": weight_map['" + it.key() + "'] is not a file name");
    std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos) {
      return data_loss(index_path + ": weight_map['" + it.key() + "'] names '" + shard +
                       "', not a file beside the index");
    }
    shards.insert(shard);
  }
  for (const std::string& shard : shards) {
    REAM_RETURN_IF_ERROR(add_file((fs::path(dir) / shard).string()));
  }
  // Every tensor the index promises must be in the shard it names.
  for (auto it = wm.begin(); it != wm.end(); ++it) {
    std::string shard_path = (fs::path(dir) / it.value().get<std::string>()).string();
    auto t = tensors_.find(it.key());
    if (t == tensors_.end()) {
      return data_loss(index_path + ": tensor '" + it.key() + "' is listed for " + shard_path +
                       " but that file does not hold it");
    }
    if (t->second.file != shard_path) {
      return data_loss(index_path + ": tensor '" + it.key() + "' is listed for " + shard_path +
                       " but found in " + t->second.file);
    }
  }
  return Status::ok_status();
}

Result<std::unique_ptr<SafetensorsArchive>> SafetensorsArchive::open_dir(const std::string& dir) {
  std::unique_ptr<SafetensorsArchive> archive(new SafetensorsArchive());
  archive->source_ = dir;
  std::error_code ec;
  fs::path single = fs::path(dir) / "model.safetensors";
  fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single, ec)) {
    REAM_RETURN_IF_ERROR(archive->add_file(single.string()));
  } else if (fs::exists(index, ec)) {
    REAM_RETURN_IF_ERROR(archive->add_index(dir, index.string()));
  } else {
    return not_found("no weights in " + dir + ": neither model.safetensors nor model.safetensors.index.json exists");
  }
  return archive;
}

Result<std::unique_ptr<SafetensorsArchive>> SafetensorsArchive::open_file(const std::string& path) {
  std::unique_ptr<SafetensorsArchive> archive(new SafetensorsArchive());
  archive->source_ = path;
  REAM_RETURN_IF_ERROR(archive->add_file(path));
  return archive;
}

const TensorView* SafetensorsArchive::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Result<const TensorView*> SafetensorsArchive::get(const std::string& name,
                                                  const std::vector<int64_t>& shape) const {
  const TensorView* tv = find(name);
  if (!tv) return not_found("tensor '" + name + "' is missing from the checkpoint " + source_);
  if (tv->shape != shape) {
    return invalid_argument("tensor '" + name + "' in " + tv->file + " has shape " + shape_str(tv->shape) +
                            ", expected " + shape_str(shape) + " from config.json");
  }
  return tv;
}

std::vector<std::string> SafetensorsArchive::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, tv] : tensors_) out.push_back(name);
  return out;
}

}  // namespace ream
