// The shipped plugins (long_qa, summarize) run through the executor with
// SCRIPTED model replies: valid JSON, fenced JSON, broken JSON, quotes that exist
// and quotes that do not, documents that fit and ones that must be split. The
// scripted replies test the plugins' parsing and planning; the end-to-end runs
// with the real engine are in cli_e2e_test.cpp.
#include <gtest/gtest.h>

#include "flow/executor.h"
#include "flow/job.h"
#include "flow/workflow.h"
#include "scripted_model.h"
#include "test_util.h"

namespace ream::flow {
namespace {

using nlohmann::json;
using test::query;
using test::query_one;
using test::ScriptedModelClient;
using test::ScriptedReply;

const char* kContract =
    "CONSULTING AGREEMENT\n\n"
    "1. Services. The Consultant shall provide advisory services to the Company.\n\n"
    "2. Term. This Agreement shall remain in effect for one (1) year from the Effective Date.\n\n"
    "3. Governing Law. This Agreement shall be governed by the laws of the State of Delaware.\n";

class ShippedPluginsScripted : public ::testing::Test {
 protected:
  ShippedPluginsScripted() {
    host_.load_dirs({REAM_BUILD_PLUGIN_DIR});
    db_ = dir_.path("ream.db");
    store_ = std::move(store::Store::open(db_)).value();
  }
  JobOutcome run(const std::string& workflow, json inputs, ScriptedModelClient& model) {
    auto wf = load_workflow(std::string(REAM_SOURCE_DIR) + "/workflows/" + workflow + ".yaml", catalog_of(host_));
    EXPECT_TRUE(wf.ok()) << wf.status().message();
    auto id = create_job(*store_, *wf, {inputs, 0, ""}, &model);
    EXPECT_TRUE(id.ok()) << id.status().message();
    Executor ex(*store_, host_, model);
    auto out = ex.run(*id, {});
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? *out : JobOutcome{};
  }
  test::TempDir dir_;
  std::string db_;
  plugins::PluginHost host_;
  std::unique_ptr<store::Store> store_;
};

std::string question_of(const ModelRequest& r) {
  const std::string& user = r.messages[1].content;
  return user.substr(user.rfind("Question: ") + 10);
}

TEST_F(ShippedPluginsScripted, LongQaParsesValidFencedAndBrokenRepliesAndLocatesQuotes) {
  ScriptedModelClient model([](const ModelRequest& r, int) {
    std::string q = question_of(r);
    bool repair = r.messages.size() > 2;
    if (q == "Which law governs?") {
      return ScriptedReply{R"({"answer": "Delaware", "found": true, "confidence": 0.9,)"
                           R"( "quotes": ["governed by the  laws of the State of Delaware"]})"};
    }
    if (q == "How long is the term?") {
      return ScriptedReply{"Sure!\n```json\n{\"answer\": \"one year\", \"found\": true, "
                           "\"quotes\": [\"This quote is not in the contract\"]}\n```\nHope that helps."};
    }
    return ScriptedReply{repair ? "still {not json" : "I think the parties are friends."};
  });
  JobOutcome out = run("long_qa",
                       {{"document", dir_.write("c.txt", kContract)},
                        {"questions", {"Which law governs?", "How long is the term?", "Who are the parties?"}}},
                       model);
  ASSERT_EQ(out.status, "succeeded") << out.error;
  EXPECT_EQ(out.outputs["answered"], 2);
  EXPECT_EQ(out.outputs["unparsed"], 1);
  // Three first prompts, then one repair prompt for the unparseable reply.
  ASSERT_EQ(model.requests().size(), 4u);
  EXPECT_EQ(model.requests()[3].messages[2].role, "assistant");
  auto rows = query(db_, "SELECT f.title, f.text, e.quote, e.verified, e.start_byte, e.end_byte, e.start_char "
                         "FROM findings f JOIN evidence e ON e.finding_id = f.id ORDER BY f.id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "Which law governs?");
  EXPECT_EQ(rows[0][1], "Delaware");
  EXPECT_EQ(rows[0][3], "1");  // located despite the doubled space
  std::string text = kContract;
  EXPECT_EQ(text.substr(std::stoul(rows[0][4]), std::stoul(rows[0][5]) - std::stoul(rows[0][4])),
            "governed by the laws of the State of Delaware");
  EXPECT_EQ(rows[0][6], rows[0][4]);  // ASCII text: characters == bytes
  EXPECT_EQ(rows[1][1], "one year");
  EXPECT_EQ(rows[1][3], "0");  // an invented quote stays unverified
  EXPECT_EQ(rows[1][4], "-1");
  std::string warnings = query_one(db_, "SELECT warnings_json FROM step_runs");
  EXPECT_EQ(json::parse(warnings),
            json::array({"question 3 on doc-1: reply is not valid JSON (unbalanced braces (the reply may have been "
                         "cut off); finish: stop, 4 tokens)"}));
}

TEST_F(ShippedPluginsScripted, LongQaRepairPromptRecoversAReply) {
  ScriptedModelClient model([](const ModelRequest& r, int) {
    return r.messages.size() > 2 ? ScriptedReply{R"({"answer": "Company", "found": true, "quotes": []})"}
                                 : ScriptedReply{"no json here"};
  });
  JobOutcome out = run("long_qa", {{"document", dir_.write("c.txt", kContract)}, {"questions", {"Who?"}}}, model);
  ASSERT_EQ(out.status, "succeeded") << out.error;
  EXPECT_EQ(out.outputs["answered"], 1);
  EXPECT_EQ(query_one(db_, "SELECT text FROM findings"), "Company");
  EXPECT_EQ(query_one(db_, "SELECT prompts FROM step_runs"), "2");
}

TEST_F(ShippedPluginsScripted, LongQaPutsTheDocumentFirstAndSplitsWhatDoesNotFit) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "Section " + std::to_string(i) + ". The parties agree to cooperate in good faith.\n";
  ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{R"({"answer":"x","found":false,"quotes":[]})"}; },
                            /*context=*/3000);
  JobOutcome out = run("long_qa",
                       {{"document", dir_.write("long.txt", text)}, {"questions", {"First question?", "Second?"}},
                        {"max_tokens", 200}},
                       model);
  ASSERT_EQ(out.status, "succeeded") << out.error;
  auto reqs = model.requests();
  ASSERT_GE(reqs.size(), 6u);  // >= 3 parts x 2 questions
  EXPECT_EQ(reqs.size() % 2, 0u);
  for (const ModelRequest& r : reqs) {
    const std::string& user = r.messages[1].content;
    EXPECT_EQ(user.rfind("<document id=\"doc-1\" part=", 0), 0u) << user.substr(0, 60);
    EXPECT_LE(static_cast<int64_t>(user.size() / 4), 3000 - 200);
  }
  // The two questions over one part share everything up to the question.
  const std::string& a = reqs[0].messages[1].content;
  const std::string& b = reqs[1].messages[1].content;
  EXPECT_EQ(a.substr(0, a.rfind("Question: ")), b.substr(0, b.rfind("Question: ")));
  EXPECT_EQ(std::stoul(query_one(db_, "SELECT COUNT(*) FROM findings")), reqs.size());
}

