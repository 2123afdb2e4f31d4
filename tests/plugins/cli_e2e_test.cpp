// End-to-end tests of `ream run` and `ream plugin check` with the REAL engine and
// a tiny random-weight model (`ream init-model --shape tiny`). The model's text is
// meaningless, so these check the machinery: prompts built, tokens counted and
// cached, findings parsed or parse failures recorded, rows committed once, resume
// after a real SIGKILL, and the example plugin built out of tree against an
// installed ream.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "test_util.h"

namespace ream {
namespace {

using nlohmann::json;
using test::query;
using test::exec_sql;
using test::query_one;

const std::string kRream = REAM_BINARY_DIR "/cli/ream";
const std::string kContract = REAM_TEST_DOCUMENTS_DIR "/cuad/contracts/ADUROBIOTECH,INC_06_02_2020-EX-10.7-CONSULTING AGREEMENT(1).txt";
const std::string kTenK =
    std::filesystem::path(REAM_TEST_DOCUMENTS_DIR "/edgar/aapl-10-k-2024-11-01.html").lexically_normal().string();
// The tiny model's context for the 10-K runs: 2,048 tokens makes the ~50K-token
// filing split into many chunks and keeps every prefill short on a CPU.
const std::string kSmallContext = " --max-model-len 2048";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Line `line` (1-based) of `text` from byte column `column` (1-based) on.
std::string at_line(const std::string& text, int64_t line, int64_t column) {
  size_t at = 0;
  for (int64_t l = 1; l < line && at != std::string::npos; ++l) {
    at = text.find('\n', at);
    if (at != std::string::npos) ++at;
  }
  if (at == std::string::npos || at + static_cast<size_t>(column - 1) > text.size()) return "";
  return text.substr(at + static_cast<size_t>(column - 1), 64);
}

// A small source tree as repositories hold them: code and docs to keep, and a
// .gitignore'd build folder, a log, vendored node_modules and a binary to skip.
std::string make_tree(const test::TempDir& dir) {
  namespace fs = std::filesystem;
  const std::string root = dir.path("app");
  for (const char* d : {"src", "docs", "build", "node_modules/left-pad"}) fs::create_directories(root + "/" + d);
  std::string py = "import re\nimport json\n\n";
  for (int i = 1; i <= 120; ++i) {
    py += "def handler_" + std::to_string(i) + "(request, rows):\n"
          "    for row in rows:\n"
          "        if re.compile(r'^id-" + std::to_string(i) + "').match(row):\n"
          "            return json.dumps({'row': row, 'n': " + std::to_string(i) + "})\n"
          "    return None\n\n";
  }
  dir.write("app/src/server.py", py);
  std::string js;
  for (int i = 1; i <= 60; ++i) js += "export function f" + std::to_string(i) + "(x) {\n  return x * " + std::to_string(i) + ";\n}\n\n";
  dir.write("app/src/util.js", js);
  dir.write("app/docs/README.md", "# App\n\nServes rows by id.\n");
  dir.write("app/.gitignore", "build/\n*.log\n");
  dir.write("app/build/generated.py", "GENERATED = True\n");
  dir.write("app/debug.log", "started\n");
  dir.write("app/node_modules/left-pad/index.js", "module.exports = (s) => s;\n");
  dir.write("app/src/logo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  return root;
}

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

// Runs `cmd` (through sh, which execs it) and sends it `sig` (SIGKILL unless told)
// from here once the store at `db` shows `committed` step runs succeeded and another
// running. Returns the exit status as Shell does (128 + SIGKILL when the kill landed).
int run_and_kill(const std::string& cmd, const std::string& db, int committed, int sig = SIGKILL) {
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    seen = query_one(db, "SELECT (SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded') = " +
                             std::to_string(committed) +
                             " AND EXISTS (SELECT 1 FROM step_runs WHERE status = 'running')") == "1";
    if (!seen) {
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) == pid) {  // ended before the moment came
        ADD_FAILURE() << "ream run ended before the store showed " << committed << " runs committed";
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  EXPECT_TRUE(seen) << "the store never showed " << committed << " runs committed and one running";
  kill(pid, sig);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
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
            "job_queued,document_ingested,job_started,document_plan,step_started,step_succeeded,job_succeeded");
  // stderr is a file: plain lines, no bar, and the final progress line holds the step's usage.
  const std::string err = read_all(local_.path("err.txt"));
  EXPECT_EQ(err.find_first_of("\r\033"), std::string::npos) << err;
  std::smatch m;
  const std::regex final_line("ream: progress: done in [\\dhms]+ \\| ([\\d,]+)/([\\d,]+) prompt tok .* \\| "
                              "([\\d,]+) tok generated .* \\| prompts (\\d+)/(\\d+) ");
  ASSERT_TRUE(std::regex_search(err, m, final_line)) << err;
  auto number = [](std::string s) { return std::stoll(std::regex_replace(s, std::regex(","), "")); };
  EXPECT_EQ(number(m[1]), std::stoll(run[0][2]));
  EXPECT_EQ(number(m[2]), std::stoll(run[0][2]));
  EXPECT_EQ(number(m[3]), std::stoll(run[0][3]));
  EXPECT_EQ(std::stoi(m[4]), prompts);
  EXPECT_EQ(std::stoi(m[5]), prompts);
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

TEST_F(CliEndToEnd, SummarizeA10KAndASourceTreeStoresDocumentsAndShowsTheContextPlan) {
  ASSERT_TRUE(std::filesystem::exists(kTenK)) << kTenK;
  const std::string tree = make_tree(local_), db = local_.path("sum.db"), err = local_.path("err.txt");
  Shell r = sh(kRream + " run " REAM_SOURCE_DIR "/workflows/summarize.yaml --model " + model_ + kSmallContext +
               " --doc " + quote(kTenK) + " --doc " + quote(tree) +
               " --input max_tokens=8 --input max_words=20 --db " + db + " --format json 2>" + err);
  ASSERT_EQ(r.status, 0) << r.out << read_all(err);
  json result = json::parse(r.out);
  EXPECT_EQ(result["job"]["status"], "succeeded");
  // The rows: what each document is, how big, how many tokens (the engine's
  // tokenizer), the content hash and the layout that maps text back to the source.
  auto docs = query(db, "SELECT media_type, size_bytes, token_count, length(content_hash), length(layout) > 0, "
                        "source_path, text FROM documents ORDER BY id");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0][0], "text/html");
  EXPECT_EQ(std::stoll(docs[0][1]), static_cast<long long>(std::filesystem::file_size(kTenK)));
  const int64_t tenk_tokens = std::stoll(docs[0][2]);
  EXPECT_GT(tenk_tokens, 20000);
  EXPECT_EQ(docs[0][3], "64");
  EXPECT_EQ(docs[0][4], "1");
  EXPECT_EQ(docs[0][5], kTenK);
  EXPECT_NE(docs[0][6].find("Total net sales"), std::string::npos);
  EXPECT_EQ(docs[0][6].find("<div"), std::string::npos);
  EXPECT_EQ(docs[1][0], "inode/directory");
  EXPECT_EQ(docs[1][5], tree);
  const std::string& tree_text = docs[1][6];
  EXPECT_NE(tree_text.find("==> src/server.py (Python) <=="), std::string::npos);
  EXPECT_NE(tree_text.find("==> src/util.js (JavaScript) <=="), std::string::npos);
  for (const char* gone : {"GENERATED", "left-pad", "started", "IHDR"}) EXPECT_EQ(tree_text.find(gone), std::string::npos) << gone;
  EXPECT_GT(std::stoll(docs[1][2]), 1000);
  auto ingested = query(db, "SELECT json_extract(data_json, '$.skipped_files') FROM job_events "
                            "WHERE type = 'document_ingested' ORDER BY id");
  ASSERT_EQ(ingested.size(), 2u);
  EXPECT_EQ(ingested[1][0], "4");  // build/, debug.log, node_modules/, logo.png
  // The context plan: the 10-K does not fit 2,048 tokens with the reply, so it is
  // cut into chunks within the budget; the tree does not fit either.
  auto plans = query(db, "SELECT data_json FROM job_events WHERE type = 'document_plan' ORDER BY id");
  ASSERT_EQ(plans.size(), 2u);
  json plan = json::parse(plans[0][0]);
  EXPECT_EQ(plan["document"], "doc-1");
  EXPECT_FALSE(plan["fits"].get<bool>());
  EXPECT_EQ(plan["tokens"].get<int64_t>(), tenk_tokens);
  const int64_t budget = plan["budget"];
  EXPECT_LT(budget, 2048 - 8 - 512);
  EXPECT_GT(budget, 1000);
  EXPECT_GT(plan["count"].get<int64_t>(), tenk_tokens / budget);
  int64_t sum = 0;
  for (const json& c : plan["chunks"]) {
    EXPECT_LE(c["tokens"].get<int64_t>(), budget);
    EXPECT_GT(c["tokens"].get<int64_t>(), 0);
    sum += c["tokens"].get<int64_t>();
  }
  EXPECT_GE(sum, tenk_tokens);  // overlap repeats a little of each chunk
  EXPECT_EQ(json::parse(plans[1][0])["document"], "doc-2");
  const std::string progress = read_all(err);
  EXPECT_NE(progress.find("ream: context plan: doc-1 (" ), std::string::npos) << progress;
  EXPECT_NE(progress.find(" chunks of at most "), std::string::npos) << progress;
  // The summaries themselves are noise from a random model; the machinery ran once per document.
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM findings WHERE kind = 'summary'"), "2");
  EXPECT_EQ(result["documents"][0]["media_type"], "text/html");
  EXPECT_EQ(result["documents"][1]["plan"]["chunk_tokens"].size(), json::parse(plans[1][0])["chunks"].size());
}

TEST_F(CliEndToEnd, ChunkedStepLocatesEvidenceInA10KAndASourceTree) {
  // testkit quotes the first 24 bytes of each chunk it is given, so every chunk
  // yields one quote to verify and locate; the engine still answers each prompt.
  const std::string tree = make_tree(local_), db = local_.path("loc.db"), err = local_.path("err.txt");
  const std::string wf = local_.write("locate.yaml", R"(name: locate
inputs:
  docs: {type: documents}
engine: {max_tokens: 4}
steps:
  - id: read
    plugin: testkit
    foreach: {chunks: "${{ inputs.docs }}"}
)");
  Shell r = sh(kRream + " run " + wf + " --plugins " REAM_TEST_PLUGIN_DIR "/good --model " + model_ + kSmallContext +
               " --doc " + quote(kTenK) + " --doc " + quote(tree) + " --db " + db + " --format json 2>" + err);
  ASSERT_EQ(r.status, 0) << r.out << read_all(err);
  json result = json::parse(r.out);
  // One chunk plan per document, as many runs as chunks.
  auto plans = query(db, "SELECT data_json FROM job_events WHERE type = 'chunk_plan' ORDER BY id");
  ASSERT_EQ(plans.size(), 2u);
  size_t chunks = 0;
  for (const auto& p : plans) chunks += json::parse(p[0])["chunks"].size();
  EXPECT_GT(json::parse(plans[0][0])["chunks"].size(), 10u);
  EXPECT_GE(json::parse(plans[1][0])["chunks"].size(), 2u);
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), std::to_string(chunks));
  EXPECT_NE(read_all(err).find("step read chunk plan: doc-1 ("), std::string::npos);
  // Every quote verified, with a place in its source that holds those very bytes.
  auto rows = query(db, "SELECT e.document_key, e.quote, e.verified, e.match_kind, e.source_path, e.source_line, "
                        "e.source_column, e.source_page FROM evidence e ORDER BY e.id");
  ASSERT_EQ(rows.size(), chunks);
  const std::string html = read_all(kTenK);
  size_t html_rows = 0, tree_rows = 0;
  for (const auto& row : rows) {
    EXPECT_EQ(row[2], "1") << row[1];
    EXPECT_EQ(row[3], "exact");
    EXPECT_EQ(row[7], "0");
    const int64_t line = std::stoll(row[5]), column = std::stoll(row[6]);
    EXPECT_GE(line, 1);
    EXPECT_GE(column, 1);
    // The quote's first word (or first byte): a run of text copied verbatim, which
    // maps byte for byte (what follows may be a decoded entity or a table separator).
    size_t word = 0;
    while (word < row[1].size() && std::isalnum(static_cast<unsigned char>(row[1][word]))) ++word;
    const std::string head = row[1].substr(0, std::max<size_t>(word, 1));
    if (row[0] == "doc-1") {
      ++html_rows;
      EXPECT_EQ(row[4], kTenK);
      EXPECT_EQ(at_line(html, line, column).rfind(head, 0), 0u)
          << "line " << line << ":" << column << " should start with '" << head << "'";
    } else {
      ++tree_rows;
      EXPECT_TRUE(row[4] == "src/server.py" || row[4] == "src/util.js" || row[4] == "docs/README.md" ||
                  row[4] == ".gitignore") << row[4];
      if (row[1].rfind("==> ", 0) == 0) continue;  // a file header is ream's, not the file's
      EXPECT_EQ(at_line(read_all(tree + "/" + row[4]), line, column).rfind(head, 0), 0u)
          << row[4] << ":" << line << ":" << column << " should start with '" << head << "'";
    }
  }
  EXPECT_GT(html_rows, 10u);
  EXPECT_GE(tree_rows, 2u);
  // The report carries the locations.
  EXPECT_EQ(result["summary"]["verified_quotes"].get<size_t>(), chunks);
  EXPECT_EQ(result["summary"]["unverified_quotes"], 0);
  const json& loc = result["findings"].back()["evidence"][0]["location"];
  EXPECT_EQ(loc["text"], loc["source"].get<std::string>() + ":" + std::to_string(loc["line"].get<int>()) + ":" +
                             std::to_string(loc["column"].get<int>()));
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
  // Three step runs; a kill while the next one runs is possible after the first two.
  for (int n = 1; n <= 2; ++n) {
    SCOPED_TRACE("killed after commit " + std::to_string(n));
    std::string db = local_.path("kill" + std::to_string(n) + ".db");
    std::string base = kRream + " run --model " + model_ + " --db " + db + " --format json";
    int killed = run_and_kill(base + " " + wf + " --doc " + quote(kContract) + " >/dev/null 2>&1", db, n);
    EXPECT_EQ(killed, 128 + SIGKILL);
    EXPECT_EQ(query_one(db, "SELECT status FROM jobs"), "running");
    // It ran under a lease of its own ("host:pid:start"), which died with it: the resume
    // below takes it over at once (the owner is a dead process of this host).
    EXPECT_EQ(query_one(db, "SELECT lease_owner LIKE '%:%:%' AND lease_expires_at > 0 FROM jobs"), "1");
    // The kill lands a moment after the store was read: the running step may have
    // committed since, never more.
    const int committed = std::stoi(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"));
    EXPECT_GE(committed, n);
    EXPECT_LE(committed, n + 1);
    std::string ids = query_one(db, "SELECT group_concat(id) FROM step_runs WHERE status = 'succeeded'");
    std::string before = query_one(db, "SELECT group_concat(id || ':' || attempt) FROM step_runs WHERE status = 'succeeded'");
    Shell resumed = sh(base + " --resume 1 2>/dev/null");
    ASSERT_EQ(resumed.status, 0) << resumed.out;
    EXPECT_EQ(query_one(db, "SELECT status || ':' || lease_owner FROM jobs"), "succeeded:");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), "3");
    // Committed runs were not run again (same ids, same attempt).
    EXPECT_EQ(query_one(db, "SELECT group_concat(id || ':' || attempt) FROM step_runs WHERE id IN (" + ids + ")"),
              before);
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM (SELECT step_run_id, seq FROM findings GROUP BY 1, 2 HAVING COUNT(*) > 1)"), "0");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM findings WHERE kind = 'summary'"), "2");
    EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE step_id = 'ask'"), "1");
  }
}

