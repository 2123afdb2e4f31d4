// Bounds on what the real reamd accepts (the hardening issue, item 8): wrong JSON types
// in a job body, non-integer query parameters, out-of-range sampling fields in chat,
// whitespace-only documents, engine settings an input pushes out of range, and two
// workflow files that declare one name. Each is a 400 (or a refused start or reload)
// whose message says what was wrong and whose `field` names the input, never a 500,
// a silent truncation or a silently shadowed workflow.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "daemon_harness.h"

namespace ream::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void expect_400(const HttpResult& r, const std::string& field, const std::vector<std::string>& parts) {
  EXPECT_EQ(r.status, 400u) << r.body;
  json j = r.json();
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
  EXPECT_EQ(j["error"]["code"], "invalid_request") << r.body;
  EXPECT_EQ(j["error"].value("field", ""), field) << r.body;
  const std::string msg = j["error"].value("message", "");
  for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

size_t files_in(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
  return n;
}

class BoundsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    ASSERT_FALSE(tiny_model_dir().empty()) << "ream init-model failed";
    daemon_ = new Daemon(tmp_->path() + "/data", "queue:\n  runners: 1\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    daemon_->signal(SIGTERM);
    EXPECT_EQ(daemon_->wait_exit(), 0) << daemon_->log();
    delete daemon_;
    delete tmp_;
  }
  static json summarize(const json& documents, const json& extra = json::object()) {
    json inputs = {{"documents", documents}};
    inputs.update(extra);
    return {{"workflow", "summarize"}, {"inputs", inputs}};
  }
  static TempDir* tmp_;
  static Daemon* daemon_;
};
TempDir* BoundsTest::tmp_ = nullptr;
Daemon* BoundsTest::daemon_ = nullptr;

TEST_F(BoundsTest, WrongTypesInAJobBodyAre400sNamingTheField) {
  Daemon& d = *daemon_;
  const std::string text = "The licensee shall pay the fee within thirty days of notice.";
  // Before: a 500 (nlohmann type_error escaped the handler).
  expect_400(d.post("/v1/jobs", summarize({{{"text", text}, {"name", 123}}})), "inputs.documents[0].name",
             {"input 'documents'[0].name", "expected a string", "123"});
  expect_400(d.post("/v1/jobs", summarize({{{"text", 7}}})), "inputs.documents[0].text", {"expected a string"});
  expect_400(d.post("/v1/jobs", summarize({{{"text", text}, {"nmae", "a.md"}}})), "inputs.documents[0]",
             {"unknown field 'nmae'", "text, name"});
  expect_400(d.post("/v1/jobs", summarize({{{"document_id", 5}}})), "inputs.documents[0].document_id",
             {"expected a string"});
  // 2^64-1 read as int64 was -1, inside -1000..1000.
  expect_400(d.post("/v1/jobs", json{{"workflow", "summarize"}, {"priority", UINT64_MAX},
                                     {"inputs", {{"documents", {{{"text", text}}}}}}}),
             "priority", {"-1000..1000"});
  // A number input that drives an engine setting out of range (max_tokens: ${{ inputs.max_tokens }}).
  expect_400(d.post("/v1/jobs", summarize({{{"text", text}}}, {{"max_tokens", 100000000000}})),
             "inputs.max_tokens", {"engine 'max_tokens'", "100000000000", "1..262144"});
  // The well-formed request still goes through.
  EXPECT_EQ(d.post("/v1/jobs", summarize({{{"text", text}, {"name", "n.md"}}}, {{"max_tokens", 4}})).status, 202u);
}

