// reamd as an operator sees it: kill -9 during 20 running jobs and a restart
// (every job finishes exactly once, no duplicate step commit or finding, checked
// in SQLite), auth (configured keys enforced on loopback too), the loopback policy, backpressure (429), SIGHUP reload and
// SIGTERM drain (503 while draining, exit 0).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <random>
#include <thread>

#include "daemon_harness.h"
#include "http/auth.h"
#include "ream/common/sha256.h"

namespace ream::testing {
namespace {

using nlohmann::json;

std::string words(std::mt19937& rng, int n) {
  static const char* kW[] = {"alpha", "beta", "gamma", "delta", "notice", "term", "fee", "party"};
  std::string s;
  for (int i = 0; i < n; ++i) s += std::string(kW[rng() % 8]) + (i % 10 == 9 ? ".\n" : " ");
  return s;
}

// Runs a query returning one integer.
int64_t sql_int(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  int64_t v = -1;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    v = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

// Each job event is logged once (the executor reports, reamd logs), with job_id=.
TEST(DaemonOps, EveryJobLogLineIsWrittenOnce) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data");
  ASSERT_TRUE(d.start()) << d.log();
  std::mt19937 rng(std::random_device{}());
  json body = {{"workflow", "summarize"},
               {"inputs", {{"documents", json::array({{{"text", words(rng, 80)}, {"name", "n.md"}}})},
                           {"max_words", 10}, {"max_tokens", 4}}}};
  auto r = d.post("/v1/jobs", body);
  ASSERT_EQ(r.status, 202u) << r.body;
  const int64_t id = r.json()["id"];
  json job = wait_job(d, id);
  ASSERT_TRUE(job.is_object()) << d.log();
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.log();
  // The message of each line about this job (after "[level] "), counted.
  std::map<std::string, int> seen;
  std::istringstream lines(d.log());
  const std::string tag = "job " + std::to_string(id) + ":";
  for (std::string line; std::getline(lines, line);) {
    const size_t at = line.find(tag);
    if (at == std::string::npos) continue;
    std::string msg = line.substr(at);
    const std::string suffix = " job_id=" + std::to_string(id);
    const bool tagged = msg.size() >= suffix.size() && msg.compare(msg.size() - suffix.size(), suffix.size(), suffix) == 0;
    EXPECT_TRUE(tagged) << line;
    ++seen[tagged ? msg.substr(0, msg.size() - suffix.size()) : msg];
  }
  EXPECT_GE(seen.size(), 2u) << d.log();
  for (const auto& [msg, n] : seen) EXPECT_EQ(n, 1) << "logged " << n << " times: " << msg;
}

TEST(DaemonOps, KillNineDuringTwentyJobsThenRestartFinishesEachExactlyOnce) {
  std::mt19937 rng(std::random_device{}());
  TempDir tmp;
  std::string docs = tmp.path() + "/docs";
  std::filesystem::create_directories(docs);
  std::vector<std::string> paths;
  for (int i = 0; i < 4; ++i) {
    paths.push_back(docs + "/d" + std::to_string(i) + ".md");
    std::ofstream(paths.back()) << words(rng, 60 + static_cast<int>(rng() % 60));
  }
  const std::string cfg = "documents:\n  allowed_roots: [" + docs + "]\n"
                          "queue:\n  runners: 4\n  lease_s: 4\n  heartbeat_s: 1\n";
  Daemon d(tmp.path() + "/data", cfg);
  ASSERT_TRUE(d.start()) << d.log();
  std::vector<int64_t> ids;
  for (int i = 0; i < 20; ++i) {
    json docs_in = json::array();
    for (int k = 0; k < 3; ++k) docs_in.push_back(paths[rng() % paths.size()]);
    json body = {{"workflow", "summarize"},
                 {"inputs", {{"documents", docs_in}, {"max_words", 20},
                             {"max_tokens", 32 + static_cast<int>(rng() % 96)}}}};
    auto r = d.post("/v1/jobs", body, {{"Idempotency-Key", "crash-" + std::to_string(i)}});
    ASSERT_EQ(r.status, 202u) << r.body;
    ids.push_back(r.json()["id"]);
  }
  // Two crashes at random moments while jobs run.
  for (int crash = 0; crash < 2; ++crash) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1500));
    d.kill9();
    ASSERT_TRUE(d.start()) << d.log();
  }
  for (int64_t id : ids) {
    json job = wait_job(d, id, 240);
    ASSERT_TRUE(job.is_object()) << "job " << id << " did not finish\n" << d.log();
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
  }
  // A key reused for another request conflicts instead of creating a job.
  EXPECT_EQ(d.post("/v1/jobs", {{"workflow", "summarize"}, {"inputs", {{"documents", json::array({paths[0]})}}}},
                   {{"Idempotency-Key", "crash-0"}})
                .status,
            409u);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);

  const std::string db = d.db_path();
  EXPECT_EQ(sql_int(db, "SELECT COUNT(*) FROM jobs"), 20);
  EXPECT_EQ(sql_int(db, "SELECT COUNT(*) FROM jobs WHERE status = 'succeeded'"), 20);
  // Each job reached its final state once.
  EXPECT_EQ(sql_int(db, "SELECT COUNT(*) FROM job_events WHERE type = 'job_succeeded'"), 20);
  EXPECT_EQ(sql_int(db, "SELECT COUNT(*) FROM (SELECT job_id FROM job_events WHERE type LIKE "
                        "'job_succeeded' GROUP BY job_id HAVING COUNT(*) > 1)"),
            0);
  // No step run committed twice: one step_succeeded event per (job, step run).
  EXPECT_EQ(sql_int(db, "SELECT COUNT(*) FROM (SELECT job_id, data_json FROM job_events WHERE "
                        "type = 'step_succeeded' GROUP BY job_id, data_json HAVING COUNT(*) > 1)"),
            0);
  EXPECT_EQ(sql_int(db, "SELECT COUNT(*) FROM step_runs WHERE status != 'succeeded'"), 0);
  // Every job has one run per document, and no finding appears twice.
  EXPECT_EQ(sql_int(db, "SELECT COUNT(*) FROM step_runs"), 60);
  EXPECT_EQ(sql_int(db, "SELECT COUNT(*) FROM (SELECT job_id, step_id, title, text, COUNT(*) c "
                        "FROM findings GROUP BY job_id, step_run_id, seq HAVING c > 1)"),
            0);
  EXPECT_EQ(sql_int(db, "SELECT COUNT(*) FROM (SELECT f.step_run_id FROM findings f JOIN step_runs "
                        "s ON s.id = f.step_run_id GROUP BY f.step_run_id HAVING COUNT(*) != "
                        "COUNT(DISTINCT f.seq))"),
            0);
  EXPECT_EQ(sql_int(db, "SELECT COUNT(*) FROM jobs WHERE lease_owner != ''"), 0);
}

