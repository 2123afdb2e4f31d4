// long_qa: questions over long documents, answered with cited evidence.
//
// Every question is asked against every document (or every part of a document
// that does not fit the context). The document comes first and the question last,
// so forty questions over one contract share the prefix cache. Replies are asked
// for as a JSON object; quotes are located in the source to get their offsets.
// A reply that does not parse gets one repair prompt (round 1); if that fails too
// it is recorded as a warning, never as an invented finding.
#include <string>

#include "plugin_util.h"
#include "ream/plugin_descriptor.h"

namespace {

using nlohmann::json;
using namespace plugin_util;

constexpr char kParams[] = R"json({
  "type": "object",
  "properties": {
    "questions": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                  "description": "The questions to answer from the documents"},
    "max_quotes": {"type": "integer", "minimum": 0, "maximum": 20, "default": 3,
                   "description": "Evidence quotes asked for per answer"},
    "repair": {"type": "boolean", "default": true,
               "description": "Ask once more, for JSON only, when a reply does not parse"},
    "max_tokens": {"type": "integer", "minimum": 0, "default": 0,
                   "description": "Reply length limit; 0 = the workflow's engine.max_tokens"}
  },
  "required": ["questions"],
  "additionalProperties": false
})json";

constexpr char kOutputs[] = R"json({
  "answers": {"type": "array", "description": "One entry per question and document (part): question, document, answer, found, confidence, quotes, or error"},
  "answered": {"type": "integer", "description": "Replies that parsed"},
  "unparsed": {"type": "integer", "description": "Replies that did not parse (see the step's warnings)"}
})json";

constexpr const char* kSystem =
    "You answer questions about a document using only the document's text. "
    "You always reply with a single JSON object and nothing else.";

std::string format_rules(int max_quotes) {
  return "Reply with only this JSON object:\n"
         "{\"answer\": \"<short answer>\", \"found\": <true if the document answers the question, else false>, "
         "\"quotes\": [<up to " + std::to_string(max_quotes) +
         " exact sentences copied from the document that support the answer>], "
         "\"confidence\": <a number from 0 to 1>}";
}

// The JSON Schema of a reply, attached to every prompt as its constraint. Every reply
// it allows also validates against workflows/schemas/long_qa.reply.json (the step's
// reply_schema). Properties keep their order: a constrained decoder writes them so.
std::string reply_schema(int max_quotes) {
  using ojson = nlohmann::ordered_json;
  ojson props = {{"answer", {{"type", "string"}}},
                 {"found", {{"type", "boolean"}}},
                 {"quotes", {{"type", "array"}, {"items", {{"type", "string"}}}, {"maxItems", max_quotes}}},
                 {"confidence", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}}};
  return ojson{{"type", "object"}, {"properties", props}, {"required", {"answer", "found", "quotes", "confidence"}},
               {"additionalProperties", false}}
      .dump();
}

struct Part {
  size_t doc = 0;
  size_t part = 0, parts = 1;
  size_t start = 0, end = 0;
};

// The same split in plan and reduce (deterministic for a given tokenizer).
std::vector<Part> split_documents(const ream_host* host, ream_call* call, const ream_document* docs, size_t n,
                                  int64_t budget) {
  std::vector<Part> out;
  for (size_t d = 0; d < n; ++d) {
    auto ranges = split_to_budget(host, call, sv(docs[d].text), budget);
    for (size_t i = 0; i < ranges.size(); ++i) out.push_back({d, i, ranges.size(), ranges[i].first, ranges[i].second});
  }
  return out;
}

int64_t text_budget(const ream_host* host, ream_call* call, const json& p) {
  int64_t longest_question = 0;
  for (const json& q : p["questions"]) {
    longest_question = std::max(longest_question, host->count_tokens(call, rs(q.get<std::string>())));
  }
  int reply = p.value("max_tokens", 0) > 0 ? p.value("max_tokens", 0) : 1024;
  return host->context_size(call) - reply - host->prompt_overhead(call) - longest_question - 200;
}

