// The three domain workflows (workflows/legal_review.yaml, financial_diligence.yaml,
// code_audit.yaml) loaded and validated by the workflow loader against the
// built plugins' manifests, then run through the executor with SCRIPTED model
// replies: the host locates and verifies every quote, the job summary counts
// the unverified ones, and a code audit exports as SARIF. The scripted replies
// test the plumbing and parsing; end-to-end runs use the engine (see
// docs/domain_workflows.md).
#include <gtest/gtest.h>

#include "flow/executor.h"
#include "flow/job.h"
#include "flow/report.h"
#include "flow/sarif.h"
#include "flow/workflow.h"
#include "scripted_model.h"
#include "test_util.h"

namespace ream::flow {
namespace {

using nlohmann::json;
using test::ScriptedModelClient;
using test::ScriptedReply;

class DomainWorkflowsScriptedReplies : public ::testing::Test {
 protected:
  DomainWorkflowsScriptedReplies() {
    host_.load_dirs({REAM_BUILD_PLUGIN_DIR});
    db_ = dir_.path("ream.db");
    store_ = std::move(store::Store::open(db_)).value();
  }
  Result<Workflow> load(const std::string& name) {
    return load_workflow(std::string(REAM_SOURCE_DIR) + "/workflows/" + name + ".yaml", catalog_of(host_));
  }
  json run(const std::string& workflow, json inputs, ScriptedModelClient& model) {
    auto wf = load(workflow);
    EXPECT_TRUE(wf.ok()) << wf.status().message();
    if (!wf.ok()) return {};
    auto id = create_job(*store_, *wf, {inputs, 0, ""}, &model);
    EXPECT_TRUE(id.ok()) << id.status().message();
    Executor ex(*store_, host_, model);
    auto out = ex.run(*id, {});
    EXPECT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out->status, "succeeded") << out->error;
    auto r = job_result_json(*store_, *id);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : json();
  }
  test::TempDir dir_;
  std::string db_;
  plugins::PluginHost host_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(DomainWorkflowsScriptedReplies, AllThreeWorkflowsLoad) {
  for (const char* name : {"legal_review", "financial_diligence", "code_audit"}) {
    auto wf = load(name);
    ASSERT_TRUE(wf.ok()) << name << ": " << wf.status().message();
    EXPECT_EQ(wf->name, name);
    EXPECT_LE(wf->engine["temperature"].get<double>(), 0.7);
    EXPECT_EQ(wf->engine["top_k"], 20);
  }
}

TEST_F(DomainWorkflowsScriptedReplies, LegalReviewCountsVerifiedAndUnverifiedQuotes) {
  const std::string contract =
      "LICENSE AGREEMENT\n\n7. Governing Law. This Agreement is governed by the laws of the State of Delaware.\n";
  ScriptedModelClient model([](const ModelRequest& r, int) {
    if (r.messages[1].content.find("<review_findings>") != std::string::npos) {
      return ScriptedReply{R"j({"summary": "Delaware law; no cap.", "key_risks": [], "next_steps": []})j"};
    }
    return ScriptedReply{R"j({"categories": [
      {"category": "Governing Law", "found": true, "clauses": [{"quote": "This Agreement is governed by the laws of the State of Delaware."}], "answer": "Delaware", "risk": "low", "rationale": "r", "fallback": ""},
      {"category": "Cap on Liability", "found": true, "clauses": [{"quote": "Liability is capped at $100."}], "answer": "Yes", "risk": "high", "rationale": "r", "fallback": "f"}]})j"};
  });
  json r = run("legal_review",
               {{"contracts", {dir_.write("license.txt", contract)}},
                {"categories", {"Governing Law", "Cap on Liability"}}, {"perspective", "Licensee"}, {"max_tokens", 256}},
               model);
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(model.requests().size(), 2u);
  EXPECT_EQ(r["summary"]["unverified_quotes"], 1);
  int verified = 0;
  for (const json& f : r["findings"]) {
    for (const json& e : f["evidence"]) verified += e["verified"].get<bool>();
  }
  EXPECT_EQ(verified, 1);
  EXPECT_EQ(r["outputs"]["executive_summary"], json::array({"Delaware law; no cap."}));
}

TEST_F(DomainWorkflowsScriptedReplies, CodeAuditExportsSarifWithLocatedLines) {
  const std::string tree =
      "==> web/app.py (Python) <==\n"
      "import time\n"
      "async def handler(request):\n"
      "    time.sleep(5)\n"
      "    return 'ok'\n";
  ScriptedModelClient model([](const ModelRequest&, int) {
    return ScriptedReply{R"j({"findings": [{"rule": "blocking-io-in-async", "category": "performance", "severity": "medium", "file": "web/app.py", "line": 1, "code": "time.sleep(5)", "title": "Blocking sleep in async handler", "explanation": "Stalls the event loop.", "fix": "await asyncio.sleep(5)"}]})j"};
  });
  json r = run("code_audit", {{"source", {dir_.write("tree.txt", tree)}}, {"max_tokens", 256}}, model);
  ASSERT_TRUE(r.is_object());
  ASSERT_EQ(r["findings"].size(), 1u);
  EXPECT_EQ(r["findings"][0]["evidence"][0]["verified"], true);
  json sarif = sarif_from_result(r);
  const json& res = sarif["runs"][0]["results"];
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0]["ruleId"], "blocking-io-in-async");
  EXPECT_EQ(res[0]["level"], "warning");
  EXPECT_EQ(res[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "web/app.py");
  EXPECT_EQ(res[0]["locations"][0]["physicalLocation"]["region"]["startLine"], 3);
  EXPECT_EQ(res[0]["properties"]["quoteVerified"], true);
}

TEST_F(DomainWorkflowsScriptedReplies, FinancialDiligenceRecordsAnUnusableReplyAsAWarning) {
  ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{"I cannot help with that."}; });
  json r = run("financial_diligence",
               {{"filings", {dir_.write("10k.txt", "Item 1A. Risk Factors\n\nWe depend on one supplier.\n")}},
                {"areas", {"operations"}}, {"max_tokens", 256}},
               model);
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(model.requests().size(), 2u) << "the prompt and one repair";
  EXPECT_TRUE(r["findings"].empty());
  ASSERT_EQ(r["warnings"].size(), 1u);
  EXPECT_NE(r["warnings"][0]["message"].get<std::string>().find("reply unusable after a repair prompt"), std::string::npos);
  EXPECT_EQ(r["outputs"]["unparsed"], 1);
}

}  // namespace
}  // namespace ream::flow
