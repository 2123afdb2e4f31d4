// summarize: a summary of each document. A document that fits the context is
// summarised in one prompt; a longer one is split into parts that are summarised
// separately (map) and then combined in a second round (reduce).
//
// Prompts put the document first and the instruction last, so that the engine's
// prefix cache serves repeated runs over the same document. Replies are asked for as
// {"summary": "..."} (the prompt's constraint); a reply in prose is still taken as
// the summary. A blank one (or a blank "summary") gets one repair prompt, then a
// warning and counts as unparsed: its document (or part) then has no summary.
#include <string>

#include "plugin_util.h"
#include "ream/plugin_descriptor.h"

namespace {

using nlohmann::json;
using namespace plugin_util;

constexpr char kParams[] = R"json({
  "type": "object",
  "properties": {
    "max_words": {"type": "integer", "minimum": 10, "maximum": 5000, "default": 200,
                  "description": "Length limit of each summary, in words"},
    "focus": {"type": "string", "default": "",
              "description": "What the summary should concentrate on (optional)"},
    "max_tokens": {"type": "integer", "minimum": 0, "default": 0,
                   "description": "Reply length limit per prompt; 0 = the workflow's engine.max_tokens"},
    "repair": {"type": "boolean", "default": true,
               "description": "Ask once more, for JSON only, when a reply has no summary"}
  },
  "additionalProperties": false
})json";

constexpr char kOutputs[] = R"json({
  "summary": {"type": "string", "description": "The summary (documents separated by headings when several)"},
  "parts": {"type": "integer", "description": "How many parts the documents were split into"},
  "unparsed": {"type": "integer", "description": "Replies given up on (see the step's warnings)"}
})json";

// The reply's JSON Schema (the prompt's constraint; workflows/schemas/summarize.reply.json
// is the same). A summary with no visible character is unusable.
constexpr const char* kReplySchema =
    R"json({"type":"object","properties":{"summary":{"type":"string","pattern":"^[\\s\\S]*\\S[\\s\\S]*$"}},)json"
    R"json("required":["summary"],"additionalProperties":false})json";
constexpr const char* kReplyFormat = "Reply with only this JSON object: {\"summary\": \"<the summary>\"}";

constexpr const char* kSystem =
    "You are a careful analyst. You write faithful, concise summaries in plain prose, "
    "using only what the text says, and you reply with a single JSON object and nothing else.";

std::string instruction(const json& p, const std::string& what) {
  std::string s = "Summarise " + what + " in at most " + std::to_string(p["max_words"].get<int>()) + " words.";
  std::string focus = p.value("focus", "");
  if (!focus.empty()) s += " Concentrate on: " + focus + ".";
  return s + "\n\n" + kReplyFormat;
}

