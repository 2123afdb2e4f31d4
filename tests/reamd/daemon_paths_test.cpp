// The document path policy and key enforcement against the real reamd: every way a
// document path enters (a REST job's file input, a REST job's folder input walked
// as a source tree, a workflow schedule) with links to files and folders out of
// documents.allowed_roots, ".." components and links that stay inside; what ends
// up in SQLite is checked directly.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "daemon_harness.h"

namespace ream::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The rows of a one-column query, as text.
std::vector<std::string> sql_texts(const std::string& db, const std::string& sql) {
  std::vector<std::string> out;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return out;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

// How many stored documents hold `text` (the secret must never be among them).
size_t stored_with(const Daemon& d, const std::string& text) {
  size_t n = 0;
  for (const std::string& t : sql_texts(d.db_path(), "SELECT text FROM documents")) {
    n += t.find(text) != std::string::npos ? 1 : 0;
  }
  return n;
}

// A tree under an allowed root, with links out of it and a link inside it:
//   ROOT/docs/in.md              a document
//   ROOT/docs/alias.md -> ROOT/docs/in.md        inside -> inside
//   ROOT/docs/p.txt    -> OUTSIDE/secret.txt     a file out of the roots
//   ROOT/docs/outdir   -> OUTSIDE/dir            a folder out of the roots
struct Layout {
  explicit Layout(const TempDir& tmp) {
    std::mt19937_64 rng(std::random_device{}());
    secret = "secret" + std::to_string(rng());
    inside = "inside" + std::to_string(rng());
    root = tmp.path() + "/root";
    outside = tmp.path() + "/outside";
    fs::create_directories(root + "/docs");
    fs::create_directories(outside + "/dir");
    std::ofstream(outside + "/secret.txt") << "password line " << secret << "\n";
    std::ofstream(outside + "/dir/secret.txt") << "folder line " << secret << "\n";
    std::ofstream(root + "/docs/in.md") << "# Notice\nThe party shall give notice " << inside << ".\n";
    fs::create_symlink(root + "/docs/in.md", root + "/docs/alias.md");
    fs::create_symlink(outside + "/secret.txt", root + "/docs/p.txt");
    fs::create_symlink(outside + "/dir", root + "/docs/outdir");
  }
  std::string root, outside, secret, inside;
};

json summarize(const json& docs) {
  return {{"workflow", "summarize"},
          {"inputs", {{"documents", docs}, {"max_words", 10}, {"max_tokens", 4}}}};
}

void expect_forbidden(const HttpResult& r, const std::string& path) {
  EXPECT_EQ(r.status, 403u) << path << ": " << r.body;
  json e = r.json()["error"];
  EXPECT_EQ(e["code"], "forbidden_path") << r.body;
  const std::string msg = e.value("message", "");
  EXPECT_NE(msg.find(path), std::string::npos) << r.body;
  EXPECT_NE(msg.find("documents.allowed_roots"), std::string::npos) << r.body;
  EXPECT_EQ(e["field"], "inputs.documents") << r.body;
}

TEST(DaemonPaths, RestFileInputsOutOfTheRootsAreRefused) {
  TempDir tmp;
  Layout l(tmp);
  Daemon d(tmp.path() + "/data", "documents:\n  allowed_roots: [" + l.root + "]\n");
  ASSERT_TRUE(d.start()) << d.log();
  for (const std::string& p : {l.root + "/docs/p.txt", l.root + "/docs/outdir/secret.txt",
                               l.root + "/docs/outdir", l.root + "/docs/../../outside/secret.txt",
                               l.outside + "/secret.txt"}) {
    expect_forbidden(d.post("/v1/jobs", summarize({p})), p);
  }
  // A link that stays inside the roots is followed.
  auto ok = d.post("/v1/jobs", summarize({l.root + "/docs/alias.md"}));
  ASSERT_EQ(ok.status, 202u) << ok.body;
  json job = wait_job(d, ok.json()["id"]);
  ASSERT_TRUE(job.is_object()) << d.log();
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  EXPECT_EQ(stored_with(d, l.inside), 1u);
  EXPECT_EQ(stored_with(d, l.secret), 0u);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.log();
}

TEST(DaemonPaths, RestFolderInputLeavesOutLinksOutOfTheRoots) {
  TempDir tmp;
  Layout l(tmp);
  Daemon d(tmp.path() + "/data", "documents:\n  allowed_roots: [" + l.root + "]\n");
  ASSERT_TRUE(d.start()) << d.log();
  auto r = d.post("/v1/jobs", summarize({l.root + "/docs"}));
  ASSERT_EQ(r.status, 202u) << r.body;
  const int64_t id = r.json()["id"];
  json job = wait_job(d, id);
  ASSERT_TRUE(job.is_object()) << d.log();
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  EXPECT_EQ(stored_with(d, l.secret), 0u) << "a file behind a link out of the roots was stored";
  EXPECT_EQ(stored_with(d, l.inside), 1u);
  // The tree has in.md and alias.md (followed: inside), and records both links out.
  auto events = sql_texts(d.db_path(), "SELECT data_json FROM job_events WHERE type = 'document_ingested' "
                                       "AND job_id = " + std::to_string(id));
  ASSERT_EQ(events.size(), 1u);
  json e = json::parse(events[0]);
  EXPECT_EQ(e["parts"], 2) << e.dump();
  EXPECT_EQ(e["skipped_links"], json::array({"outdir", "p.txt"})) << e.dump();
  EXPECT_NE(d.log().find("symbolic link(s) leading out of the allowed roots left out"), std::string::npos);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.log();
}

// `reamd --allowed-root DIR` (repeatable) replaces documents.allowed_roots of the
// config: a root named only by the flag is readable, one named only in the file is
// not, and a refusal names both ways to widen the roots.
TEST(DaemonPaths, AllowedRootFlagsReplaceTheConfiguredRoots) {
  TempDir tmp;
  Layout l(tmp);
  const std::string other = tmp.path() + "/other";
  fs::create_directories(other);
  std::ofstream(other + "/note.md") << "# Other\nA second root " << l.inside << ".\n";
  Daemon d(tmp.path() + "/data", "documents:\n  allowed_roots: [" + l.outside + "]\n");
  d.add_arg("--allowed-root");
  d.add_arg(l.root);
  d.add_arg("--allowed-root=" + other);
  ASSERT_TRUE(d.start()) << d.log();
  for (const std::string& p : {l.root + "/docs/in.md", other + "/note.md"}) {
    auto ok = d.post("/v1/jobs", summarize({p}));
    ASSERT_EQ(ok.status, 202u) << p << ": " << ok.body;
    json job = wait_job(d, ok.json()["id"]);
    ASSERT_TRUE(job.is_object()) << d.log();
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
  }
  const std::string secret = l.outside + "/secret.txt";
  auto r = d.post("/v1/jobs", summarize({secret}));
  expect_forbidden(r, secret);
  EXPECT_NE(r.body.find("--allowed-root"), std::string::npos) << r.body;
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.log();
}

// A workflow with schedules that fire every minute, naming documents out of the
// roots in each way, and two that are allowed (so the test sees schedules fire).
std::string scheduled_workflow(const Layout& l) {
  std::ifstream in(std::string(REAM_SOURCE_DIR) + "/workflows/summarize.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string y = ss.str();
  y.replace(y.find("name: summarize\n"), 16, "name: scheduled_summary\n");
  auto entry = [](const std::string& name, const std::string& path) {
    return "  - {name: " + name + ", cron: \"* * * * *\", missed: skip, inputs: {documents: [\"" +
           path + "\"], max_words: 10, max_tokens: 4}}\n";
  };
  return y + "\nschedule:\n" + entry("outside", l.outside + "/secret.txt") +
         entry("filelink", l.root + "/docs/p.txt") + entry("dirlink", l.root + "/docs/outdir/secret.txt") +
         entry("dotdot", l.root + "/docs/../../outside/secret.txt") + entry("tree", l.root + "/docs") +
         entry("inside", l.root + "/docs/alias.md");
}

TEST(DaemonPaths, SchedulesPassThePathPolicy) {
  TempDir tmp;
  Layout l(tmp);
  const std::string wf_dir = tmp.path() + "/workflows";
  fs::create_directories(wf_dir);
  std::ofstream(wf_dir + "/scheduled_summary.yaml") << scheduled_workflow(l);
  // Its reply_schema is a path relative to the workflow: the schemas come along.
  fs::copy(std::string(REAM_SOURCE_DIR) + "/workflows/schemas", wf_dir + "/schemas");
  Daemon d(tmp.path() + "/data", "documents:\n  allowed_roots: [" + l.root + "]\n");
  d.add_workflow_dir(wf_dir);
  ASSERT_TRUE(d.start()) << d.log();
  // Every entry fires at the next minute; wait until all six have had their slot.
  auto fired = [&] {
    json list = d.get("/v1/schedules").json();
    int n = 0;
    for (const json& s : list.value("schedules", json::array())) {
      if (s.value("workflow", "") == "scheduled_summary" && !s.value("last_run", "").empty()) ++n;
    }
    return n;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(80);
  while (fired() < 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_EQ(fired(), 6) << d.get("/v1/schedules").body << "\n" << d.log();
  const std::string log = d.log();
  for (const char* name : {"outside", "filelink", "dirlink", "dotdot"}) {
    const std::string who = "schedule scheduled_summary/" + std::string(name) + ":";
    std::string failure;  // the log line saying this schedule's job was not made
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(who) != std::string::npos && line.find("could not create the job") != std::string::npos) failure = line;
    }
    ASSERT_FALSE(failure.empty()) << name << "\n" << log;
    EXPECT_NE(failure.find("documents.allowed_roots"), std::string::npos) << failure;
    EXPECT_NE(failure.find("outside the allowed document roots"), std::string::npos) << failure;
  }
  // The two allowed schedules made jobs; the tree's job left its links out.
  EXPECT_EQ(sql_texts(d.db_path(), "SELECT id FROM jobs").size(), 2u) << log;
  for (const std::string& id : sql_texts(d.db_path(), "SELECT id FROM jobs")) {
    json job = wait_job(d, std::stoll(id));
    ASSERT_TRUE(job.is_object()) << log;
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
  }
  EXPECT_EQ(stored_with(d, l.secret), 0u) << "a schedule stored a document from outside the roots";
  EXPECT_EQ(stored_with(d, l.inside), 2u);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.log();
}

}  // namespace
}  // namespace ream::testing
