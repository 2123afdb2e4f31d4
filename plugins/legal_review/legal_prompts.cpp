// legal_review's settings and prompt texts.
#include "legal_prompts.h"

#include <algorithm>

namespace legal {

using nlohmann::json;

const char* const kSystem =
    "You are an experienced contract lawyer reviewing a contract for a client. You answer only from the "
    "contract's text, you copy quotes exactly as they appear, and you always reply with a single JSON object "
    "and nothing else.";

bool parse_settings(const json& p, Settings* s, std::string* error) {
  std::vector<std::string> wanted = domain::string_list(p.value("categories", json::array()));
  bool all = wanted.empty() || (wanted.size() == 1 && domain::lower(wanted[0]) == "all");
  std::vector<bool> pick(cuad_categories().size(), all);
  if (!all) {
    for (const std::string& name : wanted) {
      const Category* c = find_category(name);
      if (!c) {
        *error = "unknown CUAD category '" + name + "' (the 41 names are listed in docs/domain_workflows.md)";
        return false;
      }
      pick[static_cast<size_t>(c - cuad_categories().data())] = true;
    }
  }
  for (size_t i = 0; i < pick.size(); ++i) {
    if (pick[i]) s->categories.push_back(&cuad_categories()[i]);
  }
  s->jurisdiction = domain::trim(p.value("jurisdiction", ""));
  s->perspective = domain::trim(p.value("perspective", ""));
  if (domain::lower(s->perspective) == "neutral") s->perspective.clear();
  s->risk_tolerance = domain::lower(p.value("risk_tolerance", "medium"));
  if (s->risk_tolerance != "low" && s->risk_tolerance != "medium" && s->risk_tolerance != "high") {
    *error = "risk_tolerance must be low, medium or high (got '" + s->risk_tolerance + "')";
    return false;
  }
  s->per_prompt = std::clamp(p.value("categories_per_prompt", 6), 1, 41);
  s->max_quotes = std::clamp(p.value("max_quotes", 3), 1, 10);
  s->max_tokens = std::max(0, p.value("max_tokens", 0));
  s->reply_budget = s->max_tokens > 0 ? s->max_tokens : 2048;
  s->repair = p.value("repair", true);
  s->executive_summary = p.value("executive_summary", true);
  return true;
}

std::vector<std::vector<size_t>> category_groups(const Settings& s) {
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < s.categories.size(); ++i) {
    if (i % static_cast<size_t>(s.per_prompt) == 0) groups.emplace_back();
    groups.back().push_back(i);
  }
  return groups;
}

int32_t flag_threshold(const Settings& s) {
  if (s.risk_tolerance == "low") return REAM_SEVERITY_LOW;
  if (s.risk_tolerance == "high") return REAM_SEVERITY_HIGH;
  return REAM_SEVERITY_MEDIUM;
}

std::string extraction_schema(const Settings& s) {
  return "{\"categories\": [{\"category\": \"<the category name exactly as listed>\", "
         "\"found\": <true if the contract has a clause on it, else false>, "
         "\"clauses\": [<up to " + std::to_string(s.max_quotes) +
         " objects {\"quote\": \"<the clause's key sentence copied exactly from the contract>\", "
         "\"section\": \"<its section number or heading, or empty>\"}>], "
         "\"answer\": \"<the answer in the category's answer format; empty when not found>\", "
         "\"risk\": \"<none|low|medium|high|critical>\", "
         "\"rationale\": \"<one or two sentences: why this risk, for the party we represent>\", "
         "\"fallback\": \"<a suggested fallback position or redline; empty when none is needed>\"}]}";
}

namespace {

std::string client_context(const Settings& s) {
  std::string out = "We represent: " +
                    (s.perspective.empty() ? std::string("neither party in particular (a neutral review)") : s.perspective) +
                    ".\n";
  out += "Jurisdiction of concern: " +
         (s.jurisdiction.empty() ? std::string("as stated in the contract") : s.jurisdiction) + ".\n";
  out += "The client's risk tolerance: " + s.risk_tolerance + " (";
  if (s.risk_tolerance == "low") out += "flag anything that departs from a market-standard, balanced position";
  else if (s.risk_tolerance == "high") out += "flag only terms that could cause material harm";
  else out += "flag terms that are unusual or one-sided against us";
  return out + ").\n";
}

}  // namespace

