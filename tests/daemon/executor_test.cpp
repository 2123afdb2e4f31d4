// Executor tests with SCRIPTED model replies (ScriptedModelClient): they check the
// machinery (DAG order, foreach, retries, timeouts, resume, plugin errors); the
// end-to-end tests with the real engine are in tests/plugins/cli_e2e_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "flow/executor.h"
#include "flow/job.h"
#include "flow/report.h"
#include "flow/workflow.h"
#include "ingest/ingest.h"
#include "ream/common/sha256.h"
#include "scripted_model.h"
#include "test_util.h"

namespace ream::flow {
namespace {

using nlohmann::json;
using test::query;
using test::query_one;
using test::ScriptedModelClient;
using test::ScriptedReply;

class ExecutorScripted : public ::testing::Test {
 protected:
  ExecutorScripted() {
    host_.load_dirs({REAM_TEST_PLUGIN_DIR "/good"});
    db_ = dir_.path("ream.db");
    store_ = std::move(store::Store::open(db_)).value();
  }

  // Creates and runs a job; returns its id.
  int64_t run(const std::string& yaml, json inputs, ScriptedModelClient& model, RunOptions opt = {}) {
    auto wf = parse_workflow(yaml, dir_.path("wf.yaml"), catalog_of(host_));
    EXPECT_TRUE(wf.ok()) << wf.status().message();
    if (!wf.ok()) return 0;
    JobRequest req;
    req.inputs = std::move(inputs);
    auto id = create_job(*store_, *wf, req, &model);
    EXPECT_TRUE(id.ok()) << id.status().message();
    if (!id.ok()) return 0;
    outcome_ = rerun(*id, model, opt);
    return *id;
  }
  JobOutcome rerun(int64_t id, ScriptedModelClient& model, RunOptions opt = {}) {
    Executor ex(*store_, host_, model);
    auto out = ex.run(id, opt);
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? *out : JobOutcome{};
  }
  std::string count(const std::string& sql) { return query_one(db_, sql); }

  test::TempDir dir_;
  std::string db_;
  plugins::PluginHost host_;
  std::unique_ptr<store::Store> store_;
  JobOutcome outcome_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const char* kDagYaml = R"(name: dag
inputs:
  doc: {type: document}
steps:
  - id: d
    plugin: testkit
    needs: [b, c]
    with: {tag: "${{ steps.b.outputs.reply }}+${{ steps.c.outputs.reply }}"}
  - id: b
    plugin: testkit
    needs: a
    with: {tag: "${{ steps.a.outputs.reply }}"}
  - id: c
    plugin: testkit
    needs: a
  - id: a
    plugin: testkit
outputs:
  joined: ${{ steps.d.outputs.tag }}
  from_b: ${{ steps.b.outputs.tag }}
)";

TEST_F(ExecutorScripted, DagRunsStepsAfterTheirNeedsAndPassesOutputs) {
  ScriptedModelClient model([](const ModelRequest&, int i) { return ScriptedReply{"r" + std::to_string(i)}; });
  std::string doc = dir_.write("doc.txt", "A short document about foxes and dogs.");
  run(kDagYaml, {{"doc", doc}}, model);
  ASSERT_EQ(outcome_.status, "succeeded") << outcome_.error;
  auto order = query(db_, "SELECT json_extract(data_json, '$.step') FROM job_events WHERE type = 'step_succeeded' ORDER BY id");
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0][0], "a");
  EXPECT_EQ(order[3][0], "d");
  EXPECT_EQ(outcome_.outputs["from_b"], "r0");  // a's reply flowed into b's parameter
  std::string joined = outcome_.outputs["joined"];
  EXPECT_TRUE(joined == "r1+r2" || joined == "r2+r1") << joined;
  EXPECT_EQ(count("SELECT COUNT(*) FROM findings"), "4");
  EXPECT_EQ(count("SELECT status FROM jobs"), "succeeded");
}