std::string user_message(const ream_document& doc, const Part& part, const std::string& question, int max_quotes) {
  std::string text(sv(doc.text).substr(part.start, part.end - part.start));
  std::string head = "<document id=\"" + std::string(sv(doc.id)) + "\"";
  if (part.parts > 1) head += " part=\"" + std::to_string(part.part + 1) + " of " + std::to_string(part.parts) + "\"";
  return head + ">\n" + text + "\n</document>\n\n" + format_rules(max_quotes) + "\n\nQuestion: " + question;
}

std::string key_of(size_t part_index, size_t question) {
  return "p" + std::to_string(part_index) + "-q" + std::to_string(question);
}

bool parse_key(std::string_view key, size_t* part_index, size_t* question) {
  if (key.size() < 4 || key[0] != 'p') return false;
  size_t dash = key.find("-q");
  if (dash == std::string_view::npos) return false;
  try {
    *part_index = std::stoul(std::string(key.substr(1, dash - 1)));
    *question = std::stoul(std::string(key.substr(dash + 2)));
  } catch (...) {
    return false;
  }
  return true;
}

ream_status plan(const ream_host* host, ream_call* call, const ream_plan_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    json p = parse_params(in->params_json);
    if (in->document_count == 0) return fail(host, call, REAM_ERR_INVALID_ARGUMENT, "long_qa needs at least one document");
    int64_t budget = text_budget(host, call, p);
    if (budget < 64) return fail(host, call, REAM_ERR_UNSUPPORTED, "the context is too small for these questions");
    auto parts = split_documents(host, call, in->documents, in->document_count, budget);
    int max_quotes = p.value("max_quotes", 3);
    // Part-major order: all questions over one part are queued together, so they
    // hit the engine while that part's prefix is cached.
    for (size_t i = 0; i < parts.size(); ++i) {
      for (size_t q = 0; q < p["questions"].size(); ++q) {
        const std::string question = p["questions"][q].get<std::string>();
        ChatPrompt prompt{key_of(i, q),
                          {{"system", kSystem}, {"user", user_message(in->documents[parts[i].doc], parts[i], question, max_quotes)}},
                          p.value("max_tokens", 0), reply_schema(max_quotes)};
        if (ream_status rc = emit_prompt(host, call, prompt); rc != REAM_OK) return rc;
      }
    }
    return REAM_OK;
  })
}

// Records one parsed answer as a finding; fills `entry` for the answers output.
ream_status record_answer(const ream_host* host, ream_call* call, const ream_document& doc, const Part& part,
                          size_t q, const std::string& question, const json& reply, json* entry) {
  std::string answer = reply.contains("answer") ? (reply["answer"].is_string() ? reply["answer"].get<std::string>()
                                                                                : reply["answer"].dump())
                                                : "";
  // A "found" that is not a boolean is read from the answer (it used to throw and fail the step).
  bool found = reply.contains("found") && reply["found"].is_boolean() ? reply["found"].get<bool>() : !answer.empty();
  double confidence = reply.contains("confidence") && reply["confidence"].is_number()
                          ? std::clamp(reply["confidence"].get<double>(), 0.0, 1.0) : -1.0;
  FindingOut f;
  f.kind = "answer";
  f.category = "question " + std::to_string(q + 1);
  f.title = question;
  f.text = found ? answer : "Not found in the document" + std::string(answer.empty() ? "" : ": " + answer);
  f.confidence = confidence;
  std::string_view text = sv(doc.text);
  json quotes = json::array();
  if (reply.contains("quotes") && reply["quotes"].is_array()) {
    for (const json& qt : reply["quotes"]) {
      if (!qt.is_string() || qt.get<std::string>().empty()) continue;
      Quote quote{std::string(sv(doc.id)), qt.get<std::string>()};
      // Search the part asked about first, then the whole text given to us.
      int64_t s = -1, e = -1;
      if (locate_quote(text.substr(part.start, part.end - part.start), quote.text, &s, &e)) {
        quote.start = s + static_cast<int64_t>(part.start);
        quote.end = e + static_cast<int64_t>(part.start);
      } else if (locate_quote(text, quote.text, &s, &e)) {
        quote.start = s;
        quote.end = e;
      }
      quotes.push_back({{"quote", quote.text}, {"located", quote.start >= 0}});
      f.quotes.push_back(std::move(quote));
    }
  }
  f.details = {{"question_index", q}, {"found", found}, {"document", std::string(sv(doc.id))},
               {"part", part.part + 1}, {"parts", part.parts}};
  *entry = {{"question", question}, {"document", std::string(sv(doc.id))}, {"part", part.part + 1},
            {"answer", answer}, {"found", found}, {"confidence", confidence < 0 ? json() : json(confidence)},
            {"quotes", quotes}};
  return emit_finding(host, call, f);
}

