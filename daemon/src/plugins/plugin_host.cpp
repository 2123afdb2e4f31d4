// Plugin loading: dlopen, the entry symbol, the ABI version check and the manifest.
#include "plugins/plugin_host.h"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "ream/plugin.h"

namespace ream::plugins {

// Owns a dlopen handle; closes it when the last Plugin using it goes away.
class Library {
 public:
  explicit Library(void* handle) : handle_(handle) {}
  ~Library() {
    if (handle_) dlclose(handle_);
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  void* handle() const { return handle_; }

 private:
  void* handle_;
};

namespace {

std::string to_string(ream_str s) { return s.len ? std::string(s.ptr, s.len) : std::string(); }

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Checks a JSON text that must be an object; empty means `fallback`.
Status check_json_object(const std::string& text, const char* what, std::string* out,
                         const char* fallback) {
  if (text.empty()) {
    *out = fallback;
    return {};
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return invalid_argument(std::string(what) + " is not a JSON object");
  }
  *out = text;
  return {};
}

}  // namespace

Plugin::Plugin(std::shared_ptr<Library> library, const void* descriptor, Manifest manifest)
    : library_(std::move(library)), descriptor_(descriptor), manifest_(std::move(manifest)) {}

Result<std::unique_ptr<Plugin>> open_plugin(const std::string& path) {
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    return invalid_argument(path + ": cannot load: " + (err ? err : "unknown dlopen error"));
  }
  auto library = std::make_shared<Library>(handle);
  auto entry = reinterpret_cast<ream_plugin_entry_fn>(dlsym(handle, REAM_PLUGIN_ENTRY_NAME));
  if (!entry) {
    return invalid_argument(path + ": not a ream plugin: no exported symbol '" +
                            REAM_PLUGIN_ENTRY_NAME + "'");
  }
  const ream_plugin* d = entry(REAM_PLUGIN_ABI_VERSION);
  if (!d) {
    return failed_precondition(path + ": the plugin refused this host's plugin ABI version " +
                               std::to_string(REAM_PLUGIN_ABI_VERSION));
  }
  if (d->abi_version != REAM_PLUGIN_ABI_VERSION) {
    return failed_precondition(path + ": plugin ABI version mismatch: the plugin was built for "
                               "ABI version " + std::to_string(d->abi_version) +
                               ", this ream speaks ABI version " +
                               std::to_string(REAM_PLUGIN_ABI_VERSION));
  }
  if (!REAM_HAS_FIELD(d, ream_plugin, reduce)) {
    return failed_precondition(path + ": plugin descriptor too small (struct_size " +
                               std::to_string(d->struct_size) + ")");
  }
  Manifest m;
  m.name = to_string(d->name);
  m.version = to_string(d->version);
  m.description = to_string(d->description);
  m.path = path;
  m.abi_version = d->abi_version;
  if (!valid_name(m.name)) {
    return invalid_argument(path + ": plugin name '" + m.name +
                            "' is not valid (expected 1-64 of [a-z0-9_])");
  }
  if (!d->plan || !d->reduce) {
    return invalid_argument(path + ": plugin '" + m.name + "' lacks a plan or reduce callback");
  }
  Status st = check_json_object(to_string(d->params_schema), "params_schema", &m.params_schema,
                                "{\"type\":\"object\",\"properties\":{}}");
  if (st.ok()) {
    st = check_json_object(to_string(d->outputs_schema), "outputs_schema", &m.outputs_schema,
                           "{}");
  }
  if (!st.ok()) return invalid_argument(path + ": plugin '" + m.name + "': " + st.message());
  return std::make_unique<Plugin>(std::move(library), d, std::move(m));
}

void PluginHost::load_dirs(const std::vector<std::string>& dirs) {
  namespace fs = std::filesystem;
  std::set<std::string> seen;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    if (!seen.insert(fs::canonical(dir, ec).string()).second) continue;  // listed twice
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".so" && entry.is_regular_file(ec)) {
        files.push_back(entry.path().string());
      }
    }
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) (void)load_file(file);
  }
}

Result<const Plugin*> PluginHost::load_file(const std::string& path) {
  auto plugin = open_plugin(path);
  if (!plugin.ok()) {
    errors_.push_back({path, plugin.status().message()});
    return plugin.status();
  }
  const std::string name = plugin.value()->manifest().name;
  auto it = plugins_.find(name);
  if (it != plugins_.end()) {
    Status st = Status(StatusCode::kAlreadyExists,
                       path + ": plugin '" + name + "' is already loaded from " +
                           it->second->manifest().path);
    errors_.push_back({path, st.message()});
    return st;
  }
  const Plugin* raw = plugin.value().get();
  plugins_.emplace(name, std::move(plugin).value());
  return raw;
}

const Plugin* PluginHost::find(const std::string& name) const {
  auto it = plugins_.find(name);
  return it == plugins_.end() ? nullptr : it->second.get();
}

std::vector<const Plugin*> PluginHost::plugins() const {
  std::vector<const Plugin*> out;
  for (const auto& [name, p] : plugins_) out.push_back(p.get());
  return out;
}

}  // namespace ream::plugins
