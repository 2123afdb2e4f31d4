// jobs::JobEvents over a real SQLite file: a subscriber gets the events stored before
// it subscribed, then each event this process commits, pushed (its waker called) in id
// order and each once; events another connection writes (as another reamd process
// would) arrive through the reader of foreign events.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "jobs/job_events.h"
#include "store/store.h"

namespace ream::jobs {
namespace {

class JobEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ream-events-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "ream.db").string();
    store_ = std::move(store::Store::open(path_).value());
    auto wf = store_->put_workflow({0, "wf", "1", std::to_string(std::random_device{}()), "name: wf", "", 0});
    ASSERT_TRUE(wf.ok());
    store::JobRecord j;
    j.workflow_id = *wf;
    job_ = store_->create_job(j, {})->id;
    other_ = store_->create_job(j, {})->id;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Takes events from `sub` until `n` have come or 10 s pass, waiting on its waker.
  std::vector<store::EventRecord> take(Subscription& sub, size_t n) {
    std::mutex mu;
    std::condition_variable cv;
    bool woken = false;
    sub.set_waker([&] {
      std::lock_guard lock(mu);
      woken = true;
      cv.notify_all();
    });
    std::vector<store::EventRecord> got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
      for (auto& e : sub.take()) got.push_back(std::move(e));
      std::unique_lock lock(mu);
      cv.wait_until(lock, deadline, [&] { return woken; });
      woken = false;
    }
    for (auto& e : sub.take()) got.push_back(std::move(e));
    sub.set_waker(nullptr);
    return got;
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<store::Store> store_;
  int64_t job_ = 0, other_ = 0;
};

TEST_F(JobEventsTest, BacklogThenLiveEventsEachOnceInOrder) {
  JobEvents events(*store_, /*foreign_every_s=*/60);  // this process's events only
  ASSERT_TRUE(store_->mark_job_running(job_).ok());
  auto sub = events.subscribe(job_, 0);
  ASSERT_TRUE(sub->backlog_status().ok());
  auto backlog = sub->take();
  ASSERT_EQ(backlog.size(), 2u);
  EXPECT_EQ(backlog[0].type, "job_queued");
  EXPECT_EQ(backlog[1].type, "job_started");
  // Committed from several threads at once, with another job's events between.
  const int kThreads = 4, kEach = 10;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        ASSERT_TRUE(store_->add_event(job_, "tick", "{\"t\":" + std::to_string(t) + "}").ok());
        ASSERT_TRUE(store_->add_event(other_, "noise", "{}").ok());
      }
    });
  }
  auto live = take(*sub, kThreads * kEach);
  for (auto& w : writers) w.join();
  ASSERT_EQ(live.size(), static_cast<size_t>(kThreads * kEach));
  for (size_t i = 0; i < live.size(); ++i) {
    EXPECT_EQ(live[i].job_id, job_);
    EXPECT_EQ(live[i].type, "tick");
    if (i > 0) EXPECT_GT(live[i].id, live[i - 1].id);
  }
  EXPECT_GT(live[0].id, backlog[1].id);
  EXPECT_TRUE(sub->take().empty());
  // Subscribing after an event id starts after it.
  auto late = events.subscribe(job_, live[5].id);
  EXPECT_EQ(late->take().size(), live.size() - 6);
}

TEST_F(JobEventsTest, AnotherProcessesEventsArriveThroughTheReader) {
  JobEvents events(*store_, /*foreign_every_s=*/0.05);
  auto sub = events.subscribe(job_, 0);
  EXPECT_EQ(sub->take().size(), 1u);  // job_queued
  // A second Store on the file stands for another reamd: its commits do not reach this
  // store's listener.
  auto foreign = store::Store::open(path_);
  ASSERT_TRUE(foreign.ok());
  ASSERT_TRUE((*foreign)->mark_job_running(job_).ok());
  ASSERT_TRUE((*foreign)->finish_job(job_, store::kJobSucceeded, "{}", "").ok());
  auto got = take(*sub, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, "job_started");
  EXPECT_EQ(got[1].type, "job_succeeded");
}

TEST_F(JobEventsTest, ADroppedSubscriptionIsForgotten) {
  JobEvents events(*store_, 60);
  std::weak_ptr<Subscription> weak;
  {
    auto sub = events.subscribe(job_, 0);
    weak = sub;
  }
  EXPECT_TRUE(weak.expired());
  EXPECT_TRUE(store_->add_event(job_, "tick", "{}").ok());  // nobody to tell; nothing breaks
}

}  // namespace
}  // namespace ream::jobs
