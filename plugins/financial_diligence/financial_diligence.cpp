// financial_diligence: a due-diligence review of filings (10-K and the like)
// against a thirteen-area checklist.
//
// plan: per part of every document (one part when it fits the context), one
//   prompt per group of checklist areas: the filing first, the areas' checklist,
//   figures to extract, the client's materiality threshold, fiscal year and
//   currency last (groups share the filing's prefix in the cache).
// reduce: checklist answers merged across parts (a concern outranks a clean
//   answer, which outranks "not addressed"); key figures with the sentence or
//   table row they come from; red flags with severity, capped at low when the
//   amount at stake is below materiality; consistency questions. Figures that
//   share a name and period but differ across sections or documents become
//   consistency findings with both quotes. When the review took more than one
//   prompt, one cross-check prompt over everything extracted asks what the parts
//   say inconsistently. Unusable replies: one repair prompt, then a warning.
#include <algorithm>
#include <map>
#include <string>

#include "../domain_common/domain_util.h"
#include "diligence_checklist.h"
#include "diligence_prompts.h"
#include "figures.h"
#include "ream/plugin_descriptor.h"

namespace {

using nlohmann::json;
using namespace plugin_util;
using namespace diligence;

constexpr char kParams[] = R"json({
  "type": "object",
  "properties": {
    "areas": {"type": "array", "items": {"type": "string"}, "default": [],
              "description": "Checklist areas: corporate, financial, tax, debt, property, ip, material_contracts, operations, litigation, regulatory, employment, privacy_security, esg; empty = all"},
    "materiality_threshold": {"type": "number", "minimum": 0, "default": 0,
                              "description": "Amount (in the currency's units, e.g. 50000000) below which a red flag is at most low severity; 0 = the model judges"},
    "fiscal_year": {"type": "string", "default": "", "description": "The fiscal year to focus on (\"2024\"); empty = the latest in the filing"},
    "currency": {"type": "string", "default": "USD", "description": "The reporting currency figures are read in"},
    "areas_per_prompt": {"type": "integer", "minimum": 1, "maximum": 13, "default": 4,
                         "description": "Checklist areas asked about in one prompt"},
    "cross_check": {"type": "boolean", "default": true,
                    "description": "Ask a final cross-section consistency question over everything extracted"},
    "repair": {"type": "boolean", "default": true, "description": "Ask once more, for JSON only, when a reply cannot be used"},
    "max_tokens": {"type": "integer", "minimum": 0, "default": 0,
                   "description": "Reply length limit per prompt; 0 = the workflow's engine.max_tokens"}
  },
  "additionalProperties": false
})json";

constexpr char kOutputs[] = R"json({
  "checklist": {"type": "array", "description": "Per area and item: status (concern, satisfactory, not_addressed), answer"},
  "figures": {"type": "array", "description": "Key figures: area, name, value, unit, period, amount (base units), quote, document"},
  "red_flags": {"type": "array", "description": "Red flags, most severe first: area, title, severity, amount, below_materiality"},
  "inconsistencies": {"type": "integer", "description": "Consistency findings judged inconsistent"},
  "unparsed": {"type": "integer", "description": "Replies given up on (see the step's warnings)"}
})json";

struct Context {
  const ream_host* host;
  ream_call* call;
  const ream_document* docs;
  size_t doc_count;
  Settings s;
  std::vector<std::vector<const Area*>> groups;
  std::vector<domain::Segment> segments;
};

bool setup(const ream_host* host, ream_call* call, const ream_document* docs, size_t n, ream_str params,
           Context* c, std::string* error) {
  *c = {host, call, docs, n, {}, {}, {}};
  if (!parse_settings(parse_params(params), &c->s, error)) return false;
  for (size_t i = 0; i < c->s.areas.size(); ++i) {
    if (i % static_cast<size_t>(c->s.per_prompt) == 0) c->groups.emplace_back();
    c->groups.back().push_back(c->s.areas[i]);
  }
  int64_t fixed = 0;
  for (const auto& g : c->groups) fixed = std::max(fixed, host->count_tokens(call, rs(instructions(c->s, g))));
  int64_t budget = domain::text_budget(host, call, c->s.reply_budget, kSystem) - fixed;
  if (budget < 256) {
    *error = "the model's context is too small for these instructions and a " + std::to_string(c->s.reply_budget) +
             "-token reply";
    return false;
  }
  c->segments = domain::split_segments(host, call, docs, n, budget);
  return true;
}

