// Plugin host: loads plugins (shared libraries behind plugins/include/ream/plugin.h)
// from configured directories, checks their ABI version and manifest, and calls
// their plan/reduce callbacks, translating between C++ values and the C ABI.
//
// A plugin that fails to load is recorded in errors() and skipped; the others load.
// Plugins run in-process: a plugin that crashes takes the process with it.
//
// Thread-safety: load_* are not thread-safe; after loading, find() and the
// Plugin's plan/reduce may be called from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ream/engine/sampling.h"
#include "ream/engine/status.h"

namespace ream::plugins {

// What a plugin declares about itself, readable without running it.
struct Manifest {
  std::string name;
  std::string version;
  std::string description;
  std::string params_schema;   // JSON Schema of `with:` (validated JSON text; "{}" if none)
  std::string outputs_schema;  // JSON object: output name -> {type, description}
  std::string path;            // the file it was loaded from
  uint32_t abi_version = 0;
};

struct Document {
  std::string id;              // "doc-1"
  std::string path;
  std::string text;            // the whole text, or one chunk of it
  int64_t base_offset = 0;     // byte offset of text[0] in the whole document
  int64_t total_bytes = 0;     // of the whole document
  int chunk_index = -1;        // -1 = the whole document
  int chunk_count = 0;
  int64_t token_count = -1;
};

struct Message {
  std::string role;
  std::string content;
};

struct Prompt {
  std::string key;
  std::vector<Message> messages;  // empty = use `text` raw
  std::string text;
  int max_tokens = 0;             // 0 = workflow default
  float temperature = -1;         // < 0 = workflow default
  Constraint constraint;          // the plugin's own; kNone = the step's reply_schema applies
};

struct Reply {
  std::string key;
  std::string text;
  std::string finish_reason;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_prompt_tokens = 0;
};

struct Evidence {
  std::string document_id;
  std::string quote;
  int64_t start = -1, end = -1;  // byte offsets into the text the plugin was given
};

struct Finding {
  std::string kind, category;
  int severity = 0;
  std::string title, text;
  std::vector<Evidence> evidence;
  double confidence = -1;
  std::string details_json;      // "" or a JSON object
};

// Host services offered to one callback.
struct CallEnv {
  std::function<int64_t(std::string_view)> count_tokens;
  int64_t context_size = 0;
  int64_t prompt_overhead = 0;
  std::function<void(int level, std::string_view message)> log;
  size_t max_prompts = 100000;   // per callback
  size_t max_findings = 100000;  // per callback
};

// What one callback produced.
struct CallResult {
  std::vector<Prompt> prompts;
  std::vector<Finding> findings;
  std::vector<std::pair<std::string, std::string>> outputs;  // name -> JSON text
  std::vector<std::string> warnings;
  std::string state_json;
};

class Library;  // a dlopen handle

class Plugin {
 public:
  Plugin(std::shared_ptr<Library> library, const void* descriptor, Manifest manifest);
  const Manifest& manifest() const { return manifest_; }

  // Runs plan. A non-OK return carries the plugin's error text.
  Result<CallResult> plan(const CallEnv& env, const std::vector<Document>& documents,
                          const std::string& params_json, const std::string& item_json) const;
  // Runs one reduce round over the replies to the previous round's prompts.
  Result<CallResult> reduce(const CallEnv& env, const std::vector<Document>& documents,
                            const std::string& params_json, const std::string& item_json,
                            int round, const std::vector<Reply>& replies,
                            const std::string& state_json) const;

 private:
  std::shared_ptr<Library> library_;
  const void* descriptor_;  // const ream_plugin*
  Manifest manifest_;
};

// Opens one plugin file: dlopen, entry symbol, ABI check, manifest check.
Result<std::unique_ptr<Plugin>> open_plugin(const std::string& path);

class PluginHost {
 public:
  struct LoadError {
    std::string path;
    std::string message;
  };

  // Loads every `*.so` in each directory (not recursive), in name order.
  void load_dirs(const std::vector<std::string>& dirs);
  // Loads one file; fails on a load error or a name already loaded.
  Result<const Plugin*> load_file(const std::string& path);

  const Plugin* find(const std::string& name) const;
  std::vector<const Plugin*> plugins() const;
  const std::vector<LoadError>& errors() const { return errors_; }

 private:
  std::map<std::string, std::unique_ptr<Plugin>> plugins_;
  std::vector<LoadError> errors_;
};

}  // namespace ream::plugins