// The summary in a reply, or "" with the reason in `why`: the "summary" of its JSON
// object; a reply with no such object (prose, as before replies were constrained) is
// the summary itself. Blank is unusable.
std::string summary_of(std::string_view reply, std::string* why) {
  std::string ignored;
  auto j = extract_json_object(reply, &ignored);
  if (j && j->contains("summary")) {
    const json& v = (*j)["summary"];
    std::string text = v.is_string() ? v.get<std::string>() : "";
    if (text.find_first_not_of(" \t\r\n") != std::string::npos) return text;
    *why = v.is_string() ? "the \"summary\" is blank" : "the \"summary\" is not a string";
    return "";
  }
  const size_t b = reply.find_first_not_of(" \t\r\n"), e = reply.find_last_not_of(" \t\r\n");
  if (b == std::string_view::npos) {
    *why = "the reply is blank";
    return "";
  }
  return std::string(reply.substr(b, e - b + 1));
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

using Messages = std::vector<std::pair<std::string, std::string>>;

std::string doc_key(size_t d) { return "d" + std::to_string(d); }

// The map prompt of part `i` of document entry `e` ({"doc", "ranges"}).
Messages part_messages(const ream_document& doc, const json& p, const json& e, size_t i) {
  const size_t parts = e["ranges"].size();
  const size_t b = e["ranges"][i][0].get<size_t>(), end = e["ranges"][i][1].get<size_t>();
  std::string body = "<document>\n" + std::string(sv(doc.text).substr(b, end - b)) + "\n</document>\n\n";
  body += parts == 1 ? instruction(p, "the document above")
                     : instruction(p, "this part (" + std::to_string(i + 1) + " of " + std::to_string(parts) +
                                          ") of a longer document");
  return {{"system", kSystem}, {"user", body}};
}

// The combine prompt of a split document from its part summaries in `got`.
Messages combine_messages(const json& p, const json& e, const json& got) {
  const size_t parts = e["ranges"].size();
  const std::string dk = doc_key(e["doc"].get<size_t>());
  std::string body = "Summaries of the " + std::to_string(parts) + " consecutive parts of one document:\n\n";
  for (size_t i = 0; i < parts; ++i) {
    const std::string k = dk + "-p" + std::to_string(i);
    body += "Part " + std::to_string(i + 1) + ":\n" + (got.contains(k) ? got[k].get<std::string>() : "(no usable summary)") + "\n\n";
  }
  return {{"system", kSystem}, {"user", body + instruction(p, "the whole document from these part summaries")}};
}

ream_status plan(const ream_host* host, ream_call* call, const ream_plan_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    json p = parse_params(in->params_json);
    int max_tokens = p.value("max_tokens", 0);
    int64_t budget = text_budget(host, call, max_tokens);
    if (budget < 64) return fail(host, call, REAM_ERR_UNSUPPORTED, "the context is too small to summarise anything");
    json docs = json::array();
    for (size_t d = 0; d < in->document_count; ++d) {
      const ream_document& doc = in->documents[d];
      std::string_view text = sv(doc.text);
      if (text.empty()) {
        warn(host, call, std::string(sv(doc.id)) + " is empty; nothing to summarise");
        continue;
      }
      json e = {{"doc", d}, {"ranges", split_to_budget(host, call, text, budget)}};
      for (size_t i = 0; i < e["ranges"].size(); ++i) {
        ChatPrompt prompt{doc_key(d) + "-p" + std::to_string(i), part_messages(doc, p, e, i), max_tokens,
                          kReplySchema};
        if (ream_status rc = emit_prompt(host, call, prompt); rc != REAM_OK) return rc;
      }
      docs.push_back(std::move(e));
    }
    std::string s = json{{"docs", docs}, {"stage", "map"}, {"got", json::object()}, {"unparsed", 0}}.dump();
    host->set_state(call, rs(s));
    return REAM_OK;
  })
}

ream_status finish(const ream_host* host, ream_call* call, const ream_reduce_input* in, const json& state) {
  std::string all;
  int64_t parts_total = 0;
  std::vector<std::pair<size_t, std::string>> summaries;
  for (const json& e : state["docs"]) {
    const size_t d = e["doc"].get<size_t>(), parts = e["ranges"].size();
    parts_total += static_cast<int64_t>(parts);
    const std::string k = doc_key(d) + (parts == 1 ? "-p0" : "-combined");
    if (state["got"].contains(k)) summaries.emplace_back(d, state["got"][k].get<std::string>());
  }
  for (const auto& [d, text] : summaries) {
    const ream_document& doc = in->documents[d];
    FindingOut f;
    f.kind = "summary";
    f.title = "Summary of " + doc_label(doc);
    f.text = text;
    f.details = {{"document", std::string(sv(doc.id))}, {"parts", parts_total}};
    if (ream_status rc = emit_finding(host, call, f); rc != REAM_OK) return rc;
    if (summaries.size() > 1) all += "## " + doc_label(doc) + "\n\n";
    all += f.text + (summaries.size() > 1 ? "\n\n" : "");
  }
  if (ream_status rc = emit_output(host, call, "summary", all); rc != REAM_OK) return rc;
  if (ream_status rc = emit_output(host, call, "parts", parts_total); rc != REAM_OK) return rc;
  return emit_output(host, call, "unparsed", state["unparsed"]);
}

constexpr std::string_view kRepair = "~repair";