std::string key_of(size_t seg, size_t g) { return "s" + std::to_string(seg) + "-g" + std::to_string(g); }
bool parse_key(const std::string& key, size_t* seg, size_t* g) { return std::sscanf(key.c_str(), "s%zu-g%zu", seg, g) == 2; }

std::vector<std::pair<std::string, std::string>> messages(const Context& c, size_t seg, size_t g) {
  const domain::Segment& sg = c.segments[seg];
  return {{"system", kSystem}, {"user", domain::document_block(c.docs[sg.doc], sg) + instructions(c.s, c.groups[g])}};
}

ream_status plan(const ream_host* host, ream_call* call, const ream_plan_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    if (in->document_count == 0) return fail(host, call, REAM_ERR_INVALID_ARGUMENT, "financial_diligence needs a filing");
    Context c;
    std::string error;
    if (!setup(host, call, in->documents, in->document_count, in->params_json, &c, &error)) {
      return fail(host, call, REAM_ERR_INVALID_ARGUMENT, error);
    }
    for (size_t seg = 0; seg < c.segments.size(); ++seg) {
      for (size_t g = 0; g < c.groups.size(); ++g) {
        ChatPrompt p{key_of(seg, g), messages(c, seg, g), c.s.max_tokens, extraction_json_schema(c.groups[g])};
        if (ream_status rc = emit_prompt(host, call, p); rc != REAM_OK) return rc;
      }
    }
    return REAM_OK;
  })
}

json quote_at(const Context& c, size_t seg, const std::string& text) {
  const domain::Segment& sg = c.segments[seg];
  Quote q = domain::locate_in(c.docs[sg.doc], sg.start, sg.end, text);
  return {{"quote", text}, {"document", q.document_id}, {"start", q.start}, {"end", q.end}};
}

// A quote of any of the call's documents (for the cross-check, whose quotes come
// from extracted items of several parts).
json quote_anywhere(const Context& c, const std::string& text) {
  for (size_t d = 0; d < c.doc_count; ++d) {
    Quote q = domain::locate_in(c.docs[d], 0, 0, text);
    if (q.start >= 0) return {{"quote", text}, {"document", q.document_id}, {"start", q.start}, {"end", q.end}};
  }
  return {{"quote", text}, {"document", c.doc_count ? std::string(sv(c.docs[0].id)) : ""}, {"start", -1}, {"end", -1}};
}

std::string where(const Context& c, size_t seg) {
  const domain::Segment& sg = c.segments[seg];
  return std::string(sv(c.docs[sg.doc].id)) + (sg.parts > 1 ? " part " + std::to_string(sg.part + 1) : "");
}

// The area an entry names, else the group's only area, else "general".
std::string area_of(const Context& c, size_t g, const json& e) {
  const Area* a = find_area(domain::str_field(e, "area"));
  if (a) return a->id;
  return c.groups[g].size() == 1 ? c.groups[g][0]->id : "general";
}

int status_rank(const std::string& s) { return s == "concern" ? 2 : s == "satisfactory" ? 1 : 0; }

void merge_consistency(const Context& c, const json& e, const std::string& source, json* state, size_t seg, bool anywhere) {
  json quotes = json::array();
  if (e.contains("statements") && e["statements"].is_array()) {
    for (const json& s : e["statements"]) {
      if (s.is_string() && !s.get<std::string>().empty()) {
        quotes.push_back(anywhere ? quote_anywhere(c, s.get<std::string>()) : quote_at(c, seg, s.get<std::string>()));
      }
    }
  }
  (*state)["consistency"].push_back({{"question", domain::str_field(e, "question")},
                                     {"assessment", domain::lower(domain::str_field(e, "assessment"))},
                                     {"explanation", domain::str_field(e, "explanation")}, {"quotes", quotes},
                                     {"source", source}});
}

