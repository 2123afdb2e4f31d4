// legal_review's settings (parsed from the step's parameters) and its prompts.
// Every extraction prompt is the contract first and the instructions for one
// group of categories last, so the groups share the engine's prefix cache.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cuad_categories.h"
#include "../domain_common/domain_util.h"

namespace legal {

struct Settings {
  std::vector<const Category*> categories;  // in CUAD order
  std::string jurisdiction;                 // "" = as the contract states
  std::string perspective;                  // the party we represent; "" = neutral
  std::string risk_tolerance = "medium";    // low | medium | high
  int per_prompt = 6;                       // categories per prompt
  int max_quotes = 3;                       // clauses quoted per category
  int32_t max_tokens = 0;                   // reply limit per prompt; 0 = workflow default
  int64_t reply_budget = 2048;              // tokens reserved for a reply when budgeting
  bool repair = true;
  bool executive_summary = true;
};

// Reads the parameters; on a bad one returns false with the message in `error`.
bool parse_settings(const nlohmann::json& params, Settings* out, std::string* error);

// Groups of category indices (into Settings::categories), per_prompt each.
std::vector<std::vector<size_t>> category_groups(const Settings& s);

extern const char* const kSystem;
std::string extraction_schema(const Settings& s);
// The instructions that follow the document for one group.
std::string extraction_instructions(const Settings& s, const std::vector<size_t>& group);
std::string summary_schema();
// The instructions of the executive summary, after the per-category digest.
std::string summary_instructions(const Settings& s);
// The JSON Schemas of the replies, attached to each prompt as its constraint: the
// group's categories in an enum, one entry each, at most max_quotes clauses. Every
// reply they allow also validates against workflows/schemas/legal_review.reply.json
// (the step's reply_schema: the same shapes for any setting).
std::string extraction_json_schema(const Settings& s, const std::vector<size_t>& group);
std::string summary_json_schema(const Settings& s);
// Lowest risk that the client's tolerance flags: low -> low, medium -> medium, high -> high.
int32_t flag_threshold(const Settings& s);

}  // namespace legal