TEST_F(ExecutorScripted, ForeachOverChunksSendsEachChunkAndMapsEvidenceToTheDocument) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "Clause " + std::to_string(i) + " says the party shall comply.\n";
  std::string doc = dir_.write("long.txt", text);
  ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{"ok"}; }, 2000);
  run(R"(name: chunks
inputs:
  doc: {type: document}
steps:
  - id: map
    plugin: testkit
    foreach: {chunks: "${{ inputs.doc }}", chunk_tokens: 1000, overlap_tokens: 50}
outputs:
  counts: ${{ steps.map.outputs.count }}
)",
      {{"doc", doc}}, model);
  ASSERT_EQ(outcome_.status, "succeeded") << outcome_.error;
  int chunks = std::stoi(count("SELECT COUNT(*) FROM step_runs WHERE step_id = 'map'"));
  EXPECT_GE(chunks, 4);  // ~4000 tokens at 1000 a chunk
  EXPECT_EQ(outcome_.outputs["counts"].size(), static_cast<size_t>(chunks));
  for (const ModelRequest& r : model.requests()) {
    const std::string& body = r.messages[1].content;
    EXPECT_LT(body.size(), text.size() / 2);  // a chunk, not the whole document
    EXPECT_LE(static_cast<int64_t>(body.size()) / 4, 1100);
  }
  // Evidence: the first 24 bytes of each chunk, located at the chunk's offset in the whole document.
  auto rows = query(db_, "SELECT e.quote, e.start_byte, e.end_byte, e.verified, s.item_json FROM evidence e "
                         "JOIN findings f ON f.id = e.finding_id JOIN step_runs s ON s.id = f.step_run_id");
  ASSERT_EQ(rows.size(), static_cast<size_t>(chunks));
  for (const auto& row : rows) {
    int64_t start = std::stoll(row[1]), end = std::stoll(row[2]);
    EXPECT_EQ(row[3], "1");
    EXPECT_EQ(text.substr(start, end - start), row[0]);
    EXPECT_EQ(json::parse(row[4])["start"].get<int64_t>(), start);
  }
  // The plan is in the job's events: one chunk_plan for the step, its chunks cut
  // at line starts, each within the budget, overlapping the one before.
  auto plan = json::parse(count("SELECT data_json FROM job_events WHERE type = 'chunk_plan'"));
  EXPECT_EQ(plan["step"], "map");
  EXPECT_EQ(plan["document"], "doc-1");
  EXPECT_EQ(plan["budget"], 1000);
  EXPECT_EQ(plan["count"].get<int>(), chunks);
  ASSERT_EQ(plan["chunks"].size(), static_cast<size_t>(chunks));
  for (size_t i = 0; i < plan["chunks"].size(); ++i) {
    const json& c = plan["chunks"][i];
    int64_t start = c["start"], end = c["end"];
    EXPECT_LE(c["tokens"].get<int64_t>(), 1000);
    EXPECT_EQ(c["tokens"].get<int64_t>(), static_cast<int64_t>((end - start) / 4 + 1));  // the model's counter
    EXPECT_TRUE(start == 0 || text[static_cast<size_t>(start) - 1] == '\n') << "chunk " << i << " starts mid-line";
    if (i > 0) EXPECT_LT(start, plan["chunks"][i - 1]["end"].get<int64_t>());
  }
  EXPECT_EQ(plan["chunks"].back()["end"].get<int64_t>(), static_cast<int64_t>(text.size()));
  // And the job-level plan for the context (2000 tokens minus the reply's 1024 and
  // the margin leaves the 256-token floor): the document does not fit in one pass.
  auto doc_plan = json::parse(count("SELECT data_json FROM job_events WHERE type = 'document_plan'"));
  EXPECT_EQ(doc_plan["document"], "doc-1");
  EXPECT_FALSE(doc_plan["fits"].get<bool>());
  EXPECT_GT(doc_plan["count"].get<int>(), chunks);
}

