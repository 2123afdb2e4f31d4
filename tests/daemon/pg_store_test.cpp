// The store tests (store_test.cpp) on a real PostgreSQL server (pg_cluster.h), and
// what only a store shared by several hosts needs: two stores on one database never
// claim the same job, a lapsed lease is taken over, a step run commits once when two
// hosts commit it at once, hosts starting together migrate once, and a server that
// is down or restarted is named (without its password) and reconnected to.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "pg_cluster.h"
#include "store/migrate_store.h"
#include "store/migrations.h"
#include "store/pg.h"
#include "store/pg_store.h"
#include "store/store.h"
#include "store_backend.h"
#include "test_util.h"

namespace ream::test {
namespace {

class PgBackend final : public StoreBackend {
 public:
  std::string name() const override { return "Postgres"; }
  std::string fresh_database() override {
    PgCluster& c = PgCluster::shared();
    EXPECT_EQ(c.error(), "");
    const std::string url = c.create_database();
    EXPECT_NE(url, "") << "CREATE DATABASE failed";
    return url;
  }
  std::string query_one(const std::string& db, const std::string& sql) override {
    return PgCluster::query_one(db, sql);
  }
  std::string exec(const std::string& db, const std::string& sql) override { return PgCluster::exec(db, sql); }
  std::string make_at_version(const std::string& db, int version, const std::string& sql) override {
    std::string all = "CREATE TABLE ream_schema (version INTEGER NOT NULL); INSERT INTO ream_schema VALUES (0);";
    for (int i = 0; i < version; ++i) all += store::pg_migrations().at(static_cast<size_t>(i));
    return exec(db, all + set_version_sql(version) + ";" + sql);
  }
  std::string set_version_sql(int version) const override {
    return "UPDATE ream_schema SET version = " + std::to_string(version);
  }
};

StoreBackend* pg_backend() {
  static PgBackend backend;
  return &backend;
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreTest, ::testing::Values(pg_backend()),
                         [](const auto& info) { return info.param->name(); });

std::string random_hash() {
  std::mt19937_64 rng(std::random_device{}());
  return std::to_string(rng()) + std::to_string(rng());
}

std::unique_ptr<store::Store> open_store(const std::string& url) {
  auto s = store::Store::open(url);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

// A database with `n` queued jobs of random priorities; their ids.
std::vector<int64_t> queue_jobs(store::Store& s, int n) {
  store::WorkflowRecord w{0, "wf", "1", random_hash(), "name: wf", "wf.yaml", 0};
  const int64_t wf = *s.put_workflow(w);
  std::vector<store::NewJob> batch(static_cast<size_t>(n));
  std::mt19937 rng(std::random_device{}());
  for (auto& j : batch) {
    j.job.workflow_id = wf;
    j.job.priority = static_cast<int>(rng() % 5);
  }
  auto created = s.create_jobs(batch);
  EXPECT_TRUE(created.ok()) << created.status().message();
  std::vector<int64_t> ids;
  if (created.ok()) {
    for (const auto& c : *created) ids.push_back(c.id);
  }
  return ids;
}

TEST(PgStore, MigrationsMatchSqlitesOneForOne) {
  // A migration added to one store and not the other would leave them at different
  // versions of the same schema.
  EXPECT_EQ(store::pg_migrations().size(), store::migrations().size());
}

TEST(PgStore, TheSchemaVersionIsKeptInTheDatabase) {
  const std::string db = pg_backend()->fresh_database();
  ASSERT_TRUE(open_store(db));
  EXPECT_EQ(PgCluster::query_one(db, "SELECT version FROM ream_schema"),
            std::to_string(store::current_schema_version()));
  EXPECT_EQ(PgCluster::query_one(db, "SELECT COUNT(*) FROM ream_schema"), "1");
}

TEST(PgStore, HostsStartingTogetherMigrateOnce) {
  const std::string db = pg_backend()->fresh_database();
  std::vector<std::thread> hosts;
  std::atomic<int> opened{0};
  for (int i = 0; i < 6; ++i) {
    hosts.emplace_back([&] {
      auto s = store::Store::open(db);
      EXPECT_TRUE(s.ok()) << s.status().message();
      if (s.ok()) ++opened;
    });
  }
  for (auto& t : hosts) t.join();
  EXPECT_EQ(opened.load(), 6);
  EXPECT_EQ(PgCluster::query_one(db, "SELECT version FROM ream_schema"),
            std::to_string(store::current_schema_version()));
}

TEST(PgStore, TwoHostsOnOneDatabaseNeverClaimTheSameJob) {
  const std::string db = pg_backend()->fresh_database();
  auto a = open_store(db), b = open_store(db);
  ASSERT_TRUE(a && b);
  const std::vector<int64_t> ids = queue_jobs(*a, 80);
  ASSERT_EQ(ids.size(), 80u);
  std::mutex mu;
  std::map<int64_t, std::string> claimed_by;
  std::vector<std::string> twice;
  std::vector<std::thread> runners;
  // Eight runners, four per host, start together and each claims at most its share (10),
  // so the 80 jobs are all claimed only if every claim is distinct, and both hosts claim
  // whatever the scheduler does (a loaded CI machine once let one host's runners take
  // every job before the other's started).
  std::latch start(8);
  for (int r = 0; r < 8; ++r) {
    store::Store& s = r % 2 == 0 ? *a : *b;
    const std::string owner = (r % 2 == 0 ? "host-a:" : "host-b:") + std::to_string(r) + ":1";
    runners.emplace_back([&, owner] {
      start.arrive_and_wait();
      for (int k = 0, idle = 0; k < 10;) {
        auto id = s.lease_next(owner, 60000);
        ASSERT_TRUE(id.ok()) << id.status().message();
        if (*id == 0) {  // none free now: the rest may be locked by other claims in flight
          if (++idle == 200) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        ++k;
        std::lock_guard lock(mu);
        if (!claimed_by.emplace(*id, owner).second) twice.push_back(std::to_string(*id));
      }
    });
  }
  for (auto& t : runners) t.join();
  EXPECT_TRUE(twice.empty()) << "claimed twice: " << twice.size();
  EXPECT_EQ(claimed_by.size(), ids.size());
  std::set<std::string> hosts;
  for (const auto& [id, owner] : claimed_by) hosts.insert(owner.substr(0, 6));
  EXPECT_EQ(hosts.size(), 2u);
  auto left = a->lease_next("host-a:9:1", 60000);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, 0) << "a job was left unclaimed";
  // What the database holds agrees: every job leased, each to the runner that got it.
  for (const auto& [id, owner] : claimed_by) {
    ASSERT_EQ(PgCluster::query_one(db, "SELECT lease_owner FROM jobs WHERE id = " + std::to_string(id)), owner);
  }
}

TEST(PgStore, ALapsedLeaseIsTakenOverByAnotherHost) {
  const std::string db = pg_backend()->fresh_database();
  auto a = open_store(db), b = open_store(db);
  ASSERT_TRUE(a && b);
  const int64_t job = queue_jobs(*a, 1).at(0);
  ASSERT_EQ(*a->lease_next("host-a:1:1", 60000), job);
  ASSERT_TRUE(a->mark_job_running(job).ok());
  // Held and renewed: host b finds nothing to run.
  ASSERT_EQ(a->heartbeat(job, "host-a:1:1", 60000)->state, store::LeaseCheck::State::kHeld);
  EXPECT_EQ(*b->lease_next("host-b:1:1", 60000), 0);
  // Host a stops renewing (killed, cut off): its lease lapses and b takes the job over.
  ASSERT_EQ(PgCluster::exec(db, "UPDATE jobs SET lease_expires_at = 1"), "");
  EXPECT_EQ(*b->lease_next("host-b:1:1", 60000), job);
  // Host a, back, learns it lost the job and cannot finish it.
  auto check = a->heartbeat(job, "host-a:1:1", 60000);
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->state, store::LeaseCheck::State::kLost);
  EXPECT_EQ(check->owner, "host-b:1:1");
  Status late = a->finish_job(job, store::kJobSucceeded, "{}", "", "host-a:1:1");
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition) << late.message();
  ASSERT_TRUE(b->finish_job(job, store::kJobSucceeded, "{}", "", "host-b:1:1").ok());
  EXPECT_EQ(PgCluster::query_one(db, "SELECT status || '/' || lease_owner FROM jobs"), "succeeded/");
}

TEST(PgStore, AStepRunCommittedByTwoHostsAtOnceIsWrittenOnce) {
  const std::string db = pg_backend()->fresh_database();
  auto a = open_store(db), b = open_store(db);
  ASSERT_TRUE(a && b);
  const int64_t job = queue_jobs(*a, 1).at(0);
  for (int round = 0; round < 10; ++round) {
    auto run = a->begin_step_run(job, "ask", round, "");
    ASSERT_TRUE(run.ok()) << run.status().message();
    std::vector<store::FindingRecord> findings(3);
    for (auto& f : findings) {
      f.kind = "answer";
      f.evidence.push_back({0, "doc-1", "quote " + random_hash(), 0, 5, 0, 5, true});
    }
    std::vector<Status> results(2);
    std::thread ta([&] { results[0] = a->commit_step_run(*run, findings); });
    std::thread tb([&] { results[1] = b->commit_step_run(*run, findings); });
    ta.join();
    tb.join();
    const int ok = (results[0].ok() ? 1 : 0) + (results[1].ok() ? 1 : 0);
    EXPECT_EQ(ok, 1) << results[0].message() << " | " << results[1].message();
    for (const Status& st : results) {
      if (!st.ok()) EXPECT_EQ(st.code(), StatusCode::kAlreadyExists) << st.message();
    }
  }
  EXPECT_EQ(PgCluster::query_one(db, "SELECT COUNT(*) FROM findings"), "30");
  EXPECT_EQ(PgCluster::query_one(db, "SELECT COUNT(*) FROM evidence"), "30");
  EXPECT_EQ(PgCluster::query_one(db, "SELECT COUNT(*) FROM job_events WHERE type = 'step_succeeded'"), "10");
}

TEST(PgStore, EventsFromTwoHostsCommitInIdOrder) {
  // A reader that has seen event N must never later find one below N (JobEvents reads
  // after_id): ids are taken and committed in one order across hosts.
  const std::string db = pg_backend()->fresh_database();
  auto a = open_store(db), b = open_store(db);
  ASSERT_TRUE(a && b);
  const int64_t job = queue_jobs(*a, 1).at(0);
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      store::Store& s = w % 2 == 0 ? *a : *b;
      for (int i = 0; i < 40; ++i) ASSERT_TRUE(s.add_event(job, "note", "{}").ok());
    });
  }
  int64_t seen = 0;
  std::vector<int64_t> all;
  std::thread reader([&] {
    while (!done) {
      auto events = a->events(job, seen);
      ASSERT_TRUE(events.ok());
      for (const auto& e : *events) {
        all.push_back(e.id);
        seen = e.id;
      }
    }
  });
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  auto rest = a->events(job, seen);
  ASSERT_TRUE(rest.ok());
  for (const auto& e : *rest) all.push_back(e.id);
  EXPECT_EQ(all.size(), 1u + 160u) << "events the reader skipped past";
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
}

