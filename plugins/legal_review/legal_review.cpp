// legal_review: a clause-by-clause review of contracts against CUAD's 41
// categories (or a chosen subset), from the side of the party we represent.
//
// plan: for every part of every document (one part when it fits the context),
//   one prompt per group of categories: the contract first, the group's
//   instructions last, so all groups share the contract's prefix in the cache.
// reduce, round by round:
//   replies -> parsed category entries merged per category across parts;
//   unusable replies get one repair prompt, then a warning (never a guess);
//   then one executive-summary prompt over the merged findings (the contract
//   again first when it fits, so that prefix is reused);
//   finally one finding per category (quotes as evidence for the host to verify:
//   kind "clause" when found, "missing_clause" when not) and the summary.
#include <algorithm>
#include <map>
#include <string>

#include "../domain_common/domain_util.h"
#include "legal_prompts.h"
#include "ream/plugin_descriptor.h"

namespace {

using nlohmann::json;
using namespace plugin_util;
using namespace legal;

constexpr char kParams[] = R"json({
  "type": "object",
  "properties": {
    "categories": {"type": "array", "items": {"type": "string"}, "default": [],
                   "description": "CUAD category names to review (e.g. \"Governing Law\", \"Cap on Liability\"); empty or [\"all\"] = all 41"},
    "perspective": {"type": "string", "default": "",
                    "description": "The party we represent, as the contract names it or by role (\"Licensee\", \"the Company\"); empty = neutral"},
    "jurisdiction": {"type": "string", "default": "",
                     "description": "The jurisdiction whose law and practice matter to the client; empty = as the contract states"},
    "risk_tolerance": {"type": "string", "enum": ["low", "medium", "high"], "default": "medium",
                       "description": "How much risk the client accepts: sets which findings are flagged"},
    "categories_per_prompt": {"type": "integer", "minimum": 1, "maximum": 41, "default": 6,
                              "description": "Categories asked about in one prompt (each prompt shares the contract prefix)"},
    "max_quotes": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3,
                   "description": "Clauses quoted per category"},
    "executive_summary": {"type": "boolean", "default": true, "description": "Ask for an executive summary at the end"},
    "repair": {"type": "boolean", "default": true, "description": "Ask once more, for JSON only, when a reply cannot be used"},
    "max_tokens": {"type": "integer", "minimum": 0, "default": 0,
                   "description": "Reply length limit per prompt; 0 = the workflow's engine.max_tokens"}
  },
  "additionalProperties": false
})json";

constexpr char kOutputs[] = R"json({
  "categories": {"type": "array", "description": "One entry per reviewed category: category, found, answer, normalized_answer, risk, rationale, fallback, clauses"},
  "flagged": {"type": "array", "description": "Categories at or above the client's risk threshold, highest risk first"},
  "executive_summary": {"type": "string", "description": "The executive summary (or a plain digest when the model's could not be used)"},
  "risk_counts": {"type": "object", "description": "Categories per risk level"},
  "unparsed": {"type": "integer", "description": "Replies given up on (see the step's warnings)"}
})json";

struct Context {
  const ream_host* host;
  ream_call* call;
  const ream_document* docs;
  size_t doc_count;
  Settings s;
  std::vector<std::vector<size_t>> groups;
  std::vector<domain::Segment> segments;
};

bool setup(const ream_host* host, ream_call* call, const ream_document* docs, size_t n, ream_str params,
           Context* ctx, std::string* error) {
  *ctx = {host, call, docs, n, {}, {}, {}};
  if (!parse_settings(parse_params(params), &ctx->s, error)) return false;
  ctx->groups = category_groups(ctx->s);
  int64_t fixed = 0;
  for (const auto& g : ctx->groups) {
    fixed = std::max(fixed, host->count_tokens(call, rs(extraction_instructions(ctx->s, g))));
  }
  int64_t budget = domain::text_budget(host, call, ctx->s.reply_budget, kSystem) - fixed;
  if (budget < 256) {
    *error = "the model's context is too small for these instructions and a " + std::to_string(ctx->s.reply_budget) +
             "-token reply (fewer categories_per_prompt or a lower max_tokens may help)";
    return false;
  }
  ctx->segments = domain::split_segments(host, call, docs, n, budget);
  return true;
}

