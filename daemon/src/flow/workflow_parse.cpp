// Workflow YAML -> Workflow: structure and field types. Cross-references (plugins,
// needs, expressions, parameters) are checked in workflow_validate.cpp.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <regex>
#include <sstream>

#include "flow/workflow.h"
#include "flow/yaml_util.h"
#include "ream/common/sha256.h"
#include "ream/common/utf8.h"

namespace ream::flow {

using nlohmann::json;

// Declared in workflow_validate.cpp.
void validate_workflow(Workflow& wf, const PluginCatalog& catalog, YamlErrors& errors);
// Declared in workflow_reply.cpp.
std::string parse_step_reply(const YAML::Node& node, Step& step, const std::string& workflow_path, YamlErrors& errors);

namespace {

const std::vector<std::string> kTopKeys = {"name", "version", "description", "inputs",
                                           "engine", "steps", "outputs", "schedule"};
const std::vector<std::string> kInputKeys = {"type", "description", "required", "default",
                                             "values", "items", "minimum", "maximum"};
const std::vector<std::string> kStepKeys = {"id", "name", "plugin", "with", "documents",
                                            "needs", "foreach", "parallel", "retry", "timeout",
                                            "when", "engine", "continue_on_error", "reply_schema",
                                            "reply_grammar"};
const std::vector<std::string> kEngineKeys = {"temperature", "top_p", "top_k", "min_p",
                                              "max_tokens", "seed", "presence_penalty",
                                              "repetition_penalty"};
const std::vector<std::string> kTypeNames = {"string", "number", "integer", "boolean",
                                             "enum", "list", "document", "documents"};

// Sane ranges for engine settings, checked at load so that no value is narrowed or
// overflows when a job runs: the sampler's own ranges, max_tokens bounded by a
// 262,144-token context (Qwen3-2507), top_k a little past any vocabulary, a seed exact
// in a double (JSON clients read it as one).
struct EngineBound {
  const char* key;
  double lo, hi;
  bool integer;
  bool lo_open;  // (lo, hi] rather than [lo, hi]
};
constexpr int64_t kMaxContextTokens = 262144;
constexpr int64_t kMaxAttempts = 100;         // retry attempts of a step
constexpr int64_t kMaxParallel = 1024;        // concurrent units of a step
constexpr double kMaxBackoffS = 86400;        // one day between attempts at most
constexpr double kMaxTimeoutS = 7 * 86400;    // a step that runs a week is a mistake
constexpr EngineBound kEngineBounds[] = {
    {"temperature", 0, 100, false, false},     {"top_p", 0, 1, false, true},
    {"top_k", 0, 1000000, true, false},        {"min_p", 0, 1, false, false},
    {"max_tokens", 1, kMaxContextTokens, true, false},
    {"seed", 0, 9007199254740991.0, true, false},  // 2^53 - 1: exact in JSON clients too
    {"presence_penalty", -2, 2, false, false}, {"repetition_penalty", 0, 10, false, true},
};

std::string format_bound(double v) {
  std::ostringstream os;
  os << std::setprecision(17) << v;
  return os.str();
}

}  // namespace

std::string engine_value_error(const std::string& key, const json& v) {
  for (const EngineBound& b : kEngineBounds) {
    if (key != b.key) continue;
    const std::string lo = format_bound(b.lo), hi = format_bound(b.hi);
    if (b.integer) {
      if (!v.is_number_integer() || v.get<double>() < b.lo || v.get<double>() > b.hi) {
        return "must be an integer in " + lo + ".." + hi;
      }
      return "";
    }
    const double d = v.get<double>();
    if (!std::isfinite(d) || d > b.hi || d < b.lo || (b.lo_open && d == b.lo)) {
      return std::string("must be a number in ") + (b.lo_open ? "(" : "[") + lo + ", " + hi + "]";
    }
  }
  return "";
}

namespace {

bool valid_id(const std::string& id) {
  static const std::regex kId("[A-Za-z][A-Za-z0-9_-]{0,63}");
  return std::regex_match(id, kId);
}

std::optional<Template> get_template(const YAML::Node& node, const std::string& what,
                                     YamlErrors& errors) {
  auto s = get_string(node, what, errors);
  if (!s) return std::nullopt;
  auto t = Template::parse(*s);
  if (!t.ok()) {
    errors.add(node, "'" + what + "': " + t.status().message());
    return std::nullopt;
  }
  return std::move(t).value();
}

// The value must conform to the input's type; "" if it does.
std::string check_input_value(const InputSpec& in, const json& v) {
  switch (in.type) {
    case InputType::kString: return v.is_string() ? "" : "a string";
    case InputType::kNumber: return v.is_number() ? "" : "a number";
    case InputType::kInteger: return v.is_number_integer() ? "" : "an integer";
    case InputType::kBoolean: return v.is_boolean() ? "" : "true or false";
    case InputType::kEnum: {
      for (const std::string& s : in.values) {
        if (v.is_string() && v.get<std::string>() == s) return "";
      }
      return "one of: " + join_names(in.values);
    }
    case InputType::kList: return v.is_array() ? "" : "a list";
    case InputType::kDocument: return v.is_string() ? "" : "a document path";
    case InputType::kDocuments: return v.is_array() ? "" : "a list of document paths";
  }
  return "";
}

void parse_input(const std::string& name, const YAML::Node& node, Workflow& wf, YamlErrors& errors) {
  InputSpec in;
  in.name = name;
  in.pos = YamlErrors::pos_of(node);
  if (!valid_id(name)) errors.add(node, "input name '" + name + "' is not valid (expected letters, digits, '_' or '-', starting with a letter)");
  // Note: yaml-cpp's Node::operator= writes through to the referenced node, so
  // the type node is chosen at construction, never by assignment.
  const YAML::Node type_node = node.IsMap() ? node["type"] : node;
  if (node.IsMap()) {
    check_keys(node, kInputKeys, "input '" + name + "'", errors);
    if (!type_node) {
      errors.add(node, "input '" + name + "' is missing required field 'type'");
      return;
    }
  } else if (!node.IsScalar()) {
    errors.add(node, "input '" + name + "' must be a type name or a mapping");
    return;
  }
  auto type = get_string(type_node, "type", errors);
  if (!type) return;
  size_t t = 0;
  while (t < kTypeNames.size() && kTypeNames[t] != *type) ++t;
  if (t == kTypeNames.size()) {
    errors.add(type_node, "input '" + name + "': unknown type '" + *type + "' (expected one of: " + join_names(kTypeNames) + ")");
    return;
  }
  in.type = static_cast<InputType>(t);
  in.required = true;
  if (node.IsMap()) {
    if (node["description"]) in.description = get_string(node["description"], "description", errors).value_or("");
    if (node["values"]) {
      if (!node["values"].IsSequence()) {
        errors.add(node["values"], "input '" + name + "': 'values' must be a list of strings");
      } else {
        for (const auto& v : node["values"]) in.values.push_back(v.Scalar());
      }
    }
    if (in.type == InputType::kEnum && in.values.empty()) errors.add(node, "input '" + name + "': an enum needs 'values'");
    if (node["items"]) {
      auto item = get_string(node["items"], "items", errors).value_or("");
      if (item == "string") in.item_type = InputType::kString;
      else if (item == "number") in.item_type = InputType::kNumber;
      else if (item == "integer") in.item_type = InputType::kInteger;
      else if (item == "boolean") in.item_type = InputType::kBoolean;
      else errors.add(node["items"], "input '" + name + "': 'items' must be string, number, integer or boolean");
    }
    if (node["minimum"]) in.minimum = get_number(node["minimum"], "minimum", errors);
    if (node["maximum"]) in.maximum = get_number(node["maximum"], "maximum", errors);
    if (node["required"]) in.required = get_bool(node["required"], "required", errors).value_or(true);
    if (node["default"]) {
      json v = yaml_to_json(node["default"]);
      std::string want = check_input_value(in, v);
      if (!want.empty()) {
        errors.add(node["default"], "input '" + name + "': default must be " + want);
      } else {
        in.default_value.emplace(v);
        in.required = false;
      }
    }
  }
  wf.inputs.push_back(std::move(in));
}

void parse_engine(const YAML::Node& node, json& out, const std::string& where, YamlErrors& errors) {
  if (!node.IsMap()) {
    errors.add(node, "'engine' must be a mapping");
    return;
  }
  check_keys(node, kEngineKeys, where, errors);
  for (auto it = node.begin(); it != node.end(); ++it) {
    json v = scalar_to_json(it->second);
    const std::string key = it->first.Scalar();
    if (v.is_string() && v.get<std::string>().find("${{") != std::string::npos) {
      out[key] = v;  // resolved per job
    } else if (!v.is_number()) {
      errors.add(it->second, "engine '" + key + "' must be a number");
    } else if (std::string bad = engine_value_error(key, v); !bad.empty()) {
      errors.add(it->second, "engine '" + key + "' " + bad + " (got " + it->second.Scalar() + ")");
    } else {
      out[key] = v;
    }
  }
}

void parse_foreach(const YAML::Node& node, Step& step, YamlErrors& errors) {
  step.foreach.pos = YamlErrors::pos_of(node);
  if (!node.IsMap()) {
    errors.add(node, "step '" + step.id + "': 'foreach' must be a mapping with one of: documents, chunks, items");
    return;
  }
  check_keys(node, {"documents", "chunks", "items", "chunk_tokens", "overlap_tokens"}, "foreach of step '" + step.id + "'", errors);
  int kinds = 0;
  for (const auto& [key, kind] : {std::pair{"documents", ForeachKind::kDocuments},
                                  std::pair{"chunks", ForeachKind::kChunks},
                                  std::pair{"items", ForeachKind::kItems}}) {
    if (!node[key]) continue;
    ++kinds;
    step.foreach.kind = kind;
    step.foreach.source_text = node[key].IsScalar() ? node[key].Scalar() : "";
    step.foreach.pos = YamlErrors::pos_of(node[key]);
    if (kind == ForeachKind::kItems && node[key].IsSequence()) {
      step.foreach.literal_items.emplace(yaml_to_json(node[key]));
    } else if (auto t = get_template(node[key], std::string("foreach.") + key, errors)) {
      step.foreach.source = *t;
    }
  }
  if (kinds != 1) {
    errors.add(node, "step '" + step.id + "': 'foreach' needs exactly one of: documents, chunks, items");
  }
  if (node["chunk_tokens"] || node["overlap_tokens"]) {
    if (step.foreach.kind != ForeachKind::kChunks) {
      errors.add(node, "step '" + step.id + "': chunk_tokens and overlap_tokens apply only to 'foreach: chunks'");
    }
    if (node["chunk_tokens"]) {
      step.foreach.chunk_tokens = get_int_in(node["chunk_tokens"], "chunk_tokens", 0, kMaxContextTokens, errors).value_or(0);
    }
    if (node["overlap_tokens"]) {
      step.foreach.overlap_tokens =
          get_int_in(node["overlap_tokens"], "overlap_tokens", 0, kMaxContextTokens, errors).value_or(0);
    }
    const int64_t overlap = node["overlap_tokens"] ? step.foreach.overlap_tokens : 0;
    if (step.foreach.chunk_tokens < 0 || overlap < 0 ||
        (step.foreach.chunk_tokens > 0 && overlap >= step.foreach.chunk_tokens)) {
      errors.add(node, "step '" + step.id + "': need chunk_tokens >= 0 and 0 <= overlap_tokens < chunk_tokens");
    }
  }
}

void parse_retry(const YAML::Node& node, Step& step, YamlErrors& errors) {
  RetryPolicy& r = step.retry;
  int64_t attempts = 1;  // checked before it is narrowed to int
  if (node.IsScalar()) {
    attempts = get_int(node, "retry", errors).value_or(1);
  } else if (node.IsMap()) {
    check_keys(node, {"attempts", "backoff", "factor", "max_backoff"}, "retry of step '" + step.id + "'", errors);
    if (node["attempts"]) attempts = get_int(node["attempts"], "attempts", errors).value_or(1);
    if (node["backoff"]) r.backoff_s = get_duration_in(node["backoff"], "backoff", kMaxBackoffS, errors).value_or(1);
    if (node["factor"]) r.factor = get_number(node["factor"], "factor", errors).value_or(2);
    if (node["max_backoff"]) r.max_backoff_s = get_duration_in(node["max_backoff"], "max_backoff", kMaxBackoffS, errors).value_or(60);
  } else {
    errors.add(node, "step '" + step.id + "': 'retry' must be a number of attempts or a mapping");
    return;
  }
  if (attempts < 1 || attempts > kMaxAttempts) {
    errors.add(node, "step '" + step.id + "': retry attempts must be between 1 and 100");
  } else {
    r.attempts = static_cast<int>(attempts);
  }
  if (r.factor < 1 || r.factor > 100) errors.add(node, "step '" + step.id + "': retry factor must be in 1..100");
}

void parse_step_fields(const YAML::Node& node, Step& step, YamlErrors& errors) {
  if (node["name"]) step.name = get_string(node["name"], "name", errors).value_or("");
  if (node["plugin"]) {
    step.plugin = get_string(node["plugin"], "plugin", errors).value_or("");
  } else {
    errors.add(node, "step '" + step.id + "' is missing required field 'plugin'");
  }
  if (YAML::Node with = node["with"]) {
    if (!with.IsMap()) {
      errors.add(with, "step '" + step.id + "': 'with' must be a mapping");
    } else {
      for (auto it = with.begin(); it != with.end(); ++it) {
        step.with[it->first.Scalar()] = yaml_to_json(it->second);
        step.with_pos[it->first.Scalar()] = YamlErrors::pos_of(it->second);
      }
    }
  }
  if (node["documents"]) step.documents = get_template(node["documents"], "documents", errors);
  if (YAML::Node needs = node["needs"]) {
    if (needs.IsScalar()) {
      step.needs.push_back(needs.Scalar());
    } else if (needs.IsSequence()) {
      for (const auto& n : needs) {
        if (auto s = get_string(n, "needs", errors)) step.needs.push_back(*s);
      }
    } else {
      errors.add(needs, "step '" + step.id + "': 'needs' must be a step id or a list of step ids");
    }
  }
  if (node["foreach"]) parse_foreach(node["foreach"], step, errors);
  if (node["parallel"]) {
    step.parallel = static_cast<int>(get_int_in(node["parallel"], "parallel", 0, kMaxParallel, errors).value_or(0));
  }
  if (node["retry"]) parse_retry(node["retry"], step, errors);
  if (node["timeout"]) step.timeout_s = get_duration_in(node["timeout"], "timeout", kMaxTimeoutS, errors).value_or(0);
  if (YAML::Node when = node["when"]) {
    step.when_text = when.IsScalar() ? when.Scalar() : "";
    std::string text = step.when_text;
    // A bare expression (no ${{ }}) is allowed, as in GitHub Actions' `if:`.
    if (text.find("${{") == std::string::npos) text = "${{ " + text + " }}";
    auto t = Template::parse(text);
    if (!when.IsScalar()) {
      errors.add(when, "'when' must be an expression");
    } else if (!t.ok()) {
      errors.add(when, "step '" + step.id + "': 'when': " + t.status().message());
    } else {
      step.when = std::move(t).value();
    }
  }
  if (node["engine"]) parse_engine(node["engine"], step.engine, "engine of step '" + step.id + "'", errors);
  if (node["continue_on_error"]) step.continue_on_error = get_bool(node["continue_on_error"], "continue_on_error", errors).value_or(false);
}

void parse_steps(const YAML::Node& node, Workflow& wf, YamlErrors& errors) {
  if (!node.IsSequence() || node.size() == 0) {
    errors.add(node, "'steps' must be a non-empty list of steps");
    return;
  }
  for (const auto& s : node) {
    if (!s.IsMap()) {
      errors.add(s, "a step must be a mapping");
      continue;
    }
    Step step;
    step.pos = YamlErrors::pos_of(s);
    if (!s["id"]) {
      errors.add(s, "step is missing required field 'id'");
      continue;
    }
    step.id = get_string(s["id"], "id", errors).value_or("");
    check_keys(s, kStepKeys, "step '" + step.id + "'", errors);
    if (!valid_id(step.id)) {
      errors.add(s["id"], "step id '" + step.id + "' is not valid (expected letters, digits, '_' or '-', starting with a letter)");
    }
    if (const Step* first = wf.find_step(step.id)) {
      errors.add(s["id"], "duplicate step id '" + step.id + "' (first defined at line " + std::to_string(first->pos.line) + ")");
      continue;
    }
    parse_step_fields(s, step, errors);
    wf.reply_sources += parse_step_reply(s, step, errors.path(), errors);
    wf.steps.push_back(std::move(step));
  }
}

void parse_top(const YAML::Node& root, Workflow& wf, YamlErrors& errors) {
  check_keys(root, kTopKeys, "workflow", errors);
  if (root["name"]) {
    wf.name = get_string(root["name"], "name", errors).value_or("");
  } else {
    errors.add(root, "workflow is missing required field 'name'");
  }
  wf.version = root["version"] ? get_string(root["version"], "version", errors).value_or("") : "0";
  if (root["description"]) wf.description = get_string(root["description"], "description", errors).value_or("");
  if (YAML::Node inputs = root["inputs"]) {
    if (!inputs.IsMap()) {
      errors.add(inputs, "'inputs' must be a mapping of input names to specs");
    } else {
      for (auto it = inputs.begin(); it != inputs.end(); ++it) parse_input(it->first.Scalar(), it->second, wf, errors);
    }
  }
  wf.engine = default_engine_settings();
  if (root["engine"]) {
    wf.engine_pos = YamlErrors::pos_of(root["engine"]);
    parse_engine(root["engine"], wf.engine, "engine", errors);
  }
  if (root["schedule"]) wf.schedule = yaml_to_json(root["schedule"]);
  if (root["steps"]) {
    parse_steps(root["steps"], wf, errors);
  } else {
    errors.add(root, "workflow is missing required field 'steps'");
  }
  if (YAML::Node outputs = root["outputs"]) {
    if (!outputs.IsMap()) {
      errors.add(outputs, "'outputs' must be a mapping of names to expressions");
    } else {
      for (auto it = outputs.begin(); it != outputs.end(); ++it) {
        if (auto t = get_template(it->second, "outputs." + it->first.Scalar(), errors)) {
          wf.outputs.emplace_back(it->first.Scalar(), *t);
          wf.output_pos.push_back(YamlErrors::pos_of(it->second));
        }
      }
    }
  }
}

}  // namespace

const char* input_type_name(InputType type) { return kTypeNames[static_cast<size_t>(type)].c_str(); }

const Step* Workflow::find_step(const std::string& id) const {
  for (const Step& s : steps) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

const InputSpec* Workflow::find_input(const std::string& name) const {
  for (const InputSpec& i : inputs) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

json default_engine_settings() {
  return {{"max_tokens", 1024}};
}

namespace {

// The first scalar (key or value) of `node` whose decoded text is not valid UTF-8: adds
// the error at its position and returns true.
bool first_bad_scalar(const YAML::Node& node, YamlErrors& errors) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      if (utf8::is_valid(node.Scalar())) return false;
      errors.add(node, "not valid UTF-8 once its escapes are decoded (write the character itself, not \\_)");
      return true;
    case YAML::NodeType::Sequence:
      for (const auto& item : node)
        if (first_bad_scalar(item, errors)) return true;
      return false;
    case YAML::NodeType::Map:
      for (auto it = node.begin(); it != node.end(); ++it)
        if (first_bad_scalar(it->first, errors) || first_bad_scalar(it->second, errors)) return true;
      return false;
    default:
      return false;
  }
}

}  // namespace

Result<Workflow> parse_workflow(const std::string& source, const std::string& path,
                                const PluginCatalog& catalog) {
  YamlErrors errors(path);
  Workflow wf;
  wf.path = path;
  wf.source = source;
  wf.content_hash = sha256_hex(source);
  // YAML is UTF-8 here, and every string of the workflow later becomes JSON (step
  // parameters, job inputs, events), whose writer throws on ill-formed UTF-8.
  if (!utf8::is_valid(source)) {
    SourcePos at{1, 1};
    size_t i = 0;
    while (i < source.size()) {
      const size_t n = utf8::sequence_length(source, i);
      if (n == 0) break;
      if (source[i] == '\n') {
        ++at.line;
        at.column = 1;
      } else {
        ++at.column;
      }
      i += n;
    }
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(source[i]));
    errors.add(at, std::string("not valid UTF-8 (byte ") + byte + ")");
    return errors.status();
  }
  YAML::Node root;
  try {
    root = YAML::Load(source);
  } catch (const YAML::Exception& e) {
    errors.add(SourcePos{e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg);
    return errors.status();
  }
  if (!root.IsMap()) {
    errors.add(SourcePos{1, 1}, "expected a mapping at the top level");
    return errors.status();
  }
  // The file is UTF-8, but a scalar may still decode to bytes that are not (yaml-cpp writes
  // the escape "\_", U+00A0, as the lone byte A0): refused where it is, before it becomes JSON.
  if (first_bad_scalar(root, errors)) return errors.status();
  try {
    parse_top(root, wf, errors);
    if (errors.empty()) validate_workflow(wf, catalog, errors);
  } catch (const YAML::Exception& e) {
    errors.add(SourcePos{e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg);
  }
  if (!errors.empty()) return errors.status();
  // A job records the workflow by its hash: the reply schema files it names count too.
  if (!wf.reply_sources.empty()) wf.content_hash = sha256_hex(source + '\0' + wf.reply_sources);
  return wf;
}

Result<Workflow> load_workflow(const std::string& path, const PluginCatalog& catalog) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot read workflow file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_workflow(ss.str(), path, catalog);
}

PluginCatalog catalog_of(const plugins::PluginHost& host) {
  PluginCatalog c;
  c.find = [&host](const std::string& name) -> const plugins::Manifest* {
    const plugins::Plugin* p = host.find(name);
    return p ? &p->manifest() : nullptr;
  };
  c.names = [&host] {
    std::vector<std::string> names;
    for (const plugins::Plugin* p : host.plugins()) names.push_back(p->manifest().name);
    return names;
  };
  return c;
}

}  // namespace ream::flow