TEST(PgStore, AScheduleSlotIsFiredByOneHost) {
  const std::string db = pg_backend()->fresh_database();
  auto a = open_store(db), b = open_store(db);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->put_schedule({"nightly", "h", 1000, 0, 0, 0, 0}).ok());
  std::atomic<int> fired{0};
  std::vector<std::thread> hosts;
  for (int i = 0; i < 8; ++i) {
    hosts.emplace_back([&, i] {
      store::Store& s = i % 2 == 0 ? *a : *b;
      auto won = s.advance_schedule("nightly", 1000, 1000, 2000, 0);
      ASSERT_TRUE(won.ok()) << won.status().message();
      if (*won) ++fired;
    });
  }
  for (auto& t : hosts) t.join();
  EXPECT_EQ(fired.load(), 1);
  EXPECT_EQ(b->schedules()->at(0).next_run_ms, 2000);
}

TEST(PgStore, AServerThatIsDownIsNamedWithoutItsPassword) {
  const std::string url = "postgresql://ream:s3cret-pw@/nodb?host=/nonexistent-ream-dir&port=5999";
  auto s = store::Store::open(url);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  const std::string& msg = s.status().message();
  EXPECT_NE(msg.find("postgresql://ream@/nodb?host=/nonexistent-ream-dir&port=5999"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("s3cret-pw"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/nonexistent-ream-dir/.s.PGSQL.5999"), std::string::npos) << msg;  // libpq's reason
  // A database that does not exist is named too.
  const std::string missing = "postgresql:///no_such_db?host=" + PgCluster::shared().socket_dir() +
                              "&port=5432&user=ream&password=hunter2";
  auto m = store::Store::open(missing);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("no_such_db"), std::string::npos) << m.status().message();
  EXPECT_EQ(m.status().message().find("hunter2"), std::string::npos) << m.status().message();
}

TEST(PgStore, RedactsPasswordsFromUrls) {
  EXPECT_EQ(store::pg::redact_url("postgresql://u:p@h:5432/d"), "postgresql://u@h:5432/d");
  EXPECT_EQ(store::pg::redact_url("postgres://u@h/d"), "postgres://u@h/d");
  EXPECT_EQ(store::pg::redact_url("postgresql://h/d?user=u&password=p&sslmode=require"),
            "postgresql://h/d?user=u&password=***&sslmode=require");
  EXPECT_EQ(store::pg::redact_url("/var/lib/ream/ream.db"), "/var/lib/ream/ream.db");
  EXPECT_EQ(store::describe_store("postgresql://a:b@c/d"), "postgresql://a@c/d");
}

TEST(PgStore, ARestartedServerIsReconnectedTo) {
  const std::string db = pg_backend()->fresh_database();
  auto s = open_store(db);
  ASSERT_TRUE(s);
  const int64_t job = queue_jobs(*s, 1).at(0);
  // Calls at once, so that the pool holds more than one connection.
  {
    std::vector<std::thread> readers;
    for (int i = 0; i < store::PgStore::kConnections; ++i)
      readers.emplace_back([&] { EXPECT_TRUE(s->get_job(job).ok()); });
    for (std::thread& t : readers) t.join();
  }
  ASSERT_EQ(PgCluster::shared().restart(), "");
  // The pooled connections died with the server, which said goodbye on each: the pool
  // notices when it hands one out and connects again, so no call is lost on them.
  for (int i = 0; i < store::PgStore::kConnections + 1; ++i) {
    Result<store::JobRecord> got = s->get_job(job);
    ASSERT_TRUE(got.ok()) << "call " << i + 1 << ": " << got.status().message();
    EXPECT_EQ(got->status, "queued");
    EXPECT_TRUE(s->probe_write().ok());
  }
}

// A host stopped inside a transaction (SIGSTOP, a frozen VM) holding the event lock
// held every other host's events with it for as long as it stayed stopped: found with
// two reamds on one database, one stopped mid-write, under ASan (the other's job and
// submission waited minutes). Each session now has an idle-in-transaction limit
// (pg::kIdleInTransactionTimeout unless the operator set one): the server ends the
// stopped session, its lock goes, the other host's write commits, and the stopped
// connection, found dead when next used, is reconnected.
TEST(PgStore, AHostStoppedInsideATransactionHoldsTheOthersOnlyUntilItsSessionTimesOut) {
  const std::string db = pg_backend()->fresh_database();
  const std::string safe = store::pg::redact_url(db);
  {
    auto fresh = store::pg::Conn::connect(db, safe);
    ASSERT_TRUE(fresh.ok()) << fresh.status().message();
    auto shown = (*fresh)->exec("SHOW idle_in_transaction_session_timeout");
    ASSERT_TRUE(shown.status().ok()) << shown.status().message();
    EXPECT_EQ(shown.row(0).text("idle_in_transaction_session_timeout"), store::pg::kIdleInTransactionTimeout);
  }
  // The operator's value is kept (here the database's: a short one, for the test's time).
  const std::string name = PgCluster::query_one(db, "SELECT current_database()");
  ASSERT_EQ(PgCluster::exec(db, "ALTER DATABASE \"" + name + "\" SET idle_in_transaction_session_timeout = '1500ms'"), "");
  auto b = open_store(db);
  ASSERT_TRUE(b);
  const int64_t job = queue_jobs(*b, 1).at(0);
  auto stalled = store::pg::Conn::connect(db, safe);
  ASSERT_TRUE(stalled.ok()) << stalled.status().message();
  auto shown = (*stalled)->exec("SHOW idle_in_transaction_session_timeout");
  ASSERT_TRUE(shown.status().ok());
  EXPECT_EQ(shown.row(0).text("idle_in_transaction_session_timeout"), "1500ms");
  // What a host stopped between two statements of an event write leaves: the event
  // lock, taken as PgStore's writes take it, in a transaction nobody continues.
  ASSERT_TRUE((*stalled)->exec_script("BEGIN").ok());
  auto lock = (*stalled)->exec("SELECT pg_advisory_xact_lock(" + std::to_string(store::PgStore::kEventLock) + ")");
  ASSERT_TRUE(lock.status().ok()) << lock.status().message();
  std::atomic<bool> written{false};
  const auto t0 = std::chrono::steady_clock::now();
  std::thread writer([&] {
    EXPECT_TRUE(b->add_event(job, "note", "{}").ok());
    written = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(written) << "the event was written while another session held the event lock";
  writer.join();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(waited, 1.0);
  EXPECT_LT(waited, 30.0);
  // The stopped host, awake again: its session is gone, and says so; the store's own
  // connections are reconnected when next taken (ARestartedServerIsReconnectedTo).
  auto after = (*stalled)->exec("SELECT 1");
  EXPECT_FALSE(after.status().ok());
  EXPECT_TRUE((*stalled)->broken());
  auto events = b->events(job, 0);
  ASSERT_TRUE(events.ok()) << events.status().message();
  EXPECT_EQ(events->back().type, "note");
}

// reamd migrate-store's copy: a SQLite install with every kind of row moves into an
// empty PostgreSQL database, ids kept, and new ids continue after the copied ones.
TEST(PgStore, MigrateStoreCopiesEverySqliteRowWithItsIds) {
  TempDir dir;
  const std::string path = dir.path("ream.db");
  auto src = open_store(path);
  ASSERT_TRUE(src);
  store::WorkflowRecord w{0, "wf", "1", random_hash(), "name: wf", "wf.yaml", 0};
  const int64_t wf = *src->put_workflow(w);
  store::DocumentRecord d;
  d.content_hash = random_hash();
  d.text = "The quick brown fox.";
  d.layout = std::string("RLY1\0\x01\xff", 7);
  d.size_bytes = 20;
  const int64_t doc = *src->put_document(d);
  ASSERT_TRUE(src->put_document_name(d.content_hash, "fox.txt").ok());
  std::vector<store::NewJob> batch(3);
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].job.workflow_id = wf;
    batch[i].job.inputs_json = "{\"i\":" + std::to_string(i) + "}";
    batch[i].documents = {{doc, "doc-1", "document", 1, "fox.txt"}};
  }
  batch[1].job.idempotency_key = "key-" + random_hash();
  batch[1].job.idempotency_hash = random_hash();
  auto created = src->create_jobs(batch);
  ASSERT_TRUE(created.ok()) << created.status().message();
  const int64_t job = created->at(0).id;
  ASSERT_TRUE(src->mark_job_running(job).ok());
  auto run = src->begin_step_run(job, "ask", 0, "\"q\"");
  ASSERT_TRUE(run.ok());
  store::FindingRecord f;
  f.kind = "answer";
  f.title = "t";
  f.confidence = 0.25;
  store::EvidenceRecord e{doc, "doc-1", "quick brown", 4, 15, 4, 15, true};
  e.match_kind = "exact";
  e.source_line = 1;
  f.evidence = {e};
  store::StepRunRecord done = *run;
  done.usage = {1, 100, 10, 60};
  ASSERT_TRUE(src->commit_step_run(done, {f, f}).ok());
  auto failed = src->begin_step_run(job, "other", -1, "");
  ASSERT_TRUE(failed.ok());
  ASSERT_TRUE(src->fail_step_run(failed->id, "boom", false, {}).ok());
  ASSERT_TRUE(src->finish_job(job, store::kJobFailed, "{}", "boom").ok());
  ASSERT_TRUE(src->put_schedule({"wf#0", "h", 5000, 4000, job, 0, 0}).ok());
  ASSERT_TRUE(*src->insert_api_schedule("nightly", R"({"workflow":"wf"})"));
  src.reset();

  const std::string url = pg_backend()->fresh_database();
  auto counts = store::copy_sqlite_to_postgresql(path, url);
  ASSERT_TRUE(counts.ok()) << counts.status().message();
  std::map<std::string, int64_t> n(counts->begin(), counts->end());
  EXPECT_EQ(n["jobs"], 3);
  EXPECT_EQ(n["findings"], 2);
  EXPECT_EQ(n["evidence"], 2);
  EXPECT_EQ(n["step_runs"], 2);

  auto a = open_store(path), b = open_store(url);
  ASSERT_TRUE(a && b);
  for (const auto& c : *created) {
    auto ja = a->get_job(c.id), jb = b->get_job(c.id);
    ASSERT_TRUE(ja.ok() && jb.ok()) << jb.status().message();
    EXPECT_EQ(jb->status, ja->status);
    EXPECT_EQ(jb->inputs_json, ja->inputs_json);
    EXPECT_EQ(jb->error, ja->error);
    EXPECT_EQ(jb->idempotency_key, ja->idempotency_key);
    EXPECT_EQ(jb->idempotency_hash, ja->idempotency_hash);
    EXPECT_EQ(jb->created_at, ja->created_at);
    EXPECT_EQ(jb->usage.prompt_tokens, ja->usage.prompt_tokens);
    EXPECT_EQ(b->job_documents(c.id)->at(0).name, "fox.txt");
    auto ea = a->events(c.id, 0), eb = b->events(c.id, 0);
    ASSERT_EQ(eb->size(), ea->size());
    for (size_t i = 0; i < ea->size(); ++i) {
      EXPECT_EQ(eb->at(i).id, ea->at(i).id);
      EXPECT_EQ(eb->at(i).type, ea->at(i).type);
      EXPECT_EQ(eb->at(i).data_json, ea->at(i).data_json);
    }
  }
  EXPECT_EQ(b->get_job(created->at(1).id)->idempotency_key, batch[1].job.idempotency_key);
  auto fa = a->findings(job), fb = b->findings(job);
  ASSERT_EQ(fb->size(), 2u);
  EXPECT_EQ(fb->at(1).id, fa->at(1).id);
  EXPECT_EQ(fb->at(1).confidence, 0.25);
  EXPECT_EQ(fb->at(1).evidence.at(0).quote, "quick brown");
  EXPECT_EQ(fb->at(1).evidence.at(0).match_kind, "exact");
  EXPECT_EQ(fb->at(1).evidence.at(0).document_id, doc);
  EXPECT_EQ(b->step_runs(job)->at(1).error, "boom");
  EXPECT_EQ(b->get_document(doc)->layout, d.layout);
  EXPECT_EQ(*b->document_name(d.content_hash), "fox.txt");
  EXPECT_EQ(b->schedules()->at(0).next_run_ms, 5000);
  EXPECT_EQ(b->api_schedules()->at(0).definition_json, R"({"workflow":"wf"})");
  // New rows get ids after the copied ones, and the copied idempotency key still replays.
  store::JobRecord next;
  next.workflow_id = wf;
  auto fresh = b->create_job(next, {});
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_GT(fresh->id, created->back().id);
  auto replay = b->create_job(batch[1].job, {});
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->id, created->at(1).id);

  // Only into an empty database; and only from a SQLite store that exists.
  auto again = store::copy_sqlite_to_postgresql(path, url);
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition) << again.status().message();
  auto missing = store::copy_sqlite_to_postgresql(dir.path("none.db"), pg_backend()->fresh_database());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir.path("none.db")));
}

}  // namespace
}  // namespace ream::test