TEST_F(BoundsTest, QueryIntegersAreParsedStrictly) {
  Daemon& d = *daemon_;
  // Before: std::stoi read "5abc" as 5.
  expect_400(d.get("/v1/jobs?limit=5abc"), "limit", {"'limit'", "1..1000", "'5abc'"});
  expect_400(d.get("/v1/jobs?limit=%2B5"), "limit", {"'limit'"});
  expect_400(d.get("/v1/jobs?limit=0"), "limit", {"1..1000"});
  expect_400(d.get("/v1/jobs?limit=99999999999999999999"), "limit", {"'limit'"});
  expect_400(d.get("/v1/jobs?cursor=12x"), "cursor", {"'cursor'", "'12x'"});
  expect_400(d.get("/v1/jobs?cursor=-3"), "cursor", {"'cursor'"});
  EXPECT_EQ(d.get("/v1/jobs?limit=5&cursor=0").status, 200u);
  auto job = d.post("/v1/jobs", summarize({{{"text", "a short note about payment terms"}}}, {{"max_tokens", 2}}));
  ASSERT_EQ(job.status, 202u) << job.body;
  const std::string events = "/v1/jobs/" + std::to_string(job.json()["id"].get<int64_t>()) + "/events";
  expect_400(d.get(events + "?after=3x"), "after", {"'after'", "'3x'"});
}

TEST_F(BoundsTest, OutOfRangeSamplingFieldsAre400sNamingFieldAndRange) {
  Daemon& d = *daemon_;
  auto chat = [&](const json& extra) {
    json b = {{"messages", {{{"role", "user"}, {"content", "Say hi"}}}}, {"max_tokens", 2}};
    b.update(extra);
    return d.post("/v1/chat/completions", b);
  };
  // Before: get<int32_t> kept the low 32 bits of 2^40, i.e. top_k 0 (off).
  expect_400(chat({{"top_k", int64_t{1} << 40}}), "top_k", {"0..1000000", "1099511627776"});
  expect_400(chat({{"top_k", -1}}), "top_k", {"0..1000000"});
  expect_400(chat({{"top_k", 2.5}}), "top_k", {"integer"});
  expect_400(chat({{"temperature", 1e39}}), "temperature", {"[0, 100]"});
  expect_400(chat({{"temperature", "hot"}}), "temperature", {"[0, 100]"});
  expect_400(chat({{"top_p", 0}}), "top_p", {"(0, 1]"});
  expect_400(chat({{"min_p", 1.5}}), "min_p", {"[0, 1]"});
  expect_400(chat({{"repetition_penalty", 0}}), "repetition_penalty", {"(0, 10]"});
  expect_400(chat({{"max_tokens", 2.5}}), "max_tokens", {"integer in 1.."});
  expect_400(chat({{"max_tokens", int64_t{1} << 40}}), "max_tokens", {"integer in 1..", "context tokens"});
  expect_400(chat({{"max_completion_tokens", 0}}), "max_completion_tokens", {"integer in 1.."});
  expect_400(chat({{"seed", -1}}), "seed", {"0..18446744073709551615"});
  expect_400(chat({{"seed", 1.5}}), "seed", {"integer"});
  expect_400(chat({{"n", 0}}), "n", {"1..128"});
  expect_400(chat({{"n", 129}}), "n", {"1..128"});
  expect_400(chat({{"n", "1"}}), "n", {"1..128"});
  expect_400(chat({{"stream", "yes"}}), "stream", {"true or false"});
  expect_400(chat({{"stop", 5}}), "stop", {"string or a list of strings"});
  // The edges themselves are accepted.
  auto ok = chat({{"top_k", 1000000}, {"seed", UINT64_MAX}, {"temperature", 0}, {"top_p", 1}});
  EXPECT_EQ(ok.status, 200u) << ok.body;
}

