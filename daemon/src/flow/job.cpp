// Job creation: inputs, documents, records.
#include "flow/job.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "flow/documents.h"
#include "flow/yaml_util.h"

namespace ream::flow {

using nlohmann::json;

namespace {

// Parses a command-line value as the input's type wants it.
Result<json> typed_value(const InputSpec& in, InputType type, const std::string& raw) {
  const std::string where = "input '" + in.name + "': ";
  switch (type) {
    case InputType::kInteger:
    case InputType::kNumber: {
      json v = json::parse(raw, nullptr, false);
      if (v.is_discarded() || !v.is_number() || (type == InputType::kInteger && !v.is_number_integer())) {
        return invalid_argument(where + "'" + raw + "' is not " +
                                (type == InputType::kInteger ? "an integer" : "a number"));
      }
      return v;
    }
    case InputType::kBoolean:
      if (raw == "true" || raw == "1" || raw == "yes") return json(true);
      if (raw == "false" || raw == "0" || raw == "no") return json(false);
      return invalid_argument(where + "'" + raw + "' is not true or false");
    default: return json(raw);
  }
}

Result<json> read_list_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return not_found("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    YAML::Node n = YAML::Load(ss.str());
    json v = yaml_to_json(n);
    if (!v.is_array()) return invalid_argument(path + ": expected a list");
    return v;
  } catch (const YAML::Exception& e) {
    return invalid_argument(path + ": " + e.msg);
  }
}

}  // namespace

Result<json> inputs_from_args(const Workflow& wf, const std::vector<std::string>& name_values,
                              const std::vector<std::string>& doc_paths) {
  json out = json::object();
  for (const std::string& nv : name_values) {
    size_t eq = nv.find('=');
    if (eq == std::string::npos || eq == 0) return invalid_argument("--input '" + nv + "': expected name=value");
    std::string name = nv.substr(0, eq), raw = nv.substr(eq + 1);
    const InputSpec* in = wf.find_input(name);
    if (!in) return invalid_argument("unknown input '" + name + "' for workflow '" + wf.name + "'");
    bool list = in->type == InputType::kList || in->type == InputType::kDocuments;
    if (list && !raw.empty() && raw[0] == '@') {
      REAM_ASSIGN_OR_RETURN(json v, read_list_file(raw.substr(1)));
      out[name] = v;
    } else if (!raw.empty() && (raw[0] == '[' || raw[0] == '{') && in->type != InputType::kString) {
      json v = json::parse(raw, nullptr, false);
      if (v.is_discarded()) return invalid_argument("input '" + name + "': '" + raw + "' is not valid JSON");
      out[name] = v;
    } else if (list) {
      REAM_ASSIGN_OR_RETURN(json v, typed_value(*in, in->type == InputType::kList ? in->item_type : InputType::kString, raw));
      if (!out.contains(name)) out[name] = json::array();
      out[name].push_back(v);
    } else {
      if (out.contains(name)) return invalid_argument("input '" + name + "' given more than once");
      REAM_ASSIGN_OR_RETURN(json v, typed_value(*in, in->type, raw));
      out[name] = v;
    }
  }
  if (!doc_paths.empty()) {
    const InputSpec* target = nullptr;
    for (const InputSpec& in : wf.inputs) {
      if (!target && (in.type == InputType::kDocument || in.type == InputType::kDocuments)) target = &in;
    }
    if (!target) return invalid_argument("--doc given but workflow '" + wf.name + "' has no document input");
    if (target->type == InputType::kDocument) {
      if (doc_paths.size() > 1 || out.contains(target->name)) {
        return invalid_argument("input '" + target->name + "' takes one document");
      }
      out[target->name] = doc_paths[0];
    } else {
      if (!out.contains(target->name)) out[target->name] = json::array();
      for (const std::string& p : doc_paths) out[target->name].push_back(p);
    }
  }
  return out;
}

