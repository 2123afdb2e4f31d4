// The commands a user reads in README.md and docs/api.md, run against a real reamd
// (the tiny random-weight model, as the other daemon tests start it). Every fenced
// sh block that talks to a daemon (curl against $R, localhost or 127.0.0.1) runs as
// one bash script with `set -euo pipefail` and a `curl` that fails on any HTTP error
// (--fail-with-body). A block preceded by `<!-- not-tested: reason -->` is left out;
// the substitutions and the marker are documented in tests/docs/README.md.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon_harness.h"
#include "make_pdf.h"

namespace ream::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Block {
  std::string where;    // file:line of the opening fence
  std::string text;
  std::string skipped;  // the not-tested reason, or ""
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool talks_to_daemon(const std::string& text) {
  return text.find("curl ") != std::string::npos &&
         (text.find("$R") != std::string::npos || text.find("localhost:") != std::string::npos ||
          text.find("127.0.0.1:") != std::string::npos);
}

// The ```sh blocks of a Markdown file that talk to a daemon, with their markers.
std::vector<Block> daemon_blocks(const std::string& rel) {
  std::istringstream in(read_text(std::string(REAM_SOURCE_DIR) + "/" + rel));
  std::vector<Block> out;
  std::string line, marker;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("<!-- not-tested:", 0) == 0) {
      marker = line.substr(16, line.find("-->") - 16);
      continue;
    }
    if (line.rfind("```sh", 0) != 0) {
      if (!line.empty()) marker.clear();  // a marker applies to the very next block
      continue;
    }
    Block b{rel + ":" + std::to_string(n), "", marker};
    marker.clear();
    while (std::getline(in, line) && line.rfind("```", 0) != 0) {
      ++n;
      b.text += line + "\n";
    }
    ++n;
    if (talks_to_daemon(b.text) || !b.skipped.empty()) out.push_back(std::move(b));
  }
  return out;
}

void replace_all(std::string* s, const std::string& from, const std::string& to) {
  for (size_t at = s->find(from); at != std::string::npos; at = s->find(from, at + to.size())) s->replace(at, from.size(), to);
}

struct Proc {
  int status = -1;
  std::string output;
};

Proc run_bash(const std::string& script_path, const std::string& log_path) {
  Proc r;
  const int st = std::system(("timeout 120 bash " + script_path + " >" + log_path + " 2>&1").c_str());
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  r.output = read_text(log_path);
  return r;
}

class DocsExamples : public ::testing::Test {
 protected:
  void SetUp() override {
    contracts_ = tmp_.path() + "/contracts";
    work_ = tmp_.path() + "/work";
    bin_ = tmp_.path() + "/bin";
    for (const std::string& d : {contracts_, work_, bin_}) fs::create_directories(d);
    const std::string docs = REAM_TEST_DOCUMENTS_DIR;
    fs::copy_file(docs + "/cuad/contracts/ADUROBIOTECH,INC_06_02_2020-EX-10.7-CONSULTING AGREEMENT(1).txt",
                  contracts_ + "/msa.txt");
    fs::copy_file(docs + "/edgar/aapl-10-k-2024-11-01.html", contracts_ + "/10-k.html");
    fs::copy_file(contracts_ + "/msa.txt", work_ + "/contract.md");
    std::ofstream(work_ + "/msa.pdf", std::ios::binary)
        << ingest::testing::make_pdf({{"MASTER SERVICES AGREEMENT"}, {"Either party may terminate on notice."}});
    // curl that fails on HTTP errors, ahead of the real one on PATH.
    std::ofstream(bin_ + "/curl") << "#!/bin/sh\nexec /usr/bin/curl --fail-with-body \"$@\"\n";
    fs::permissions(bin_ + "/curl", fs::perms::owner_all);
  }