void merge_reply(const Context& c, size_t seg, size_t g, const json& v, json* state) {
  json& checklist = (*state)["checklist"];
  if (v.contains("checklist") && v["checklist"].is_array()) {
    for (const json& e : v["checklist"]) {
      std::string item = domain::str_field(e, "item");
      if (item.empty()) continue;
      std::string area = area_of(c, g, e), status = domain::lower(domain::str_field(e, "status"));
      if (status_rank(status) == 0) status = "not_addressed";
      json& m = checklist[area + "|" + item];
      if (m.is_null()) m = {{"area", area}, {"item", item}, {"status", status}, {"answer", ""}, {"quotes", json::array()}};
      if (status_rank(status) > status_rank(m["status"]) || m["answer"] == "") {
        if (status_rank(status) >= status_rank(m["status"])) {
          m["status"] = status;
          m["answer"] = domain::str_field(e, "answer");
        }
      }
      std::string q = domain::str_field(e, "quote");
      if (!q.empty() && status != "not_addressed") m["quotes"].push_back(quote_at(c, seg, q));
    }
  }
  if (v.contains("figures") && v["figures"].is_array()) {
    for (const json& e : v["figures"]) {
      std::string name = domain::str_field(e, "name"), value = domain::str_field(e, "value");
      if (name.empty() || value.empty()) continue;
      std::string unit = domain::str_field(e, "unit"), period = domain::str_field(e, "period");
      bool pct = false;
      auto amount = parse_amount(value, unit, &pct);
      json f = {{"area", area_of(c, g, e)}, {"name", name}, {"value", value}, {"unit", unit}, {"period", period},
                {"amount", amount ? json(*amount) : json()}, {"percent", pct}, {"where", where(c, seg)},
                {"evidence", quote_at(c, seg, domain::str_field(e, "quote"))}};
      bool dup = false;
      for (const json& h : (*state)["figures"]) {
        dup = dup || (figure_key(h["name"].get<std::string>()) == figure_key(name) && h["period"] == period && h["value"] == value);
      }
      if (!dup) (*state)["figures"].push_back(std::move(f));
    }
  }
  if (v.contains("red_flags") && v["red_flags"].is_array()) {
    for (const json& e : v["red_flags"]) {
      std::string title = domain::str_field(e, "title");
      if (title.empty()) continue;
      int32_t sev = domain::parse_severity(e.contains("severity") ? e["severity"] : json(), REAM_SEVERITY_MEDIUM);
      std::string amount_text = domain::str_field(e, "amount");
      auto amount = parse_amount(amount_text, "", nullptr);
      bool below = c.s.materiality > 0 && amount && std::abs(*amount) < c.s.materiality;
      json f = {{"area", area_of(c, g, e)}, {"title", title}, {"severity", below ? std::min(sev, REAM_SEVERITY_LOW) : sev},
                {"model_severity", domain::severity_word(sev)}, {"amount", amount_text},
                {"amount_value", amount ? json(*amount) : json()}, {"below_materiality", below},
                {"explanation", domain::str_field(e, "explanation")}, {"where", where(c, seg)},
                {"evidence", quote_at(c, seg, domain::str_field(e, "quote"))}};
      (*state)["red_flags"].push_back(std::move(f));
    }
  }
  if (v.contains("consistency") && v["consistency"].is_array()) {
    for (const json& e : v["consistency"]) merge_consistency(c, e, where(c, seg), state, seg, false);
  }
}

std::string validate_extraction(const json& v) {
  for (const char* k : {"checklist", "figures", "red_flags", "consistency"}) {
    if (v.contains(k) && !v[k].is_array()) return std::string("\"") + k + "\" is not an array";
  }
  if (!v.contains("checklist") && !v.contains("figures") && !v.contains("red_flags")) {
    return "none of \"checklist\", \"figures\" or \"red_flags\" is present";
  }
  return "";
}

std::string validate_cross(const json& v) { return domain::require_array(v, "consistency"); }

std::string cross_schema() {
  return "{\"consistency\": [{\"question\": \"<the matter>\", \"statements\": [\"<quote A copied exactly from the "
         "items above>\", \"<quote B>\"], \"assessment\": \"<consistent|inconsistent|unclear>\", \"explanation\": "
         "\"<one sentence>\"}]}";
}

