// financial_diligence's settings (parsed from the step's parameters) and its
// prompt texts. Every extraction prompt is the filing first and one group of
// checklist areas last, so the groups share the engine's prefix cache.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diligence_checklist.h"

namespace diligence {

struct Settings {
  std::vector<const Area*> areas;
  double materiality = 0;
  std::string fiscal_year, currency = "USD";
  int per_prompt = 4;
  bool cross_check = true, repair = true;
  int32_t max_tokens = 0;
  int64_t reply_budget = 2048;
};

extern const char* const kSystem;
// The extraction reply schema.
std::string schema_text();
// The JSON Schemas of the replies, attached to each prompt as its constraint: the
// group's area ids and checklist questions in enums. Every reply they allow also
// validates against workflows/schemas/financial_diligence.reply.json (the step's
// reply_schema: the same shapes for any setting).
std::string extraction_json_schema(const std::vector<const Area*>& group);
std::string cross_json_schema();
// Currency, fiscal year and materiality, for every prompt.
std::string client_context(const Settings& s);
// The instructions that follow the filing for one group of areas.
std::string instructions(const Settings& s, const std::vector<const Area*>& group);
// Reads the parameters; on a bad one returns false with the message in `error`.
bool parse_settings(const nlohmann::json& params, Settings* out, std::string* error);

}  // namespace diligence