TEST_F(ExecutorScripted, DocumentsAreIngestedAndBadOnesRecordedWhileTheOthersGoOn) {
  std::string html = dir_.write("filing.html",
      "<html><head><style>p{}</style></head><body><h1>Item 1A. Risk Factors</h1>"
      "<p>Our results &amp; margins may vary.</p><table><tr><td>Net sales</td><td>$</td><td>391,035</td></tr></table>"
      "</body></html>");
  std::string good = dir_.write("notes.md", "# Notes\n\nSupplier shall deliver.\n");
  std::string empty = dir_.write("blank.txt", "   \n");
  std::string docx = dir_.write("memo.docx", "PK\x03\x04");
  ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{"ok"}; });
  run(R"(name: many
inputs:
  docs: {type: documents}
steps:
  - {id: each, plugin: testkit, foreach: {documents: "${{ inputs.docs }}"}}
outputs:
  counts: ${{ steps.each.outputs.count }}
)",
      {{"docs", {html, empty, good, docx, dir_.path("missing.txt")}}}, model);
  ASSERT_EQ(outcome_.status, "succeeded") << outcome_.error;
  EXPECT_EQ(outcome_.outputs["counts"].size(), 2u);
  // Stored rows: media type, sizes, token count, content hash of the source, a layout.
  auto rows = query(db_, "SELECT d.media_type, d.size_bytes, d.token_count, d.content_hash, length(d.layout) > 0, "
                         "jd.key, d.source_path FROM documents d JOIN job_documents jd ON jd.document_id = d.id "
                         "ORDER BY jd.ordinal");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "text/html");
  EXPECT_EQ(rows[0][1], std::to_string(std::filesystem::file_size(html)));
  EXPECT_EQ(rows[0][3], sha256_hex(read_all(html)));
  EXPECT_EQ(rows[0][4], "1");
  EXPECT_EQ(rows[0][5], "doc-1");
  EXPECT_EQ(rows[1][0], "text/markdown");
  EXPECT_EQ(rows[1][5], "doc-2");
  EXPECT_EQ(rows[1][6], good);
  const std::string html_text = count("SELECT text FROM documents WHERE media_type = 'text/html'");
  EXPECT_EQ(rows[0][2], std::to_string(html_text.size() / 4 + 1));  // the model's counter
  EXPECT_NE(html_text.find("Our results & margins may vary."), std::string::npos) << html_text;
  EXPECT_EQ(html_text.find("p{}"), std::string::npos);
  // Each bad document: an event naming it and why; the job's report lists them.
  auto failed = query(db_, "SELECT json_extract(data_json, '$.path'), json_extract(data_json, '$.error') "
                           "FROM job_events WHERE type = 'document_failed' ORDER BY id");
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(failed[0][1], empty + ": empty document");
  EXPECT_EQ(failed[1][1], docx + ": unsupported document type (extension .docx)");
  EXPECT_EQ(failed[2][1], dir_.path("missing.txt") + ": no such file or folder");
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_events WHERE type = 'document_ingested'"), "2");
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_events WHERE type = 'document_plan'"), "2");
  auto report = job_result_json(*store_, 1);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ((*report)["summary"]["document_errors"], 3);
  EXPECT_EQ((*report)["documents"][0]["media_type"], "text/html");
  EXPECT_TRUE((*report)["documents"][0]["plan"]["fits"].get<bool>());
  auto md = job_result_markdown(*store_, 1);
  ASSERT_TRUE(md.ok());
  EXPECT_NE(md->find("- Not ingested: `" + docx + "` — " + docx + ": unsupported document type (extension .docx)"),
            std::string::npos) << *md;
  // When nothing of an input can be ingested there is no job, and every reason is given.
  auto wf = parse_workflow("name: one\ninputs:\n  docs: {type: documents}\nsteps:\n  - {id: a, plugin: testkit}\n",
                           "wf.yaml", catalog_of(host_));
  ASSERT_TRUE(wf.ok());
  auto none = create_job(*store_, *wf, {{{"docs", {empty, docx}}}, 0, ""}, &model);
  EXPECT_EQ(none.status().message(), "input 'docs': no document could be ingested: " + empty + ": empty document; " +
                                         docx + ": unsupported document type (extension .docx)");
}

