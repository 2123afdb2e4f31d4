// resolve_model_dir: a model reference (a directory, or a Hugging Face repo id such as
// "Qwen/Qwen3-4B-Instruct-2507") to the local directory holding its files.
//
// The Hugging Face cache keeps `models--<org>--<name>/refs/main` (a commit hash) and
// `snapshots/<hash>/` (the files, usually symlinks into blobs/). ream reads that layout
// and never downloads anything.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ream/engine/model_config.h"

namespace ream {

namespace fs = std::filesystem;

namespace {

// Cache roots in the order huggingface_hub uses them.
std::vector<std::string> hub_cache_roots() {
  std::vector<std::string> roots;
  if (const char* v = std::getenv("HF_HUB_CACHE"); v && *v) {
    roots.emplace_back(v);
  } else if (const char* v2 = std::getenv("HUGGINGFACE_HUB_CACHE"); v2 && *v2) {
    roots.emplace_back(v2);
  } else if (const char* home = std::getenv("HF_HOME"); home && *home) {
    roots.push_back((fs::path(home) / "hub").string());
  } else if (const char* user = std::getenv("HOME"); user && *user) {
    roots.push_back((fs::path(user) / ".cache" / "huggingface" / "hub").string());
  }
  return roots;
}

bool looks_like_repo_id(const std::string& ref) {
  size_t slash = ref.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == ref.size()) return false;
  if (ref.find('/', slash + 1) != std::string::npos) return false;
  return ref[0] != '.' && ref[0] != '~';
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The snapshot of one repo inside one cache root; empty when there is none. `looked`
// collects every path tried, for the error message.
std::string find_snapshot(const fs::path& repo_dir, std::vector<std::string>& looked) {
  std::error_code ec;
  fs::path ref = repo_dir / "refs" / "main";
  fs::path snapshots = repo_dir / "snapshots";
  looked.push_back(ref.string());
  if (std::ifstream in(ref); in) {
    std::string hash;
    std::getline(in, hash);
    hash = trim(hash);
    fs::path snap = snapshots / hash;
    looked.push_back(snap.string());
    if (!hash.empty() && fs::is_directory(snap, ec)) return snap.string();
    return {};
  }
  // No refs/main (a revision-pinned download): take the only, else the newest, snapshot.
  looked.push_back(snapshots.string() + "/*");
  fs::path best;
  fs::file_time_type best_time{};
  for (fs::directory_iterator it(snapshots, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory(ec)) continue;
    fs::file_time_type t = fs::last_write_time(it->path(), ec);
    if (best.empty() || t > best_time) {
      best = it->path();
      best_time = t;
    }
  }
  return best.string();
}

}  // namespace

Result<std::string> resolve_model_dir(const std::string& model_ref) {
  if (model_ref.empty()) return invalid_argument("empty model reference");
  std::error_code ec;
  if (fs::is_directory(model_ref, ec)) return model_ref;
  if (fs::exists(model_ref, ec)) return invalid_argument("model path '" + model_ref + "' is not a directory");
  if (!looks_like_repo_id(model_ref)) {
    return not_found("model directory '" + model_ref + "' does not exist");
  }
  std::string repo_folder = "models--" + model_ref.substr(0, model_ref.find('/')) + "--" +
                            model_ref.substr(model_ref.find('/') + 1);
  std::vector<std::string> looked;
  for (const std::string& root : hub_cache_roots()) {
    fs::path repo_dir = fs::path(root) / repo_folder;
    if (!fs::is_directory(repo_dir, ec)) {
      looked.push_back(repo_dir.string());
      continue;
    }
    std::string snap = find_snapshot(repo_dir, looked);
    if (!snap.empty()) return snap;
  }
  std::string where;
  for (const std::string& p : looked) where += (where.empty() ? "" : ", ") + p;
  return not_found("model '" + model_ref + "' is neither a directory nor in the Hugging Face cache " +
                   "(looked in: " + (where.empty() ? "no cache root: HF_HUB_CACHE, HF_HOME and HOME unset" : where) +
                   "); download it first, e.g. `huggingface-cli download " + model_ref + "`");
}

}  // namespace ream
