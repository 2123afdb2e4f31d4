// summarize: a summary of each document. A document that fits the context is
// summarised in one prompt; a longer one is split into parts that are summarised
// separately (map) and then combined in a second round (reduce).
//
// Prompts put the document first and the instruction last, so that the engine's
// prefix cache serves repeated runs over the same document.
#include <string>

#include "plugin_util.h"

namespace {

using nlohmann::json;
using namespace plugin_util;

constexpr const char* kParams = R"json({
  "type": "object",
  "properties": {
    "max_words": {"type": "integer", "minimum": 10, "maximum": 5000, "default": 200,
                  "description": "Length limit of each summary, in words"},
    "focus": {"type": "string", "default": "",
              "description": "What the summary should concentrate on (optional)"},
    "max_tokens": {"type": "integer", "minimum": 0, "default": 0,
                   "description": "Reply length limit per prompt; 0 = the workflow's engine.max_tokens"}
  },
  "additionalProperties": false
})json";

constexpr const char* kOutputs = R"json({
  "summary": {"type": "string", "description": "The summary (documents separated by headings when several)"},
  "parts": {"type": "integer", "description": "How many parts the documents were split into"}
})json";

constexpr const char* kSystem =
    "You are a careful analyst. You write faithful, concise summaries in plain prose, "
    "using only what the text says.";

std::string instruction(const json& p, const std::string& what) {
  std::string s = "Summarise " + what + " in at most " + std::to_string(p["max_words"].get<int>()) + " words.";
  std::string focus = p.value("focus", "");
  if (!focus.empty()) s += " Concentrate on: " + focus + ".";
  return s;
}

std::string doc_label(const ream_document& d) {
  std::string label = d.path.len ? std::string(sv(d.path)) : std::string(sv(d.id));
  size_t slash = label.rfind('/');
  if (slash != std::string::npos) label = label.substr(slash + 1);
  if (d.chunk_index >= 0) {
    label += " (part " + std::to_string(d.chunk_index + 1) + " of " + std::to_string(d.chunk_count) + ")";
  }
  return label;
}

// Tokens available for document text in one prompt.
int64_t text_budget(const ream_host* host, ream_call* call, int reply_tokens) {
  int64_t reserve = reply_tokens > 0 ? reply_tokens : 1024;
  return host->context_size(call) - reserve - host->prompt_overhead(call) - 256;
}

ream_status plan(const ream_host* host, ream_call* call, const ream_plan_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    json p = parse_params(in->params_json);
    int max_tokens = p.value("max_tokens", 0);
    int64_t budget = text_budget(host, call, max_tokens);
    if (budget < 64) return fail(host, call, REAM_ERR_UNSUPPORTED, "the context is too small to summarise anything");
    json state = json::array();
    for (size_t d = 0; d < in->document_count; ++d) {
      const ream_document& doc = in->documents[d];
      std::string_view text = sv(doc.text);
      if (text.empty()) {
        warn(host, call, std::string(sv(doc.id)) + " is empty; nothing to summarise");
        continue;
      }
      auto parts = split_to_budget(host, call, text, budget);
      state.push_back({{"doc", d}, {"parts", parts.size()}});
      for (size_t i = 0; i < parts.size(); ++i) {
        std::string body = "<document>\n" + std::string(text.substr(parts[i].first, parts[i].second - parts[i].first)) +
                           "\n</document>\n\n";
        body += parts.size() == 1 ? instruction(p, "the document above")
                                  : instruction(p, "this part (" + std::to_string(i + 1) + " of " +
                                                       std::to_string(parts.size()) + ") of a longer document");
        ChatPrompt prompt{"d" + std::to_string(d) + "-p" + std::to_string(i), {{"system", kSystem}, {"user", body}}, max_tokens};
        if (ream_status rc = emit_prompt(host, call, prompt); rc != REAM_OK) return rc;
      }
    }
    std::string s = json{{"docs", state}, {"stage", "map"}}.dump();
    host->set_state(call, rs(s));
    return REAM_OK;
  })
}

