// Store: migrations, deduplication, jobs, leases, and the step-run commit that writes
// findings exactly once. Every test here runs against each backend (StoreBackend):
// SQLite in ream_store_test, a real PostgreSQL server in ream_pg_store_test.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "store/store.h"
#include "store_backend.h"
#include "test_util.h"

namespace ream::store {
namespace {

std::string random_hash() {
  std::mt19937_64 rng(std::random_device{}());
  return std::to_string(rng()) + std::to_string(rng());
}

using test::StoreTest;

struct Fixture {
  test::StoreBackend& backend;
  std::string db = backend.fresh_database();
  std::unique_ptr<Store> store;
  int64_t job = 0;

  explicit Fixture(test::StoreBackend& b) : backend(b) {
    auto s = Store::open(db);
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (!s.ok()) return;
    store = std::move(s).value();
    WorkflowRecord w{0, "wf", "1", random_hash(), "name: wf", "wf.yaml", 0};
    auto wid = store->put_workflow(w);
    EXPECT_TRUE(wid.ok()) << wid.status().message();
    DocumentRecord d;
    d.content_hash = random_hash();
    d.text = "The quick brown fox.";
    d.size_bytes = 20;
    auto did = store->put_document(d);
    EXPECT_TRUE(did.ok()) << did.status().message();
    JobRecord j;
    j.workflow_id = *wid;
    j.inputs_json = R"({"document":"doc-1"})";
    auto id = store->create_job(j, {{*did, "doc-1", "document", 1}});
    EXPECT_TRUE(id.ok()) << id.status().message();
    job = id->id;
  }
  std::string query_one(const std::string& sql) { return backend.query_one(db, sql); }
  std::string exec(const std::string& sql) { return backend.exec(db, sql); }
};

TEST_P(StoreTest, OpensAtTheCurrentSchemaVersionAndReopensWithoutMigrating) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  EXPECT_EQ(*f.store->schema_version(), current_schema_version());
  // Reopening migrates nothing and keeps the data.
  auto again = Store::open(f.db);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ((*again)->get_job(f.job)->status, "queued");
  EXPECT_EQ(*(*again)->schema_version(), current_schema_version());
}

TEST_P(StoreTest, RefusesADatabaseFromANewerRelease) {
  const std::string db = backend().fresh_database();
  ASSERT_TRUE(Store::open(db).ok());
  ASSERT_EQ(backend().exec(db, backend().set_version_sql(99)), "");
  auto s = Store::open(db);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.status().message(), describe_store(db) + ": database schema version 99 is newer than this ream supports (" +
                                      std::to_string(current_schema_version()) + ")");
}

TEST_P(StoreTest, MigratesAVersion1DatabaseAndKeepsItsRows) {
  const std::string db = backend().fresh_database();
  const std::string hash = random_hash();
  ASSERT_EQ(backend().make_at_version(db, 1,
                                      "INSERT INTO documents(content_hash, size_bytes, text, created_at) "
                                      "VALUES ('" + hash + "', 4, 'text', 1);"),
            "");
  auto s = Store::open(db);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(*(*s)->schema_version(), current_schema_version());
  auto old = (*s)->get_document(1);
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->text, "text");
  EXPECT_EQ(old->layout, "");
  // The same document ingested again fills in the layout and token count it lacked.
  DocumentRecord d = *old;
  d.layout = std::string("RLY1\0\x01\xff", 7);  // bytes, NULs included
  d.token_count = 2;
  ASSERT_EQ(*(*s)->put_document(d), 1);
  EXPECT_EQ((*s)->get_document(1)->layout, d.layout);
  EXPECT_EQ((*s)->get_document(1)->token_count, 2);
}