// The cross-check prompt: what every part yielded, then the question.
std::vector<std::pair<std::string, std::string>> cross_messages(const Context& c, const json& state) {
  std::string tail = "The items above were extracted from different sections or documents of the filing(s). Find "
                     "matters on which they disagree, or where one section's statement depends on another's (\"does X "
                     "continue?\", a figure that differs, a risk described as resolved in one place and open in "
                     "another). For each, copy the two quotes exactly from the items above.\n" + client_context(c.s) +
                     "\nReply with only this JSON object:\n" + cross_schema();
  int64_t budget = domain::text_budget(c.host, c.call, c.s.reply_budget, std::string(kSystem) + tail);
  std::string digest = "<extracted_items>\n";
  auto add = [&](const std::string& line) {
    if (c.host->count_tokens(c.call, rs(digest + line)) < budget) digest += line;
  };
  for (const json& f : state["figures"]) {
    add("- figure (" + f["where"].get<std::string>() + "): " + f["name"].get<std::string>() + " = " +
        f["value"].get<std::string>() + " " + f["unit"].get<std::string>() + " " + f["period"].get<std::string>() +
        " | quote: \"" + f["evidence"]["quote"].get<std::string>() + "\"\n");
  }
  for (const json& r : state["red_flags"]) {
    add("- red flag (" + r["where"].get<std::string>() + "): " + r["title"].get<std::string>() + " | quote: \"" +
        r["evidence"]["quote"].get<std::string>() + "\"\n");
  }
  for (const auto& [k, m] : state["checklist"].items()) {
    if (m["status"] == "not_addressed") continue;
    add("- checklist " + m["area"].get<std::string>() + ": " + m["item"].get<std::string>() + " -> " +
        m["answer"].get<std::string>() +
        (m["quotes"].empty() ? "" : " | quote: \"" + m["quotes"][0]["quote"].get<std::string>() + "\"") + "\n");
  }
  return {{"system", kSystem}, {"user", digest + "</extracted_items>\n\n" + tail}};
}

Quote to_quote(const json& e) {
  return {e["document"].get<std::string>(), e["quote"].get<std::string>(), e["start"].get<int64_t>(), e["end"].get<int64_t>()};
}

// Figures with the same name and period whose amounts differ.
std::vector<FindingOut> figure_conflicts(const json& figures) {
  std::vector<FindingOut> out;
  for (size_t i = 0; i < figures.size(); ++i) {
    for (size_t j = i + 1; j < figures.size(); ++j) {
      const json &a = figures[i], &b = figures[j];
      if (a["amount"].is_null() || b["amount"].is_null() || a["percent"] != b["percent"]) continue;
      if (figure_key(a["name"].get<std::string>()) != figure_key(b["name"].get<std::string>()) || a["period"] != b["period"]) continue;
      if (!amounts_differ(a["amount"].get<double>(), b["amount"].get<double>())) continue;
      FindingOut f;
      f.kind = "consistency";
      f.category = "Figures";
      f.severity = REAM_SEVERITY_MEDIUM;
      f.title = "Figures differ: " + a["name"].get<std::string>() + " (" + a["period"].get<std::string>() + ")";
      f.text = a["value"].get<std::string>() + " " + a["unit"].get<std::string>() + " in " + a["where"].get<std::string>() +
               " vs " + b["value"].get<std::string>() + " " + b["unit"].get<std::string>() + " in " +
               b["where"].get<std::string>() + ". Check whether they measure the same thing (restatement, segment vs total, unit).";
      f.quotes = {to_quote(a["evidence"]), to_quote(b["evidence"])};
      f.details = {{"assessment", "inconsistent"}, {"source", "figure comparison"}, {"a", a}, {"b", b}};
      out.push_back(std::move(f));
    }
  }
  return out;
}

std::string area_title(const std::string& id) {
  const Area* a = find_area(id);
  return a ? a->title : "General";
}

