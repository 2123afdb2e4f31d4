// legal_review through the plugin harness with SCRIPTED replies (valid, fenced,
// broken JSON; quotes that exist and quotes that do not), plus its answer
// normalisation against CUAD's formats.
#include <gtest/gtest.h>

#include "legal_review/cuad_categories.h"
#include "plugin_harness.h"

namespace ream::test {
namespace {

using nlohmann::json;

const char* kContract =
    "MASTER SERVICES AGREEMENT\n\n"
    "This Master Services Agreement is entered into by Acme Robotics, Inc. (\"Supplier\") and Globex "
    "Corporation (\"Customer\").\n\n"
    "1. Term. This Agreement expires on December 31, 2025 unless terminated earlier.\n\n"
    "2. Governing Law. This Agreement shall be governed by the laws of the State of New York.\n\n"
    "3. Liability. Supplier's aggregate liability shall not exceed the fees paid in the twelve months "
    "preceding the claim.\n";

std::vector<HDoc> contract() { return {{"doc-1", "msa.txt", kContract}}; }

json params() {
  return {{"categories", {"Governing Law", "Parties", "Expiration Date", "Cap on Liability", "Non-Compete"}},
          {"categories_per_prompt", 2}, {"perspective", "Customer"}, {"risk_tolerance", "low"},
          {"max_tokens", 512}};
}

// Which group a prompt asks about, by the first category it lists.
bool asks(const HPrompt& p, const std::string& category) {
  return p.user().find("1. " + category + ":") != std::string::npos;
}

TEST(LegalReviewScriptedReplies, ValidFencedAndBrokenRepliesRepairThenWarnAndLocateQuotes) {
  PluginHarness h("legal_review");
  ASSERT_TRUE(h.plugin());
  ream_status rc = h.run(contract(), params(), [](const HPrompt& p) -> std::string {
    if (p.key == "summary") {
      return R"j({"summary": "A supplier-friendly MSA under New York law.", "key_risks": [{"category": "Cap on Liability", "risk": "high", "why": "low cap"}], "next_steps": ["Raise the cap"]})j";
    }
    if (asks(p, "Parties")) {  // valid JSON, quotes that exist
      return R"j({"categories": [
        {"category": "Parties", "found": true, "clauses": [{"quote": "entered into by Acme Robotics, Inc. (\"Supplier\") and Globex Corporation (\"Customer\")", "section": "Preamble"}],
         "answer": ["Acme Robotics, Inc.", "Globex Corporation"], "risk": "none", "rationale": "Correct entities.", "fallback": ""},
        {"category": "Expiration Date", "found": true, "clauses": [{"quote": "This Agreement expires on December 31, 2025", "section": "1"}],
         "answer": "December 31, 2025", "risk": "low", "rationale": "Fixed term.", "fallback": "Add a renewal option."}]})j";
    }
    if (asks(p, "Governing Law")) {  // fenced, trailing text, one quote that is not in the contract
      return "Here is the review:\n```json\n"
             R"j({"categories": [
        {"category": "Governing Law", "found": true, "clauses": [{"quote": "shall be governed by the   laws of the State of New York", "section": "2"}],
         "answer": "New York", "risk": "low", "rationale": "Familiar law.", "fallback": ""},
        {"category": "Non-Compete", "found": true, "clauses": [{"quote": "Customer shall not compete with Supplier anywhere in the world.", "section": "9"}],
         "answer": "Yes", "risk": "high", "rationale": "Broad restriction.", "fallback": "Delete."}]})j"
             "\n```\nLet me know if you need more.";
    }
    return p.messages.size() > 2 ? "still {\"categories\": [ broken" : "I could not find anything {oops";
  });
  ASSERT_EQ(rc, REAM_OK) << h.error;

  // Three extraction prompts, one repair, one summary.
  ASSERT_EQ(h.prompts.size(), 5u);
  for (size_t i = 0; i < 3; ++i) {
    const HPrompt& p = h.prompts[i];
    EXPECT_EQ(p.messages[0].second, h.prompts[0].messages[0].second);
    // The document first, the instructions last: every group shares the contract prefix.
    EXPECT_EQ(p.user().find("<document id=\"doc-1\""), 0u);
    EXPECT_LT(p.user().find(kContract), p.user().find("Reply with only this JSON object"));
    EXPECT_NE(p.user().find("We represent: Customer"), std::string::npos);
    EXPECT_EQ(p.max_tokens, 512);
  }
  const HPrompt& repair = h.prompts[3];
  EXPECT_EQ(repair.key, "s0-g2~repair");
  ASSERT_EQ(repair.messages.size(), 4u);
  EXPECT_EQ(repair.messages[2].first, "assistant");
  EXPECT_NE(repair.last().find("\"categories\""), std::string::npos);
  const HPrompt& summary = h.prompts[4];
  EXPECT_EQ(summary.key, "summary");
  EXPECT_EQ(summary.user().find("<document id=\"doc-1\""), 0u) << "the summary reuses the contract prefix";
  EXPECT_NE(summary.user().find("- Governing Law: found; answer: New York"), std::string::npos);

  // The broken group: a warning, and no finding for its category.
  ASSERT_GE(h.warnings.size(), 2u);
  EXPECT_NE(h.warnings[0].find("after a repair prompt"), std::string::npos) << h.warnings[0];
  EXPECT_NE(h.warnings[1].find("'Cap on Liability': no usable answer"), std::string::npos) << h.warnings[1];
  EXPECT_EQ(h.outputs["unparsed"], 1);

  auto clauses = h.of_kind("clause");
  ASSERT_EQ(clauses.size(), 4u);
  std::map<std::string, const HFinding*> by;
  for (const HFinding* f : clauses) by[f->category] = f;
  ASSERT_TRUE(by.count("Parties") && by.count("Expiration Date") && by.count("Governing Law") && by.count("Non-Compete"));
  const HEvidence& parties = by["Parties"]->evidence.at(0);
  ASSERT_GE(parties.start, 0);
  EXPECT_EQ(std::string(kContract).substr(parties.start, parties.end - parties.start), parties.quote);
  EXPECT_EQ(by["Parties"]->details["normalized_answer"], "Acme Robotics, Inc.; Globex Corporation");
  EXPECT_EQ(by["Expiration Date"]->details["normalized_answer"], "12/31/2025");
  const HEvidence& law = by["Governing Law"]->evidence.at(0);
  ASSERT_GE(law.start, 0) << "whitespace-normalised match";
  EXPECT_EQ(std::string(kContract).substr(law.start, law.end - law.start),
            "shall be governed by the laws of the State of New York");
  EXPECT_EQ(by["Non-Compete"]->evidence.at(0).start, -1) << "a quote not in the contract stays unlocated";
  EXPECT_EQ(by["Non-Compete"]->severity, REAM_SEVERITY_HIGH);
  EXPECT_EQ(by["Non-Compete"]->details["fallback"], "Delete.");

  EXPECT_EQ(h.outputs["executive_summary"], "A supplier-friendly MSA under New York law.");
  ASSERT_EQ(h.of_kind("summary").size(), 1u);
  // Low tolerance flags everything from low up, highest first.
  ASSERT_FALSE(h.outputs["flagged"].empty());
  EXPECT_EQ(h.outputs["flagged"][0]["category"], "Non-Compete");
  EXPECT_EQ(h.outputs["risk_counts"]["high"], 1);
}

