// Job creation: inputs, documents (through ream_ingest), records.
#include "flow/job.h"
#include "flow/step_runner.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "flow/yaml_util.h"
#include "ingest/ingest.h"
#include "ingest/layout.h"

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

namespace {

// Engine settings given by expressions over the inputs (`max_tokens: ${{ inputs.n }}`)
// must land in the same ranges as literal ones; the error names the input to blame.
Status check_engine_from_inputs(const Workflow& wf, const json& inputs, std::string* field) {
  const json ctx = {{"inputs", inputs}, {"steps", json::object()}, {"job", {{"id", 0}}}};
  std::vector<const json*> settings = {&wf.engine};
  for (const Step& s : wf.steps) settings.push_back(&s.engine);
  for (const json* e : settings) {
    for (const auto& [key, expr] : e->items()) {
      if (!expr.is_string()) continue;
      auto resolved = resolve_value(expr, ctx);
      if (!resolved.ok()) {
        *field = "inputs";
        return invalid_argument("engine '" + key + "': " + resolved.status().message());
      }
      const json& v = resolved.value();
      if (!v.is_number()) continue;  // the sampler keeps its default, as it always did
      std::string bad = engine_value_error(key, v);
      if (bad.empty()) continue;
      std::string from = "'" + excerpt(expr.get<std::string>()) + "'";
      *field = "inputs";
      for (const InputSpec& in : wf.inputs) {
        if (expr.get<std::string>().find("inputs." + in.name) != std::string::npos) {
          from = "input '" + in.name + "'";
          *field = "inputs." + in.name;
        }
      }
      return invalid_argument(from + " gives engine '" + key + "' = " + v.dump() + ", which " + bad);
    }
  }
  return {};
}

}  // namespace

Result<json> check_inputs(const Workflow& wf, const json& inputs, std::string* field) {
  std::string ignored;
  if (!field) field = &ignored;
  *field = "inputs";
  if (!inputs.is_object()) return invalid_argument("inputs must be an object");
  json out = json::object();
  for (const auto& [name, v] : inputs.items()) {
    if (!wf.find_input(name)) {
      *field = "inputs." + name;
      return invalid_argument("unknown input '" + name + "' for workflow '" + wf.name + "'");
    }
  }
  for (const InputSpec& in : wf.inputs) {
    *field = "inputs." + in.name;
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
  REAM_RETURN_IF_ERROR(check_engine_from_inputs(wf, out, field));
  *field = "";
  return out;
}

namespace {

// One document of the job's inputs, and what ingesting it gave.
struct PendingDoc {
  std::string input;
  std::string path;
  std::string name;  // what it was sent as; "" = its path names it
  Result<ingest::Document> doc = internal_error("not ingested");
};

// The path documents are ingested and recorded under (so locations name it too).
std::string absolute_path(const std::string& path) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(path, ec).lexically_normal().string();
  return ec ? path : abs;
}

store::DocumentRecord document_record(const ingest::Document& doc, const std::string& path) {
  store::DocumentRecord d;
  d.content_hash = doc.id;
  d.source_path = path;
  d.media_type = doc.media_type;
  d.size_bytes = doc.source_bytes;
  d.token_count = doc.tokens;
  d.text = doc.text;
  d.layout = ingest::encode_layout(doc);
  return d;
}

json ingested_event(const ingest::Document& doc, const store::DocumentRecord& d, const std::string& key,
                    const std::string& input) {
  json e = {{"document", key}, {"input", input}, {"path", d.source_path}, {"media_type", d.media_type},
            {"source_bytes", d.size_bytes}, {"text_bytes", d.text.size()}, {"tokens", d.token_count},
            {"parts", doc.parts.size()}, {"skipped_files", doc.skipped.size()}};
  if (!doc.skipped.empty()) {
    std::map<std::string, int> reasons;
    for (const ingest::SkippedFile& f : doc.skipped) ++reasons[f.reason];
    e["skipped_reasons"] = reasons;
  }
  json links = json::array();  // links out of the allowed roots, named one by one
  for (const ingest::SkippedFile& f : doc.skipped) {
    if (f.outside_roots) links.push_back(f.path);
  }
  if (!links.empty()) {
    e["skipped_links"] = links;
    spdlog::warn("{}: {} symbolic link(s) leading out of the allowed roots left out: {}", d.source_path,
                 links.size(), links.dump());
  }
  return e;
}

// The document paths of the inputs (made absolute) with their names, in input order.
std::vector<UnreadDocument> document_paths(const Workflow& wf, const json& inputs, const DocumentNames& names) {
  std::vector<UnreadDocument> pending;
  auto add = [&](const std::string& input, const json& p) {
    const std::string path = p.get<std::string>();
    auto it = names.find(path);
    pending.push_back({input, absolute_path(path), it == names.end() ? "" : it->second});
  };
  for (const InputSpec& in : wf.inputs) {
    if (!inputs.contains(in.name)) continue;
    if (in.type == InputType::kDocument) add(in.name, inputs[in.name]);
    if (in.type == InputType::kDocuments) {
      for (const json& p : inputs[in.name]) add(in.name, p);
    }
  }
  return pending;
}

// A `document` input that failed, or a `documents` input none of whose documents
// could be ingested, stops the job; the error gives each document's reason. It is
// kInvalidArgument whatever ingest's code (unsupported, broken, encrypted, too
// large, missing): the caller gave a document ream cannot read; but
// kFailedPrecondition when one lies outside the path policy's roots.
// `field`: the input at fault when the message names it ("inputs.<name>"), else "inputs".
Status check_ingested(const Workflow& wf, const std::vector<PendingDoc>& pending, std::string* field) {
  for (const InputSpec& in : wf.inputs) {
    std::vector<const PendingDoc*> mine;
    bool any_ok = false;
    for (const PendingDoc& p : pending) {
      if (p.input != in.name) continue;
      mine.push_back(&p);
      any_ok = any_ok || p.doc.ok();
    }
    if (mine.empty() || any_ok) continue;
    std::string msg;
    bool forbidden = false;  // a path outside the policy's roots: the caller's 403, not a 400
    for (const PendingDoc* p : mine) {
      msg += (msg.empty() ? "" : "; ") + p->doc.status().message();
      forbidden = forbidden || p->doc.status().code() == StatusCode::kFailedPrecondition;
    }
    *field = "inputs";
    if (mine.size() > 1) {
      msg = "input '" + in.name + "': no document could be ingested: " + msg;
      *field = "inputs." + in.name;
    }
    return forbidden ? failed_precondition(msg) : invalid_argument(msg);
  }
  return {};
}

}  // namespace