TEST_F(ExecutorScripted, EvidenceGetsSourceLocationsAndUnlocatedQuotesAreCounted) {
  // testkit quotes the first 24 bytes of the text it was given: in a source tree
  // that is the header of the first file; with `foreach: chunks` each chunk's start.
  std::filesystem::create_directories(dir_.path("tree/src"));
  std::string code;
  for (int i = 1; i <= 300; ++i) code += "def f" + std::to_string(i) + "(x):\n    return x * " + std::to_string(i) + "\n\n";
  dir_.write("tree/src/a.py", code);
  dir_.write("tree/src/b.py", code);
  dir_.write("tree/.gitignore", "build/\n");
  std::filesystem::create_directories(dir_.path("tree/build"));
  dir_.write("tree/build/gen.py", "generated = True\n");
  ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{"ok"}; }, 20000);
  run(R"(name: tree
inputs:
  src: {type: document}
steps:
  - id: map
    plugin: testkit
    foreach: {chunks: "${{ inputs.src }}", chunk_tokens: 2000}
)",
      {{"src", dir_.path("tree")}}, model);
  ASSERT_EQ(outcome_.status, "succeeded") << outcome_.error;
  EXPECT_EQ(count("SELECT media_type FROM documents"), "inode/directory");
  auto ingested = json::parse(count("SELECT data_json FROM job_events WHERE type = 'document_ingested'"));
  EXPECT_EQ(ingested["parts"], 3);  // .gitignore, src/a.py, src/b.py; build/ is ignored
  EXPECT_EQ(ingested["skipped_files"], 1);
  // A cut falls on the boundary between the two files, and each chunk names the
  // file it starts in (for progress displays).
  const std::string all = count("SELECT text FROM documents");
  const auto b_header = static_cast<int64_t>(all.find("==> src/b.py (Python) <=="));
  auto plan = json::parse(count("SELECT data_json FROM job_events WHERE type = 'chunk_plan'"));
  ASSERT_GE(plan["chunks"].size(), 3u);
  bool cut_at_file = false;
  for (const json& c : plan["chunks"]) {
    cut_at_file = cut_at_file || c["end"].get<int64_t>() == b_header;
    const std::string heading = c["heading"];
    EXPECT_EQ(heading.rfind("==> ", 0), 0u) << plan.dump();
  }
  EXPECT_TRUE(cut_at_file) << plan.dump();
  EXPECT_EQ(plan["chunks"].back()["heading"], "==> src/b.py (Python) <==");
  auto rows = query(db_, "SELECT verified, match_kind, source_path, source_line, source_page FROM evidence");
  ASSERT_EQ(rows.size(), plan["chunks"].size());
  for (const auto& r : rows) {
    EXPECT_EQ(r[0], "1");
    EXPECT_EQ(r[1], "exact");
    EXPECT_TRUE(r[2] == ".gitignore" || r[2] == "src/a.py" || r[2] == "src/b.py") << r[2];
    EXPECT_GE(std::stoi(r[3]), 1);
    EXPECT_EQ(r[4], "0");
  }
  auto report = job_result_json(*store_, 1);
  ASSERT_TRUE(report.ok());
  bool in_b = false;
  for (const json& f : (*report)["findings"]) {
    const json& loc = f["evidence"][0]["location"];
    if (loc["source"] != "src/b.py") continue;
    in_b = true;
    EXPECT_EQ(loc["text"], "src/b.py:" + std::to_string(loc["line"].get<int>()) + ":" + std::to_string(loc["column"].get<int>()));
    // The quote is the text at that line of the file as written.
    const int line = loc["line"];
    size_t at = 0;
    for (int l = 1; l < line; ++l) at = code.find('\n', at) + 1;
    EXPECT_EQ(code.substr(at + loc["column"].get<size_t>() - 1, 10), f["evidence"][0]["quote"].get<std::string>().substr(0, 10));
  }
  EXPECT_TRUE(in_b);
  EXPECT_EQ((*report)["summary"]["unverified_quotes"], 0);
  EXPECT_EQ((*report)["summary"]["verified_quotes"], rows.size());
  auto md = job_result_markdown(*store_, 1);
  ASSERT_TRUE(md.ok());
  EXPECT_NE(md->find(", `src/b.py:"), std::string::npos) << *md;
}