TEST(LegalReviewScriptedReplies, UnusableSummaryGivesAPlainDigestNotInventedProse) {
  PluginHarness h("legal_review");
  json p = {{"categories", {"Governing Law"}}, {"repair", false}};
  ASSERT_EQ(h.run(contract(), p, [](const HPrompt& q) -> std::string {
              if (q.key == "summary") return "The contract is fine.";
              return R"j({"categories": [{"category": "Governing Law", "found": true, "clauses": [], "answer": "New York", "risk": "medium", "rationale": "r", "fallback": "f"}]})j";
            }),
            REAM_OK)
      << h.error;
  EXPECT_EQ(h.prompts.size(), 2u) << "no repair prompt when repair is off";
  ASSERT_EQ(h.warnings.size(), 1u);
  EXPECT_NE(h.warnings[0].find("executive summary: reply unusable"), std::string::npos) << h.warnings[0];
  EXPECT_TRUE(h.of_kind("summary").empty());
  std::string digest = h.outputs["executive_summary"];
  EXPECT_EQ(digest.rfind("No usable executive summary from the model", 0), 0u) << digest;
  EXPECT_NE(digest.find("Governing Law (medium)"), std::string::npos);
}

TEST(LegalReviewScriptedReplies, LongContractIsAskedPartByPartAndMerged) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "Clause " + std::to_string(i) + ". The parties agree to cooperate in good faith.\n\n";
  text += "Clause 400. This Agreement is governed by the laws of England and Wales.\n";
  PluginHarness h("legal_review", 6000);
  json p = {{"categories", {"Governing Law"}}, {"executive_summary", false}, {"max_tokens", 256}};
  ASSERT_EQ(h.run({{"doc-1", "long.txt", text}}, p, [](const HPrompt& q) -> std::string {
              if (q.user().find("laws of England") != std::string::npos) {
                return R"j({"categories": [{"category": "Governing Law", "found": true, "clauses": [{"quote": "This Agreement is governed by the laws of England and Wales."}], "answer": "England and Wales", "risk": "low", "rationale": "foreign law", "fallback": ""}]})j";
              }
              return R"j({"categories": [{"category": "Governing Law", "found": false, "clauses": [], "answer": "", "risk": "medium", "rationale": "absent here", "fallback": ""}]})j";
            }),
            REAM_OK)
      << h.error;
  ASSERT_GE(h.prompts.size(), 2u) << "the contract did not fit one prompt";
  EXPECT_NE(h.prompts[0].user().find("part=\"1 of"), std::string::npos);
  ASSERT_EQ(h.findings.size(), 1u);
  const HFinding& f = h.findings[0];
  EXPECT_EQ(f.kind, "clause");
  EXPECT_EQ(f.details["normalized_answer"], "England and Wales");
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(text.substr(f.evidence[0].start, f.evidence[0].end - f.evidence[0].start), f.evidence[0].quote);
  EXPECT_EQ(f.details["parts"].size(), h.prompts.size());
}

