// The due-diligence checklist financial_diligence works through: thirteen areas,
// each with what a diligence analyst looks for in a filing, the checklist
// questions asked, and the key figures to extract with their source.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace diligence {

struct Area {
  const char* id;                        // "debt"
  const char* title;                     // "Debt and financing"
  const char* focus;                     // what matters, one sentence
  std::vector<const char*> questions;    // the checklist items
  std::vector<const char*> figures;      // key figures to extract
};

// All thirteen, in review order.
std::span<const Area> checklist();
// By id or title (case and punctuation ignored), or nullptr.
const Area* find_area(std::string_view name);

}  // namespace diligence