TEST_F(ExecutorScripted, ForeachItemsAndWhenSkipsAStep) {
  ScriptedModelClient model([](const ModelRequest& r, int) { return ScriptedReply{"echo " + test::last_text(r).substr(test::last_text(r).find("item="))}; });
  run(R"(name: items
inputs:
  doc: {type: document}
  qs: {type: list, items: string}
  deep: {type: boolean, default: false}
steps:
  - id: each
    plugin: testkit
    foreach: {items: "${{ inputs.qs }}"}
    with: {tag: "${{ item }}"}
  - id: deep
    plugin: testkit
    needs: each
    when: inputs.deep
  - id: last
    plugin: testkit
    needs: deep
    with: {tag: "${{ steps.deep.status }}"}
outputs:
  tags: ${{ steps.each.outputs.tag }}
  deep: ${{ steps.last.outputs.tag }}
)",
      {{"doc", dir_.write("d.txt", "Doc text here.")}, {"qs", {"alpha", "beta", "gamma"}}}, model);
  ASSERT_EQ(outcome_.status, "succeeded") << outcome_.error;
  EXPECT_EQ(outcome_.outputs["tags"], json({"alpha", "beta", "gamma"}));
  EXPECT_EQ(outcome_.outputs["deep"], "skipped");
  EXPECT_EQ(count("SELECT status FROM step_runs WHERE step_id = 'deep'"), "skipped");
  EXPECT_EQ(count("SELECT COUNT(*) FROM step_runs WHERE step_id = 'each' AND status = 'succeeded'"), "3");
}

// Counts the prompts in flight (submitted, reply not yet delivered) whose text names an
// item starting with `prefix`, and keeps the largest count seen.
class InFlightCounter : public ScriptedModelClient {
 public:
  InFlightCounter(Script script, std::vector<std::string> prefixes)
      : ScriptedModelClient(std::move(script)), prefixes_(std::move(prefixes)), now_(prefixes_.size()),
        max_(prefixes_.size()) {}
  Result<uint64_t> submit(const ModelRequest& r, std::function<void(ModelReply)> done) override {
    const size_t k = which(test::last_text(r));
    if (k < prefixes_.size()) {
      std::lock_guard lock(mu_);
      max_[k] = std::max(max_[k], ++now_[k]);
    }
    return ScriptedModelClient::submit(r, [this, k, done = std::move(done)](ModelReply reply) {
      if (k < prefixes_.size()) {
        std::lock_guard lock(mu_);
        --now_[k];
      }
      done(std::move(reply));
    });
  }
  int max_in_flight(size_t k) {
    std::lock_guard lock(mu_);
    return max_[k];
  }

 private:
  size_t which(const std::string& text) const {
    for (size_t k = 0; k < prefixes_.size(); ++k)
      if (text.find("item=\"" + prefixes_[k]) != std::string::npos) return k;
    return prefixes_.size();
  }
  std::vector<std::string> prefixes_;
  std::mutex mu_;
  std::vector<int> now_, max_;
};