ream_status reduce(const ream_host* host, ream_call* call, const ream_reduce_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    json p = parse_params(in->params_json);
    json state = json::parse(sv(in->state_json), nullptr, false);
    if (!state.is_object()) return fail(host, call, REAM_ERR_FAILED, "missing state from the previous round");
    auto entry_of = [&](size_t d) -> const json* {
      for (const json& e : state["docs"]) {
        if (e["doc"].get<size_t>() == d) return &e;
      }
      return nullptr;
    };
    // The messages of the prompt with key `base` ("d0-p1" or "d0-combined").
    auto messages_of = [&](const std::string& base) -> Messages {
      size_t d = 0, i = 0;
      const json* e = nullptr;
      if (std::sscanf(base.c_str(), "d%zu-p%zu", &d, &i) == 2 && (e = entry_of(d)) && i < (*e)["ranges"].size()) {
        return part_messages(in->documents[d], p, *e, i);
      }
      if (std::sscanf(base.c_str(), "d%zu-combined", &d) == 1 && (e = entry_of(d))) return combine_messages(p, *e, state["got"]);
      throw std::runtime_error("reply with unknown key '" + base + "'");
    };
    int repairs = 0;
    for (size_t r = 0; r < in->reply_count; ++r) {
      const ream_reply& reply = in->replies[r];
      const std::string key(sv(reply.key));
      const bool is_repair = key.size() > kRepair.size() && key.substr(key.size() - kRepair.size()) == kRepair;
      const std::string base = is_repair ? key.substr(0, key.size() - kRepair.size()) : key;
      if (sv(reply.finish_reason) == "length") warn(host, call, "summary '" + key + "' was cut off at the token limit");
      std::string why;
      std::string text = summary_of(sv(reply.text), &why);
      if (!text.empty()) {
        state["got"][base] = text;
        continue;
      }
      if (!is_repair && p.value("repair", true)) {
        ChatPrompt prompt{base + std::string(kRepair), messages_of(base), p.value("max_tokens", 0), kReplySchema};
        prompt.messages.emplace_back("assistant", std::string(sv(reply.text)));
        prompt.messages.emplace_back("user", "That reply cannot be used: " + why + ". " + kReplyFormat);
        if (ream_status rc = emit_prompt(host, call, prompt); rc != REAM_OK) return rc;
        ++repairs;
        continue;
      }
      state["unparsed"] = state["unparsed"].get<int64_t>() + 1;
      warn(host, call, "summary '" + base + "': reply unusable" + (is_repair ? " after a repair prompt" : "") + " (" +
                           why + "; finish: " + std::string(sv(reply.finish_reason)) + ", " +
                           std::to_string(reply.completion_tokens) + " tokens); no summary from it");
    }
    if (repairs > 0) return host->set_state(call, rs(state.dump()));
    if (state["stage"] == "map") {
      state["stage"] = "combine";
      bool more = false;
      for (const json& e : state["docs"]) {
        if (e["ranges"].size() < 2) continue;
        const std::string dk = doc_key(e["doc"].get<size_t>());
        bool any = false;
        for (size_t i = 0; i < e["ranges"].size(); ++i) any = any || state["got"].contains(dk + "-p" + std::to_string(i));
        if (!any) {
          warn(host, call, std::string(sv(in->documents[e["doc"].get<size_t>()].id)) +
                               ": no usable part summary; the document is not summarised");
          continue;
        }
        // Map round done for a split document: combine its part summaries.
        ChatPrompt prompt{doc_key(e["doc"].get<size_t>()) + "-combined", combine_messages(p, e, state["got"]),
                          p.value("max_tokens", 0), kReplySchema};
        if (ream_status rc = emit_prompt(host, call, prompt); rc != REAM_OK) return rc;
        more = true;
      }
      if (more) return host->set_state(call, rs(state.dump()));
    }
    return finish(host, call, in, state);
  })
}

}  // namespace

REAM_DEFINE_PLUGIN("summarize", "1.0.0",
                   "Summarises each document; documents longer than the context are summarised in parts "
                   "that are then combined (map-reduce).",
                   kParams, kOutputs, plan, reduce)
