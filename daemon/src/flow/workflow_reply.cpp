// A step's reply constraint: `reply_schema` (a JSON Schema, inline as YAML/JSON or
// the path of a .json/.yaml file relative to the workflow) or `reply_grammar` (a GBNF
// grammar, inline or a file). Read and checked at load; every error names the
// workflow file, line and column, and for a schema file also the place inside it.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "flow/workflow.h"
#include "flow/yaml_util.h"
#include "plugins/json_schema_check.h"

namespace ream::flow {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The node a JSON Pointer names inside a YAML tree, or an invalid node.
YAML::Node node_at(YAML::Node node, const std::string& pointer) {
  size_t pos = 0;
  while (pos < pointer.size() && node) {
    size_t next = pointer.find('/', pos + 1);
    std::string token = pointer.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    for (size_t i = 0; (i = token.find('~', i)) != std::string::npos; ++i) {
      token.replace(i, 2, token.compare(i, 2, "~1") == 0 ? "/" : "~");
    }
    // Const lookups (a non-const one may add the key); reset() rebinds, where
    // yaml-cpp's operator= would write through to the node referred to.
    const YAML::Node& here = node;
    if (here.IsMap()) {
      node.reset(here[token]);
    } else if (here.IsSequence() && !token.empty() && token.find_first_not_of("0123456789") == std::string::npos) {
      node.reset(here[std::stoul(token)]);
    } else {
      return YAML::Node(YAML::NodeType::Undefined);
    }
    if (next == std::string::npos) break;
    pos = next;
  }
  return node;
}

// "line:col" of byte offset `at` (0-based) in `text`.
std::string line_col(const std::string& text, size_t at) {
  int line = 1, col = 1;
  for (size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

struct ReplyFile {
  std::string shown;     // as the workflow names it
  std::string resolved;  // the path read
  std::string text;
};

// Reads `name` relative to the workflow's folder; "" in *error when it worked.
ReplyFile read_relative(const std::string& name, const std::string& workflow_path, std::string* error) {
  ReplyFile f{name, name, ""};
  fs::path p(name);
  if (p.is_relative() && !workflow_path.empty()) f.resolved = (fs::path(workflow_path).parent_path() / p).string();
  std::ifstream in(f.resolved, std::ios::binary);
  if (!in) {
    *error = "cannot read '" + name + "' (looked for " + f.resolved + ")";
    return f;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  f.text = ss.str();
  return f;
}

bool is_yaml_name(const std::string& name) {
  const std::string ext = fs::path(name).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

void parse_schema(const YAML::Node& node, Step& step, const std::string& workflow_path, YamlErrors& errors,
                  std::vector<ReplyFile>* files) {
  const std::string where = "step '" + step.id + "': reply_schema";
  json schema;
  YAML::Node tree;  // where the schema's positions come from (rebound with reset(), never assigned)
  tree.reset(node);
  std::string file_prefix;  // "schemas/x.json:" for problems inside a file
  if (node.IsMap()) {
    schema = yaml_to_json(node);
  } else if (node.IsScalar()) {
    std::string error;
    ReplyFile f = read_relative(node.Scalar(), workflow_path, &error);
    if (!error.empty()) return errors.add(node, where + ": " + error);
    if (is_yaml_name(f.shown)) {
      try {
        tree.reset(YAML::Load(f.text));
      } catch (const YAML::Exception& e) {
        return errors.add(node, where + " " + f.shown + ":" + std::to_string(e.mark.line + 1) + ":" +
                                    std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
      }
      schema = yaml_to_json(tree);
    } else {
      try {
        schema = json::parse(f.text);
      } catch (const json::parse_error& e) {
        return errors.add(node, where + " " + f.shown + ":" + line_col(f.text, e.byte > 0 ? e.byte - 1 : 0) +
                                    ": not valid JSON (" + e.what() + ")");
      } catch (const json::exception& e) {  // a number past a double's range: out_of_range
        return errors.add(node, where + " " + f.shown + ": not valid JSON (" + e.what() + ")");
      }
      // JSON is YAML: the YAML tree only gives positions for the messages below.
      try {
        tree.reset(YAML::Load(f.text));
      } catch (const YAML::Exception&) {
        tree.reset(YAML::Node(YAML::NodeType::Undefined));
      }
    }
    file_prefix = f.shown;
    step.reply_file = f.resolved;
    files->push_back(std::move(f));
  } else {
    return errors.add(node, where + " must be a JSON Schema (a mapping) or the path of a .json, .yaml or .yml file");
  }
  if (auto problem = plugins::check_json_schema(schema)) {
    const std::string at = problem->pointer.empty() ? "" : " (at " + problem->pointer + ")";
    YAML::Node bad = tree ? node_at(tree, problem->pointer) : tree;
    if (file_prefix.empty()) {
      return errors.add(bad && bad.Mark().line >= 0 ? YamlErrors::pos_of(bad) : YamlErrors::pos_of(node),
                        where + ": " + problem->message + at);
    }
    std::string place = file_prefix;
    if (bad && bad.Mark().line >= 0) place += ":" + std::to_string(bad.Mark().line + 1) + ":" + std::to_string(bad.Mark().column + 1);
    return errors.add(node, where + " " + place + ": " + problem->message + at);
  }
  step.reply = {Constraint::Kind::kJsonSchema, schema.dump()};
}

void parse_grammar(const YAML::Node& node, Step& step, const std::string& workflow_path, YamlErrors& errors,
                   std::vector<ReplyFile>* files) {
  const std::string where = "step '" + step.id + "': reply_grammar";
  if (!node.IsScalar()) return errors.add(node, where + " must be a GBNF grammar or the path of a .gbnf file");
  std::string text = node.Scalar();
  // A grammar always has a rule ("name ::= ..."); a path never contains "::=".
  if (text.find("::=") == std::string::npos) {
    std::string error;
    ReplyFile f = read_relative(text, workflow_path, &error);
    if (!error.empty()) return errors.add(node, where + ": " + error);
    text = f.text;
    step.reply_file = f.resolved;
    files->push_back(std::move(f));
  }
  std::istringstream lines(text);
  bool has_root = false;
  for (std::string line; std::getline(lines, line);) {
    size_t b = line.find_first_not_of(" \t");
    has_root = has_root || (b != std::string::npos && line.compare(b, 4, "root") == 0 &&
                            line.find("::=", b) != std::string::npos &&
                            line.find_first_not_of(" \t", b + 4) == line.find("::=", b));
  }
  if (!has_root) return errors.add(node, where + ": the grammar has no 'root ::= ...' rule (GBNF's start symbol)");
  step.reply = {Constraint::Kind::kGrammar, text};
}

}  // namespace

// Reads the step's reply_schema / reply_grammar into step.reply; returns the files
// read ("path\0content" each) so that the workflow's hash covers them.
std::string parse_step_reply(const YAML::Node& node, Step& step, const std::string& workflow_path, YamlErrors& errors) {
  const YAML::Node schema = node["reply_schema"], grammar = node["reply_grammar"];
  if (schema && grammar) {
    errors.add(grammar, "step '" + step.id + "': give reply_schema or reply_grammar, not both");
    return "";
  }
  std::vector<ReplyFile> files;
  if (schema) parse_schema(schema, step, workflow_path, errors, &files);
  if (grammar) parse_grammar(grammar, step, workflow_path, errors, &files);
  std::string hashed;
  for (const ReplyFile& f : files) hashed += f.shown + '\0' + f.text + '\0';
  return hashed;
}

}  // namespace ream::flow
