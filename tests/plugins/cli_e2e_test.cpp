// End-to-end tests of `ream run` and `ream plugin check` with the REAL engine and
// a tiny random-weight model (`ream init-model --shape tiny`). The model's text is
// meaningless, so these check the machinery: prompts built, tokens counted and
// cached, findings parsed or parse failures recorded, rows committed once, resume
// after a real SIGKILL, and the example plugin built out of tree against an
// installed ream.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace ream {
namespace {

using nlohmann::json;
using test::query;
using test::query_one;

const std::string kRream = REAM_BINARY_DIR "/cli/ream";
const std::string kContract = REAM_SHARED_DATA_DIR "/cuad/contracts/ADUROBIOTECH,INC_06_02_2020-EX-10.7-CONSULTING AGREEMENT(1).txt";

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Shell {
  int status = -1;  // exit status, or 128 + signal
  std::string out;  // stdout (stderr goes to err_file)
};

Shell sh(const std::string& cmd) {
  Shell r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

class CliEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    model_ = dir_->path("tiny");
    Shell r = sh(kRream + " init-model --shape tiny --out " + model_ + " 2>&1");
    ASSERT_EQ(r.status, 0) << r.out;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static test::TempDir* dir_;
  static std::string model_;
  test::TempDir local_;
};
test::TempDir* CliEndToEnd::dir_ = nullptr;
std::string CliEndToEnd::model_;

TEST_F(CliEndToEnd, LongQaTinyModelOnACuadContractRecordsTheMachinery) {
  ASSERT_TRUE(std::filesystem::exists(kContract)) << kContract;
  std::string db = local_.path("ream.db");
  Shell r = sh(kRream + " run long_qa --model " + model_ + " --doc " + quote(kContract) +
             " --input 'questions=What is the governing law?' --input 'questions=Who are the parties?'"
             " --input 'questions=When does the agreement terminate?' --input max_tokens=24 --db " + db +
             " --format json 2>" + local_.path("err.txt"));
  ASSERT_EQ(r.status, 0) << r.out;
  json result = json::parse(r.out);
  EXPECT_EQ(result["job"]["status"], "succeeded");
  // The document row: hash, size and the engine's token count.
  auto doc = query(db, "SELECT size_bytes, token_count, length(content_hash) FROM documents");
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(std::stoll(doc[0][0]), static_cast<long long>(std::filesystem::file_size(kContract)));
  int64_t doc_tokens = std::stoll(doc[0][1]);
  EXPECT_GT(doc_tokens, 1000);
  EXPECT_EQ(doc[0][2], "64");
  // One step run with every prompt counted: 3 questions, plus one repair prompt per
  // reply that did not parse. Each prompt holds the whole document.
  auto run = query(db, "SELECT status, prompts, prompt_tokens, completion_tokens, cached_prompt_tokens, "
                       "json_array_length(warnings_json) FROM step_runs");
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(run[0][0], "succeeded");
  int prompts = std::stoi(run[0][1]);
  EXPECT_GE(prompts, 3);
  EXPECT_LE(prompts, 6);
  EXPECT_GT(std::stoll(run[0][2]), prompts * doc_tokens);
  EXPECT_LE(std::stoll(run[0][3]), prompts * 24LL);
  EXPECT_GT(std::stoll(run[0][3]), 0);
  // The questions share the document prefix: the engine served much of it from cache.
  EXPECT_GT(std::stoll(run[0][4]), doc_tokens);
  // Every question ends as a finding (parsed reply) or a warning (unparseable), never both, never lost.
  int findings = std::stoi(query_one(db, "SELECT COUNT(*) FROM findings WHERE kind = 'answer'"));
  int warnings = std::stoi(run[0][5]);
  EXPECT_EQ(findings + warnings, 3);
  EXPECT_EQ(result["outputs"]["answered"].get<int>(), findings);
  EXPECT_EQ(result["outputs"]["unparsed"].get<int>(), warnings);
  EXPECT_EQ(query_one(db, "SELECT status FROM jobs"), "succeeded");
  EXPECT_EQ(query_one(db, "SELECT group_concat(type, ',') FROM (SELECT type FROM job_events ORDER BY id)"),
            "job_queued,job_started,step_started,step_succeeded,job_succeeded");
}

TEST_F(CliEndToEnd, SummarizeTinyModelPrintsAMarkdownReport) {
  std::string db = local_.path("ream.db");
  Shell r = sh(kRream + " run summarize --model " + model_ + " --doc " + quote(kContract) +
             " --input max_tokens=16 --input max_words=30 --db " + db + " 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.rfind("# summarize — job 1", 0), 0u) << r.out.substr(0, 200);
  EXPECT_NE(r.out.find("## Findings: summary"), std::string::npos);
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM findings WHERE kind = 'summary'"), "1");
  EXPECT_EQ(query_one(db, "SELECT completion_tokens > 0 AND completion_tokens <= 16 FROM step_runs"), "1");
}

TEST_F(CliEndToEnd, KillAtEveryStepBoundaryThenResumeWithTheRealEngine) {
  std::string wf = local_.write("three.yaml", R"(name: three
inputs:
  doc: {type: document}
engine: {max_tokens: 8}
steps:
  - {id: gist, plugin: summarize, foreach: {documents: "${{ inputs.doc }}"}, with: {max_words: 20}}
  - {id: ask, plugin: long_qa, needs: gist, documents: "${{ inputs.doc }}", with: {questions: ['Who signs?', 'What is paid?'], repair: false}}
  - {id: again, plugin: summarize, needs: ask, with: {focus: "${{ steps.ask.outputs.unparsed }} unparsed"}}
)");
  for (int n = 1; n <= 3; ++n) {
    SCOPED_TRACE("killed after commit " + std::to_string(n));
    std::string db = local_.path("kill" + std::to_string(n) + ".db");
    std::string base = kRream + " run --model " + model_ + " --db " + db + " --format json";
    Shell killed = sh("REAM_TEST_KILL_AFTER_STEP=" + std::to_string(n) + " " + base + " " + wf + " --doc " +
                    quote(kContract) + " 2>/dev/null");
    EXPECT_EQ(killed.status, 128 + SIGKILL);
    EXPECT_EQ(query_one(db, "SELECT status FROM jobs"), "running");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), std::to_string(n));
    std::string before = query_one(db, "SELECT group_concat(id || ':' || attempt) FROM step_runs WHERE status = 'succeeded'");
    Shell resumed = sh(base + " --resume 1 2>/dev/null");
    ASSERT_EQ(resumed.status, 0) << resumed.out;
    EXPECT_EQ(query_one(db, "SELECT status FROM jobs"), "succeeded");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), "3");
    // Committed runs were not run again (same ids, same attempt).
    EXPECT_EQ(query_one(db, "SELECT group_concat(id || ':' || attempt) FROM step_runs WHERE id IN (" +
                                (n == 1 ? std::string("1") : n == 2 ? "1,2" : "1,2,3") + ")"),
              before);
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM (SELECT step_run_id, seq FROM findings GROUP BY 1, 2 HAVING COUNT(*) > 1)"), "0");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM findings WHERE kind = 'summary'"), "2");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE step_id = 'ask'"), "1");
  }
}