  // Starts reamd (one runner, the contracts folder allowed) and makes a finished job.
  void start() {
    daemon_ = std::make_unique<Daemon>(tmp_.path() + "/data", "queue:\n  runners: 1\n");
    daemon_->add_arg("--allowed-root");
    daemon_->add_arg(contracts_);
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    auto up = http_request(daemon_->port(), "POST", "/v1/documents?name=contract.md", read_text(work_ + "/contract.md"),
                           {{"Content-Type", "text/markdown"}});
    ASSERT_EQ(up.status, 201u) << up.body;
    doc_id_ = up.json()["id"];
    auto job = daemon_->post("/v1/jobs", {{"workflow", "long_qa"},
                                          {"inputs", {{"document", {{"document_id", doc_id_}}},
                                                      {"questions", {"Who may terminate?"}}}}});
    ASSERT_EQ(job.status, 202u) << job.body;
    job_id_ = job.json()["id"];
    json done = wait_job(*daemon_, job_id_);
    ASSERT_TRUE(done.is_object() && done["status"] == "succeeded") << done.dump() << daemon_->log();
  }

  // A job that is still queued: one long job takes the only runner, this one waits.
  int64_t queued_job() {
    auto busy = daemon_->post("/v1/jobs", {{"workflow", "summarize"}, {"inputs", {{"documents", {contracts_ + "/10-k.html"}}}}});
    EXPECT_EQ(busy.status, 202u) << busy.body;
    busy_job_ = busy.json().value("id", int64_t{0});
    auto target = daemon_->post("/v1/jobs", {{"workflow", "summarize"}, {"inputs", {{"documents", {contracts_ + "/msa.txt"}}}}});
    EXPECT_EQ(target.status, 202u) << target.body;
    return target.json().value("id", int64_t{0});
  }

  // The block with the documented substitutions applied (tests/docs/README.md).
  std::string substitute(std::string text) {
    const std::string addr = "127.0.0.1:" + std::to_string(daemon_->port());
    replace_all(&text, "localhost:8080", addr);
    replace_all(&text, "127.0.0.1:8080", addr);
    replace_all(&text, "/srv/contracts/", contracts_ + "/");
    replace_all(&text, "3f9c\xE2\x80\xA6", doc_id_);
    // Only a block that deletes /v1/jobs/17 needs the queued job (not one deleting a schedule).
    const bool deletes_job = text.find("-X DELETE") != std::string::npos && text.find("/v1/jobs/17") != std::string::npos;
    const int64_t job = deletes_job ? queued_job() : job_id_;
    replace_all(&text, "/v1/jobs/17", "/v1/jobs/" + std::to_string(job));
    return text;
  }

  Proc run_block(const Block& b, int index) {
    const std::string script = tmp_.path() + "/block" + std::to_string(index) + ".sh";
    std::ofstream(script) << "set -euo pipefail\nexport PATH='" << bin_ << "':\"$PATH\"\n"
                          << "export R=http://127.0.0.1:" << daemon_->port() << "\ncd '" << work_ << "'\n"
                          << substitute(b.text);
    Proc r = run_bash(script, script + ".log");
    if (busy_job_ > 0) {  // free the runner and the engine for the blocks that follow
      http_request(daemon_->port(), "DELETE", "/v1/jobs/" + std::to_string(busy_job_));
      busy_job_ = 0;
    }
    return r;
  }