TEST(DaemonOps, AuthRequiredRefusesUnauthenticatedRequests) {
  // "Beyond loopback" cannot be reached from an unprivileged test, so the policy is
  // forced with auth.mode: required; LoopbackPolicy below checks that listening
  // beyond loopback selects it.
  TempDir tmp;
  std::mt19937_64 rng(std::random_device{}());
  std::string admin = "adm-" + std::to_string(rng()) + std::to_string(rng());
  std::string reader = "rd-" + std::to_string(rng()) + std::to_string(rng());
  Daemon d(tmp.path() + "/data",
           "auth:\n  mode: required\n  keys:\n"
           "    - {name: ops, sha256: \"" + sha256_hex(admin) + "\", role: admin}\n"
           "    - {name: dash, sha256: \"sha256:" + sha256_hex(reader) + "\", role: read}\n");
  ASSERT_TRUE(d.start(false)) << d.log();
  auto bearer = [](const std::string& k) {
    return std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer " + k}};
  };
  EXPECT_EQ(d.get("/healthz").status, 200u);
  for (const char* route : {"/v1/jobs", "/v1/workflows", "/metrics", "/readyz", "/v1/schedules"}) {
    auto r = d.get(route);
    EXPECT_EQ(r.status, 401u) << route;
    EXPECT_EQ(r.json()["error"]["code"], "unauthenticated");
    EXPECT_EQ(r.headers["www-authenticate"], "Bearer realm=\"reamd\"");
  }
  EXPECT_EQ(d.get("/v1/jobs", bearer(admin + "x")).status, 401u);
  EXPECT_EQ(d.get("/v1/workflows", bearer(reader)).status, 200u);
  auto forbidden = d.post("/v1/admin/reload", json::object(), bearer(reader));
  EXPECT_EQ(forbidden.status, 403u);
  EXPECT_EQ(forbidden.json()["error"]["code"], "forbidden");
  EXPECT_EQ(d.post("/v1/admin/reload", json::object(), bearer(admin)).status, 200u);
  EXPECT_EQ(d.post("/v1/jobs", json::object()).status, 401u);
  EXPECT_EQ(d.log().find(admin), std::string::npos);  // keys never reach the log
}

