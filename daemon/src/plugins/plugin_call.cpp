// Calling a plugin: the host table (ream_host) and the per-call state behind the
// opaque ream_call handle. Everything a plugin hands to a host function is checked
// and copied here; nothing of C++ (and no exception) crosses into the plugin.
#include <nlohmann/json.hpp>
#include <set>

#include "plugins/json_schema_check.h"
#include "plugins/plugin_host.h"
#include "ream/plugin.h"

struct ream_call {
  const ream::plugins::CallEnv* env = nullptr;
  bool in_reduce = false;
  ream::plugins::CallResult result;
  std::set<std::string> prompt_keys;
  std::string error;
  bool has_state = false;
};

namespace ream::plugins {

namespace {

std::string str(ream_str s) { return s.len && s.ptr ? std::string(s.ptr, s.len) : std::string(); }
ream_str view(const std::string& s) { return {s.data(), s.size()}; }

ream_status reject(ream_call* call, ream_status code, std::string message) {
  call->error = std::move(message);
  return code;
}

int64_t host_count_tokens(ream_call* call, ream_str text) {
  try {
    return call->env->count_tokens(std::string_view(text.ptr ? text.ptr : "", text.len));
  } catch (...) {
    return -1;
  }
}

int64_t host_context_size(ream_call* call) { return call->env->context_size; }
int64_t host_prompt_overhead(ream_call* call) { return call->env->prompt_overhead; }

void host_log(ream_call* call, int32_t level, ream_str message) {
  try {
    if (call->env->log) call->env->log(level, std::string_view(message.ptr ? message.ptr : "", message.len));
  } catch (...) {
  }
}

// The prompt's constraint (fields appended to ream_prompt); "" when valid, else what is wrong.
std::string read_constraint(const ream_prompt& p, Constraint* out) {
  const std::string text = str(p.constraint);
  switch (p.constraint_kind) {
    case REAM_CONSTRAINT_NONE:
    case REAM_CONSTRAINT_JSON_OBJECT:
      if (!text.empty()) {
        return std::string("constraint text given with constraint_kind ") +
               (p.constraint_kind == REAM_CONSTRAINT_NONE ? "NONE" : "JSON_OBJECT") + ", which takes none";
      }
      out->kind = p.constraint_kind == REAM_CONSTRAINT_NONE ? Constraint::Kind::kNone : Constraint::Kind::kJsonObject;
      return "";
    case REAM_CONSTRAINT_JSON_SCHEMA: {
      nlohmann::json schema;
      try {
        schema = nlohmann::json::parse(text);
      } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number past a double's
        return "the constraint's JSON Schema is not valid JSON (" + std::string(e.what()) + ")";
      }
      if (auto problem = check_json_schema(schema)) {
        return "the constraint's JSON Schema is not valid at '" + problem->pointer + "': " + problem->message;
      }
      out->kind = Constraint::Kind::kJsonSchema;
      out->source = text;
      return "";
    }
    case REAM_CONSTRAINT_REGEX:
    case REAM_CONSTRAINT_GRAMMAR:
      if (text.empty()) return "an empty " + std::string(p.constraint_kind == REAM_CONSTRAINT_REGEX ? "regex" : "grammar");
      out->kind = p.constraint_kind == REAM_CONSTRAINT_REGEX ? Constraint::Kind::kRegex : Constraint::Kind::kGrammar;
      out->source = text;
      return "";
    default:
      return "unknown constraint_kind " + std::to_string(p.constraint_kind) + " (expected 0..4, REAM_CONSTRAINT_*)";
  }
}

ream_status host_emit_prompt(ream_call* call, const ream_prompt* p) {
  try {
    if (!p || p->struct_size < offsetof(ream_prompt, text) + sizeof(ream_str)) {
      return reject(call, REAM_ERR_INVALID_ARGUMENT, "emit_prompt: bad ream_prompt");
    }
    Prompt prompt;
    prompt.key = str(p->key);
    if (prompt.key.empty()) return reject(call, REAM_ERR_INVALID_ARGUMENT, "emit_prompt: empty key");
    if (!call->prompt_keys.insert(prompt.key).second) {
      return reject(call, REAM_ERR_INVALID_ARGUMENT,
                    "emit_prompt: duplicate prompt key '" + prompt.key + "'");
    }
    if (call->result.prompts.size() >= call->env->max_prompts) {
      return reject(call, REAM_ERR_LIMIT, "emit_prompt: more than " +
                                              std::to_string(call->env->max_prompts) + " prompts");
    }
    for (size_t i = 0; i < p->message_count; ++i) {
      Message m{str(p->messages[i].role), str(p->messages[i].content)};
      if (m.role != "system" && m.role != "user" && m.role != "assistant") {
        return reject(call, REAM_ERR_INVALID_ARGUMENT,
                      "emit_prompt '" + prompt.key + "': unknown role '" + m.role + "'");
      }
      prompt.messages.push_back(std::move(m));
    }
    prompt.text = str(p->text);
    if (prompt.messages.empty() && prompt.text.empty()) {
      return reject(call, REAM_ERR_INVALID_ARGUMENT,
                    "emit_prompt '" + prompt.key + "': no messages and no text");
    }
    prompt.max_tokens = p->max_tokens < 0 ? 0 : p->max_tokens;
    prompt.temperature = p->temperature;
    if (REAM_HAS_FIELD(p, ream_prompt, constraint)) {
      std::string bad = read_constraint(*p, &prompt.constraint);
      if (!bad.empty()) return reject(call, REAM_ERR_INVALID_ARGUMENT, "emit_prompt '" + prompt.key + "': " + bad);
    }
    call->result.prompts.push_back(std::move(prompt));
    return REAM_OK;
  } catch (...) {
    return REAM_ERR_NO_MEMORY;
  }
}

ream_status host_emit_finding(ream_call* call, const ream_finding* f) {
  try {
    if (!call->in_reduce) {
      return reject(call, REAM_ERR_INVALID_ARGUMENT, "emit_finding: only reduce may emit findings");
    }
    if (!f || !REAM_HAS_FIELD(f, ream_finding, details_json)) {
      return reject(call, REAM_ERR_INVALID_ARGUMENT, "emit_finding: bad ream_finding");
    }
    if (call->result.findings.size() >= call->env->max_findings) {
      return reject(call, REAM_ERR_LIMIT, "emit_finding: too many findings");
    }
    Finding out;
    out.kind = str(f->kind);
    if (out.kind.empty()) return reject(call, REAM_ERR_INVALID_ARGUMENT, "emit_finding: empty kind");
    if (f->severity < REAM_SEVERITY_INFO || f->severity > REAM_SEVERITY_CRITICAL) {
      return reject(call, REAM_ERR_INVALID_ARGUMENT,
                    "emit_finding: severity " + std::to_string(f->severity) + " out of range 0..4");
    }
    out.severity = f->severity;
    out.category = str(f->category);
    out.title = str(f->title);
    out.text = str(f->text);
    out.confidence = f->confidence;
    out.details_json = str(f->details_json);
    if (!out.details_json.empty()) {
      auto j = nlohmann::json::parse(out.details_json, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        return reject(call, REAM_ERR_INVALID_ARGUMENT, "emit_finding: details_json is not a JSON object");
      }
    }
    for (size_t i = 0; i < f->evidence_count; ++i) {
      const ream_evidence& e = f->evidence[i];
      out.evidence.push_back({str(e.document_id), str(e.quote), e.start, e.end});
    }
    call->result.findings.push_back(std::move(out));
    return REAM_OK;
  } catch (...) {
    return REAM_ERR_NO_MEMORY;
  }
}

ream_status host_emit_output(ream_call* call, ream_str name, ream_str json_value) {
  try {
    if (!call->in_reduce) {
      return reject(call, REAM_ERR_INVALID_ARGUMENT, "emit_output: only reduce may emit outputs");
    }
    std::string n = str(name), v = str(json_value);
    if (n.empty()) return reject(call, REAM_ERR_INVALID_ARGUMENT, "emit_output: empty name");
    if (nlohmann::json::parse(v, nullptr, false).is_discarded()) {
      return reject(call, REAM_ERR_INVALID_ARGUMENT, "emit_output '" + n + "': value is not JSON");
    }
    for (auto& [k, old] : call->result.outputs) {
      if (k == n) {
        old = v;  // the last value of a name wins
        return REAM_OK;
      }
    }
    call->result.outputs.emplace_back(std::move(n), std::move(v));
    return REAM_OK;
  } catch (...) {
    return REAM_ERR_NO_MEMORY;
  }
}

ream_status host_emit_warning(ream_call* call, ream_str message) {
  try {
    call->result.warnings.push_back(str(message));
    return REAM_OK;
  } catch (...) {
    return REAM_ERR_NO_MEMORY;
  }
}

ream_status host_set_state(ream_call* call, ream_str json_value) {
  try {
    std::string v = str(json_value);
    if (nlohmann::json::parse(v, nullptr, false).is_discarded()) {
      return reject(call, REAM_ERR_INVALID_ARGUMENT, "set_state: value is not JSON");
    }
    call->result.state_json = std::move(v);
    return REAM_OK;
  } catch (...) {
    return REAM_ERR_NO_MEMORY;
  }
}

void host_set_error(ream_call* call, ream_str message) {
  try {
    call->error = str(message);
  } catch (...) {
  }
}

const ream_host kHost = {
    sizeof(ream_host),  REAM_PLUGIN_ABI_VERSION, host_count_tokens, host_context_size,
    host_prompt_overhead, host_log,            host_emit_prompt,  host_emit_finding,
    host_emit_output,   host_emit_warning,     host_set_state,    host_set_error,
};

std::vector<ream_document> to_c(const std::vector<Document>& docs) {
  std::vector<ream_document> out;
  for (const Document& d : docs) {
    ream_document c{};
    c.struct_size = sizeof(ream_document);
    c.id = view(d.id);
    c.path = view(d.path);
    c.text = view(d.text);
    c.base_offset = d.base_offset;
    c.total_bytes = d.total_bytes;
    c.chunk_index = d.chunk_index;
    c.chunk_count = d.chunk_count;
    c.token_count = d.token_count;
    out.push_back(c);
  }
  return out;
}

std::string code_name(ream_status code) {
  switch (code) {
    case REAM_ERR_INVALID_ARGUMENT: return "invalid argument";
    case REAM_ERR_FAILED: return "failed";
    case REAM_ERR_UNSUPPORTED: return "unsupported";
    case REAM_ERR_NO_MEMORY: return "out of memory";
    case REAM_ERR_LIMIT: return "limit exceeded";
    default: return "error code " + std::to_string(code);
  }
}

Result<CallResult> finish(const Manifest& m, const char* what, ream_status rc, ream_call& call) {
  if (rc != REAM_OK) {
    std::string msg = "plugin '" + m.name + "' " + what + " failed (" + code_name(rc) + ")";
    if (!call.error.empty()) msg += ": " + call.error;
    return Status(rc == REAM_ERR_INVALID_ARGUMENT ? StatusCode::kInvalidArgument
                                                  : StatusCode::kInternal,
                  msg);
  }
  return std::move(call.result);
}

}  // namespace

