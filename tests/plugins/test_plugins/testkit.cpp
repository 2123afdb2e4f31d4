// testkit: a plugin for the executor and host tests. Its behaviour is chosen by
// parameters:
//   mode: "echo" (default) | "fail_plan" | "fail_reduce" | "no_prompts" | "rounds"
//   prompts: prompts per call (default 1); message: the error text for fail_*
//   findings: findings per reply (default 1)
//   constraint, constraint_kind: attached to prompt k0 only (kind default 2, a JSON
//   Schema); the other prompts carry none, so the step's reply_schema applies to them
// Each prompt carries the document text first and the item/prompt index last.
// Reduce records one finding per reply (evidence: the first 24 bytes of the
// document, at their true offsets), and outputs "reply" (the first reply's text),
// "count" (replies) and "tag" (the `tag` parameter, echoed).
#include <nlohmann/json.hpp>
#include <string>

#include "ream/plugin.h"

namespace {

std::string s(ream_str x) { return x.len ? std::string(x.ptr, x.len) : std::string(); }
ream_str r(const std::string& x) { return {x.data(), x.size()}; }

// Tiny JSON field lookups (the params object is flat and produced by the host).
std::string field(const std::string& json, const std::string& name) {
  std::string key = "\"" + name + "\":";
  size_t at = json.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  if (json[at] == '"') {
    size_t end = json.find('"', at + 1);
    return json.substr(at + 1, end - at - 1);
  }
  size_t end = json.find_first_of(",}", at);
  return json.substr(at, end - at);
}
int int_field(const std::string& json, const std::string& name, int fallback) {
  std::string v = field(json, name);
  return v.empty() ? fallback : std::stoi(v);
}

ream_status plan(const ream_host* host, ream_call* call, const ream_plan_input* in) {
  std::string params = s(in->params_json), mode = field(params, "mode");
  if (mode == "fail_plan") {
    host->set_error(call, r(field(params, "message")));
    return REAM_ERR_FAILED;
  }
  if (mode == "no_prompts") return REAM_OK;
  int n = int_field(params, "prompts", 1);
  std::string doc = in->document_count ? s(in->documents[0].text) : "";
  for (int i = 0; i < n; ++i) {
    std::string key = "k" + std::to_string(i);
    std::string text = "<doc>" + doc + "</doc> item=" + s(in->item_json) + " prompt=" + std::to_string(i);
    ream_message msgs[2] = {{REAM_LITERAL("system"), REAM_LITERAL("test")}, {REAM_LITERAL("user"), r(text)}};
    ream_prompt p{};
    p.struct_size = sizeof(p);
    p.key = r(key);
    p.messages = msgs;
    p.message_count = 2;
    p.temperature = -1;
    const std::string constraint = nlohmann::json::parse(params).value("constraint", "");
    if (i == 0 && !constraint.empty()) {
      p.constraint_kind = int_field(params, "constraint_kind", REAM_CONSTRAINT_JSON_SCHEMA);
      p.constraint = r(constraint);
    }
    if (ream_status rc = host->emit_prompt(call, &p); rc != REAM_OK) return rc;
  }
  std::string state = "{\"round\":0}";
  host->set_state(call, r(state));
  return REAM_OK;
}

ream_status reduce(const ream_host* host, ream_call* call, const ream_reduce_input* in) {
  std::string params = s(in->params_json), mode = field(params, "mode");
  if (mode == "fail_reduce") {
    host->set_error(call, r(field(params, "message")));
    return REAM_ERR_FAILED;
  }
  if (mode == "rounds" && in->round == 0) {
    ream_prompt p{};
    p.struct_size = sizeof(p);
    p.key = REAM_LITERAL("second");
    p.text = REAM_LITERAL("second round");
    p.temperature = -1;
    host->set_state(call, REAM_LITERAL("{\"round\":1}"));
    return host->emit_prompt(call, &p);
  }
  int per_reply = int_field(params, "findings", 1);
  for (size_t i = 0; i < in->reply_count; ++i) {
    for (int k = 0; k < per_reply; ++k) {
      ream_evidence ev{};
      ev.struct_size = sizeof(ev);
      std::string quote;
      if (in->document_count) {
        const ream_document& d = in->documents[0];
        quote = s(d.text).substr(0, 24);
        ev.document_id = d.id;
        ev.start = 0;
        ev.end = static_cast<int64_t>(quote.size());
      }
      ev.quote = r(quote);
      std::string title = "reply " + s(in->replies[i].key) + " #" + std::to_string(k);
      std::string details = "{\"round\":" + std::to_string(in->round) + ",\"state\":" +
                            (in->state_json.len ? s(in->state_json) : "null") + "}";
      ream_finding f{};
      f.struct_size = sizeof(f);
      f.severity = REAM_SEVERITY_LOW;
      f.kind = REAM_LITERAL("echo");
      f.title = r(title);
      f.text = in->replies[i].text;
      f.evidence = quote.empty() ? nullptr : &ev;
      f.evidence_count = quote.empty() ? 0 : 1;
      f.confidence = 0.5;
      f.details_json = r(details);
      if (ream_status rc = host->emit_finding(call, &f); rc != REAM_OK) return rc;
    }
  }
  std::string reply = "\"" + (in->reply_count ? s(in->replies[0].text) : std::string()) + "\"";
  std::string count = std::to_string(in->reply_count);
  std::string tag = "\"" + field(params, "tag") + "\"";
  host->emit_output(call, REAM_LITERAL("reply"), r(reply));
  host->emit_output(call, REAM_LITERAL("count"), r(count));
  host->emit_output(call, REAM_LITERAL("tag"), r(tag));
  return REAM_OK;
}

const char kParams[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"mode\":{\"type\":\"string\",\"enum\":[\"echo\",\"fail_plan\",\"fail_reduce\",\"no_prompts\",\"rounds\"],\"default\":\"echo\"},"
    "\"prompts\":{\"type\":\"integer\",\"minimum\":0,\"default\":1},"
    "\"findings\":{\"type\":\"integer\",\"minimum\":0,\"default\":1},"
    "\"message\":{\"type\":\"string\",\"default\":\"\"},"
    "\"tag\":{\"type\":\"string\",\"default\":\"\"},"
    "\"constraint\":{\"type\":\"string\",\"default\":\"\"},"
    "\"constraint_kind\":{\"type\":\"integer\",\"default\":2},"
    "\"items\":{\"type\":\"array\"}},"
    "\"additionalProperties\":false}";
const char kOutputs[] = "{\"reply\":{\"type\":\"string\"},\"count\":{\"type\":\"integer\"},\"tag\":{\"type\":\"string\"}}";

const ream_plugin kPlugin = {
    sizeof(ream_plugin), REAM_PLUGIN_ABI_VERSION, REAM_LITERAL("testkit"), REAM_LITERAL("0.1.0"),
    REAM_LITERAL("Test plugin with scriptable behaviour"), {kParams, sizeof(kParams) - 1},
    {kOutputs, sizeof(kOutputs) - 1}, plan, reduce,
};

}  // namespace

extern "C" REAM_PLUGIN_EXPORT const ream_plugin* REAM_PLUGIN_ENTRY(uint32_t) { return &kPlugin; }