TEST_F(ExecutorScripted, StepParallelCapsItsRunsInFlight) {
  // Two independent foreach steps of 8 runs each on a pool of 6 workers; replies take
  // 100 ms. `capped` may have 2 runs in flight, `free` as many as the pool gives it.
  InFlightCounter model([](const ModelRequest&, int) { return ScriptedReply{"ok", Status(), 100}; }, {"c", "f"});
  RunOptions opt;
  opt.max_parallel = 6;
  run(R"(name: caps
inputs:
  doc: {type: document}
  cs: {type: list, items: string}
  fs: {type: list, items: string}
steps:
  - id: capped
    plugin: testkit
    parallel: 2
    foreach: {items: "${{ inputs.cs }}"}
  - id: free
    plugin: testkit
    foreach: {items: "${{ inputs.fs }}"}
)",
      {{"doc", dir_.write("d.txt", "Doc text here.")},
       {"cs", {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"}},
       {"fs", {"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"}}},
      model, opt);
  ASSERT_EQ(outcome_.status, "succeeded") << outcome_.error;
  EXPECT_EQ(count("SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), "16");
  EXPECT_EQ(model.max_in_flight(0), 2) << "capped step";
  EXPECT_GT(model.max_in_flight(1), 2) << "the uncapped step shares the pool";
}

TEST_F(ExecutorScripted, RetriesWithBackoffThenSucceed) {
  ScriptedModelClient model([](const ModelRequest&, int i) {
    return i < 2 ? ScriptedReply{"", internal_error("model exploded")} : ScriptedReply{"fine"};
  });
  auto t0 = std::chrono::steady_clock::now();
  run(R"(name: retry
inputs:
  doc: {type: document}
steps:
  - id: a
    plugin: testkit
    retry: {attempts: 3, backoff: 100ms, factor: 2}
)",
      {{"doc", dir_.write("d.txt", "Doc text here.")}}, model);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(outcome_.status, "succeeded") << outcome_.error;
  EXPECT_EQ(count("SELECT attempt || ':' || status FROM step_runs"), "3:succeeded");
  EXPECT_GE(secs, 0.3);  // 100 ms, then 200 ms
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_events WHERE type = 'step_retrying'"), "2");
  EXPECT_EQ(count("SELECT COUNT(*) FROM findings"), "1");
}

TEST_F(ExecutorScripted, RetriesExhaustedFailTheJobWithTheLastError) {
  ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{"", internal_error("model exploded")}; });
  run(R"(name: retry
inputs:
  doc: {type: document}
steps:
  - id: a
    plugin: testkit
    retry: {attempts: 2, backoff: 10ms}
  - id: b
    plugin: testkit
    needs: a
)",
      {{"doc", dir_.write("d.txt", "Doc text here.")}}, model);
  EXPECT_EQ(outcome_.status, "failed");
  EXPECT_EQ(outcome_.error, "step 'a' failed: prompt 'k0': model exploded");
  EXPECT_EQ(count("SELECT error FROM jobs"), "step 'a' failed: prompt 'k0': model exploded");
  EXPECT_EQ(count("SELECT attempt || ':' || status FROM step_runs WHERE step_id = 'a'"), "2:failed");
  EXPECT_EQ(count("SELECT COUNT(*) FROM step_runs WHERE step_id = 'b'"), "0");
}

TEST_F(ExecutorScripted, TimeoutCancelsPromptsInFlightAndFailsTheStep) {
  ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{"late", {}, 10000}; });
  auto t0 = std::chrono::steady_clock::now();
  run(R"(name: slow
inputs:
  doc: {type: document}
steps:
  - id: a
    plugin: testkit
    with: {prompts: 3}
    timeout: 200ms
)",
      {{"doc", dir_.write("d.txt", "Doc text here.")}}, model);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(outcome_.status, "failed");
  EXPECT_EQ(outcome_.error, "step 'a' failed: timed out after 0.2s");
  EXPECT_EQ(model.cancels_seen(), 3);
  EXPECT_LT(secs, 5.0);
}

TEST_F(ExecutorScripted, PluginErrorFailsItsStepWithThatMessage) {
  ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{"x"}; });
  run(R"(name: perr
inputs:
  doc: {type: document}
steps:
  - id: a
    plugin: testkit
    with: {mode: fail_plan, message: "the contract is missing its schedules"}
)",
      {{"doc", dir_.write("d.txt", "Doc text here.")}}, model);
  EXPECT_EQ(outcome_.status, "failed");
  EXPECT_EQ(outcome_.error,
            "step 'a' failed: plugin 'testkit' plan failed (failed): the contract is missing its schedules");
  EXPECT_EQ(count("SELECT error FROM step_runs"), outcome_.error);
  EXPECT_TRUE(model.requests().empty());
}