  TempDir tmp_;
  std::string contracts_, work_, bin_, doc_id_;
  int64_t job_id_ = 0;
  int64_t busy_job_ = 0;  // the job queued_job() made to hold the runner
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(DocsExamples, EveryDaemonCommandOfTheReadmeAndTheApiDocRuns) {
  ASSERT_EQ(std::system("command -v jq >/dev/null"), 0) << "jq is needed by docs/api.md (scripts/setup.sh installs it)";
  start();
  if (HasFatalFailure()) return;
  int ran = 0, skipped = 0, index = 0;
  for (const std::string file : {"README.md", "docs/api.md"}) {
    for (const Block& b : daemon_blocks(file)) {
      if (!b.skipped.empty()) {
        ++skipped;
        EXPECT_NE(b.skipped.find_first_not_of(' '), std::string::npos) << b.where << ": a not-tested marker needs a reason";
        continue;
      }
      Proc r = run_block(b, index++);
      EXPECT_EQ(r.status, 0) << b.where << "\n" << b.text << "--- output:\n" << r.output;
      ++ran;
    }
  }
  EXPECT_GE(ran, 11) << "fewer daemon examples found than the docs hold";
  EXPECT_LE(skipped, 2) << "exclusions should stay few";
}

// What ream prints, run as a process: stdout and the exit status.
Proc run_ream(const std::string& args) {
  const std::string log = fs::temp_directory_path() / ("ream-docs-" + std::to_string(::getpid()) + ".out");
  Proc r;
  const int st = std::system((std::string(REAM_BINARY_DIR) + "/cli/ream " + args + " >" + log + " 2>/dev/null").c_str());
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  r.output = read_text(log);
  fs::remove(log);
  return r;
}

std::vector<std::string> shipped_workflows() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(std::string(REAM_SOURCE_DIR) + "/workflows"))
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  return names;
}

// The README points only at files of the repository, and they exist.
TEST(DocsFacts, ReadmeNamesOnlyFilesThatExistInTheRepository) {
  const std::string readme = read_text(std::string(REAM_SOURCE_DIR) + "/README.md");
  EXPECT_EQ(readme.find("../"), std::string::npos) << "the README points outside the repository";
  for (const char* path : {"docs/architecture.md", "docs/api.md", "docs/operations.md", "docs/workflows.md",
                           "docs/plugins.md", "docs/ingestion.md", "docs/domain_workflows.md"}) {
    EXPECT_NE(readme.find(std::string("`") + path + "`"), std::string::npos) << path;
    EXPECT_TRUE(fs::exists(std::string(REAM_SOURCE_DIR) + "/" + path)) << path;
  }
  // docs/architecture.md holds the design the README sends readers to.
  const std::string arch = read_text(std::string(REAM_SOURCE_DIR) + "/docs/architecture.md");
  for (const char* section : {"## Layout", "## Boundaries", "## How a job flows"})
    EXPECT_NE(arch.find(section), std::string::npos) << section;
}

// Every workflow of workflows/ is listed by `ream run --help` and docs/workflows.md.
TEST(DocsFacts, EveryShippedWorkflowIsListed) {
  const Proc help = run_ream("run --help");
  EXPECT_EQ(help.status, 0);
  const std::string doc = read_text(std::string(REAM_SOURCE_DIR) + "/docs/workflows.md");
  const std::vector<std::string> names = shipped_workflows();
  EXPECT_GE(names.size(), 5u);
  for (const std::string& n : names) {
    EXPECT_NE(help.output.find(n), std::string::npos) << n << " missing from ream run --help:\n" << help.output;
    EXPECT_NE(doc.find("`" + n + ".yaml`"), std::string::npos) << n << " missing from docs/workflows.md";
  }
}

// `ream --help` prints to stdout, exits 0 and lists every option each command's
// own --help lists.
TEST(DocsFacts, ReamHelpListsEveryOptionOnStdout) {
  const Proc top = run_ream("--help");
  EXPECT_EQ(top.status, 0);
  for (const char* cmd : {"tokenize", "generate", "init-model", "run", "plugin"}) {
    const Proc sub = run_ream(std::string(cmd) + " --help");
    EXPECT_EQ(sub.status, 0) << cmd;
    ASSERT_FALSE(sub.output.empty()) << cmd << " --help printed nothing on stdout";
    std::istringstream words(sub.output);
    for (std::string w; words >> w;) {
      const size_t at = w.find("--");
      if (at == std::string::npos) continue;
      size_t end = at + 2;
      while (end < w.size() && (std::isalnum(static_cast<unsigned char>(w[end])) || w[end] == '-')) ++end;
      const std::string opt = w.substr(at, end - at);
      if (opt.size() > 2) EXPECT_NE(top.output.find(opt), std::string::npos) << opt << " (ream " << cmd << ")";
    }
  }
  EXPECT_NE(top.output.find("--stop"), std::string::npos);
}

}  // namespace
}  // namespace ream::testing
