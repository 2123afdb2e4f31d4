// The 41 clause categories of CUAD v1 (The Atticus Project, CC BY 4.0), embedded
// as data: name, description and answer format as CUAD's category_descriptions.csv
// states them, CUAD's group number, how the plugin normalises the answer, and a
// short review note (what a reviewer weighs when rating the clause's risk).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace legal {

enum class AnswerKind {
  kText,      // free text (contract name)
  kParties,   // entity or individual names -> a list
  kDate,      // mm/dd/yyyy
  kDateOrPerpetual,  // mm/dd/yyyy or "Perpetual"
  kTerm,      // "[Successive] N years/months" or "Perpetual"
  kPeriod,    // "N days/months/years"
  kLaw,       // "US State / non-US Province, Country"
  kYesNo,     // Yes / No
};

struct Category {
  const char* name;           // CUAD's category name, e.g. "Governing Law"
  const char* description;    // CUAD's description (the question asked)
  const char* answer_format;  // CUAD's answer format
  AnswerKind kind;
  int group;                  // CUAD's group (related categories), 0 = none
  const char* review_note;    // what drives the risk rating and the usual fallback
};

// All 41, in CUAD's order.
std::span<const Category> cuad_categories();
// The category with this name (case, spaces and punctuation ignored), or nullptr.
const Category* find_category(std::string_view name);

// Normalises a model's answer to CUAD's format for the category's kind: dates to
// mm/dd/yyyy, yes/no to "Yes"/"No", periods to "N days/months/years". Returns the
// trimmed input when it cannot (the raw answer is always kept next to it).
std::string normalise_answer(const Category& c, std::string_view answer, bool found);
// "01/05/2020" from "January 5, 2020", "5 Jan 2020", "2020-01-05", "1/5/20", ...;
// "" when the text holds no recognisable date.
std::string normalise_date(std::string_view text);

}  // namespace legal