ream_status finish(const ream_host* host, ream_call* call, const ream_reduce_input* in, const json& summaries,
                   int64_t parts) {
  std::string all;
  for (const auto& [key, summary] : summaries.items()) {
    size_t d = std::stoul(key);
    const ream_document& doc = in->documents[d];
    FindingOut f;
    f.kind = "summary";
    f.title = "Summary of " + doc_label(doc);
    f.text = summary.get<std::string>();
    f.details = {{"document", std::string(sv(doc.id))}, {"parts", parts}};
    if (ream_status rc = emit_finding(host, call, f); rc != REAM_OK) return rc;
    if (summaries.size() > 1) all += "## " + doc_label(doc) + "\n\n";
    all += f.text + (summaries.size() > 1 ? "\n\n" : "");
  }
  if (ream_status rc = emit_output(host, call, "summary", all); rc != REAM_OK) return rc;
  return emit_output(host, call, "parts", parts);
}

ream_status reduce(const ream_host* host, ream_call* call, const ream_reduce_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    json p = parse_params(in->params_json);
    json state = json::parse(sv(in->state_json), nullptr, false);
    if (!state.is_object()) return fail(host, call, REAM_ERR_FAILED, "missing state from the previous round");
    json replies = json::object();
    for (size_t i = 0; i < in->reply_count; ++i) {
      replies[std::string(sv(in->replies[i].key))] = std::string(sv(in->replies[i].text));
      if (sv(in->replies[i].finish_reason) == "length") {
        warn(host, call, "summary '" + std::string(sv(in->replies[i].key)) + "' was cut off at the token limit");
      }
    }
    const bool combining = state["stage"] == "combine";
    json summaries = state.value("done", json::object());
    int64_t parts_total = 0;
    bool more = false;
    for (const json& entry : state["docs"]) {
      size_t d = entry["doc"].get<size_t>(), parts = entry["parts"].get<size_t>();
      parts_total += static_cast<int64_t>(parts);
      std::string dk = "d" + std::to_string(d);
      if (parts == 1) {
        if (!combining) summaries[std::to_string(d)] = replies.value(dk + "-p0", "");
        continue;
      }
      if (combining) {
        summaries[std::to_string(d)] = replies.value(dk + "-combined", "");
        continue;
      }
      // Map round done for a split document: combine its part summaries.
      std::string body = "Summaries of the " + std::to_string(parts) + " consecutive parts of one document:\n\n";
      for (size_t i = 0; i < parts; ++i) {
        body += "Part " + std::to_string(i + 1) + ":\n" + replies.value(dk + "-p" + std::to_string(i), "") + "\n\n";
      }
      body += instruction(p, "the whole document from these part summaries");
      ChatPrompt prompt{dk + "-combined", {{"system", kSystem}, {"user", body}}, p.value("max_tokens", 0)};
      if (ream_status rc = emit_prompt(host, call, prompt); rc != REAM_OK) return rc;
      more = true;
    }
    if (more) {
      state["stage"] = "combine";
      state["done"] = summaries;
      std::string s = state.dump();
      return host->set_state(call, rs(s));
    }
    return finish(host, call, in, summaries, parts_total);
  })
}

const ream_plugin kPlugin = {
    sizeof(ream_plugin),
    REAM_PLUGIN_ABI_VERSION,
    REAM_LITERAL("summarize"),
    REAM_LITERAL("1.0.0"),
    REAM_LITERAL("Summarises each document; documents longer than the context are summarised in parts "
                 "that are then combined (map-reduce)."),
    {kParams, std::char_traits<char>::length(kParams)},
    {kOutputs, std::char_traits<char>::length(kOutputs)},
    plan,
    reduce,
};

}  // namespace

extern "C" REAM_PLUGIN_EXPORT const ream_plugin* REAM_PLUGIN_ENTRY(uint32_t host_abi_version) {
  return host_abi_version == REAM_PLUGIN_ABI_VERSION ? &kPlugin : nullptr;
}
