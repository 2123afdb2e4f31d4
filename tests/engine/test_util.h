// Helpers shared by the engine tests: temp dirs and a random-weight tiny model.
#pragma once

#include <filesystem>
#include <random>
#include <string>

#include "model/init_model.h"

namespace ream::testing {

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("ream-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// The `tiny` init-model shape (real tokenizer, random weights), made once per process.
// Its seed is drawn fresh each run: the tests check the engine's invariants, which
// must hold for any weights.
inline const std::string& tiny_model_dir() {
  static TempDir dir;
  static std::string path = [] {
    InitModelOptions o;
    o.shape = "tiny";
    o.out_dir = (dir.path() / "tiny").string();
    o.seed = std::random_device{}();
    o.tokenizer_dir = REAM_TOKENIZER_DIR;
    o.dtype = DType::kF32;
    Status st = init_random_model(o);
    if (!st.ok()) throw std::runtime_error(st.to_string());
    return o.out_dir;
  }();
  return path;
}

}  // namespace ream::testing