TEST(DaemonOps, ListenerBeyondLoopbackRefusesUnauthenticatedRequests) {
  // Bound to 0.0.0.0 with keys configured and no auth mode given: the default policy
  // must require a key on every route but /healthz, also for clients on loopback.
  TempDir tmp;
  std::mt19937_64 rng(std::random_device{}());
  const std::string key = "k-" + std::to_string(rng()) + std::to_string(rng());
  Daemon d(tmp.path() + "/data",
           "auth:\n  keys:\n    - {name: ops, sha256: \"" + sha256_hex(key) + "\", role: admin}\n");
  d.set_listen_host("0.0.0.0");
  ASSERT_TRUE(d.start(false)) << d.log();
  EXPECT_EQ(d.get("/healthz").status, 200u);
  for (const char* route : {"/v1/jobs", "/v1/workflows", "/v1/plugins", "/metrics", "/readyz"})
    EXPECT_EQ(d.get(route).status, 401u) << route;
  EXPECT_EQ(d.post("/v1/jobs", json{{"workflow", "summarize"}}).status, 401u);
  EXPECT_EQ(d.get("/v1/workflows", {{"Authorization", "Bearer " + key}}).status, 200u);
}

TEST(DaemonAuth, AutoModeOnLoopbackEnforcesConfiguredKeys) {
  TempDir tmp;
  std::mt19937_64 rng(std::random_device{}());
  const std::string admin = "adm-" + std::to_string(rng()) + std::to_string(rng());
  const std::string reader = "rd-" + std::to_string(rng()) + std::to_string(rng());
  Daemon d(tmp.path() + "/data",
           "auth:\n  keys:\n"
           "    - {name: ops, sha256: \"" + sha256_hex(admin) + "\", role: admin}\n"
           "    - {name: dash, sha256: \"" + sha256_hex(reader) + "\", role: read}\n");
  ASSERT_TRUE(d.start(false)) << d.log();  // loopback, auth.mode left at auto
  auto bearer = [](const std::string& k) {
    return std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer " + k}};
  };
  EXPECT_EQ(d.get("/healthz").status, 200u);
  for (const char* route : {"/v1/jobs", "/v1/workflows", "/v1/plugins", "/v1/schedules", "/metrics", "/readyz"}) {
    auto r = d.get(route);
    EXPECT_EQ(r.status, 401u) << route << ": " << r.body;
    EXPECT_EQ(r.json()["error"]["code"], "unauthenticated") << route;
  }
  EXPECT_EQ(d.post("/v1/admin/reload", json::object()).status, 401u);
  EXPECT_EQ(d.post("/v1/jobs", json{{"workflow", "summarize"}}).status, 401u);
  EXPECT_EQ(d.get("/v1/jobs", bearer(admin + "x")).status, 401u);
  EXPECT_EQ(d.post("/v1/admin/reload", json::object(), bearer(reader)).status, 403u);
  EXPECT_EQ(d.get("/v1/workflows", bearer(reader)).status, 200u);
  EXPECT_EQ(d.post("/v1/admin/reload", json::object(), bearer(admin)).status, 200u);
  EXPECT_NE(d.log().find("auth required"), std::string::npos) << d.log();
}