ream_status finish(const Context& c, const json& state) {
  std::vector<FindingOut> out;
  json checklist_out = json::array(), flags_out = json::array();
  for (const auto& [k, m] : state["checklist"].items()) {
    FindingOut f;
    f.kind = "checklist";
    f.category = area_title(m["area"]);
    std::string status = m["status"];
    f.severity = status == "concern" ? REAM_SEVERITY_MEDIUM : status == "not_addressed" ? REAM_SEVERITY_LOW : REAM_SEVERITY_INFO;
    f.title = m["item"];
    f.text = "**Status:** " + status + (m["answer"] == "" ? "" : " — " + m["answer"].get<std::string>());
    for (const json& q : m["quotes"]) if (q["quote"] != "") f.quotes.push_back(to_quote(q));
    f.details = m;
    out.push_back(std::move(f));
    checklist_out.push_back({{"area", m["area"]}, {"item", m["item"]}, {"status", status}, {"answer", m["answer"]}});
  }
  for (const json& fig : state["figures"]) {
    FindingOut f;
    f.kind = "figure";
    f.category = area_title(fig["area"]);
    f.title = fig["name"].get<std::string>() + ": " + fig["value"].get<std::string>() + " " + fig["unit"].get<std::string>() +
              (fig["period"] == "" ? "" : " (" + fig["period"].get<std::string>() + ")");
    f.text = "From " + fig["where"].get<std::string>() + ".";
    if (fig["evidence"]["quote"] != "") f.quotes.push_back(to_quote(fig["evidence"]));
    f.details = fig;
    out.push_back(std::move(f));
  }
  std::vector<json> flags(state["red_flags"].begin(), state["red_flags"].end());
  std::stable_sort(flags.begin(), flags.end(), [](const json& a, const json& b) { return a["severity"].get<int>() > b["severity"].get<int>(); });
  for (const json& r : flags) {
    FindingOut f;
    f.kind = "red_flag";
    f.category = area_title(r["area"]);
    f.severity = r["severity"];
    f.title = r["title"];
    f.text = r["explanation"].get<std::string>() + (r["amount"] == "" ? "" : "\n\n**Amount:** " + r["amount"].get<std::string>()) +
             (r["below_materiality"].get<bool>() ? " (below the materiality threshold; severity capped at low)" : "");
    if (r["evidence"]["quote"] != "") f.quotes.push_back(to_quote(r["evidence"]));
    f.details = r;
    flags_out.push_back({{"area", r["area"]}, {"title", r["title"]}, {"severity", domain::severity_word(f.severity)},
                         {"amount", r["amount"]}, {"below_materiality", r["below_materiality"]}});
    out.push_back(std::move(f));
  }
  int64_t inconsistent = 0;
  for (const json& e : state["consistency"]) {
    FindingOut f;
    f.kind = "consistency";
    f.category = "Consistency";
    std::string a = e["assessment"];
    f.severity = a == "inconsistent" ? REAM_SEVERITY_MEDIUM : a == "unclear" ? REAM_SEVERITY_LOW : REAM_SEVERITY_INFO;
    inconsistent += a == "inconsistent";
    f.title = e["question"] == "" ? "Consistency question" : e["question"].get<std::string>();
    f.text = "**Assessment:** " + (a.empty() ? std::string("unclear") : a) + " — " + e["explanation"].get<std::string>();
    for (const json& q : e["quotes"]) f.quotes.push_back(to_quote(q));
    f.details = e;
    out.push_back(std::move(f));
  }
  for (FindingOut& f : figure_conflicts(state["figures"])) {
    ++inconsistent;
    out.push_back(std::move(f));
  }
  for (const FindingOut& f : out) {
    if (ream_status rc = emit_finding(c.host, c.call, f); rc != REAM_OK) return rc;
  }
  json figures_out = json::array();
  for (const json& f : state["figures"]) {
    figures_out.push_back({{"area", f["area"]}, {"name", f["name"]}, {"value", f["value"]}, {"unit", f["unit"]},
                           {"period", f["period"]}, {"amount", f["amount"]}, {"quote", f["evidence"]["quote"]},
                           {"document", f["evidence"]["document"]}});
  }
  for (const auto& [name, value] : std::initializer_list<std::pair<const char*, json>>{
           {"checklist", checklist_out}, {"figures", figures_out}, {"red_flags", flags_out},
           {"inconsistencies", inconsistent}, {"unparsed", state["unparsed"]}}) {
    if (ream_status rc = emit_output(c.host, c.call, name, value); rc != REAM_OK) return rc;
  }
  return REAM_OK;
}