std::vector<Result<ingest::Document>> ingest_documents(const std::vector<std::string>& paths,
                                                       const ModelClient* model,
                                                       const ingest::PathPolicy& policy) {
  ingest::IngestOptions opt;
  opt.paths = policy;
  if (model) opt.count_tokens = [model](std::string_view t) { return model->count_tokens(t); };
  return ingest::ingest_paths(paths, opt);
}

Result<ReadDocuments> read_documents(store::Store& store, const Workflow& wf, nlohmann::json inputs,
                                     const std::vector<UnreadDocument>& unread, const ModelClient* model,
                                     const ingest::PathPolicy& policy) {
  // Ingest every document first (one bad document does not stop the others), then
  // decide whether the job can run at all.
  std::vector<PendingDoc> pending;
  std::vector<std::string> paths;
  for (const UnreadDocument& u : unread) {
    pending.push_back({u.input, u.path, u.name});
    paths.push_back(u.path);
  }
  std::vector<Result<ingest::Document>> ingested = ingest_documents(paths, model, policy);
  for (size_t i = 0; i < pending.size(); ++i) pending[i].doc = std::move(ingested[i]);
  ReadDocuments out;
  out.stop = check_ingested(wf, pending, &out.field);
  std::map<std::string, json> keys;  // input -> its key, or list of keys
  int ordinal = 0;
  for (const PendingDoc& p : pending) {
    if (!keys.count(p.input)) keys[p.input] = wf.find_input(p.input)->type == InputType::kDocuments ? json::array() : json();
    if (!p.doc.ok()) {
      json e = {{"input", p.input}, {"path", p.path}, {"error", p.doc.status().message()}};
      if (!p.name.empty()) e["name"] = p.name;
      out.events.push_back({0, 0, "document_failed", e.dump(), 0});
      continue;
    }
    store::DocumentRecord d = document_record(*p.doc, p.path);
    REAM_ASSIGN_OR_RETURN(int64_t id, store.put_document(d));
    std::string key = "doc-" + std::to_string(++ordinal);
    out.documents.push_back({id, key, p.input, ordinal, p.name});
    json event = ingested_event(*p.doc, d, key, p.input);
    if (!p.name.empty()) event["name"] = p.name;
    out.events.push_back({0, 0, "document_ingested", event.dump(), 0});
    if (keys[p.input].is_array()) {
      keys[p.input].push_back(key);
    } else {
      keys[p.input] = key;
    }
  }
  for (auto& [input, k] : keys) inputs[input] = k;
  out.inputs = std::move(inputs);
  return out;
}