TEST_F(ShippedPluginsScripted, SummarizeMapReducesADocumentThatDoesNotFit) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "Paragraph " + std::to_string(i) + " describes obligations of the supplier.\n\n";
  ScriptedModelClient model(
      [](const ModelRequest& r, int i) {
        const std::string& user = r.messages[1].content;
        if (user.rfind("Summaries of the", 0) == 0) return ScriptedReply{"COMBINED"};
        return ScriptedReply{"part summary " + std::to_string(i)};
      },
      /*context=*/4000);
  JobOutcome out = run("summarize", {{"documents", {dir_.write("long.txt", text)}}, {"max_tokens", 100}}, model);
  ASSERT_EQ(out.status, "succeeded") << out.error;
  auto reqs = model.requests();
  ASSERT_GE(reqs.size(), 4u);
  const std::string& combine = reqs.back().messages[1].content;
  EXPECT_EQ(combine.rfind("Summaries of the " + std::to_string(reqs.size() - 1) + " consecutive parts", 0), 0u);
  EXPECT_NE(combine.find("Part 1:\npart summary"), std::string::npos);
  EXPECT_EQ(out.outputs["summaries"], json::array({"COMBINED"}));
  EXPECT_EQ(query_one(db_, "SELECT kind || ':' || json_extract(details_json, '$.parts') FROM findings"),
            "summary:" + std::to_string(reqs.size() - 1));
}

TEST_F(ShippedPluginsScripted, SummarizeOnePassWhenTheDocumentFits) {
  ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{"A consulting agreement under Delaware law."}; });
  JobOutcome out = run("summarize",
                       {{"documents", {dir_.write("a.txt", kContract), dir_.write("b.txt", "Second document text.")}},
                        {"max_words", 50}},
                       model);
  ASSERT_EQ(out.status, "succeeded") << out.error;
  ASSERT_EQ(model.requests().size(), 2u);  // foreach document: one prompt each
  EXPECT_NE(model.requests()[0].messages[1].content.find("in at most 50 words"), std::string::npos);
  EXPECT_EQ(out.outputs["summaries"].size(), 2u);
  EXPECT_EQ(query_one(db_, "SELECT COUNT(*) FROM findings WHERE kind = 'summary'"), "2");
}

}  // namespace
}  // namespace ream::flow
