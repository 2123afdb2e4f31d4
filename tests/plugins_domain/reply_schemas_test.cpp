// The reply schemas every shipped workflow step declares (workflows/schemas/*.reply.json),
// judged by ajv (npm, draft 2020-12, strict mode), not by ream's own checker:
//  - each compiles, and so does every schema a plugin attaches to its prompts;
//  - the SCRIPTED replies that the plugins' parsers accept in their own tests
//    (legal_review_test, financial_diligence_test, code_audit_test,
//    shipped_plugins_test; copied here as the parsers take them) validate against
//    the step's schema, after the plugin has accepted them in this very run;
//  - replies the parsers refuse do not validate, so the check can fail.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "ajv.h"
#include "plugin_harness.h"

namespace ream::test {
namespace {

using nlohmann::json;

json workflow_schema(const std::string& name) {
  std::ifstream in(std::string(REAM_SOURCE_DIR) + "/workflows/schemas/" + name + ".reply.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// The JSON object of a reply that may be fenced or have text around it.
json object_in(const std::string& reply) {
  return json::parse(reply.substr(reply.find('{'), reply.rfind('}') - reply.find('{') + 1));
}

// Checks with ajv: the workflow's schema and every schema the plugin attached compile;
// each of `accepted` validates against the workflow's schema, none of `refused` does.
void expect_schemas(const std::string& workflow, const PluginHarness& h, const std::vector<std::string>& accepted,
                    const std::vector<json>& refused) {
  json cases = {{"schemas", {{"workflow", workflow_schema(workflow)}}}, {"instances", json::array()}};
  for (const HPrompt& p : h.prompts) {
    ASSERT_EQ(p.constraint_kind, REAM_CONSTRAINT_JSON_SCHEMA) << workflow << " prompt " << p.key << " carries no schema";
    cases["schemas"]["prompt " + p.key] = json::parse(p.constraint);
  }
  for (const std::string& r : accepted) cases["instances"].push_back({{"schema", "workflow"}, {"data", object_in(r)}});
  for (const json& r : refused) cases["instances"].push_back({{"schema", "workflow"}, {"data", r}});
  json out = run_ajv(cases);
  ASSERT_TRUE(out.is_object());
  for (const auto& [name, result] : out["schemas"].items()) EXPECT_EQ(result, "ok") << workflow << ": " << name;
  for (size_t i = 0; i < accepted.size(); ++i) {
    EXPECT_TRUE(out["instances"][i]["ok"].get<bool>()) << workflow << ": " << out["instances"][i]["errors"] << "\n" << accepted[i];
  }
  for (size_t i = 0; i < refused.size(); ++i) {
    EXPECT_FALSE(out["instances"][accepted.size() + i]["ok"].get<bool>()) << workflow << ": " << refused[i];
  }
}

// Runs `plugin` answering each prompt from `replies` by the first key whose test matches.
using Pick = std::function<std::string(const HPrompt&)>;
void run_accepting(PluginHarness& h, const std::vector<HDoc>& docs, const json& params, const Pick& pick) {
  ASSERT_TRUE(h.plugin());
  ASSERT_EQ(h.run(docs, params, pick), REAM_OK) << h.error;
  EXPECT_EQ(h.outputs.value("unparsed", -1), 0) << "the parser refused a reply meant as accepted";
  for (const std::string& w : h.warnings) EXPECT_EQ(w.find("unusable"), std::string::npos) << w;
}

const char* kContract =
    "This Master Services Agreement is entered into by Acme Robotics, Inc. (\"Supplier\") and Globex Corporation "
    "(\"Customer\").\n1. Term. This Agreement expires on December 31, 2025.\n2. Governing Law. This Agreement shall be "
    "governed by the laws of the State of New York.\n";

TEST(ReplySchemasAjv, LegalReviewScriptedRepliesTheParserAcceptsValidate) {
  const std::vector<std::string> replies = {
      // legal_review_test: ValidFencedAndBrokenReplies... (Parties group, fenced Governing Law group, summary)
      R"j({"categories": [
        {"category": "Parties", "found": true, "clauses": [{"quote": "entered into by Acme Robotics, Inc. (\"Supplier\") and Globex Corporation (\"Customer\")", "section": "Preamble"}],
         "answer": ["Acme Robotics, Inc.", "Globex Corporation"], "risk": "none", "rationale": "Correct entities.", "fallback": ""},
        {"category": "Expiration Date", "found": true, "clauses": [{"quote": "This Agreement expires on December 31, 2025", "section": "1"}],
         "answer": "December 31, 2025", "risk": "low", "rationale": "Fixed term.", "fallback": "Add a renewal option."}]})j",
      "Here is the review:\n```json\n" R"j({"categories": [
        {"category": "Governing Law", "found": true, "clauses": [{"quote": "shall be governed by the   laws of the State of New York", "section": "2"}],
         "answer": "New York", "risk": "low", "rationale": "Familiar law.", "fallback": ""},
        {"category": "Non-Compete", "found": true, "clauses": [{"quote": "Customer shall not compete with Supplier anywhere in the world.", "section": "9"}],
         "answer": "Yes", "risk": "high", "rationale": "Broad restriction.", "fallback": "Delete."}]})j" "\n```",
      R"j({"summary": "A supplier-friendly MSA under New York law.", "key_risks": [{"category": "Cap on Liability", "risk": "high", "why": "low cap"}], "next_steps": ["Raise the cap"]})j",
      // LongContractIsAskedPartByPartAndMerged: a clause without a section
      R"j({"categories": [{"category": "Cap on Liability", "found": true, "clauses": [{"quote": "This Agreement is governed by the laws of England and Wales."}], "answer": "England and Wales", "risk": "low", "rationale": "foreign law", "fallback": ""}]})j",
  };
  PluginHarness h("legal_review");
  run_accepting(h, {{"doc-1", "msa.txt", kContract}},
                {{"categories", {"Governing Law", "Parties", "Expiration Date", "Cap on Liability", "Non-Compete"}},
                 {"categories_per_prompt", 2}, {"max_tokens", 512}},
                [&](const HPrompt& p) {
                  if (p.key == "summary") return replies[2];
                  if (p.user().find("1. Parties:") != std::string::npos) return replies[0];
                  if (p.user().find("1. Governing Law:") != std::string::npos) return replies[1];
                  return replies[3];
                });
  ASSERT_EQ(h.prompts.size(), 4u) << "three groups and the summary, no repair";
  expect_schemas("legal_review", h, replies,
                 {json{{"categories", "not a list"}},
                  json{{"categories", {{{"category", "Force Majeure"}, {"found", true}}}}},
                  json{{"summary", "   "}, {"key_risks", json::array()}, {"next_steps", json::array()}}});
}

TEST(ReplySchemasAjv, FinancialDiligenceScriptedRepliesTheParserAcceptsValidate) {
  const std::vector<std::string> replies = {
      // financial_diligence_test: FiguresRedFlagsMaterialityAndCrossChecks
      "```json\n" R"j({"checklist": [{"area": "financial", "item": "How did revenue change?", "status": "satisfactory", "answer": "Up 2%", "quote": "Total net sales increased 2%."}],
        "figures": [{"area": "financial", "name": "Total net sales", "value": "391,035", "unit": "USD millions", "period": "fiscal 2024", "quote": "Total net sales | 391,035"}],
        "red_flags": [], "consistency": []})j" "\n```",
      R"j({"checklist": [], "figures": [], "red_flags": [{"area": "litigation", "title": "Pending lawsuit", "severity": "high", "amount": "$5 million", "explanation": "Damages sought.", "quote": "a pending lawsuit"}], "consistency": []})j",
      R"j({"consistency": [{"question": "Do the two net sales figures agree?", "statements": ["Total net sales | 391,035", "Net sales | 390,100"], "assessment": "inconsistent", "explanation": "They differ."}]})j",
  };
  PluginHarness h("financial_diligence");
  run_accepting(h, {{"doc-1", "10k.html", "Total net sales increased 2%.\nTotal net sales | 391,035\nNet sales | 390,100\n"}},
                {{"areas", {"financial", "litigation"}}, {"areas_per_prompt", 1}, {"max_tokens", 600}},
                [&](const HPrompt& p) {
                  if (p.key == "cross") return replies[2];
                  return p.user().find("Area financial (") != std::string::npos ? replies[0] : replies[1];
                });
  ASSERT_EQ(h.prompts.size(), 3u);
  expect_schemas("financial_diligence", h, replies,
                 {json{{"checklist", "not a list"}}, json{{"figures", json::array()}, {"red_flags", json::array()}},
                  json{{"consistency", {{{"question", "q"}, {"statements", json::array()}, {"assessment", "maybe"}, {"explanation", ""}}}}}});
}

TEST(ReplySchemasAjv, CodeAuditScriptedRepliesTheParserAcceptsValidate) {
  const std::vector<std::string> replies = {
      // code_audit_test: LocatesQuotedCodeForFileAndLine... (entries with and without category and cwe)
      R"j({"findings": [
        {"rule": "sql-string-concatenation", "category": "security", "cwe": "CWE-89", "severity": "high", "file": "app/handlers.py", "line": 3,
         "code": "return db.execute(q + name)", "title": "SQL injection", "explanation": "name is concatenated.", "fix": "Use a bound parameter."},
        {"rule": "hardcoded-secret", "severity": "critical", "file": "app/handlers.py", "line": 1,
         "code": "API_KEY = \"sk-123\"", "title": "Secret", "explanation": "A key in code.", "fix": "Use the environment."}]})j",
      R"j({"findings": []})j",
  };
  PluginHarness h("code_audit", 5000);
  std::string tree = "==> app/handlers.py (Python) <==\nAPI_KEY = \"sk-123\"\ndef f(db, name):\n    return db.execute(q + name)\n";
  for (int i = 0; i < 1500; ++i) tree += "x_" + std::to_string(i) + " = compute(" + std::to_string(i) + ")\n";
  run_accepting(h, {{"doc-1", "repo", tree}}, {{"max_tokens", 256}},
                [&](const HPrompt& p) { return p.key == "s0" ? replies[0] : replies[1]; });
  ASSERT_GE(h.prompts.size(), 2u);
  expect_schemas("code_audit", h, replies,
                 {json{{"findings", {"not an object"}}},
                  json{{"findings", {{{"rule", "r"}, {"severity", "bad"}, {"file", "f"}, {"line", 0}, {"code", ""},
                                      {"title", ""}, {"explanation", ""}, {"fix", ""}}}}}});
}

TEST(ReplySchemasAjv, LongQaAndSummarizeScriptedRepliesTheParserAcceptsValidate) {
  const std::vector<std::string> answers = {
      // shipped_plugins_test: LongQaParsesValidFencedAndBrokenReplies..., LongQaRepairPromptRecoversAReply
      R"({"answer": "Delaware", "found": true, "confidence": 0.9, "quotes": ["governed by the  laws of the State of Delaware"]})",
      "Sure!\n```json\n{\"answer\": \"one year\", \"found\": true, \"quotes\": [\"This quote is not in the contract\"]}\n```",
  };
  PluginHarness qa("long_qa");
  run_accepting(qa, {{"doc-1", "c.txt", kContract}}, {{"questions", {"Which law governs?", "How long?"}}},
                [&](const HPrompt& p) { return p.key == "p0-q0" ? answers[0] : answers[1]; });
  expect_schemas("long_qa", qa, answers,
                 {json{{"answer", "x"}, {"found", "yes"}, {"quotes", json::array()}}, json{{"answer", "x"}}});

  const std::vector<std::string> summaries = {R"({"summary": "A consulting agreement under Delaware law."})",
                                              "```json\n{\"summary\": \"COMBINED\"}\n```"};
  PluginHarness sum("summarize");
  run_accepting(sum, {{"doc-1", "c.txt", kContract}}, {{"max_words", 50}}, [&](const HPrompt&) { return summaries[0]; });
  EXPECT_EQ(sum.outputs["summary"], "A consulting agreement under Delaware law.");
  expect_schemas("summarize", sum, summaries, {json{{"summary", ""}}, json{{"summary", 5}}});
}

}  // namespace
}  // namespace ream::test
