// Workflow: the parsed and validated form of a workflow YAML file (schema in
// docs/workflows.md). load_workflow() validates everything up front against the
// loaded plugins' manifests; every error names file:line:column and what was
// expected.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "flow/expr.h"
#include "plugins/plugin_host.h"
#include "ream/engine/status.h"

namespace ream::flow {

struct SourcePos {
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
};

enum class InputType { kString, kNumber, kInteger, kBoolean, kEnum, kList, kDocument, kDocuments };
const char* input_type_name(InputType type);

struct InputSpec {
  std::string name;
  InputType type = InputType::kString;
  InputType item_type = InputType::kString;  // for kList: string, number, integer or boolean
  std::string description;
  bool required = false;                     // no default and required: must be given
  std::optional<nlohmann::json> default_value;
  std::vector<std::string> values;           // for kEnum
  std::optional<double> minimum, maximum;    // for numbers; for lists and strings: length
  SourcePos pos;
};

struct RetryPolicy {
  int attempts = 1;           // total attempts, the first included
  double backoff_s = 1.0;     // wait before the second attempt
  double factor = 2.0;        // each further wait is multiplied by this
  double max_backoff_s = 60;  // cap on one wait
};

enum class ForeachKind { kNone, kDocuments, kChunks, kItems };

struct Foreach {
  ForeachKind kind = ForeachKind::kNone;
  Template source;            // the documents / list expression
  std::optional<nlohmann::json> literal_items;  // kItems given as a YAML list
  std::string source_text;
  int64_t chunk_tokens = 0;   // kChunks: tokens per chunk; 0 = fit the context
  int64_t overlap_tokens = -1; // kChunks: tokens repeated at the start of the next chunk;
                               // -1 (not given) = automatic: 1/16 of the budget, at most 512
  SourcePos pos;
};

struct Step {
  std::string id;
  std::string name;
  std::string plugin;
  nlohmann::json with = nlohmann::json::object();  // raw values; strings may hold ${{ }}
  std::map<std::string, SourcePos> with_pos;
  std::optional<Template> documents;               // which documents; default: all of the job's
  std::vector<std::string> needs;
  Foreach foreach;
  int parallel = 0;                                // iterations at once; 0 = executor default
  RetryPolicy retry;
  double timeout_s = 0;                            // per attempt; 0 = none
  std::optional<Template> when;
  std::string when_text;
  nlohmann::json engine = nlohmann::json::object(); // sampling overrides
  // `reply_schema` (a JSON Schema) or `reply_grammar` (GBNF): the constraint of every
  // prompt of the step that carries none of its own. kNone when neither is given.
  Constraint reply;
  std::string reply_file;                          // the file it was read from; "" = inline
  bool continue_on_error = false;
  SourcePos pos;
};

struct Workflow {
  std::string name, version, description;
  std::string path, source, content_hash;  // content_hash: sha256 hex of source (and of the
                                           // reply schema files it names, when it names any)
  std::string reply_sources;               // those files, "name\0text\0" each
  std::vector<InputSpec> inputs;
  nlohmann::json engine = nlohmann::json::object();  // sampling defaults (may hold ${{ inputs }})
  std::vector<Step> steps;                           // in file order
  std::vector<size_t> order;                         // a topological order of steps (indices)
  std::vector<std::pair<std::string, Template>> outputs;
  std::vector<SourcePos> output_pos;                 // parallel to outputs
  SourcePos engine_pos{1, 1};
  nlohmann::json schedule;                           // `schedule:` kept as is for the daemon

  const Step* find_step(const std::string& id) const;
  const InputSpec* find_input(const std::string& name) const;
};

// Finds a plugin's manifest by name, or nullptr; and lists the names known.
struct PluginCatalog {
  std::function<const plugins::Manifest*(const std::string&)> find;
  std::function<std::vector<std::string>()> names;
};
PluginCatalog catalog_of(const plugins::PluginHost& host);

// Parses and validates workflow YAML. `path` names the file in messages.
Result<Workflow> parse_workflow(const std::string& source, const std::string& path,
                                const PluginCatalog& catalog);
// Reads and parses a file.
Result<Workflow> load_workflow(const std::string& path, const PluginCatalog& catalog);

// "" if engine setting `key` may take the number `v`, else what it must be ("must be an
// integer in 1..262144"). Checked at load for literal values and at job creation for
// values an expression over the inputs gives.
std::string engine_value_error(const std::string& key, const nlohmann::json& v);

// The engine settings a workflow gets when it sets none: only max_tokens (1024). Sampling
// (temperature, top_p, top_k, min_p, ...) comes from the model's generation_config.json
// (ModelClient::default_sampling) unless the workflow or a step sets it.
nlohmann::json default_engine_settings();

}  // namespace ream::flow