std::string key_of(size_t seg, size_t group) { return "s" + std::to_string(seg) + "-g" + std::to_string(group); }
bool parse_key(const std::string& key, size_t* seg, size_t* group) {
  return std::sscanf(key.c_str(), "s%zu-g%zu", seg, group) == 2;
}

std::vector<std::pair<std::string, std::string>> extraction_messages(const Context& c, size_t seg, size_t group) {
  const domain::Segment& sg = c.segments[seg];
  return {{"system", kSystem},
          {"user", domain::document_block(c.docs[sg.doc], sg) + extraction_instructions(c.s, c.groups[group])}};
}

ream_status plan(const ream_host* host, ream_call* call, const ream_plan_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    if (in->document_count == 0) return fail(host, call, REAM_ERR_INVALID_ARGUMENT, "legal_review needs a contract");
    Context c;
    std::string error;
    if (!setup(host, call, in->documents, in->document_count, in->params_json, &c, &error)) {
      return fail(host, call, REAM_ERR_INVALID_ARGUMENT, error);
    }
    // Part-major: every group over one part is queued together while its prefix is cached.
    for (size_t seg = 0; seg < c.segments.size(); ++seg) {
      for (size_t g = 0; g < c.groups.size(); ++g) {
        ChatPrompt p{key_of(seg, g), extraction_messages(c, seg, g), c.s.max_tokens,
                     extraction_json_schema(c.s, c.groups[g])};
        if (ream_status rc = emit_prompt(host, call, p); rc != REAM_OK) return rc;
      }
    }
    return REAM_OK;
  })
}

// ---- merging ---------------------------------------------------------------------

// Merges one parsed category entry from part `seg` into state["cats"][name].
void merge_entry(const Context& c, size_t seg, const json& e, json* cats) {
  const Category* cat = find_category(domain::str_field(e, "category"));
  json& m = (*cats)[cat->name];
  if (m.is_null()) {
    m = {{"found", false}, {"answers", json::array()}, {"clauses", json::array()}, {"risk", -1},
         {"rationale", ""}, {"fallback", ""}, {"parts", json::array()}};
  }
  const domain::Segment& sg = c.segments[seg];
  const ream_document& doc = c.docs[sg.doc];
  bool found = e.value("found", false) == true;
  m["found"] = m["found"].get<bool>() || found;
  m["parts"].push_back(std::string(sv(doc.id)) + (sg.parts > 1 ? " part " + std::to_string(sg.part + 1) : ""));
  json answer = e.contains("answer") ? e["answer"] : json();
  std::string a = answer.is_array() ? "" : domain::str_field(e, "answer");
  if (answer.is_array()) {
    for (const json& x : answer) {
      if (x.is_string() && !x.get<std::string>().empty()) a += (a.empty() ? "" : "; ") + x.get<std::string>();
    }
  }
  if (found && !a.empty() && std::find(m["answers"].begin(), m["answers"].end(), a) == m["answers"].end()) {
    m["answers"].push_back(a);
  }
  int32_t risk = domain::parse_severity(e.contains("risk") ? e["risk"] : json(), REAM_SEVERITY_INFO);
  // The rationale and fallback of the riskiest reading win; a found clause beats an absence.
  if (risk > m["risk"].get<int>() || (found && m["rationale"].get<std::string>().empty())) {
    m["risk"] = std::max(risk, m["risk"].get<int>());
    m["rationale"] = domain::str_field(e, "rationale");
    m["fallback"] = domain::str_field(e, "fallback");
  }
  if (!e.contains("clauses") || !e["clauses"].is_array()) return;
  int taken = 0;
  for (const json& cl : e["clauses"]) {
    std::string quote = cl.is_string() ? cl.get<std::string>() : domain::str_field(cl, "quote");
    if (quote.empty() || taken++ >= c.s.max_quotes) continue;
    bool dup = false;
    for (const json& have : m["clauses"]) dup = dup || have["quote"] == quote;
    if (dup) continue;
    Quote q = domain::locate_in(doc, sg.start, sg.end, quote);
    m["clauses"].push_back({{"quote", quote}, {"section", cl.is_object() ? domain::str_field(cl, "section") : ""},
                            {"document", q.document_id}, {"start", q.start}, {"end", q.end}});
  }
}