// A job document keeps the name it was sent under (version 3); rows from before it
// read back with no name, so reports fall back to the path.
TEST_P(StoreTest, JobDocumentsKeepTheirNamesAndOldRowsHaveNone) {
  const std::string db = backend().fresh_database();
  const std::string v2 =
      "INSERT INTO workflows(name, version, content_hash, source, created_at) VALUES ('wf', '1', 'h', 's', 1);"
      "INSERT INTO documents(content_hash, size_bytes, text, created_at) VALUES ('" + random_hash() + "', 4, 'text', 1);"
      "INSERT INTO jobs(workflow_id, status, created_at, updated_at) VALUES (1, 'queued', 1, 1);"
      "INSERT INTO job_documents(job_id, ordinal, document_id, key, input_name) VALUES (1, 1, 1, 'doc-1', 'd');";
  ASSERT_EQ(backend().make_at_version(db, 2, v2), "");
  auto s = Store::open(db);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto old = (*s)->job_documents(1);
  ASSERT_TRUE(old.ok() && old->size() == 1u) << old.status().message();
  EXPECT_EQ(old->at(0).name, "");
  JobRecord j;
  j.workflow_id = 1;
  const std::string name = "msa-" + random_hash() + ".txt";
  auto id = (*s)->create_job(j, {{1, "doc-1", "d", 1, name}, {1, "doc-2", "d", 2}});
  ASSERT_TRUE(id.ok()) << id.status().message();
  auto docs = (*s)->job_documents(id->id);
  ASSERT_TRUE(docs.ok() && docs->size() == 2u);
  EXPECT_EQ(docs->at(0).name, name);
  EXPECT_EQ(docs->at(1).name, "");
}

TEST_P(StoreTest, EvidenceKeepsHowAndWhereAQuoteWasFound) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  auto run = f.store->begin_step_run(f.job, "ask", -1, "");
  ASSERT_TRUE(run.ok());
  FindingRecord fr;
  fr.kind = "answer";
  EvidenceRecord located{1, "doc-1", "quick brown", 4, 15, 4, 15, true};
  located.match_kind = "normalized";
  located.source_path = "contract.pdf";
  located.source_page = 3;
  located.source_line = 12;
  located.source_column = 5;
  located.source_end_line = 13;
  fr.evidence = {located, {1, "doc-1", "made up", -1, -1, -1, -1, false}};
  ASSERT_TRUE(f.store->commit_step_run(*run, {fr}).ok());
  auto found = f.store->findings(f.job);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->at(0).evidence.size(), 2u);
  const EvidenceRecord& a = found->at(0).evidence[0];
  EXPECT_EQ(a.match_kind, "normalized");
  EXPECT_EQ(a.source_path, "contract.pdf");
  EXPECT_EQ(a.source_page, 3);
  EXPECT_EQ(a.source_line, 12);
  EXPECT_EQ(a.source_column, 5);
  EXPECT_EQ(a.source_end_line, 13);
  const EvidenceRecord& b = found->at(0).evidence[1];
  EXPECT_FALSE(b.verified);
  EXPECT_EQ(b.match_kind, "");
  EXPECT_EQ(b.source_line, 0);
}

TEST_P(StoreTest, DeduplicatesDocumentsAndWorkflowsByContentHash) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  DocumentRecord d;
  d.content_hash = random_hash();
  d.text = "same";
  auto a = f.store->put_document(d);
  auto b = f.store->put_document(d);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(f.store->get_document(*a)->text, "same");
  WorkflowRecord w{0, "wf2", "1", random_hash(), "src", "p", 0};
  EXPECT_EQ(*f.store->put_workflow(w), *f.store->put_workflow(w));
}