TEST(LegalReviewScriptedReplies, UnknownCategoryIsRefusedWithItsName) {
  PluginHarness h("legal_review");
  EXPECT_EQ(h.run(contract(), {{"categories", {"Governing Law", "Force Majeure"}}}, [](const HPrompt&) { return ""; }),
            REAM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.error.find("'Force Majeure'"), std::string::npos) << h.error;
  EXPECT_TRUE(h.prompts.empty());
}

TEST(LegalReviewCategories, AllFortyOneCuadCategoriesWithFormats) {
  ASSERT_EQ(legal::cuad_categories().size(), 41u);
  for (const legal::Category& c : legal::cuad_categories()) {
    EXPECT_NE(std::string(c.answer_format), "") << c.name;
    EXPECT_EQ(legal::find_category(c.name), &c);
  }
  EXPECT_EQ(legal::find_category("governing-law"), legal::find_category("Governing Law"));
}

TEST(LegalReviewCategories, AnswersNormaliseToCuadFormats) {
  using legal::normalise_answer;
  EXPECT_EQ(legal::normalise_date("dated as of the 5th day of March, 2019"), "03/05/2019");
  EXPECT_EQ(legal::normalise_date("2020-01-07"), "01/07/2020");
  EXPECT_EQ(legal::normalise_date("Sept. 9, 2011"), "09/09/2011");
  EXPECT_EQ(legal::normalise_date("no date here"), "");
  const legal::Category& renewal = *legal::find_category("Renewal Term");
  EXPECT_EQ(normalise_answer(renewal, "successive one (1) year periods", true), "Successive 1 year");
  EXPECT_EQ(normalise_answer(renewal, "perpetual", true), "Perpetual");
  const legal::Category& notice = *legal::find_category("Notice Period to Terminate Renewal");
  EXPECT_EQ(normalise_answer(notice, "ninety days before the end of the term", true), "90 days");
  const legal::Category& mfn = *legal::find_category("Most Favored Nation");
  EXPECT_EQ(normalise_answer(mfn, "yes.", true), "Yes");
  EXPECT_EQ(normalise_answer(mfn, "", false), "No");
}

}  // namespace
}  // namespace ream::test