std::string validate_extraction(const json& v) {
  std::string e = domain::require_array(v, "categories");
  if (!e.empty()) return e;
  for (const json& x : v["categories"]) {
    if (!x.is_object() || domain::str_field(x, "category").empty()) return "a categories entry has no \"category\" name";
  }
  return "";
}

// The per-category digest the executive summary is written from.
std::string digest(const Context& c, const json& cats) {
  std::string out = "<review_findings>\n";
  for (const Category* cat : c.s.categories) {
    if (!cats.contains(cat->name)) continue;
    const json& m = cats[cat->name];
    std::string answer = m["answers"].empty() ? "" : m["answers"][0].get<std::string>();
    out += "- " + std::string(cat->name) + ": " + (m["found"].get<bool>() ? "found" : "not found") +
           (answer.empty() ? "" : "; answer: " + answer) + "; risk: " + domain::severity_word(m["risk"].get<int>()) +
           "; " + m["rationale"].get<std::string>().substr(0, 400) + "\n";
  }
  return out + "</review_findings>\n\n";
}

std::vector<std::pair<std::string, std::string>> summary_messages(const Context& c, const json& cats) {
  std::string body = digest(c, cats) + summary_instructions(c.s);
  // One contract that fits: repeat it first so the summary reuses its cached prefix.
  if (c.segments.size() == 1) {
    std::string with_doc = domain::document_block(c.docs[0], c.segments[0]) + body;
    if (domain::text_budget(c.host, c.call, c.s.reply_budget, kSystem) >= c.host->count_tokens(c.call, rs(with_doc))) {
      body = std::move(with_doc);
    }
  }
  return {{"system", kSystem}, {"user", body}};
}

std::string validate_summary(const json& v) {
  return domain::str_field(v, "summary").empty() ? "missing the \"summary\" text" : "";
}

// The finding of one reviewed category; fills `entry` for the categories output.
ream_status emit_category(const Context& c, const Category& cat, const json& m, json* entry) {
  bool found = m["found"].get<bool>();
  int32_t risk = std::max(0, m["risk"].get<int>());
  std::string answer = m["answers"].empty() ? "" : m["answers"][0].get<std::string>();
  std::string normalised = normalise_answer(cat, answer, found);
  FindingOut f;
  f.kind = found ? "clause" : "missing_clause";
  f.category = cat.name;
  f.severity = risk;
  f.title = std::string(cat.name) + ": " + (found ? (normalised.empty() ? "present" : normalised) : "not found");
  f.text = "**" + std::string(cat.name) + "** (" + cat.answer_format + "): " +
           (found ? (answer.empty() ? "present" : answer) : "no such clause found") + "\n\n**Risk:** " +
           domain::severity_word(risk) + (m["rationale"].get<std::string>().empty() ? "" : " — " + m["rationale"].get<std::string>());
  if (!m["fallback"].get<std::string>().empty()) f.text += "\n\n**Suggested fallback:** " + m["fallback"].get<std::string>();
  json sections = json::array();
  for (const json& cl : m["clauses"]) {
    f.quotes.push_back({cl["document"].get<std::string>(), cl["quote"].get<std::string>(), cl["start"].get<int64_t>(),
                        cl["end"].get<int64_t>()});
    if (!cl["section"].get<std::string>().empty()) sections.push_back(cl["section"]);
  }
  f.details = {{"category", cat.name}, {"group", cat.group}, {"answer_format", cat.answer_format},
               {"found", found}, {"answer", answer}, {"answers", m["answers"]}, {"normalized_answer", normalised},
               {"risk", domain::severity_word(risk)}, {"rationale", m["rationale"]}, {"fallback", m["fallback"]},
               {"sections", sections}, {"parts", m["parts"]}, {"perspective", c.s.perspective},
               {"jurisdiction", c.s.jurisdiction}, {"flagged", risk >= flag_threshold(c.s)}};
  *entry = f.details;
  (*entry)["clauses"] = m["clauses"];
  return emit_finding(c.host, c.call, f);
}