TEST_F(BoundsTest, WhitespaceOnlyDocumentsAreRefusedAndNothingIsStored) {
  Daemon& d = *daemon_;
  const std::string docs = d.data_dir() + "/documents";
  const size_t before = files_in(docs);
  // Before: a 201 and a stored document with nothing to review.
  auto raw = http_request(d.port(), "POST", "/v1/documents?name=blank.md", " \n\t \r\n  \n",
                          {{"Content-Type", "text/markdown"}});
  expect_400(raw, "file", {"empty", "whitespace"});
  auto bom = http_request(d.port(), "POST", "/v1/documents?name=bom.txt", "\xEF\xBB\xBF   \n",
                          {{"Content-Type", "text/plain"}});
  expect_400(bom, "file", {"empty"});
  expect_400(d.post("/v1/jobs", summarize({{{"text", "   \n\n\t"}}})), "inputs.documents[0].text",
             {"empty", "whitespace"});
  EXPECT_EQ(files_in(docs), before);
  auto real = http_request(d.port(), "POST", "/v1/documents?name=one.md", "  one word  \n",
                           {{"Content-Type", "text/markdown"}});
  EXPECT_EQ(real.status, 201u) << real.body;
}

// A copy of the shipped summarize workflow under another file name: the same name twice.
std::string write_duplicate(const std::string& dir) {
  fs::create_directories(dir);
  const std::string path = dir + "/my_summarize.yaml";
  fs::copy_file(std::string(REAM_SOURCE_DIR) + "/workflows/summarize.yaml", path);
  // Its reply_schema is a path relative to the workflow: the schemas come along.
  if (!fs::exists(dir + "/schemas")) fs::copy(std::string(REAM_SOURCE_DIR) + "/workflows/schemas", dir + "/schemas");
  return path;
}

TEST(DaemonWorkflowNames, TwoFilesWithOneNameRefuseTheStart) {
  TempDir tmp;
  const std::string dup = write_duplicate(tmp.path() + "/extra");
  Daemon d(tmp.path() + "/data");
  d.add_workflow_dir(tmp.path() + "/extra");
  // Before: reamd started and my_summarize.yaml was silently ignored.
  ASSERT_FALSE(d.start(false, 30)) << "reamd started with two workflows named 'summarize'";
  const std::string log = d.log();
  EXPECT_NE(log.find("refusing to start"), std::string::npos) << log;
  EXPECT_NE(log.find("workflow 'summarize' is defined twice"), std::string::npos) << log;
  EXPECT_NE(log.find(std::string(REAM_SOURCE_DIR) + "/workflows/summarize.yaml"), std::string::npos) << log;
  EXPECT_NE(log.find(dup), std::string::npos) << log;
}

TEST(DaemonWorkflowNames, ADuplicateAtReloadIsRefusedAndTheLoadedCatalogStays) {
  TempDir tmp;
  const std::string extra = tmp.path() + "/extra";
  fs::create_directories(extra);
  Daemon d(tmp.path() + "/data");
  d.add_workflow_dir(extra);
  ASSERT_TRUE(d.start(false)) << d.log();
  const std::string dup = write_duplicate(extra);
  auto r = http_request(d.port(), "POST", "/v1/admin/reload");
  EXPECT_EQ(r.status, 409u) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "conflict") << r.body;
  EXPECT_NE(r.body.find(dup), std::string::npos) << r.body;
  auto wf = d.get("/v1/workflows/summarize");
  ASSERT_EQ(wf.status, 200u) << wf.body;
  EXPECT_EQ(wf.body.find(dup), std::string::npos) << "the duplicate replaced the loaded workflow";
  // A workflow file with an engine setting out of range is a load error naming file and line.
  fs::remove(dup);
  std::ofstream(extra + "/huge.yaml") << "name: huge\nengine:\n  max_tokens: 100000000000\n"
                                         "steps:\n  - {id: a, plugin: summarize}\n";
  r = http_request(d.port(), "POST", "/v1/admin/reload");
  ASSERT_EQ(r.status, 200u) << r.body;
  const std::string errors = r.json()["errors"].dump();
  EXPECT_NE(errors.find(extra + "/huge.yaml:3:15: engine 'max_tokens' must be an integer in 1..262144"),
            std::string::npos) << errors;
  EXPECT_EQ(d.get("/v1/workflows/huge").status, 404u);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.log();
}

}  // namespace
}  // namespace ream::testing
