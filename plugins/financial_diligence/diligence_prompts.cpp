// financial_diligence's settings and prompt texts.
#include "diligence_prompts.h"

#include <algorithm>

#include "../domain_common/domain_util.h"

namespace diligence {

using nlohmann::json;

const char* const kSystem =
    "You are a financial due-diligence analyst reviewing company filings for a prospective investor. You answer "
    "only from the filing's text, you copy quotes (sentences or table rows) exactly as they appear, and you always "
    "reply with a single JSON object and nothing else.";

std::string schema_text() {
  return "{\"checklist\": [{\"area\": \"<area id>\", \"item\": \"<the checklist question>\", "
         "\"status\": \"<concern|satisfactory|not_addressed>\", \"answer\": \"<short answer>\", "
         "\"quote\": \"<the supporting sentence or table row copied exactly, or empty>\"}], "
         "\"figures\": [{\"area\": \"<area id>\", \"name\": \"<figure name>\", \"value\": \"<as written>\", "
         "\"unit\": \"<e.g. USD millions>\", \"period\": \"<e.g. fiscal 2024>\", "
         "\"quote\": \"<the sentence or table row it comes from, copied exactly>\"}], "
         "\"red_flags\": [{\"area\": \"<area id>\", \"title\": \"<one line>\", \"severity\": \"<low|medium|high|critical>\", "
         "\"amount\": \"<the amount at stake as written, or empty>\", \"explanation\": \"<why it matters to an investor>\", "
         "\"quote\": \"<exact text>\"}], "
         "\"consistency\": [{\"question\": \"<what two passages say about the same matter>\", "
         "\"statements\": [\"<exact text A>\", \"<exact text B>\"], \"assessment\": \"<consistent|inconsistent|unclear>\", "
         "\"explanation\": \"<one sentence>\"}]}";
}

std::string client_context(const Settings& s) {
  std::string out = "Reporting currency: " + s.currency + ". Fiscal year in focus: " +
                    (s.fiscal_year.empty() ? std::string("the latest one in the filing") : s.fiscal_year) + ".\n";
  if (s.materiality > 0) {
    json amount = s.materiality == static_cast<double>(static_cast<int64_t>(s.materiality))
                      ? json(static_cast<int64_t>(s.materiality)) : json(s.materiality);
    out += "Materiality threshold: " + amount.dump() + " " + s.currency +
           "; amounts below it are not material on their own.\n";
  }
  return out;
}

std::string instructions(const Settings& s, const std::vector<const Area*>& group) {
  std::string out = "Perform due diligence on the filing above for these checklist areas.\n" + client_context(s) + "\n";
  for (const Area* a : group) {
    out += "Area " + std::string(a->id) + " (" + a->title + "): " + a->focus + ".\n  Checklist:\n";
    for (const char* q : a->questions) out += "  - " + std::string(q) + "\n";
    if (!a->figures.empty()) {
      out += "  Key figures:";
      for (size_t i = 0; i < a->figures.size(); ++i) out += std::string(i ? "; " : " ") + a->figures[i];
      out += "\n";
    }
  }
  out += "\nAnswer every checklist item of these areas (status not_addressed when the filing is silent). Give each "
         "key figure the filing states, with the exact sentence or table row it comes from. List red flags an "
         "investor should weigh. Where two passages speak to the same matter (e.g. a plan in one section and its "
         "outcome in another), add a consistency entry. Quotes must be copied verbatim.\n\n"
         "Reply with only this JSON object:\n" + schema_text();
  return out;
}

bool parse_settings(const json& p, Settings* s, std::string* error) {
  std::vector<std::string> names = domain::string_list(p.value("areas", json::array()));
  if (names.empty() || (names.size() == 1 && domain::lower(names[0]) == "all")) {
    for (const Area& a : checklist()) s->areas.push_back(&a);
  } else {
    for (const Area& a : checklist()) {
      for (const std::string& n : names) {
        if (find_area(n) == &a) { s->areas.push_back(&a); break; }
      }
    }
    for (const std::string& n : names) {
      if (!find_area(n)) {
        *error = "unknown checklist area '" + n + "'";
        return false;
      }
    }
  }
  s->materiality = p.value("materiality_threshold", 0.0);
  s->fiscal_year = domain::trim(p.value("fiscal_year", ""));
  s->currency = domain::trim(p.value("currency", "USD"));
  s->per_prompt = std::clamp(p.value("areas_per_prompt", 4), 1, 13);
  s->cross_check = p.value("cross_check", true);
  s->repair = p.value("repair", true);
  s->max_tokens = std::max(0, p.value("max_tokens", 0));
  s->reply_budget = s->max_tokens > 0 ? s->max_tokens : 2048;
  return true;
}

namespace {

// Schemas keep their properties in the order written: a constrained decoder writes
// them in that order (the category name before the answer).
using ojson = nlohmann::ordered_json;

ojson strings() { return {{"type", "string"}}; }
ojson one_of(ojson values) { return {{"type", "string"}, {"enum", std::move(values)}}; }
ojson array_of(ojson items) { return {{"type", "array"}, {"items", std::move(items)}}; }

// An object with exactly these properties, all required.
ojson object_of(ojson properties) {
  ojson required = ojson::array();
  for (const auto& [k, v] : properties.items()) required.push_back(k);
  return {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)},
          {"additionalProperties", false}};
}

ojson consistency_entry() {
  return object_of({{"question", strings()}, {"statements", array_of(strings())},
                    {"assessment", one_of({"consistent", "inconsistent", "unclear"})}, {"explanation", strings()}});
}

}  // namespace

std::string extraction_json_schema(const std::vector<const Area*>& group) {
  ojson ids = ojson::array(), questions = ojson::array();
  for (const Area* a : group) {
    ids.push_back(a->id);
    for (const char* q : a->questions) questions.push_back(q);
  }
  const ojson checklist = object_of({{"area", one_of(ids)}, {"item", one_of(questions)},
                                    {"status", one_of({"concern", "satisfactory", "not_addressed"})},
                                    {"answer", strings()}, {"quote", strings()}});
  const ojson figure = object_of({{"area", one_of(ids)}, {"name", strings()}, {"value", strings()}, {"unit", strings()},
                                 {"period", strings()}, {"quote", strings()}});
  const ojson red_flag = object_of({{"area", one_of(ids)}, {"title", strings()},
                                   {"severity", one_of({"low", "medium", "high", "critical"})}, {"amount", strings()},
                                   {"explanation", strings()}, {"quote", strings()}});
  return object_of({{"checklist", array_of(checklist)}, {"figures", array_of(figure)},
                    {"red_flags", array_of(red_flag)}, {"consistency", array_of(consistency_entry())}})
      .dump();
}

std::string cross_json_schema() { return object_of({{"consistency", array_of(consistency_entry())}}).dump(); }

}  // namespace diligence
