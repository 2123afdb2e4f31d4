// reamd on a PostgreSQL store (`store: postgresql://...`), with the CPU engine and
// the tiny random model: two reamd processes share one database as one queue. Jobs
// submitted to either are run once, by one of them, and their rows, findings and
// events are read back from PostgreSQL through the test's own libpq connection; and
// `reamd migrate-store` moves a SQLite install over without losing a job.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "daemon_harness.h"
#include "pg_cluster.h"

namespace ream::testing {
namespace {

using nlohmann::json;
using test::PgCluster;

std::string random_text(std::mt19937& rng, int words) {
  static const char* kWords[] = {"contract", "party", "shall", "terminate", "notice", "payment",
                                 "liability", "license", "clause", "term", "renewal", "fee"};
  std::string s;
  for (int i = 0; i < words; ++i) {
    s += kWords[rng() % 12];
    s += (i % 12 == 11) ? ".\n" : " ";
  }
  return s;
}

// d0.md, d1.md and d2.md of random words in a new folder `docs`.
void write_documents(const std::string& docs, std::mt19937& rng) {
  std::filesystem::create_directories(docs);
  for (int i = 0; i < 3; ++i) std::ofstream(docs + "/d" + std::to_string(i) + ".md") << random_text(rng, 90);
}

TEST(ReamdOnPostgres, TwoDaemonsShareOneQueueAndEveryJobEndsOnceWithItsFindingsInPostgres) {
  PgCluster& pg = PgCluster::shared();
  ASSERT_EQ(pg.error(), "");
  const std::string url = pg.create_database();
  ASSERT_NE(url, "");
  ASSERT_FALSE(tiny_model_dir().empty()) << "ream init-model failed";
  TempDir tmp;
  const std::string docs = tmp.path() + "/docs";
  std::mt19937 rng(std::random_device{}());
  write_documents(docs, rng);
  const std::string config = "store: " + url + "\ndocuments:\n  allowed_roots: [" + docs + "]\n";
  Daemon a(tmp.path() + "/a", config), b(tmp.path() + "/b", config);
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();

  std::vector<int64_t> ids;
  for (int i = 0; i < 6; ++i) {
    const Daemon& d = i % 2 == 0 ? a : b;
    json body = {{"workflow", "summarize"},
                 {"inputs",
                  {{"documents", {docs + "/d" + std::to_string(i % 3) + ".md"}},
                   {"max_words", 20},
                   {"max_tokens", 12}}}};
    auto r = d.post("/v1/jobs", body);
    ASSERT_EQ(r.status, 202u) << r.body;
    ids.push_back(r.json()["id"].get<int64_t>());
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    // Each job is visible, with the same state, from both hosts.
    json job = wait_job(i % 2 == 0 ? b : a, ids[i]);
    ASSERT_TRUE(job.is_object()) << a.log() << b.log();
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
    const std::string id = std::to_string(ids[i]);
    auto result = a.get("/v1/jobs/" + id + "/result");
    ASSERT_EQ(result.status, 200u) << result.body;
    const size_t findings = result.json()["findings"].size();
    EXPECT_EQ(PgCluster::query_one(url, "SELECT COUNT(*) FROM findings WHERE job_id = " + id),
              std::to_string(findings));
    EXPECT_EQ(PgCluster::query_one(url, "SELECT status FROM jobs WHERE id = " + id), "succeeded");
    EXPECT_EQ(PgCluster::query_one(url, "SELECT COUNT(*) FROM job_events WHERE type = 'job_succeeded' "
                                        "AND job_id = " + id),
              "1");
    EXPECT_EQ(PgCluster::query_one(url, "SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded' "
                                        "AND job_id = " + id),
              std::to_string(job["progress"]["runs_done"].get<int>()))
        << job.dump();
  }
  EXPECT_EQ(PgCluster::query_one(url, "SELECT COUNT(*) FROM jobs"), "6");
  // Three documents, each stored once however many jobs and hosts read it.
  EXPECT_EQ(PgCluster::query_one(url, "SELECT COUNT(*) FROM documents"), "3");
  // Nothing went to SQLite.
  EXPECT_FALSE(std::filesystem::exists(a.data_dir() + "/ream.db"));
  EXPECT_FALSE(std::filesystem::exists(b.data_dir() + "/ream.db"));
  // The log names the store without a password it never had.
  EXPECT_NE(a.log().find("store: " + url), std::string::npos) << a.log();

  a.signal(SIGTERM);
  b.signal(SIGTERM);
  EXPECT_EQ(a.wait_exit(), 0) << a.log();
  EXPECT_EQ(b.wait_exit(), 0) << b.log();
}

// Hosts on one store name one shared documents.dir: an upload made on one host is found by
// its id on another, and an inline document a host accepted is read by whichever host's
// runner takes the job (documents are read when the job first runs, not on submission).
// Host A's one runner is kept busy with a long job and A is then frozen (SIGSTOP), so the
// inline job it accepted can only be taken by host B.
TEST(ReamdOnPostgres, UploadsAndInlineDocumentsInASharedFolderAreReadByEveryHost) {
  PgCluster& pg = PgCluster::shared();
  ASSERT_EQ(pg.error(), "");
  const std::string url = pg.create_database();
  ASSERT_NE(url, "");
  ASSERT_FALSE(tiny_model_dir().empty()) << "ream init-model failed";
  TempDir tmp;
  const std::string docs = tmp.path() + "/docs", shared = tmp.path() + "/shared-documents";
  std::mt19937 rng(std::random_device{}());
  write_documents(docs, rng);
  const std::string config = "store: " + url + "\ndocuments:\n  allowed_roots: [" + docs + "]\n  dir: " + shared +
                             "\nqueue:\n  runners: 1\n";
  Daemon a(tmp.path() + "/a", config), b(tmp.path() + "/b", config);
  ASSERT_TRUE(a.start()) << a.log();

  const std::string uploaded = random_text(rng, 60);
  auto up = http_request(a.port(), "POST", "/v1/documents?name=upload.md", uploaded,
                         {{"Content-Type", "text/markdown"}});
  ASSERT_EQ(up.status, 201u) << up.body;
  const std::string doc_id = up.json()["id"];
  EXPECT_TRUE(std::filesystem::exists(shared + "/" + doc_id + ".md"));

  json slow = {{"workflow", "summarize"},
               {"priority", 10},
               {"inputs", {{"documents", {docs + "/d0.md", docs + "/d1.md", docs + "/d2.md"}},
                           {"max_words", 20}, {"max_tokens", 3000}}}};
  auto busy = a.post("/v1/jobs", slow);
  ASSERT_EQ(busy.status, 202u) << busy.body;
  const std::string busy_id = std::to_string(busy.json()["id"].get<int64_t>());
  for (int i = 0; i < 200 && a.get("/v1/jobs/" + busy_id).json().value("status", "") != "running"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(a.get("/v1/jobs/" + busy_id).json().value("status", ""), "running") << a.log();
  const std::string inline_text = random_text(rng, 70);
  auto accepted = a.post("/v1/jobs", {{"workflow", "summarize"},
                                      {"inputs", {{"documents", {{{"text", inline_text}, {"name", "notes.md"}}}},
                                                  {"max_words", 20}, {"max_tokens", 12}}}});
  a.signal(SIGSTOP);  // A's only runner is on the long job: the inline one stays queued
  ASSERT_EQ(accepted.status, 202u) << accepted.body;
  const int64_t inline_id = accepted.json()["id"];

  ASSERT_TRUE(b.start()) << b.log();
  // B finds A's upload by its id, and runs a job naming it.
  auto meta = b.get("/v1/documents/" + doc_id);
  EXPECT_EQ(meta.status, 200u) << meta.body;
  auto by_id = b.post("/v1/jobs", {{"workflow", "summarize"},
                                   {"inputs", {{"documents", {{{"document_id", doc_id}}}},
                                               {"max_words", 20}, {"max_tokens", 12}}}});
  ASSERT_EQ(by_id.status, 202u) << by_id.body;
  for (int64_t id : {inline_id, by_id.json()["id"].get<int64_t>()}) {
    json job = wait_job(b, id);
    ASSERT_TRUE(job.is_object()) << b.log();
    EXPECT_EQ(job["status"], "succeeded") << job.dump() << b.log();
    EXPECT_NE(b.log().find("job " + std::to_string(id) + " leased by"), std::string::npos) << b.log();
  }
  // The inline document was read by B from the folder A stored it in.
  const std::string path = PgCluster::query_one(
      url, "SELECT d.source_path FROM documents d JOIN job_documents j ON j.document_id = d.id WHERE j.job_id = " +
               std::to_string(inline_id));
  EXPECT_EQ(path.rfind(shared + "/", 0), 0u) << path;

  a.signal(SIGCONT);
  (void)http_request(a.port(), "DELETE", "/v1/jobs/" + busy_id);
  a.signal(SIGTERM);
  b.signal(SIGTERM);
  EXPECT_EQ(a.wait_exit(), 0) << a.log();
  EXPECT_EQ(b.wait_exit(), 0) << b.log();
}

// The value of an unlabelled gauge in a /metrics page, or -1.
double gauge(const std::string& metrics, const std::string& name) {
  const size_t at = metrics.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::atof(metrics.c_str() + at + name.size() + 2);
}

// Cross-host wake-ups (LISTEN/NOTIFY): with the fallback poll (queue.poll_s) at 120 s, a
// job queued on host A, which runs no jobs (queue.runners: 0), is taken by B's idle
// runner at once, and an event stream opened on A for it follows B's run as it goes.
// B is frozen (SIGSTOP) while the job is queued and A's stream opened, so the stream
// cannot have found the job ended in its first read; the notifications wait in B's
// socket until it is thawed. Without them, B would look at the queue, and A for B's
// events, only 120 s after each started; the bounds below are generous (a loaded
// machine) and still far under that.
TEST(ReamdOnPostgres, AJobQueuedOnOneHostWakesAnotherAtOnceAndItsEventsStreamBackAtOnce) {
  PgCluster& pg = PgCluster::shared();
  ASSERT_EQ(pg.error(), "");
  const std::string url = pg.create_database();
  ASSERT_NE(url, "");
  ASSERT_FALSE(tiny_model_dir().empty()) << "ream init-model failed";
  TempDir tmp;
  const std::string docs = tmp.path() + "/docs";
  std::mt19937 rng(std::random_device{}());
  write_documents(docs, rng);
  const std::string config = "store: " + url + "\ndocuments:\n  allowed_roots: [" + docs +
                             "]\nqueue:\n  poll_s: 120\n  runners: ";
  Daemon a(tmp.path() + "/a", config + "0\n"), b(tmp.path() + "/b", config + "1\n");
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();
  b.signal(SIGSTOP);

  auto r = a.post("/v1/jobs", {{"workflow", "summarize"},
                               {"inputs", {{"documents", {docs + "/d0.md"}}, {"max_words", 20}, {"max_tokens", 12}}}});
  ASSERT_EQ(r.status, 202u) << r.body;
  const int64_t id = r.json()["id"];
  const std::string self = "/v1/jobs/" + std::to_string(id);
  HttpResult stream;
  int64_t stream_ended_ms = 0;
  std::thread reader([&] {
    stream = a.get(self + "/events");
    stream_ended_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  });
  // The stream is open (subscribed) before B may run the job.
  for (int i = 0; i < 200 && gauge(a.get("/metrics").body, "reamd_http_streams") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(gauge(a.get("/metrics").body, "reamd_http_streams"), 1) << a.get("/metrics").body;
  EXPECT_EQ(a.get(self).json().value("status", ""), "queued");

  const int64_t thawed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  b.signal(SIGCONT);
  // Nothing returns from the test before the reader is joined. Without the wake-ups the
  // job still ends (B's poll), and the stream with it (A's), a little after 120 s.
  json job = wait_job(a, id, 300);
  reader.join();
  ASSERT_TRUE(job.is_object()) << a.log() << b.log();
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  EXPECT_NE(b.log().find("job " + std::to_string(id) + " leased by"), std::string::npos) << b.log();
  ASSERT_EQ(stream.status, 200u) << stream.body;
  EXPECT_NE(stream.body.find("job_succeeded"), std::string::npos) << stream.body;

  // B took the job within seconds of thawing, and A's stream ended within seconds of
  // B's final commit (times from the jobs row, in ms since the epoch).
  const int64_t started = std::stoll(PgCluster::query_one(url, "SELECT started_at FROM jobs WHERE id = " +
                                                                   std::to_string(id)));
  const int64_t finished = std::stoll(PgCluster::query_one(url, "SELECT finished_at FROM jobs WHERE id = " +
                                                                    std::to_string(id)));
  EXPECT_LT(started - thawed_ms, 20000) << "B's runner was not woken: " << b.log();
  EXPECT_LT(stream_ended_ms - finished, 20000) << "A's stream was not woken: " << a.log();

  a.signal(SIGTERM);
  b.signal(SIGTERM);
  EXPECT_EQ(a.wait_exit(), 0) << a.log();
  EXPECT_EQ(b.wait_exit(), 0) << b.log();
}

TEST(ReamdOnPostgres, AServerThatIsDownStopsReamdWithItsUrlAndNoPassword) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data",
           "store: postgresql://ream:s3cret@/ream?host=" + tmp.path() + "/nowhere&port=5999\n");
  EXPECT_FALSE(d.start(true, 30)) << "reamd came up without its store";
  EXPECT_NE(d.log().find("postgresql://ream@/ream?host=" + tmp.path() + "/nowhere&port=5999"),
            std::string::npos)
      << d.log();
  EXPECT_EQ(d.log().find("s3cret"), std::string::npos) << d.log();
}

// Runs `reamd ARGS`; its exit status and what it printed (stdout and stderr).
std::pair<int, std::string> run_reamd(const std::string& args) {
  const std::string cmd = reamd_path() + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = p ? pclose(p) : -1;
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

TEST(ReamdOnPostgres, MigrateStoreMovesASqliteInstallWithoutLosingAJob) {
  PgCluster& pg = PgCluster::shared();
  ASSERT_EQ(pg.error(), "");
  const std::string url = pg.create_database();
  ASSERT_FALSE(tiny_model_dir().empty()) << "ream init-model failed";
  TempDir tmp;
  const std::string docs = tmp.path() + "/docs";
  std::filesystem::create_directories(docs);
  std::mt19937 rng(std::random_device{}());
  std::ofstream(docs + "/d.md") << random_text(rng, 90);
  const std::string roots = "documents:\n  allowed_roots: [" + docs + "]\n";
  json body = {{"workflow", "summarize"},
               {"inputs", {{"documents", {docs + "/d.md"}}, {"max_words", 20}, {"max_tokens", 12}}}};

  // A single-host install on SQLite with two finished jobs.
  std::vector<int64_t> ids;
  std::vector<json> results;
  {
    Daemon one(tmp.path() + "/one", roots);
    ASSERT_TRUE(one.start()) << one.log();
    for (int i = 0; i < 2; ++i) {
      auto r = one.post("/v1/jobs", body);
      ASSERT_EQ(r.status, 202u) << r.body;
      ids.push_back(r.json()["id"].get<int64_t>());
      json job = wait_job(one, ids.back());
      ASSERT_TRUE(job.is_object() && job["status"] == "succeeded") << job.dump() << one.log();
      results.push_back(one.get("/v1/jobs/" + std::to_string(ids.back()) + "/result").json());
    }
    one.signal(SIGTERM);
    ASSERT_EQ(one.wait_exit(), 0) << one.log();
  }
  const std::string db = tmp.path() + "/one/ream.db";
  auto bad = run_reamd("migrate-store --from " + db + " --to '" + url + "'");
  EXPECT_EQ(bad.first, 2) << bad.second;
  EXPECT_NE(bad.second.find("--from must be sqlite:PATH"), std::string::npos) << bad.second;

  auto moved = run_reamd("migrate-store --from sqlite:" + db + " --to '" + url + "'");
  ASSERT_EQ(moved.first, 0) << moved.second;
  EXPECT_NE(moved.second.find("jobs            2 rows"), std::string::npos) << moved.second;
  // A second copy into the same database is refused: it is no longer empty.
  auto twice = run_reamd("migrate-store --from sqlite:" + db + " --to '" + url + "'");
  EXPECT_EQ(twice.first, 1) << twice.second;
  EXPECT_NE(twice.second.find("empty database only"), std::string::npos) << twice.second;

  // reamd on PostgreSQL answers for the old jobs as reamd on SQLite did.
  Daemon two(tmp.path() + "/two", "store: " + url + "\n" + roots);
  ASSERT_TRUE(two.start()) << two.log();
  for (size_t i = 0; i < ids.size(); ++i) {
    auto r = two.get("/v1/jobs/" + std::to_string(ids[i]) + "/result");
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.json()["findings"], results[i]["findings"]);
    EXPECT_EQ(r.json()["outputs"], results[i]["outputs"]);
  }
  auto r = two.post("/v1/jobs", body);
  ASSERT_EQ(r.status, 202u) << r.body;
  const int64_t next = r.json()["id"].get<int64_t>();
  EXPECT_GT(next, ids.back());
  json job = wait_job(two, next);
  ASSERT_TRUE(job.is_object()) << two.log();
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  two.signal(SIGTERM);
  EXPECT_EQ(two.wait_exit(), 0) << two.log();
}

}  // namespace
}  // namespace ream::testing