TEST_P(StoreTest, StepCommitWritesFindingsOnceAndRefusesASecondCommit) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  ASSERT_TRUE(f.store->mark_job_running(f.job).ok());
  auto run = f.store->begin_step_run(f.job, "ask", 0, "\"q\"");
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->attempt, 1);
  FindingRecord fr;
  fr.kind = "answer";
  fr.title = "t";
  fr.severity = 2;
  fr.evidence.push_back({0, "doc-1", "quick brown", 4, 15, 4, 15, true});
  StepRunRecord done = *run;
  done.usage = {2, 100, 10, 60};
  done.outputs_json = R"({"x":1})";
  ASSERT_TRUE(f.store->commit_step_run(done, {fr, fr}).ok());
  Status again = f.store->commit_step_run(done, {fr});
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(f.query_one("SELECT COUNT(*) FROM findings"), "2");
  EXPECT_EQ(f.query_one("SELECT COUNT(*) FROM evidence"), "2");
  // A committed run cannot be started again.
  EXPECT_EQ(f.store->begin_step_run(f.job, "ask", 0, "").status().code(), StatusCode::kAlreadyExists);
  auto findings = f.store->findings(f.job);
  ASSERT_TRUE(findings.ok());
  ASSERT_EQ(findings->size(), 2u);
  EXPECT_EQ((*findings)[1].seq, 1);
  EXPECT_EQ((*findings)[0].evidence[0].quote, "quick brown");
  auto job = f.store->get_job(f.job);
  EXPECT_EQ(job->usage.prompt_tokens, 100);
  EXPECT_EQ(job->usage.cached_prompt_tokens, 60);
}

TEST_P(StoreTest, FailedAttemptsCountUpAndKeepTheirError) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  auto first = f.store->begin_step_run(f.job, "s", -1, "");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(f.store->fail_step_run(first->id, "boom", true, {}).ok());
  EXPECT_EQ(f.query_one("SELECT status || ':' || error FROM step_runs"), "retrying:boom");
  auto second = f.store->begin_step_run(f.job, "s", -1, "");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->attempt, 2);
  EXPECT_EQ(second->id, first->id);
  ASSERT_TRUE(f.store->fail_step_run(second->id, "boom again", false, {}).ok());
  EXPECT_EQ(f.query_one("SELECT status || ':' || attempt FROM step_runs"), "failed:2");
  ASSERT_TRUE(f.store->finish_job(f.job, kJobFailed, "{}", "boom again").ok());
  EXPECT_EQ(f.store->get_job(f.job)->error, "boom again");
  auto events = f.store->events(f.job, 0);
  ASSERT_TRUE(events.ok());
  std::vector<std::string> types;
  for (const auto& e : *events) types.push_back(e.type);
  EXPECT_EQ(types, (std::vector<std::string>{"job_queued", "step_started", "step_retrying", "step_started",
                                             "step_failed", "job_failed"}));
}

// A final state is written once: finishing a job that already ended is refused and changes
// nothing (issue 14: finish_job had no status guard), and a caller naming a lease owner
// finishes the job only while that owner holds its lease.
TEST_P(StoreTest, FinishJobEndsOnlyAQueuedOrRunningJobUnderItsLease) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  ASSERT_TRUE(f.store->mark_job_running(f.job).ok());
  ASSERT_EQ(f.query_one("SELECT status FROM jobs"), "running");
  // Another process's runner holds the lease now.
  ASSERT_EQ(f.exec("UPDATE jobs SET lease_owner = 'host-b:7:1', lease_expires_at = 1"), "");

  Status lost = f.store->finish_job(f.job, kJobCancelled, "{}", "cancelled", "host-a:3:1");
  EXPECT_EQ(lost.code(), StatusCode::kFailedPrecondition) << lost.message();
  EXPECT_NE(lost.message().find("host-b:7:1"), std::string::npos) << lost.message();
  EXPECT_EQ(f.query_one("SELECT status || ':' || lease_owner FROM jobs"), "running:host-b:7:1");

  ASSERT_TRUE(f.store->finish_job(f.job, kJobSucceeded, R"({"x":1})", "", "host-b:7:1").ok());
  EXPECT_EQ(f.query_one("SELECT status || ':' || lease_owner FROM jobs"), "succeeded:");
  Status again = f.store->finish_job(f.job, kJobFailed, "{}", "late failure");
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << again.message();
  EXPECT_NE(again.message().find("already ended (succeeded)"), std::string::npos) << again.message();
  auto job = f.store->get_job(f.job);
  EXPECT_EQ(job->status, "succeeded");
  EXPECT_EQ(job->outputs_json, R"({"x":1})");
  EXPECT_EQ(job->error, "");
  EXPECT_EQ(f.query_one("SELECT COUNT(*) FROM job_events WHERE type LIKE 'job_%' AND type NOT IN "
                            "('job_queued', 'job_started')"),
            "1");
  EXPECT_EQ(f.store->finish_job(f.job + 1000, kJobFailed, "{}", "x").code(), StatusCode::kNotFound);
}

