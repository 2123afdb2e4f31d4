// The PostgreSQL store's notices (Store::Notice, LISTEN/NOTIFY): what one host commits
// is announced to another host's listener — a job created, a lease released while the
// job is still runnable, jobs requeued, a job's events — and a listener whose connection
// is killed reconnects and says so (kResync). Two PgStore objects on one database stand
// for two hosts. Bounds are generous (a loaded machine): a notice normally comes in
// milliseconds, and nothing here polls, so without NOTIFY none would come at all.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "pg_cluster.h"
#include "store/store.h"

namespace ream::test {
namespace {

using Kind = store::Store::Notice::Kind;
constexpr auto kPatience = std::chrono::seconds(15);

// The notices a store delivered, in order; waits for one that matches.
class NoticeLog {
 public:
  store::Store::NoticeListener listener() {
    return [this](const store::Store::Notice& n) {
      std::lock_guard lock(mu_);
      seen_.push_back(n);
      taken_.push_back(false);
      cv_.notify_all();
    };
  }
  // Waits for a notice that `match`es among those not yet taken by an earlier wait (in
  // the order they came), and takes it; true when one came. Two transactions' notices
  // come in commit order; one transaction's in the order it sent them.
  bool wait(const std::function<bool(const store::Store::Notice&)>& match) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] {
      for (size_t i = 0; i < seen_.size(); ++i) {
        if (!taken_[i] && match(seen_[i])) {
          taken_[i] = true;
          return true;
        }
      }
      return false;
    });
  }
  bool wait(Kind kind, int64_t job_id = 0) {
    return wait([&](const store::Store::Notice& n) { return n.kind == kind && n.job_id == job_id; });
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<store::Store::Notice> seen_;
  std::vector<bool> taken_;
};

std::string fresh_database() {
  PgCluster& c = PgCluster::shared();
  EXPECT_EQ(c.error(), "");
  const std::string url = c.create_database();
  EXPECT_NE(url, "") << "CREATE DATABASE failed";
  return url;
}

std::unique_ptr<store::Store> open_store(const std::string& url) {
  auto s = store::Store::open(url);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Creates one queued job in `s`; its id.
int64_t queue_job(store::Store& s) {
  std::mt19937_64 rng(std::random_device{}());
  store::WorkflowRecord w{0, "wf", "1", std::to_string(rng()) + std::to_string(rng()), "name: wf", "wf.yaml", 0};
  store::NewJob j;
  j.job.workflow_id = *s.put_workflow(w);
  auto created = s.create_jobs({j});
  EXPECT_TRUE(created.ok()) << created.status().message();
  return created.ok() ? created->at(0).id : 0;
}

TEST(PgNotices, WhatMakesAJobRunnableOnOneHostIsAnnouncedToAnother) {
  const std::string db = fresh_database();
  auto a = open_store(db), b = open_store(db);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->announces_commits());
  NoticeLog log;
  a->set_notice_listener(log.listener());
  ASSERT_TRUE(log.wait(Kind::kResync)) << "the listener never connected";

  // Created on b.
  const int64_t job = queue_job(*b);
  ASSERT_GT(job, 0);
  EXPECT_TRUE(log.wait(Kind::kRunnable)) << "job creation";
  // Its `job_queued` event, with the job's id.
  EXPECT_TRUE(log.wait(Kind::kEvents, job)) << "job_queued";

  // Leased by b, then released while still queued (a drain): runnable again.
  ASSERT_EQ(*b->lease_next("host-b:1:1", 60000), job);
  ASSERT_TRUE(b->release(job, "host-b:1:1").ok());
  EXPECT_TRUE(log.wait(Kind::kRunnable)) << "release of a job still queued";

  // Leased and left running by a host that died: requeued at another's start.
  ASSERT_EQ(*b->lease_next("host-b:1:1", 60000), job);
  ASSERT_TRUE(b->mark_job_running(job).ok());
  ASSERT_EQ(PgCluster::exec(db, "UPDATE jobs SET lease_expires_at = 1"), "");
  ASSERT_EQ(*b->requeue_orphans("host-b", "host-b:2:2"), 1);
  EXPECT_TRUE(log.wait(Kind::kRunnable)) << "requeue_orphans";

  // An event added by b.
  ASSERT_TRUE(b->add_event(job, "note", "{}").ok());
  EXPECT_TRUE(log.wait(Kind::kEvents, job)) << "add_event";

  // Stopped: nothing is delivered once set_notice_listener(nullptr) has returned.
  a->set_notice_listener(nullptr);
  const size_t before = log.count();
  ASSERT_GT(queue_job(*b), 0);
  ASSERT_TRUE(b->add_event(job, "note", "{}").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(log.count(), before);
}

// A job released at its end (its final state written) is not runnable: no kRunnable. The
// release is followed by an event of another job, announced after it on the same
// connection, so that the test need not wait for something not to come.
TEST(PgNotices, AReleaseAfterTheJobEndedAnnouncesNothing) {
  const std::string db = fresh_database();
  auto a = open_store(db), b = open_store(db);
  ASSERT_TRUE(a && b);
  const int64_t job = queue_job(*b), other = queue_job(*b);
  ASSERT_GT(job, 0);
  ASSERT_GT(other, 0);
  ASSERT_EQ(*b->lease_next("host-b:1:1", 60000), job);
  ASSERT_TRUE(b->finish_job(job, store::kJobSucceeded, "{}", "", "host-b:1:1").ok());
  NoticeLog log;
  a->set_notice_listener(log.listener());
  ASSERT_TRUE(log.wait(Kind::kResync));
  ASSERT_TRUE(b->release(job, "host-b:1:1").ok());
  ASSERT_TRUE(b->add_event(other, "note", "{}").ok());
  bool runnable = false;
  EXPECT_TRUE(log.wait([&](const store::Store::Notice& n) {
    runnable = runnable || n.kind == Kind::kRunnable;
    return n.kind == Kind::kEvents && n.job_id == other;
  }));
  EXPECT_FALSE(runnable);
  a->set_notice_listener(nullptr);
}

// The listener's connection is killed (as a server restart or a network cut would): it
// reconnects, says so with kResync (whatever was announced meanwhile is lost), and
// announcements come again.
TEST(PgNotices, AListenerWhoseConnectionIsKilledReconnects) {
  const std::string db = fresh_database();
  auto a = open_store(db), b = open_store(db);
  ASSERT_TRUE(a && b);
  NoticeLog log;
  a->set_notice_listener(log.listener());
  ASSERT_TRUE(log.wait(Kind::kResync));
  EXPECT_EQ(PgCluster::query_one(db, "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = "
                                     "'reamd-listen' AND datname = current_database()"),
            "1");
  EXPECT_EQ(PgCluster::query_one(db, "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM "
                                     "pg_stat_activity WHERE application_name = 'reamd-listen' AND "
                                     "datname = current_database()) t"),
            "1");
  EXPECT_TRUE(log.wait(Kind::kResync)) << "no reconnection";
  const int64_t job = queue_job(*b);
  ASSERT_GT(job, 0);
  EXPECT_TRUE(log.wait(Kind::kRunnable));
  EXPECT_TRUE(log.wait(Kind::kEvents, job));
  a->set_notice_listener(nullptr);
}

// SQLite (one host) announces nothing; its waiters keep their usual polls.
TEST(PgNotices, SqliteAnnouncesNothing) {
  auto s = store::Store::open(":memory:");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_FALSE((*s)->announces_commits());
}

}  // namespace
}  // namespace ream::test