Result<CallResult> Plugin::plan(const CallEnv& env, const std::vector<Document>& documents,
                                const std::string& params_json,
                                const std::string& item_json) const {
  const auto* d = static_cast<const ream_plugin*>(descriptor_);
  std::vector<ream_document> docs = to_c(documents);
  ream_plan_input in{};
  in.struct_size = sizeof(in);
  in.documents = docs.data();
  in.document_count = docs.size();
  in.params_json = view(params_json);
  in.item_json = view(item_json);
  ream_call call;
  call.env = &env;
  ream_status rc = d->plan(&kHost, &call, &in);
  return finish(manifest_, "plan", rc, call);
}

Result<CallResult> Plugin::reduce(const CallEnv& env, const std::vector<Document>& documents,
                                  const std::string& params_json, const std::string& item_json,
                                  int round, const std::vector<Reply>& replies,
                                  const std::string& state_json) const {
  const auto* d = static_cast<const ream_plugin*>(descriptor_);
  std::vector<ream_document> docs = to_c(documents);
  std::vector<ream_reply> reps;
  for (const Reply& r : replies) {
    ream_reply c{};
    c.struct_size = sizeof(c);
    c.key = view(r.key);
    c.text = view(r.text);
    c.finish_reason = view(r.finish_reason);
    c.prompt_tokens = r.prompt_tokens;
    c.completion_tokens = r.completion_tokens;
    c.cached_prompt_tokens = r.cached_prompt_tokens;
    reps.push_back(c);
  }
  ream_reduce_input in{};
  in.struct_size = sizeof(in);
  in.round = round;
  in.documents = docs.data();
  in.document_count = docs.size();
  in.params_json = view(params_json);
  in.item_json = view(item_json);
  in.replies = reps.data();
  in.reply_count = reps.size();
  in.state_json = view(state_json);
  ream_call call;
  call.env = &env;
  call.in_reduce = true;
  ream_status rc = d->reduce(&kHost, &call, &in);
  return finish(manifest_, "reduce", rc, call);
}

}  // namespace ream::plugins