// A plain digest for when the model's summary could not be used: counts only,
// no prose the model did not write.
std::string plain_digest(const json& flagged, const json& counts, size_t reviewed) {
  std::string out = "No usable executive summary from the model; plain digest: " + std::to_string(reviewed) +
                    " categories reviewed (critical " + counts["critical"].dump() + ", high " + counts["high"].dump() +
                    ", medium " + counts["medium"].dump() + ", low " + counts["low"].dump() + ", none/info " +
                    counts["info"].dump() + ").";
  if (!flagged.empty()) {
    out += " Flagged:";
    for (const json& f : flagged) out += " " + f["category"].get<std::string>() + " (" + f["risk"].get<std::string>() + ");";
  }
  return out;
}

ream_status finish(const Context& c, const json& state) {
  const json& cats = state["cats"];
  json categories = json::array(), flagged = json::array();
  json counts = {{"critical", 0}, {"high", 0}, {"medium", 0}, {"low", 0}, {"info", 0}};
  int32_t top = REAM_SEVERITY_INFO;
  for (const Category* cat : c.s.categories) {
    if (!cats.contains(cat->name)) {
      warn(c.host, c.call, std::string("category '") + cat->name + "': no usable answer from the model; not reviewed");
      continue;
    }
    json entry;
    if (ream_status rc = emit_category(c, *cat, cats[cat->name], &entry); rc != REAM_OK) return rc;
    int32_t risk = std::max(0, cats[cat->name]["risk"].get<int>());
    counts[domain::severity_word(risk)] = counts[domain::severity_word(risk)].get<int>() + 1;
    if (risk >= flag_threshold(c.s)) flagged.push_back({{"category", cat->name}, {"risk", domain::severity_word(risk)}, {"level", risk}});
    top = std::max(top, risk);
    categories.push_back(std::move(entry));
  }
  std::stable_sort(flagged.begin(), flagged.end(), [](const json& a, const json& b) { return a["level"] > b["level"]; });
  std::string summary_text;
  if (state.contains("summary")) {
    const json& s = state["summary"];
    summary_text = domain::str_field(s, "summary");
    FindingOut f;
    f.kind = "summary";
    f.category = "Executive summary";
    f.title = "Executive summary";
    f.text = summary_text;
    f.severity = top;
    if (s.contains("key_risks") && s["key_risks"].is_array() && !s["key_risks"].empty()) {
      f.text += "\n\n**Key risks:**\n";
      for (const json& k : s["key_risks"]) {
        f.text += "- " + domain::str_field(k, "category") + " (" + domain::str_field(k, "risk") + "): " + domain::str_field(k, "why") + "\n";
      }
    }
    if (s.contains("next_steps") && s["next_steps"].is_array() && !s["next_steps"].empty()) {
      f.text += "\n**Next steps:**\n";
      for (const json& n : s["next_steps"]) if (n.is_string()) f.text += "- " + n.get<std::string>() + "\n";
    }
    f.details = s;
    if (ream_status rc = emit_finding(c.host, c.call, f); rc != REAM_OK) return rc;
  } else if (c.s.executive_summary) {
    summary_text = plain_digest(flagged, counts, categories.size());
  }
  for (json& f : flagged) f.erase("level");
  for (const auto& [name, value] : std::initializer_list<std::pair<const char*, json>>{
           {"categories", categories}, {"flagged", flagged}, {"executive_summary", summary_text},
           {"risk_counts", counts}, {"unparsed", state["unparsed"]}}) {
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
    if (!state.is_object()) state = {{"phase", "extract"}, {"cats", json::object()}, {"unparsed", 0}};
    std::vector<ream_reply> extraction, summary;
    for (size_t i = 0; i < in->reply_count; ++i) {
      (domain::base_key(sv(in->replies[i].key)) == "summary" ? summary : extraction).push_back(in->replies[i]);
    }
    domain::SortedReplies got;
    domain::ReplyPolicy policy{c.s.repair, extraction_schema(c.s), c.s.max_tokens, [&](const std::string& key) {
                                 size_t seg = 0, g = 0;
                                 return parse_key(key, &seg, &g) && g < c.groups.size()
                                            ? extraction_json_schema(c.s, c.groups[g]) : std::string();
                               }};
    auto rebuild = [&](const std::string& key) {
      size_t seg = 0, g = 0;
      if (key == "summary") return summary_messages(c, state["cats"]);
      if (!parse_key(key, &seg, &g) || seg >= c.segments.size() || g >= c.groups.size()) {
        throw std::runtime_error("reply with unknown key '" + key + "'");
      }
      return extraction_messages(c, seg, g);
    };
    auto describe = [&](const std::string& key) {
      size_t seg = 0, g = 0;
      if (!parse_key(key, &seg, &g) || seg >= c.segments.size() || g >= c.groups.size()) return key;
      const domain::Segment& sg = c.segments[seg];
      const auto& grp = c.groups[g];
      return std::string(c.s.categories[grp.front()]->name) + " .. " + c.s.categories[grp.back()]->name + " on " +
             std::string(sv(c.docs[sg.doc].id)) + (sg.parts > 1 ? " part " + std::to_string(sg.part + 1) : "");
    };
    if (ream_status rc = domain::sort_replies(host, call, extraction.data(), extraction.size(), rebuild,
                                              validate_extraction, describe, policy, &got);
        rc != REAM_OK) {
      return rc;
    }
    for (const domain::ParsedReply& r : got.parsed) {
      size_t seg = 0, g = 0;
      if (!parse_key(r.key, &seg, &g) || seg >= c.segments.size()) return fail(host, call, REAM_ERR_FAILED, "reply with unknown key '" + r.key + "'");
      for (const json& e : r.value["categories"]) {
        const Category* cat = find_category(domain::str_field(e, "category"));
        bool selected = cat && std::find(c.s.categories.begin(), c.s.categories.end(), cat) != c.s.categories.end();
        if (!selected) {
          warn(host, call, describe(r.key) + ": the reply named a category not asked about ('" +
                               domain::str_field(e, "category") + "'); ignored");
          continue;
        }
        merge_entry(c, seg, e, &state["cats"]);
      }
    }
    state["unparsed"] = state["unparsed"].get<int>() + static_cast<int>(got.failed.size());
    domain::SortedReplies sum;
    domain::ReplyPolicy sum_policy{c.s.repair, summary_schema(), c.s.max_tokens,
                                   [&](const std::string&) { return summary_json_schema(c.s); }};
    if (ream_status rc = domain::sort_replies(host, call, summary.data(), summary.size(), rebuild, validate_summary,
                                              [](const std::string&) { return std::string("executive summary"); },
                                              sum_policy, &sum);
        rc != REAM_OK) {
      return rc;
    }
    if (!sum.parsed.empty()) state["summary"] = sum.parsed.front().value;
    state["unparsed"] = state["unparsed"].get<int>() + static_cast<int>(sum.failed.size());
    if (got.repairs_emitted + sum.repairs_emitted > 0) return host->set_state(call, rs(state.dump()));
    if (state["phase"] == "extract" && c.s.executive_summary && !state["cats"].empty()) {
      state["phase"] = "summary";
      ChatPrompt p{"summary", summary_messages(c, state["cats"]), c.s.max_tokens, summary_json_schema(c.s)};
      if (ream_status rc = emit_prompt(host, call, p); rc != REAM_OK) return rc;
      return host->set_state(call, rs(state.dump()));
    }
    return finish(c, state);
  })
}

}  // namespace

REAM_DEFINE_PLUGIN("legal_review", "1.0.0",
                   "Reviews contracts clause by clause against the 41 CUAD categories (or a subset) for the party we "
                   "represent: clauses found with verified quotes, normalised answers, risk with rationale, suggested "
                   "fallback positions, and an executive summary.",
                   kParams, kOutputs, plan, reduce)