// A job created with its documents unread (reamd's submissions) gets them attached once,
// by the runner holding its lease, in one transaction: its inputs, its documents, their
// events, and no pending documents left. Another owner, a second attach or an ended job
// writes nothing.
TEST_P(StoreTest, AttachDocumentsOnceUnderTheLeaseInOneTransaction) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  auto w = f.store->get_job(f.job);
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->pending_documents, "") << "a job created with its documents has none pending";
  JobRecord j;
  j.workflow_id = w->workflow_id;
  j.inputs_json = R"({"document":"/srv/a.md"})";
  j.pending_documents = R"([{"input":"document","path":"/srv/a.md","name":""}])";
  auto created = f.store->create_job(j, {});
  ASSERT_TRUE(created.ok()) << created.status().message();
  const int64_t id = created->id;
  auto read = f.store->get_job(id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->pending_documents, j.pending_documents);
  EXPECT_EQ(read->inputs_json, j.inputs_json);
  DocumentRecord d;
  d.content_hash = random_hash();
  d.text = "A document read at the job's first run.";
  auto did = f.store->put_document(d);
  ASSERT_TRUE(did.ok()) << did.status().message();
  const std::vector<JobDocument> docs = {{*did, "doc-1", "document", 1, "a.md"}};
  const std::vector<EventRecord> events = {{0, 0, "document_ingested", R"({"document":"doc-1"})", 0}};

  ASSERT_EQ(f.exec("UPDATE jobs SET status = 'running', lease_owner = 'host-b:7:1', lease_expires_at = 1 "
                   "WHERE id = " + std::to_string(id)),
            "");
  Status lost = f.store->attach_documents(id, "host-a:3:1", R"({"document":"doc-1"})", docs, events);
  EXPECT_EQ(lost.code(), StatusCode::kFailedPrecondition) << lost.message();
  EXPECT_NE(lost.message().find("host-b:7:1"), std::string::npos) << lost.message();
  EXPECT_EQ(f.store->job_documents(id)->size(), 0u);
  EXPECT_EQ(f.store->get_job(id)->pending_documents, j.pending_documents);

  ASSERT_TRUE(f.store->attach_documents(id, "host-b:7:1", R"({"document":"doc-1"})", docs, events).ok());
  auto after = f.store->get_job(id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->pending_documents, "");
  EXPECT_EQ(after->inputs_json, R"({"document":"doc-1"})");
  auto jd = f.store->job_documents(id);
  ASSERT_TRUE(jd.ok() && jd->size() == 1u);
  EXPECT_EQ(jd->at(0).document_id, *did);
  EXPECT_EQ(jd->at(0).name, "a.md");
  EXPECT_EQ(f.query_one("SELECT COUNT(*) FROM job_events WHERE type = 'document_ingested' AND job_id = " +
                        std::to_string(id)),
            "1");

  Status twice = f.store->attach_documents(id, "host-b:7:1", R"({"document":"doc-1"})", docs, events);
  EXPECT_EQ(twice.code(), StatusCode::kFailedPrecondition) << twice.message();
  EXPECT_NE(twice.message().find("attached before"), std::string::npos) << twice.message();
  EXPECT_EQ(f.store->job_documents(id)->size(), 1u);

  // An ended job with documents still pending (cancelled while queued) takes none.
  j.idempotency_key = "";
  auto other = f.store->create_job(j, {});
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(*f.store->cancel_if_queued(other->id));
  Status ended = f.store->attach_documents(other->id, "", R"({"document":"doc-1"})", docs, events);
  EXPECT_EQ(ended.code(), StatusCode::kFailedPrecondition) << ended.message();
  EXPECT_NE(ended.message().find("already ended (cancelled)"), std::string::npos) << ended.message();
  EXPECT_EQ(f.store->job_documents(other->id)->size(), 0u);
}