// Ctrl-C stops a run at once (its engine requests are cancelled) and leaves the job
// failed with "interrupted", to be resumed.
TEST_F(CliEndToEnd, CtrlCInterruptsARunThatResumesLater) {
  std::string wf = local_.write("two.yaml", R"(name: two
inputs:
  doc: {type: document}
engine: {max_tokens: 8}
steps:
  - {id: gist, plugin: summarize, with: {max_words: 20}}
  - {id: again, plugin: summarize, needs: gist, with: {max_words: 10}}
)");
  std::string db = local_.path("interrupt.db");
  std::string base = kRream + " run --model " + model_ + " --db " + db + " --format json";
  int status = run_and_kill(base + " " + wf + " --doc " + quote(kContract) + " >/dev/null 2>&1", db, 1, SIGINT);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(query_one(db, "SELECT status || ':' || error || ':' || lease_owner FROM jobs"),
            "failed:interrupted:");  // its lease given back
  // While a live process (this test's, as a reamd on the same database would) holds the
  // job's lease, a resume is refused and changes nothing.
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const std::string holder = std::string(host) + ":" + std::to_string(getpid()) + ":1";
  ASSERT_EQ(exec_sql(db, "UPDATE jobs SET lease_owner = '" + holder +
                             "', lease_expires_at = 9000000000000"),
            "");
  Shell refused = sh(base + " --resume 1 2>&1 >/dev/null");
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.out.find("job 1 is running in another process (its lease is held by '" + holder + "')"),
            std::string::npos)
      << refused.out;
  EXPECT_EQ(query_one(db, "SELECT status || ':' || lease_owner FROM jobs"), "failed:" + holder);
  ASSERT_EQ(exec_sql(db, "UPDATE jobs SET lease_owner = '', lease_expires_at = 0"), "");
  Shell resumed = sh(base + " --resume 1 2>/dev/null");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_EQ(query_one(db, "SELECT status FROM jobs"), "succeeded");
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), "2");
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

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// On a shipped domain plugin, `plugin check` shows what an author needs: the
// manifest, one prompt in full, the reply it was given, the findings parsed from a
// reply in the prompt's format (--reply), and at most a few warnings per call
// instead of one per prompt.
TEST_F(CliEndToEnd, PluginCheckOnAShippedPluginShowsPromptReplyAndFindings) {
  const std::string plugin = REAM_BINARY_DIR "/plugins/legal_review.so";
  Shell r = sh(kRream + " plugin check " + plugin + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("name:        legal_review"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--- user\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Reply with only this JSON object"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(the same for every prompt):\n{\"answer\": \"sample answer\""), std::string::npos) << r.out;
  const size_t calls = count_of(r.out, "reduce round ") + 1;
  EXPECT_LE(count_of(r.out, "  warning: "), 3 * calls) << r.out;
  EXPECT_NE(r.out.find("more warnings"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok: legal_review"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pass --reply"), std::string::npos) << r.out;

  const std::string reply = local_.path("legal-reply.json");
  std::ofstream(reply) << R"({"categories": [{"category": "Governing Law", "found": true, )"
                          R"("clauses": [{"quote": "This Agreement is governed by the laws of the State of New York.", )"
                          R"("section": "3"}], "answer": "New York", "risk": "high", "rationale": "Foreign law for us.", )"
                          R"("fallback": "Delaware law"}]})";
  Shell with = sh(kRream + " plugin check " + plugin + " --reply @" + reply + " 2>&1");
  ASSERT_EQ(with.status, 0) << with.out;
  EXPECT_NE(with.out.find("finding ["), std::string::npos) << with.out;
  EXPECT_NE(with.out.find("Governing Law"), std::string::npos) << with.out;
  // The closing line counts every warning: fewer once the replies follow the format.
  auto warnings = [](const std::string& out) {
    std::smatch m;
    return std::regex_search(out, m, std::regex(R"(ok: legal_review \S+ loads and runs: \d+ prompts, \d+ findings, (\d+) warnings)"))
               ? std::stoi(m[1]) : -1;
  };
  EXPECT_GT(warnings(r.out), 3) << r.out;
  EXPECT_GE(warnings(with.out), 0) << with.out;
  EXPECT_LT(warnings(with.out), warnings(r.out)) << with.out;
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


// One end-to-end run of each domain workflow with the tiny random model on real
// documents. The model's replies are noise, so these check the machinery: the run
// completes, prompts and tokens are counted, and every unusable reply is recorded as
// a warning rather than turned into an invented finding.
struct DomainRun {
  json result;
  std::vector<std::string> step;  // status, prompts, completion_tokens, cached_prompt_tokens, warnings
};

DomainRun run_domain(const std::string& model, const test::TempDir& local, const std::string& args) {
  DomainRun d;
  const std::string db = local.path("domain.db"), err = local.path("err.txt");
  Shell r = sh(kRream + " run " + args + " --model " + model + " --db " + db + " --format json 2>" + err);
  EXPECT_EQ(r.status, 0) << read_all(err);
  if (r.status != 0) return d;
  d.result = json::parse(r.out);
  auto rows = query(db, "SELECT status, prompts, completion_tokens, cached_prompt_tokens, "
                        "json_array_length(warnings_json) FROM step_runs");
  EXPECT_EQ(rows.size(), 1u);
  if (!rows.empty()) d.step = rows[0];
  // Findings only with evidence the host checked: none claims a verified quote it lacks.
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM evidence WHERE verified = 1 AND start_byte < 0"), "0");
  return d;
}

TEST_F(CliEndToEnd, LegalReviewTinyModelOnACuadContractCompletesAndRecordsWarnings) {
  DomainRun d = run_domain(model_, local_,
                           "legal_review --doc " + quote(kContract) +
                               " --input 'categories=Governing Law' --input 'categories=Parties'"
                               " --input 'categories=Expiration Date' --input categories_per_prompt=3"
                               " --input max_tokens=24");
  ASSERT_EQ(d.step.size(), 5u);
  EXPECT_EQ(d.result["job"]["status"], "succeeded");
  EXPECT_EQ(d.step[0], "succeeded");
  EXPECT_GE(std::stoi(d.step[1]), 2);                  // the category group and the executive summary
  EXPECT_GT(std::stoll(d.step[2]), 0);
  EXPECT_GT(std::stoll(d.step[3]), 1000);              // the summary reuses the contract prefix
  EXPECT_GE(std::stoi(d.step[4]), 1);                  // noise replies are warnings
}

TEST_F(CliEndToEnd, FinancialDiligenceTinyModelOnA10KCompletesAndRecordsWarnings) {
  DomainRun d = run_domain(model_, local_,
                           REAM_SOURCE_DIR "/workflows/financial_diligence.yaml" + kSmallContext + " --doc " +
                               quote(kTenK) + " --input areas=debt --input cross_check=false --input max_tokens=16");
  ASSERT_EQ(d.step.size(), 5u);
  EXPECT_EQ(d.result["job"]["status"], "succeeded");
  EXPECT_EQ(d.step[0], "succeeded");
  EXPECT_GE(std::stoi(d.step[1]), 10);                 // the filing is read in many parts at 2,048 tokens
  EXPECT_GE(std::stoi(d.step[4]), 1);
  EXPECT_EQ(d.result["documents"][0]["media_type"], "text/html");
}

TEST_F(CliEndToEnd, CodeAuditTinyModelOnThisRepositoryCompletesAndWritesSarif) {
  const std::string src = REAM_SOURCE_DIR "/engine/src/sched";
  DomainRun d = run_domain(model_, local_,
                           "code_audit --doc " + quote(src) + " --input languages=cpp --input max_tokens=24");
  ASSERT_EQ(d.step.size(), 5u);
  EXPECT_EQ(d.result["job"]["status"], "succeeded");
  EXPECT_GE(std::stoi(d.step[1]), 1);
  // The engine enforces the reply schema (issue 12): a 24-token reply is either complete
  // and valid (no warning) or cut by max_tokens (a warning); both are right.
  EXPECT_GT(std::stoll(d.step[2]), 0);
  // The same audit as SARIF is well formed even with no located finding.
  Shell s = sh(kRream + " run code_audit --doc " + quote(src) + " --input languages=cpp --input max_tokens=24" +
               " --model " + model_ + " --db " + local_.path("sarif.db") + " --format sarif 2>/dev/null");
  ASSERT_EQ(s.status, 0) << s.out;
  json sarif = json::parse(s.out);
  EXPECT_EQ(sarif["version"], "2.1.0");
  ASSERT_EQ(sarif["runs"].size(), 1u);
  EXPECT_EQ(sarif["runs"][0]["tool"]["driver"]["name"], "ream");
}

}  // namespace
}  // namespace ream
