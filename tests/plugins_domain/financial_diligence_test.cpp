// financial_diligence through the plugin harness with SCRIPTED replies, and its
// amount parsing.
#include <gtest/gtest.h>

#include "financial_diligence/figures.h"
#include "plugin_harness.h"

namespace ream::test {
namespace {

using nlohmann::json;

const char* kFiling =
    "Item 7. Management's Discussion and Analysis\n\n"
    "Total net sales increased 2% or $7.8 billion during 2024 compared to 2023.\n\n"
    "Total net sales | 391,035 | 383,285 | 394,328\n\n"
    "Item 8. Financial Statements\n\n"
    "Net sales | 390,100 | 383,285\n\n"
    "The Company is subject to a pending lawsuit seeking damages of $5 million.\n\n"
    "As of September 28, 2024, the Company had outstanding fixed-rate notes of $97.3 billion.\n";

bool asks(const HPrompt& p, const char* area) {
  return p.user().find(std::string("Area ") + area + " (") != std::string::npos;
}

TEST(FinancialDiligenceScriptedReplies, FiguresRedFlagsMaterialityAndCrossChecks) {
  PluginHarness h("financial_diligence");
  json params = {{"areas", {"financial", "litigation"}}, {"areas_per_prompt", 1},
                 {"materiality_threshold", 100000000}, {"fiscal_year", "2024"}, {"max_tokens", 600}};
  ASSERT_EQ(h.run({{"doc-1", "10k.html", kFiling}}, params, [](const HPrompt& p) -> std::string {
              if (p.key == "cross") {
                return R"j({"consistency": [{"question": "Do the two net sales figures agree?", "statements": ["Total net sales | 391,035 | 383,285 | 394,328", "Net sales | 390,100 | 383,285"], "assessment": "inconsistent", "explanation": "MD&A and statements differ."}]})j";
              }
              if (asks(p, "financial")) {
                return "```json\n" R"j({"checklist": [{"area": "financial", "item": "How did revenue change?", "status": "satisfactory", "answer": "Up 2%", "quote": "Total net sales increased 2% or $7.8 billion during 2024 compared to 2023."}],
                  "figures": [{"area": "financial", "name": "Total net sales", "value": "391,035", "unit": "USD millions", "period": "fiscal 2024", "quote": "Total net sales | 391,035 | 383,285 | 394,328"},
                              {"area": "financial", "name": "Net sales", "value": "390,100", "unit": "USD millions", "period": "fiscal 2024", "quote": "Net sales | 390,100 | 383,285"},
                              {"area": "financial", "name": "Gross margin", "value": "46.2%", "unit": "", "period": "fiscal 2024", "quote": "Gross margin was 46.2 percent."}],
                  "red_flags": [], "consistency": []})j" "\n```";
              }
              return R"j({"checklist": [], "figures": [], "red_flags": [{"area": "litigation", "title": "Pending lawsuit", "severity": "high", "amount": "$5 million", "explanation": "Damages sought.", "quote": "The Company is subject to a pending lawsuit seeking damages of $5 million."}], "consistency": []})j";
            }),
            REAM_OK)
      << h.error;
  // Two area prompts, both with the filing first; then one cross-check prompt.
  ASSERT_EQ(h.prompts.size(), 3u);
  EXPECT_EQ(h.prompts[0].user().find("<document id=\"doc-1\""), 0u);
  EXPECT_EQ(h.prompts[1].user().substr(0, 200), h.prompts[0].user().substr(0, 200));
  EXPECT_NE(h.prompts[0].user().find("Materiality threshold: 100000000 USD"), std::string::npos);
  EXPECT_NE(h.prompts[0].user().find("Fiscal year in focus: 2024"), std::string::npos);
  EXPECT_EQ(h.prompts[2].key, "cross");
  EXPECT_NE(h.prompts[2].user().find("Total net sales = 391,035 USD millions"), std::string::npos);

  auto figures = h.of_kind("figure");
  ASSERT_EQ(figures.size(), 3u);
  EXPECT_DOUBLE_EQ(figures[0]->details["amount"].get<double>(), 391035e6);
  EXPECT_GE(figures[0]->evidence.at(0).start, 0);
  EXPECT_EQ(figures[2]->evidence.at(0).start, -1) << "a figure quoted from nowhere stays unverified";

  auto flags = h.of_kind("red_flag");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0]->severity, REAM_SEVERITY_LOW) << "$5 million is below the $100 million threshold";
  EXPECT_EQ(flags[0]->details["model_severity"], "high");
  EXPECT_TRUE(flags[0]->details["below_materiality"].get<bool>());

  // The model's cross-check plus the figure comparison (net sales 391,035 vs 390,100).
  auto consistency = h.of_kind("consistency");
  ASSERT_EQ(consistency.size(), 2u);
  for (const HFinding* f : consistency) {
    ASSERT_EQ(f->evidence.size(), 2u);
    EXPECT_GE(f->evidence[0].start, 0);
    EXPECT_GE(f->evidence[1].start, 0);
  }
  EXPECT_EQ(h.outputs["inconsistencies"], 2);
  EXPECT_EQ(h.outputs["unparsed"], 0);
  EXPECT_TRUE(h.warnings.empty());
}

TEST(FinancialDiligenceScriptedReplies, BrokenRepliesAreRepairedOnceThenWarnedWithoutFindings) {
  PluginHarness h("financial_diligence");
  int calls = 0;
  ASSERT_EQ(h.run({{"doc-1", "10k.html", kFiling}}, {{"areas", {"tax"}}}, [&](const HPrompt& p) -> std::string {
              ++calls;
              return p.messages.size() > 2 ? R"j({"checklist": "not a list"})j" : "{\"checklist\": [";
            }),
            REAM_OK)
      << h.error;
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(h.prompts[1].key, "s0-g0~repair");
  EXPECT_TRUE(h.findings.empty()) << "nothing invented from unusable replies";
  ASSERT_EQ(h.warnings.size(), 1u);
  EXPECT_NE(h.warnings[0].find("areas tax on doc-1: reply unusable after a repair prompt"), std::string::npos) << h.warnings[0];
  EXPECT_EQ(h.outputs["unparsed"], 1);
}

TEST(FinancialDiligenceFigures, AmountsAsFilingsWriteThem) {
  using diligence::parse_amount;
  EXPECT_DOUBLE_EQ(*parse_amount("391,035", "USD millions"), 391035e6);
  EXPECT_DOUBLE_EQ(*parse_amount("$7.8 billion", ""), 7.8e9);
  EXPECT_DOUBLE_EQ(*parse_amount("(1,234)", "in thousands"), -1234e3);
  EXPECT_DOUBLE_EQ(*parse_amount("2.5B", ""), 2.5e9);
  bool pct = false;
  EXPECT_DOUBLE_EQ(*parse_amount("24.1%", "", &pct), 24.1);
  EXPECT_TRUE(pct);
  EXPECT_FALSE(parse_amount("n/a", "").has_value());
  EXPECT_EQ(diligence::figure_key("Total net sales"), diligence::figure_key("Net sales"));
  EXPECT_TRUE(diligence::amounts_differ(391035, 390100));
  EXPECT_FALSE(diligence::amounts_differ(391035, 391035.4));
}

}  // namespace
}  // namespace ream::test