std::string extraction_instructions(const Settings& s, const std::vector<size_t>& group) {
  std::string out = "Review the contract above for the clause categories listed below.\n" + client_context(s) +
                    "\nCategories (name: question; answer format; review note):\n";
  for (size_t n = 0; n < group.size(); ++n) {
    const Category& c = *s.categories[group[n]];
    out += std::to_string(n + 1) + ". " + c.name + ": " + c.description + " Answer format: " + c.answer_format +
           ". Review note: " + c.review_note + "\n";
  }
  out +=
      "\nFor every listed category, find the clauses of the contract that address it. Quote each clause's key "
      "sentence exactly as written in the contract (verbatim: no paraphrase, no ellipsis, no added words). "
      "If the contract has no such clause, set found to false, leave clauses empty, and rate the risk of that "
      "absence for the party we represent. Give one entry per listed category, in the order listed.\n\n"
      "Reply with only this JSON object:\n" + extraction_schema(s);
  return out;
}

std::string summary_schema() {
  return "{\"summary\": \"<an executive summary of 3 to 6 sentences>\", "
         "\"key_risks\": [{\"category\": \"<category name>\", \"risk\": \"<low|medium|high|critical>\", "
         "\"why\": \"<one sentence>\"}], "
         "\"next_steps\": [\"<a recommended negotiation or follow-up step>\"]}";
}

std::string summary_instructions(const Settings& s) {
  return "Above are the findings of a clause-by-clause review of the contract.\n" + client_context(s) +
         "\nWrite an executive summary for the client's decision makers: what the contract is, the overall risk "
         "position, the most important risks and what to negotiate. Use only the findings above.\n\n"
         "Reply with only this JSON object:\n" + summary_schema();
}

namespace {

// Schemas keep their properties in the order written: a constrained decoder writes
// them in that order (the category name before the answer).
using ojson = nlohmann::ordered_json;

ojson strings() { return {{"type", "string"}}; }

ojson object_of(ojson properties, ojson required) {
  return {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)},
          {"additionalProperties", false}};
}

}  // namespace

std::string extraction_json_schema(const Settings& s, const std::vector<size_t>& group) {
  ojson names = ojson::array();
  for (size_t i : group) names.push_back(s.categories[i]->name);
  const ojson clause = object_of({{"quote", strings()}, {"section", strings()}}, {"quote", "section"});
  const ojson entry = object_of(
      {{"category", {{"type", "string"}, {"enum", names}}},
       {"found", {{"type", "boolean"}}},
       {"clauses", {{"type", "array"}, {"items", clause}, {"maxItems", s.max_quotes}}},
       {"answer", strings()},
       {"risk", {{"type", "string"}, {"enum", {"none", "low", "medium", "high", "critical"}}}},
       {"rationale", strings()},
       {"fallback", strings()}},
      {"category", "found", "clauses", "answer", "risk", "rationale", "fallback"});
  const ojson categories = {{"type", "array"}, {"items", entry}, {"minItems", group.size()}, {"maxItems", group.size()}};
  return object_of({{"categories", categories}}, ojson::array({"categories"})).dump();
}

std::string summary_json_schema(const Settings& s) {
  ojson names = ojson::array();
  for (const Category* c : s.categories) names.push_back(c->name);
  const ojson risk = object_of({{"category", {{"type", "string"}, {"enum", names}}},
                               {"risk", {{"type", "string"}, {"enum", {"low", "medium", "high", "critical"}}}},
                               {"why", strings()}},
                              {"category", "risk", "why"});
  // A summary with no visible character is unusable (the parser trims it).
  const ojson summary = {{"type", "string"}, {"pattern", "^[\\s\\S]*\\S[\\s\\S]*$"}};
  return object_of({{"summary", summary},
                    {"key_risks", {{"type", "array"}, {"items", risk}}},
                    {"next_steps", {{"type", "array"}, {"items", strings()}}}},
                   {"summary", "key_risks", "next_steps"})
      .dump();
}

}  // namespace legal