// lease_job (what `ream run` takes): a job free, expired, or held by a dead process of
// this host is leased; one a live process holds, or one that has ended, is not.
TEST_P(StoreTest, LeaseJobTakesAFreeOrOrphanedJobAndNotAHeldOrEndedOne) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  const int64_t ms = 60000;
  auto free_lease = f.store->lease_job(f.job, "here:1:1", ms, "here");
  ASSERT_TRUE(free_lease.ok()) << free_lease.status().message();
  EXPECT_EQ(free_lease->state, LeaseCheck::State::kHeld);
  EXPECT_EQ(f.query_one("SELECT lease_owner || ':' || CASE WHEN lease_expires_at > 0 THEN 'later' ELSE 'never' END FROM jobs"), "here:1:1:later");

  // Held, unexpired, by a live process of this host (the one that started this test;
  // this process's own pid under another owner counts as an earlier, dead, process):
  // refused, unchanged.
  const std::string live = "here:" + std::to_string(getppid()) + ":5";
  ASSERT_EQ(f.exec("UPDATE jobs SET lease_owner = '" + live +
                                     "', lease_expires_at = 9000000000000"),
            "");
  auto held = f.store->lease_job(f.job, "here:2:2", ms, "here");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->state, LeaseCheck::State::kLost);
  EXPECT_EQ(held->owner, live);
  EXPECT_EQ(f.query_one("SELECT lease_owner FROM jobs"), live);
  // The same owner on another host is not judged by this host's processes: refused too.
  auto elsewhere = f.store->lease_job(f.job, "there:2:2", ms, "there");
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(elsewhere->state, LeaseCheck::State::kLost);

  // Held by a process of this host that is gone: taken over.
  pid_t child = fork();
  if (child == 0) _exit(0);
  int st = 0;
  waitpid(child, &st, 0);
  const std::string dead = "here:" + std::to_string(child) + ":5";
  ASSERT_EQ(f.exec("UPDATE jobs SET lease_owner = '" + dead + "'"), "");
  auto orphan = f.store->lease_job(f.job, "here:3:3", ms, "here");
  ASSERT_TRUE(orphan.ok());
  EXPECT_EQ(orphan->state, LeaseCheck::State::kHeld);
  EXPECT_EQ(f.query_one("SELECT lease_owner FROM jobs"), "here:3:3");

  // Expired: taken over; a failed job may be resumed, so it is leased too.
  ASSERT_EQ(f.exec("UPDATE jobs SET status = 'failed', lease_owner = '" + live +
                                     "', lease_expires_at = 1"),
            "");
  auto expired = f.store->lease_job(f.job, "here:4:4", ms, "here");
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired->state, LeaseCheck::State::kHeld);

  // Ended: not leased, the status says why.
  ASSERT_TRUE(f.store->release(f.job, "here:4:4").ok());
  ASSERT_EQ(f.exec("UPDATE jobs SET status = 'succeeded'"), "");
  auto ended = f.store->lease_job(f.job, "here:5:5", ms, "here");
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->state, LeaseCheck::State::kEnded);
  EXPECT_EQ(ended->status, "succeeded");
  EXPECT_EQ(f.query_one("SELECT lease_owner FROM jobs"), "");
  EXPECT_EQ(f.store->lease_job(f.job + 1000, "here:5:5", ms, "here").status().code(),
            StatusCode::kNotFound);
}