TEST(DaemonAuth, AutoModeOnLoopbackWithoutKeysStaysOpenAndDisabledWithKeysIsRefused) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data");
  ASSERT_TRUE(d.start(false)) << d.log();
  EXPECT_EQ(d.get("/v1/workflows").status, 200u);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
  // auth.mode: disabled with keys would leave configured keys unchecked: refused.
  const std::string cfg = tmp.path() + "/c.yaml", out = tmp.path() + "/out";
  std::ofstream(cfg) << "data_dir: " << tmp.path() << "\nauth:\n  mode: disabled\n  keys:\n"
                     << "    - {name: ops, sha256: \"" << sha256_hex("k") << "\", role: admin}\n";
  const std::string cmd = reamd_path() + " --config " + cfg + " --check-config 2>" + out;
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
  std::ifstream in(out);
  std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(msg.find("auth.mode: disabled but auth.keys lists 1 key(s)"), std::string::npos) << msg;
}

// Every engine option is a reamd.yaml setting (engine.kv_block_size, batch_invariant,
// interactive_batch_chunk, ... reach the engine), and a bad value or an unknown key refuses
// the start with the key named.
TEST(DaemonOps, EngineOptionsComeFromTheConfig) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data");
  d.add_engine_setting("kv_block_size: 32");
  d.add_engine_setting("batch_invariant: false");
  d.add_engine_setting("enable_prefix_caching: false");
  d.add_engine_setting("interactive_batch_chunk: 128");
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_NE(d.log().find("KV blocks of 32 tokens"), std::string::npos) << d.log();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);

  for (const std::string& bad : {std::string("interactive_batch_chunk: -1"), std::string("kv_block_size: 0"),
                                 std::string("batch_invariant: maybe"), std::string("kv_blok_size: 8")}) {
    SCOPED_TRACE(bad);
    const std::string cfg = tmp.path() + "/c.yaml", out = tmp.path() + "/out";
    std::ofstream(cfg) << "data_dir: " << tmp.path() << "\nengine:\n  " << bad << "\n";
    const std::string cmd =
        reamd_path() + " --config " + cfg + " --check-config 2>" + out;
    EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
    std::ifstream in(out);
    std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(msg.find("engine." + bad.substr(0, bad.find(':'))), std::string::npos) << msg;
  }
}

