// Default search paths for plugins and workflows.
#include "flow/paths.h"

#include <unistd.h>

#include <cstdlib>
#include <algorithm>
#include <filesystem>

namespace ream::flow {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_path(const char* value) {
  std::vector<std::string> out;
  std::string s = value;
  size_t start = 0;
  while (start <= s.size()) {
    size_t colon = s.find(':', start);
    if (colon == std::string::npos) colon = s.size();
    if (colon > start) out.push_back(s.substr(start, colon - start));
    start = colon + 1;
  }
  return out;
}

fs::path exe_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

}  // namespace

std::vector<std::string> default_plugin_dirs() {
  if (const char* env = std::getenv("REAM_PLUGIN_PATH")) return split_path(env);
  std::vector<std::string> dirs;
  fs::path exe = exe_dir();
  if (!exe.empty()) {
    dirs.push_back((exe.parent_path() / "plugins").string());               // build tree: build/cli/ream
    dirs.push_back((exe.parent_path() / "lib" / "ream" / "plugins").string());  // installed: PREFIX/bin/ream
  }
  dirs.push_back(REAM_BUILD_PLUGIN_DIR);
  dirs.push_back(REAM_INSTALL_PLUGIN_DIR);
  return dirs;
}

std::vector<std::string> default_workflow_dirs() {
  if (const char* env = std::getenv("REAM_WORKFLOW_PATH")) return split_path(env);
  std::vector<std::string> dirs;
  fs::path exe = exe_dir();
  if (!exe.empty()) dirs.push_back((exe.parent_path() / "share" / "ream" / "workflows").string());
  dirs.push_back(REAM_SOURCE_WORKFLOW_DIR);
  dirs.push_back(REAM_INSTALL_WORKFLOW_DIR);
  return dirs;
}

Result<std::string> resolve_workflow(const std::string& name_or_path, const std::vector<std::string>& dirs) {
  std::error_code ec;
  if (fs::is_regular_file(name_or_path, ec)) return name_or_path;
  if (name_or_path.find('/') == std::string::npos) {
    for (const std::string& d : dirs) {
      fs::path p = fs::path(d) / (name_or_path + ".yaml");
      if (fs::is_regular_file(p, ec)) return p.string();
    }
  }
  std::string where;
  for (const std::string& d : dirs) where += (where.empty() ? "" : ", ") + d;
  return not_found("workflow '" + name_or_path + "' not found (a file path, or a name in: " + where + ")");
}

std::vector<std::string> workflow_names(const std::vector<std::string>& dirs) {
  std::vector<std::string> names;
  for (const std::string& d : dirs) {
    std::error_code ec;
    for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().extension() == ".yaml" && it->is_regular_file(ec)) names.push_back(it->path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace ream::flow