ream_status reduce(const ream_host* host, ream_call* call, const ream_reduce_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    json p = parse_params(in->params_json);
    auto parts = split_documents(host, call, in->documents, in->document_count, text_budget(host, call, p));
    json state = json::parse(sv(in->state_json), nullptr, false);
    json answers = state.is_object() && state.contains("answers") ? state["answers"] : json::array();
    int64_t answered = state.is_object() ? state.value("answered", 0) : 0;
    int64_t unparsed = state.is_object() ? state.value("unparsed", 0) : 0;
    bool repaired_any = false;
    for (size_t i = 0; i < in->reply_count; ++i) {
      const ream_reply& r = in->replies[i];
      size_t pi = 0, q = 0;
      std::string key(sv(r.key));
      bool repair_reply = key.size() > 7 && key.compare(key.size() - 7, 7, "-repair") == 0;
      std::string base = repair_reply ? key.substr(0, key.size() - 7) : key;
      if (!parse_key(base, &pi, &q) || pi >= parts.size() || q >= p["questions"].size()) {
        return fail(host, call, REAM_ERR_FAILED, "reply with unknown key '" + key + "'");
      }
      const Part& part = parts[pi];
      const ream_document& doc = in->documents[part.doc];
      const std::string question = p["questions"][q].get<std::string>();
      std::string why;
      auto parsed = extract_json_object(sv(r.text), &why);
      if (parsed) {
        json entry;
        if (ream_status rc = record_answer(host, call, doc, part, q, question, *parsed, &entry); rc != REAM_OK) return rc;
        answers.push_back(entry);
        ++answered;
        continue;
      }
      if (!repair_reply && p.value("repair", true)) {
        ChatPrompt prompt{base + "-repair",
                          {{"system", kSystem},
                           {"user", user_message(doc, part, question, p.value("max_quotes", 3))},
                           {"assistant", std::string(sv(r.text))},
                           {"user", "That reply was not a valid JSON object (" + why + "). " + format_rules(p.value("max_quotes", 3))}},
                          p.value("max_tokens", 0), reply_schema(p.value("max_quotes", 3))};
        if (ream_status rc = emit_prompt(host, call, prompt); rc != REAM_OK) return rc;
        repaired_any = true;
        continue;
      }
      ++unparsed;
      std::string where = "question " + std::to_string(q + 1) + " on " + std::string(sv(doc.id)) +
                          (part.parts > 1 ? " part " + std::to_string(part.part + 1) : "");
      warn(host, call, where + ": reply is not valid JSON (" + why + "; finish: " + std::string(sv(r.finish_reason)) +
                           ", " + std::to_string(r.completion_tokens) + " tokens)");
      answers.push_back({{"question", question}, {"document", std::string(sv(doc.id))}, {"part", part.part + 1},
                         {"error", "reply is not valid JSON: " + why}});
    }
    if (repaired_any) {
      std::string s = json{{"answers", answers}, {"answered", answered}, {"unparsed", unparsed}}.dump();
      return host->set_state(call, rs(s));
    }
    if (ream_status rc = emit_output(host, call, "answers", answers); rc != REAM_OK) return rc;
    if (ream_status rc = emit_output(host, call, "answered", answered); rc != REAM_OK) return rc;
    return emit_output(host, call, "unparsed", unparsed);
  })
}

}  // namespace

REAM_DEFINE_PLUGIN("long_qa", "1.0.0",
                   "Answers questions over long documents with evidence quotes located in the source. "
                   "Documents longer than the context are asked part by part.",
                   kParams, kOutputs, plan, reduce)