// An expression whose value grows past kMaxExprValueBytes (toJSON nested: each level
// doubles a backslash) fails its step, or the job at its outputs, with a message that
// names the call; before, evaluation built gigabytes with no end in sight.
TEST_F(ExecutorScripted, AnExpressionValuePastItsCapFailsTheStepThatUsesIt) {
  std::string deep = "inputs.s";
  for (int i = 0; i < 30; ++i) deep = "toJSON(" + deep + ")";
  const std::string doc = dir_.write("d.txt", "Doc text here.");
  const std::string head = "name: big\ninputs:\n  doc: {type: document}\n  s: {type: string}\nsteps:\n";
  struct Case {
    std::string where, yaml, error;
  };
  const std::vector<Case> cases = {
      {"with", "  - id: a\n    plugin: testkit\n    with: {tag: \"${{ " + deep + " }}\"}\n", "step 'a' failed: expression"},
      {"when", "  - id: a\n    plugin: testkit\n    when: \"${{ length(" + deep + ") > 0 }}\"\n",
       "step 'a': when: expression"},
      {"outputs", "  - id: a\n    plugin: testkit\noutputs:\n  x: \"${{ " + deep + " }}\"\n", "output 'x': expression"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.where);
    ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{"x"}; });
    run(head + c.yaml, {{"doc", doc}, {"s", "\\"}}, model);
    EXPECT_EQ(outcome_.status, "failed");
    EXPECT_TRUE(outcome_.error.starts_with(c.error)) << outcome_.error;
    EXPECT_NE(outcome_.error.find("more than the 16 MiB an expression's value may have"), std::string::npos)
        << outcome_.error;
    EXPECT_LT(outcome_.error.size(), 400u) << outcome_.error;
  }
}

TEST_F(ExecutorScripted, ReduceRoundsSendFollowUpPromptsAndCarryState) {
  ScriptedModelClient model([](const ModelRequest& r, int) { return ScriptedReply{"re:" + test::last_text(r).substr(0, 6)}; });
  run(R"(name: rounds
inputs:
  doc: {type: document}
steps:
  - id: a
    plugin: testkit
    with: {mode: rounds}
)",
      {{"doc", dir_.write("d.txt", "Doc text here.")}}, model);
  ASSERT_EQ(outcome_.status, "succeeded") << outcome_.error;
  ASSERT_EQ(model.requests().size(), 2u);
  EXPECT_EQ(model.requests()[1].text, "second round");
  EXPECT_EQ(count("SELECT text || ' ' || details_json FROM findings"), "re:second {\"round\":1,\"state\":{\"round\":1}}");
  EXPECT_EQ(count("SELECT prompts FROM step_runs"), "2");
}