std::string unread_json(const std::vector<UnreadDocument>& unread) {
  if (unread.empty()) return "";
  json list = json::array();
  for (const UnreadDocument& u : unread) list.push_back({{"input", u.input}, {"path", u.path}, {"name", u.name}});
  return list.dump();
}

Result<std::vector<UnreadDocument>> parse_unread(const std::string& text) {
  std::vector<UnreadDocument> out;
  if (text.empty()) return out;
  json list = json::parse(text, nullptr, false);
  if (!list.is_array()) return internal_error("a job's pending documents are not a JSON list: " + text.substr(0, 80));
  for (const json& u : list) {
    if (!u.is_object() || !u.value("input", json()).is_string() || !u.value("path", json()).is_string() ||
        !u.value("name", json()).is_string()) {
      return internal_error("a job's pending document is not {input, path, name}: " + u.dump().substr(0, 80));
    }
    out.push_back({u["input"].get<std::string>(), u["path"].get<std::string>(), u["name"].get<std::string>()});
  }
  return out;
}

namespace {

Result<store::NewJob> new_job(store::Store& store, const Workflow& wf, const JobRequest& request, json inputs) {
  store::WorkflowRecord w{0, wf.name, wf.version, wf.content_hash, wf.source, wf.path, 0};
  REAM_ASSIGN_OR_RETURN(int64_t workflow_id, store.put_workflow(w));
  store::JobRecord job;
  job.workflow_id = workflow_id;
  job.inputs_json = inputs.dump();
  job.priority = request.priority;
  job.idempotency_key = request.idempotency_key;
  job.idempotency_hash = request.idempotency_hash;
  return store::NewJob{std::move(job), {}, {}};
}

}  // namespace

Result<store::NewJob> prepare_job(store::Store& store, const Workflow& wf,
                                  const JobRequest& request, const ModelClient* model,
                                  std::string* field) {
  std::string ignored;
  if (!field) field = &ignored;
  REAM_ASSIGN_OR_RETURN(json inputs, check_inputs(wf, request.inputs, field));
  const std::vector<UnreadDocument> unread = document_paths(wf, inputs, request.names);
  REAM_ASSIGN_OR_RETURN(ReadDocuments read,
                        read_documents(store, wf, std::move(inputs), unread, model, request.paths));
  *field = read.field;
  REAM_RETURN_IF_ERROR(read.stop);
  *field = "";
  REAM_ASSIGN_OR_RETURN(store::NewJob job, new_job(store, wf, request, std::move(read.inputs)));
  job.documents = std::move(read.documents);
  job.events = std::move(read.events);
  return job;
}

Result<store::NewJob> prepare_unread_job(store::Store& store, const Workflow& wf, const JobRequest& request,
                                         std::string* field) {
  std::string ignored;
  if (!field) field = &ignored;
  REAM_ASSIGN_OR_RETURN(json inputs, check_inputs(wf, request.inputs, field));
  *field = "";
  std::vector<UnreadDocument> unread = document_paths(wf, inputs, request.names);
  // The inputs keep the absolute paths the documents will be read from.
  for (const InputSpec& in : wf.inputs) {
    if (!inputs.contains(in.name)) continue;
    json& v = inputs[in.name];
    if (in.type == InputType::kDocument) v = absolute_path(v.get<std::string>());
    if (in.type == InputType::kDocuments) {
      for (json& p : v) p = absolute_path(p.get<std::string>());
    }
  }
  REAM_ASSIGN_OR_RETURN(store::NewJob job, new_job(store, wf, request, std::move(inputs)));
  job.job.pending_documents = unread_json(unread);
  return job;
}

Result<int64_t> create_job(store::Store& store, const Workflow& wf, const JobRequest& request,
                           const ModelClient* model) {
  REAM_ASSIGN_OR_RETURN(store::NewJob job, prepare_job(store, wf, request, model));
  REAM_ASSIGN_OR_RETURN(store::CreatedJob created, store.create_job(job.job, job.documents, job.events));
  if (created.replayed) {
    return Status(StatusCode::kAlreadyExists, "idempotency key '" + request.idempotency_key +
                                                  "' is held by job " + std::to_string(created.id));
  }
  return created.id;
}

}  // namespace ream::flow