// The idempotency key's request digest is stored in the job's own row, in the job's
// transaction.
TEST_P(StoreTest, IdempotencyKeyAndDigestAreCommittedWithTheJob) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  JobRecord j;
  j.workflow_id = f.store->get_job(f.job)->workflow_id;
  j.idempotency_key = "key-" + random_hash();
  j.idempotency_hash = random_hash();
  auto id = f.store->create_job(j, {});
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_FALSE(id->replayed);
  auto got = f.store->get_job(id->id);
  EXPECT_EQ(got->idempotency_key, j.idempotency_key);
  EXPECT_EQ(got->idempotency_hash, j.idempotency_hash);
  // The key stays unique: a second job under it names the first and writes nothing,
  // saying whether it came with the same request.
  auto again = f.store->create_job(j, {});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->replayed);
  EXPECT_TRUE(again->same_request);
  EXPECT_EQ(again->id, id->id);
  JobRecord dup = j;
  dup.idempotency_hash = random_hash();
  auto other = f.store->create_job(dup, {});
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_TRUE(other->replayed);
  EXPECT_FALSE(other->same_request);
  EXPECT_EQ(other->id, id->id);
  EXPECT_EQ(f.query_one("SELECT COUNT(*) FROM jobs WHERE idempotency_key = '" + j.idempotency_key + "'"), "1");
}

// Many submissions in one transaction (issue 14's group commit): each job gets its
// row, documents and events; a key repeated inside the batch replays the first.
TEST_P(StoreTest, CreatesABatchOfJobsInOneTransaction) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  const int64_t wf = f.store->get_job(f.job)->workflow_id;
  std::vector<NewJob> batch;
  const std::string key = "batch-" + random_hash();
  for (int i = 0; i < 50; ++i) {
    NewJob n;
    n.job.workflow_id = wf;
    n.job.priority = i % 7;
    n.job.inputs_json = "{\"i\":" + std::to_string(i) + "}";
    if (i == 10 || i == 20) {
      n.job.idempotency_key = key;
      n.job.idempotency_hash = i == 10 ? "h1" : "h2";
    }
    n.events.push_back({0, 0, "document_failed", "{\"i\":" + std::to_string(i) + "}", 0});
    batch.push_back(std::move(n));
  }
  auto created = f.store->create_jobs(batch);
  ASSERT_TRUE(created.ok()) << created.status().message();
  ASSERT_EQ(created->size(), batch.size());
  EXPECT_TRUE(created->at(20).replayed);
  EXPECT_FALSE(created->at(20).same_request);
  EXPECT_EQ(created->at(20).id, created->at(10).id);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i == 20) continue;
    EXPECT_FALSE(created->at(i).replayed) << i;
    auto job = f.store->get_job(created->at(i).id);
    ASSERT_TRUE(job.ok());
    EXPECT_EQ(job->inputs_json, batch[i].job.inputs_json);
    EXPECT_EQ(job->priority, batch[i].job.priority);
    auto events = f.store->events(created->at(i).id, 0);
    ASSERT_TRUE(events.ok() && events->size() == 2u);
    EXPECT_EQ(events->at(0).type, "job_queued");
    EXPECT_EQ(events->at(1).data_json, batch[i].events[0].data_json);
  }
  EXPECT_EQ(f.query_one("SELECT COUNT(*) FROM jobs"), std::to_string(1 + 49));
}

TEST_P(StoreTest, ConcurrentWritersFromTwoConnectionsBothCommit) {
  Fixture f(backend());
  ASSERT_TRUE(f.store);
  auto other = Store::open(f.db);
  ASSERT_TRUE(other.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      Store& s = t == 0 ? *f.store : **other;
      for (int i = 0; i < 25; ++i) {
        auto run = s.begin_step_run(f.job, "s" + std::to_string(t), i, "");
        ASSERT_TRUE(run.ok()) << run.status().message();
        FindingRecord fr;
        fr.kind = "k";
        ASSERT_TRUE(s.commit_step_run(*run, {fr}).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f.query_one("SELECT COUNT(*) FROM findings"), "50");
  EXPECT_EQ(f.query_one("SELECT COUNT(*) FROM step_runs WHERE status = 'succeeded'"), "50");
}

}  // namespace
}  // namespace ream::store