Result<json> check_inputs(const Workflow& wf, const json& inputs) {
  if (!inputs.is_object()) return invalid_argument("inputs must be an object");
  json out = json::object();
  for (const auto& [name, v] : inputs.items()) {
    if (!wf.find_input(name)) return invalid_argument("unknown input '" + name + "' for workflow '" + wf.name + "'");
  }
  for (const InputSpec& in : wf.inputs) {
    if (!inputs.contains(in.name) || inputs[in.name].is_null()) {
      if (in.default_value) {
        out[in.name] = *in.default_value;
        continue;
      }
      if (in.required) return invalid_argument("missing required input '" + in.name + "'");
      continue;
    }
    const json& v = inputs[in.name];
    const std::string where = "input '" + in.name + "' ";
    bool ok = true;
    std::string want;
    switch (in.type) {
      case InputType::kString: ok = v.is_string(); want = "a string"; break;
      case InputType::kNumber: ok = v.is_number(); want = "a number"; break;
      case InputType::kInteger: ok = v.is_number_integer(); want = "an integer"; break;
      case InputType::kBoolean: ok = v.is_boolean(); want = "true or false"; break;
      case InputType::kDocument: ok = v.is_string() && !v.get<std::string>().empty(); want = "a document path"; break;
      case InputType::kDocuments:
        ok = v.is_array() && !v.empty();
        for (const json& x : v) ok = ok && x.is_string();
        want = "a non-empty list of document paths";
        break;
      case InputType::kEnum:
        ok = false;
        for (const std::string& s : in.values) ok = ok || (v.is_string() && v.get<std::string>() == s);
        want = "one of: " + join_names(in.values);
        break;
      case InputType::kList: {
        ok = v.is_array();
        want = std::string("a list of ") + input_type_name(in.item_type) + "s";
        if (ok) {
          for (const json& x : v) {
            bool good = in.item_type == InputType::kString ? x.is_string()
                        : in.item_type == InputType::kInteger ? x.is_number_integer()
                        : in.item_type == InputType::kNumber ? x.is_number() : x.is_boolean();
            ok = ok && good;
          }
        }
        break;
      }
    }
    if (!ok) return invalid_argument(where + "must be " + want + " (got " + v.dump() + ")");
    double measure = v.is_number() ? v.get<double>() : v.is_array() ? static_cast<double>(v.size())
                     : v.is_string() ? static_cast<double>(v.get<std::string>().size()) : 0;
    const char* unit = v.is_number() ? "" : v.is_array() ? " items" : " characters";
    auto num = [](double d) {
      return d == static_cast<double>(static_cast<int64_t>(d)) ? std::to_string(static_cast<int64_t>(d)) : json(d).dump();
    };
    if (in.minimum && measure < *in.minimum) return invalid_argument(where + "must be at least " + num(*in.minimum) + unit);
    if (in.maximum && measure > *in.maximum) return invalid_argument(where + "must be at most " + num(*in.maximum) + unit);
    out[in.name] = v;
  }
  return out;
}

Result<int64_t> create_job(store::Store& store, const Workflow& wf, const JobRequest& request,
                           const ModelClient* model) {
  REAM_ASSIGN_OR_RETURN(json inputs, check_inputs(wf, request.inputs));
  std::vector<store::JobDocument> docs;
  int ordinal = 0;
  auto add_doc = [&](const std::string& input, const std::string& path) -> Result<std::string> {
    REAM_ASSIGN_OR_RETURN(store::DocumentRecord d, read_text_document(path));
    if (model) d.token_count = model->count_tokens(d.text);
    REAM_ASSIGN_OR_RETURN(int64_t id, store.put_document(d));
    std::string key = "doc-" + std::to_string(++ordinal);
    docs.push_back({id, key, input, ordinal});
    return key;
  };
  for (const InputSpec& in : wf.inputs) {
    if (!inputs.contains(in.name)) continue;
    if (in.type == InputType::kDocument) {
      REAM_ASSIGN_OR_RETURN(std::string key, add_doc(in.name, inputs[in.name].get<std::string>()));
      inputs[in.name] = key;
    } else if (in.type == InputType::kDocuments) {
      json keys = json::array();
      for (const json& p : inputs[in.name]) {
        REAM_ASSIGN_OR_RETURN(std::string key, add_doc(in.name, p.get<std::string>()));
        keys.push_back(key);
      }
      inputs[in.name] = keys;
    }
  }
  store::WorkflowRecord w{0, wf.name, wf.version, wf.content_hash, wf.source, wf.path, 0};
  REAM_ASSIGN_OR_RETURN(int64_t workflow_id, store.put_workflow(w));
  store::JobRecord job;
  job.workflow_id = workflow_id;
  job.inputs_json = inputs.dump();
  job.priority = request.priority;
  job.idempotency_key = request.idempotency_key;
  return store.create_job(job, docs);
}

}  // namespace ream::flow
