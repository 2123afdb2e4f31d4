// The runners in one process, with SCRIPTED model replies (ScriptedModelClient) and the
// testkit plugin: no reamd, so the sanitizer builds run them cheaply (issue 14: "the
// executor, runners, scheduler and engine-core tests with TSan"; scripts/sanitize.sh's
// tsan stage runs this suite). What reamd's runner threads do is all here: leasing
// (Store::lease_next) by several threads at once, the heartbeat thread renewing leases
// on a short clock, submissions waking the runners while they work, cancellation, the
// public queries from other threads, and the stop, drain and join of a shutdown. The
// checks are on what the store says: every job ended once, each step succeeded exactly
// once, no lease is left behind.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "flow/job.h"
#include "flow/workflow.h"
#include "jobs/runners.h"
#include "metrics/metrics.h"
#include "plugins/plugin_host.h"
#include "scripted_model.h"
#include "store/store.h"
#include "test_util.h"

namespace ream::jobs {
namespace {

using Clock = std::chrono::steady_clock;
using test::query_one;
using test::ScriptedModelClient;
using test::ScriptedReply;

const char* kTwoSteps = R"(name: two_steps
steps:
  - id: a
    plugin: testkit
  - id: b
    plugin: testkit
    needs: a
    with: {tag: "${{ steps.a.outputs.reply }}"}
outputs:
  tag: ${{ steps.b.outputs.tag }}
)";

TEST(RunnersScripted, FourRunnersRunEveryJobOnceWhileJobsArriveAndAreCancelled) {
  test::TempDir dir;
  const std::string db = dir.path("ream.db");
  auto opened = store::Store::open(db);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<store::Store> st = std::move(opened).value();
  auto host = std::make_shared<plugins::PluginHost>();
  host->load_dirs({REAM_TESTKIT_DIR});
  std::shared_ptr<const plugins::PluginHost> plugins = host;
  // Replies take a few milliseconds, so runs overlap each other and the heartbeats.
  ScriptedModelClient model([](const flow::ModelRequest&, int i) { return ScriptedReply{"r" + std::to_string(i), {}, 2 + i % 5}; });
  auto wf = flow::parse_workflow(kTwoSteps, dir.path("two_steps.yaml"), flow::catalog_of(*host));
  ASSERT_TRUE(wf.ok()) << wf.status().message();
  auto submit = [&] {
    flow::JobRequest req;
    auto id = flow::create_job(*st, *wf, req, &model);
    EXPECT_TRUE(id.ok()) << id.status().message();
    return id.ok() ? *id : int64_t{0};
  };

  metrics::Registry registry;
  RunnerSettings settings;
  settings.count = 4;
  settings.lease_s = 5;
  settings.heartbeat_s = 0.02;  // the heartbeat thread renews leases all the time
  settings.owner = "test-host:1:1";
  settings.host = "test-host";
  RunnerDeps deps;
  deps.store = st.get();
  deps.metrics = &registry;
  deps.plugins = [&] { return plugins; };
  deps.model = [&]() -> flow::ModelClient* { return &model; };
  Runners runners(settings, deps);

  std::vector<int64_t> first;
  for (int i = 0; i < 20; ++i) first.push_back(submit());
  runners.start();
  // Submissions keep arriving (each wakes the runners, as JobService does), while another
  // thread reads the runners' state and cancels one job.
  std::atomic<bool> done{false};
  std::vector<int64_t> later;
  std::thread submitter([&] {
    for (int i = 0; i < 20; ++i) {
      later.push_back(submit());
      runners.notify();
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  std::atomic<int64_t> cancelled{0};
  std::thread reader([&] {
    while (!done) {
      (void)runners.running();
      for (int64_t id : first) (void)runners.progress(id);
      if (cancelled == 0 && runners.cancel(first.back())) cancelled = first.back();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  submitter.join();
  std::vector<int64_t> ids = first;
  ids.insert(ids.end(), later.begin(), later.end());

  const auto deadline = Clock::now() + std::chrono::seconds(120);
  auto all_ended = [&] {
    for (int64_t id : ids) {
      auto job = st->get_job(id);
      if (!job.ok()) return false;
      const std::string& s = job->status;
      if (s != "succeeded" && s != "failed" && s != "cancelled") return false;
    }
    return true;
  };
  while (!all_ended() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  done = true;
  reader.join();
  runners.stop_taking();
  EXPECT_TRUE(runners.wait_idle(30));
  runners.join();

  ASSERT_TRUE(all_ended()) << "jobs still running after 120 s";
  for (int64_t id : ids) {
    auto job = st->get_job(id);
    ASSERT_TRUE(job.ok());
    const std::string want = id == cancelled.load() ? job->status : "succeeded";  // a cancel may come late
    EXPECT_EQ(job->status, want) << "job " << id << ": " << job->error;
    EXPECT_EQ(job->lease_owner, "") << "job " << id << " kept its lease";
  }
  // Each step of each succeeded job succeeded exactly once.
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM (SELECT job_id, step_id FROM step_runs WHERE status = 'succeeded' "
                          "GROUP BY job_id, step_id HAVING COUNT(*) > 1)"),
            "0");
  EXPECT_EQ(query_one(db, "SELECT COUNT(*) FROM jobs j WHERE status = 'succeeded' AND (SELECT COUNT(*) FROM "
                          "step_runs s WHERE s.job_id = j.id AND s.status = 'succeeded') != 2"),
            "0");
}

}  // namespace
}  // namespace ream::jobs