TEST_F(ExecutorScripted, ResumeReusesCommittedStepsAndWritesNoDuplicateFindings) {
  bool b_fails = true;
  ScriptedModelClient model([&](const ModelRequest& r, int) {
    bool is_b = test::last_text(r).find("<doc>") != std::string::npos && r.tag.find("step b") != std::string::npos;
    return is_b && b_fails ? ScriptedReply{"", unavailable("engine went away")} : ScriptedReply{"fine"};
  });
  int64_t job = run(R"(name: resume
inputs:
  doc: {type: document}
steps:
  - {id: a, plugin: testkit, with: {findings: 2}}
  - {id: b, plugin: testkit, needs: a, with: {findings: 3}}
  - {id: c, plugin: testkit, needs: b}
)",
                    {{"doc", dir_.write("d.txt", "Doc text here.")}}, model);
  ASSERT_EQ(outcome_.status, "failed");
  EXPECT_EQ(count("SELECT COUNT(*) FROM findings"), "2");
  size_t calls_before = model.requests().size();
  b_fails = false;
  outcome_ = rerun(job, model);
  ASSERT_EQ(outcome_.status, "succeeded") << outcome_.error;
  EXPECT_EQ(model.requests().size(), calls_before + 2);  // b and c only; a was not run again
  EXPECT_EQ(count("SELECT attempt FROM step_runs WHERE step_id = 'a'"), "1");
  EXPECT_EQ(count("SELECT attempt FROM step_runs WHERE step_id = 'b'"), "2");
  EXPECT_EQ(count("SELECT COUNT(*) FROM findings"), "6");
  EXPECT_EQ(count("SELECT COUNT(*) FROM (SELECT step_run_id, seq FROM findings GROUP BY 1, 2 HAVING COUNT(*) > 1)"), "0");
  // A finished job is not run again.
  Executor ex(*store_, host_, model);
  EXPECT_EQ(ex.run(job, {}).status().message(), "job " + std::to_string(job) + " has already succeeded");
}

TEST_F(ExecutorScripted, InputsAreCheckedBeforeAnythingRuns) {
  auto wf = parse_workflow("name: in\ninputs:\n  doc: {type: document}\n  n: {type: integer, maximum: 5}\n"
                           "steps:\n  - {id: a, plugin: testkit}\n",
                           "wf.yaml", catalog_of(host_));
  ASSERT_TRUE(wf.ok());
  ScriptedModelClient model([](const ModelRequest&, int) { return ScriptedReply{"x"}; });
  auto create = [&](json in) { return create_job(*store_, *wf, {in, 0, ""}, &model).status().message(); };
  EXPECT_EQ(create({{"n", 1}}), "missing required input 'doc'");
  EXPECT_EQ(create({{"doc", "/nonexistent/file.txt"}, {"n", 1}}), "/nonexistent/file.txt: no such file or folder");
  EXPECT_EQ(create({{"doc", dir_.write("a.txt", "x")}, {"n", 9}}), "input 'n' must be at most 5");
  EXPECT_EQ(create({{"doc", dir_.write("b.txt", "x")}, {"n", "two"}}), "input 'n' must be an integer (got \"two\")");
  EXPECT_EQ(create({{"doc", dir_.write("c.txt", "x")}, {"m", 1}}), "unknown input 'm' for workflow 'in'");
  EXPECT_EQ(create({{"doc", dir_.write("e.txt", std::string("a\0b", 3))}, {"n", 1}}), dir_.path("e.txt") + ": binary (NUL bytes), not a text document");
  EXPECT_EQ(create({{"doc", dir_.write("m.docx", "PK")}, {"n", 1}}), dir_.path("m.docx") + ": unsupported document type (extension .docx)");
  auto args = inputs_from_args(*wf, {"n=3"}, {dir_.path("a.txt")});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, json({{"n", 3}, {"doc", dir_.path("a.txt")}}));
  // An engine setting over the inputs whose value passes an expression's size cap is
  // refused at submission, as one out of its range is.
  std::string deep = "inputs.s";
  for (int i = 0; i < 30; ++i) deep = "toJSON(" + deep + ")";
  auto big = parse_workflow("name: big\ninputs:\n  doc: {type: document}\n  s: {type: string}\n"
                            "engine: {max_tokens: \"${{ length(" + deep + ") }}\"}\n"
                            "steps:\n  - {id: a, plugin: testkit}\n",
                            "wf.yaml", catalog_of(host_));
  ASSERT_TRUE(big.ok()) << big.status().message();
  auto refused = create_job(*store_, *big, {{{"doc", dir_.path("a.txt")}, {"s", "\\"}}, 0, ""}, &model);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().message().starts_with("engine 'max_tokens': expression 'length(toJSON(")) << refused.status().message();
  EXPECT_NE(refused.status().message().find("more than the 16 MiB"), std::string::npos) << refused.status().message();
}

}  // namespace
}  // namespace ream::flow