ream_status reduce(const ream_host* host, ream_call* call, const ream_reduce_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    Context c;
    std::string error;
    if (!setup(host, call, in->documents, in->document_count, in->params_json, &c, &error)) {
      return fail(host, call, REAM_ERR_INVALID_ARGUMENT, error);
    }
    json state = json::parse(sv(in->state_json), nullptr, false);
    if (!state.is_object()) {
      state = {{"phase", "extract"}, {"checklist", json::object()}, {"figures", json::array()},
               {"red_flags", json::array()}, {"consistency", json::array()}, {"unparsed", 0}};
    }
    std::vector<ream_reply> extraction, cross;
    for (size_t i = 0; i < in->reply_count; ++i) {
      (domain::base_key(sv(in->replies[i].key)) == "cross" ? cross : extraction).push_back(in->replies[i]);
    }
    auto rebuild = [&](const std::string& key) {
      size_t seg = 0, g = 0;
      if (key == "cross") return cross_messages(c, state);
      if (!parse_key(key, &seg, &g) || seg >= c.segments.size() || g >= c.groups.size()) {
        throw std::runtime_error("reply with unknown key '" + key + "'");
      }
      return messages(c, seg, g);
    };
    auto describe = [&](const std::string& key) {
      size_t seg = 0, g = 0;
      if (key == "cross" || !parse_key(key, &seg, &g) || seg >= c.segments.size() || g >= c.groups.size()) {
        return key == "cross" ? std::string("cross-section consistency check") : key;
      }
      std::string areas;
      for (const Area* a : c.groups[g]) areas += (areas.empty() ? "" : ", ") + std::string(a->id);
      return "areas " + areas + " on " + where(c, seg);
    };
    domain::SortedReplies got, crossed;
    if (ream_status rc = domain::sort_replies(host, call, extraction.data(), extraction.size(), rebuild, validate_extraction,
                                              describe, {c.s.repair, schema_text(), c.s.max_tokens, [&](const std::string& key) {
                                                size_t seg = 0, g = 0;
                                                return parse_key(key, &seg, &g) && g < c.groups.size()
                                                           ? extraction_json_schema(c.groups[g]) : std::string();
                                              }}, &got);
        rc != REAM_OK) {
      return rc;
    }
    for (const domain::ParsedReply& r : got.parsed) {
      size_t seg = 0, g = 0;
      if (!parse_key(r.key, &seg, &g) || seg >= c.segments.size() || g >= c.groups.size()) {
        return fail(host, call, REAM_ERR_FAILED, "reply with unknown key '" + r.key + "'");
      }
      merge_reply(c, seg, g, r.value, &state);
    }
    if (ream_status rc = domain::sort_replies(host, call, cross.data(), cross.size(), rebuild, validate_cross, describe,
                                              {c.s.repair, cross_schema(), c.s.max_tokens,
                                               [](const std::string&) { return cross_json_schema(); }},
                                              &crossed);
        rc != REAM_OK) {
      return rc;
    }
    for (const domain::ParsedReply& r : crossed.parsed) {
      for (const json& e : r.value["consistency"]) merge_consistency(c, e, "cross-check", &state, 0, true);
    }
    state["unparsed"] = state["unparsed"].get<int>() + static_cast<int>(got.failed.size() + crossed.failed.size());
    if (got.repairs_emitted + crossed.repairs_emitted > 0) return host->set_state(call, rs(state.dump()));
    bool anything = !state["figures"].empty() || !state["red_flags"].empty() || !state["checklist"].empty();
    if (state["phase"] == "extract" && c.s.cross_check && c.segments.size() * c.groups.size() > 1 && anything) {
      state["phase"] = "cross";
      ChatPrompt p{"cross", cross_messages(c, state), c.s.max_tokens, cross_json_schema()};
      if (ream_status rc = emit_prompt(host, call, p); rc != REAM_OK) return rc;
      return host->set_state(call, rs(state.dump()));
    }
    return finish(c, state);
  })
}

}  // namespace

REAM_DEFINE_PLUGIN("financial_diligence", "1.0.0",
                   "Due diligence over filings (10-K and the like) against a thirteen-area checklist: checklist answers, "
                   "key figures with the sentence or table row they come from, red flags with severity against a "
                   "materiality threshold, and cross-section / cross-document consistency questions.",
                   kParams, kOutputs, plan, reduce)