// Runs a shell command and returns its stdout.
std::string shell_out(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(DaemonOps, TlsListenerServesHttpsWithTheConfiguredCertificate) {
  TempDir tmp;
  const std::string cert = tmp.path() + "/cert.pem", key = tmp.path() + "/key.pem";
  ASSERT_TRUE(make_loopback_certificate(tmp.path()));
  Daemon d(tmp.path() + "/data", "tls:\n  cert_file: " + cert + "\n  key_file: " + key + "\n");
  d.start(false, 1);  // its readiness probe speaks plain HTTP, so poll over TLS here
  const std::string url = "https://127.0.0.1:" + std::to_string(d.port());
  std::string code;
  for (int i = 0; i < 100 && code != "200"; ++i) {
    code = shell_out("curl -s -o /dev/null -w '%{http_code}' --cacert " + cert + " " + url + "/healthz");
    if (code != "200") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The certificate verifies against itself as the CA: the server presents the configured one.
  EXPECT_EQ(code, "200") << d.log();
  EXPECT_NE(shell_out("curl -s --cacert " + cert + " " + url + "/v1/workflows").find("long_qa"), std::string::npos);
  // Plain HTTP on the TLS port gets no HTTP answer.
  EXPECT_EQ(shell_out("curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:" +
                      std::to_string(d.port()) + "/healthz"), "000");
}

TEST(DaemonOps, LoopbackPolicy) {
  TempDir tmp;
  std::string cfg = tmp.path() + "/c.yaml";
  std::ofstream(cfg) << "data_dir: " << tmp.path() << "\n";
  std::string bin = reamd_path() + " --config " + cfg;
  EXPECT_EQ(WEXITSTATUS(std::system((bin + " --listen 127.0.0.2:9 --check-config >/dev/null").c_str())), 0);
  std::string out = tmp.path() + "/out";
  int rc = std::system((bin + " --listen 0.0.0.0:9 --check-config 2>" + out).c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  std::ifstream in(out);
  std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(msg.find("auth is required (listening on 0.0.0.0, beyond loopback)"), std::string::npos) << msg;
  std::ofstream(cfg) << "data_dir: " << tmp.path() << "\nlisten: 127.0.0.1:80\nauth: {mode: maybe}\n";
  EXPECT_EQ(WEXITSTATUS(std::system((bin + " --check-config 2>/dev/null").c_str())), 2);
  std::ofstream(cfg) << "data_dir: " << tmp.path() << "\nlisen: 127.0.0.1:80\n";
  rc = std::system((bin + " --check-config 2>" + out).c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  std::ifstream in2(out);
  std::string msg2((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
  EXPECT_NE(msg2.find("c.yaml:2:1: lisen: unknown key"), std::string::npos) << msg2;
}

TEST(DaemonOps, QueueFullReloadAndDrain) {
  TempDir tmp;
  std::string docs = tmp.path() + "/docs";
  std::filesystem::create_directories(docs);
  std::mt19937 rng(std::random_device{}());
  std::ofstream(docs + "/a.md") << words(rng, 200);
  Daemon d(tmp.path() + "/data", "documents:\n  allowed_roots: [" + docs + "]\n"
                                 "queue:\n  runners: 1\n  max_queued: 2\n  retry_after_s: 7\n"
                                 "  drain_timeout_s: 60\n");
  ASSERT_TRUE(d.start()) << d.log();
  json slow = {{"workflow", "summarize"},
               {"inputs", {{"documents", {docs + "/a.md", docs + "/a.md"}}, {"max_tokens", 400}}}};
  json quick = {{"workflow", "summarize"},
                {"inputs", {{"documents", {docs + "/a.md"}}, {"max_tokens", 4}}}};
  auto first = d.post("/v1/jobs", slow);
  ASSERT_EQ(first.status, 202u);
  bool saw_429 = false;
  for (int i = 0; i < 6 && !saw_429; ++i) {
    auto r = d.post("/v1/jobs", quick);
    if (r.status == 429) {
      saw_429 = true;
      EXPECT_EQ(r.headers["retry-after"], "7");
      EXPECT_EQ(r.json()["error"]["code"], "queue_full");
    } else {
      EXPECT_EQ(r.status, 202u) << r.body;
    }
  }
  EXPECT_TRUE(saw_429);
  // SIGHUP reloads without touching the running job.
  d.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_NE(d.log().find("SIGHUP: reloading"), std::string::npos);
  EXPECT_EQ(d.get("/v1/workflows").status, 200u);
  // SIGTERM drains: new work is refused with 503 while running jobs finish.
  d.signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto during = d.post("/v1/jobs", quick);
  if (during.status != 0) {  // unless it already finished draining
    EXPECT_EQ(during.status, 503u) << during.body;
    EXPECT_EQ(during.json()["error"]["code"], "draining");
  }
  EXPECT_EQ(d.wait_exit(120), 0) << d.log();
  EXPECT_EQ(sql_int(d.db_path(), "SELECT COUNT(*) FROM jobs WHERE id = " +
                                     std::to_string(first.json()["id"].get<int64_t>()) +
                                     " AND status = 'succeeded'"),
            1);
}

}  // namespace
}  // namespace ream::testing