TEST_F(CliEndToEnd, PluginCheckPrintsTheManifestAndRunsTheCallbacks) {
  Shell r = sh(kRream + " plugin check " REAM_BINARY_DIR "/plugins/long_qa.so 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("name:        long_qa"), std::string::npos);
  EXPECT_NE(r.out.find("abi version: 1"), std::string::npos);
  EXPECT_NE(r.out.find("plan: 1 prompts"), std::string::npos);
  EXPECT_NE(r.out.find("ok: long_qa 1.0.0 loads and runs"), std::string::npos);
  Shell bad = sh(kRream + " plugin check " REAM_TEST_PLUGIN_DIR "/bad/bad_future.so 2>&1");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("the plugin was built for ABI version 999, this ream speaks ABI version 1"), std::string::npos) << bad.out;
}

TEST_F(CliEndToEnd, ExamplePluginBuildsOutOfTreeAgainstAnInstalledReamAndRuns) {
  std::string prefix = local_.path("prefix"), build = local_.path("example-build");
  Shell inst = sh("cmake --install " REAM_BINARY_DIR " --prefix " + prefix + " --component ream_plugin_dev 2>&1");
  ASSERT_EQ(inst.status, 0) << inst.out;
  ASSERT_TRUE(std::filesystem::exists(prefix + "/include/ream/plugin.h"));
  Shell conf = sh("cmake -S " REAM_SOURCE_DIR "/plugins/example -B " + build + " -G Ninja -DCMAKE_PREFIX_PATH=" + prefix +
                " 2>&1");
  ASSERT_EQ(conf.status, 0) << conf.out;
  Shell make = sh("cmake --build " + build + " 2>&1");
  ASSERT_EQ(make.status, 0) << make.out;
  Shell check = sh(kRream + " plugin check " + build + "/keyword_spotter.so --params '{\"keyword\":\"Agreement\"}' 2>&1");
  ASSERT_EQ(check.status, 0) << check.out;
  EXPECT_NE(check.out.find("ok: keyword_spotter 0.1.0"), std::string::npos) << check.out;
  std::string db = local_.path("ex.db");
  Shell run = sh(kRream + " run " REAM_SOURCE_DIR "/plugins/example/workflow.yaml --plugins " + build + " --model " +
               model_ + " --doc " + quote(kContract) + " --input keyword=Agreement --db " + db + " --format json 2>&1 >/dev/null");
  ASSERT_EQ(run.status, 0) << run.out;
  int occurrences = std::stoi(query_one(db, "SELECT json_extract(outputs_json, '$.occurrences[0]') FROM jobs"));
  EXPECT_GT(occurrences, 5);
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM findings WHERE kind = 'occurrence'"), std::to_string(occurrences));
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM evidence WHERE verified = 1 AND quote = 'Agreement'"), std::to_string(occurrences));
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM findings WHERE kind = 'note'"), "1");
}

}  // namespace
}  // namespace ream
