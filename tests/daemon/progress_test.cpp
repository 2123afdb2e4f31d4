// flow::Progress: windowed rates and the ETA at chosen instants (arithmetic against
// hand-computed values), and the executor's aggregation of per-request progress with
// SCRIPTED model replies that report progress as the engine does (prompt length at
// submit, prefill chunks with one lower again as after a preemption, then tokens).
// The real engine's progress through reamd is in tests/reamd/daemon_progress_test.cpp.
#include <gtest/gtest.h>

#include <chrono>

#include "flow/executor.h"
#include "flow/job.h"
#include "flow/progress.h"
#include "flow/workflow.h"
#include "scripted_model.h"
#include "test_util.h"

namespace ream::flow {
namespace {

using Clock = Progress::Clock;
using std::chrono::milliseconds;

TEST(ProgressRates, RatesAreOverTheLastWindowAndStopAtTheEnd) {
  const Clock::time_point t0 = Clock::now();
  Progress p(t0);
  p.prompts_total = 1;
  p.add_tokens(8000, 0, 0, t0);
  // 1,000 prompt tokens a second for 4 s, then 20 tokens a second for 20 s.
  for (int i = 1; i <= 4; ++i) p.add_tokens(0, 1000, 0, t0 + milliseconds(1000 * i));
  ProgressSnapshot s = p.snapshot(t0 + milliseconds(4000));
  EXPECT_DOUBLE_EQ(s.prefill_tokens_per_s, 1000.0);
  EXPECT_EQ(s.prompt_tokens_prefilled, 4000);
  EXPECT_EQ(s.prompt_tokens_total, 8000);
  EXPECT_DOUBLE_EQ(s.elapsed_s, 4.0);
  ASSERT_TRUE(s.eta_s.has_value());
  EXPECT_DOUBLE_EQ(*s.eta_s, 4.0);  // 4,000 left at 1,000/s; no reply known yet
  for (int i = 1; i <= 20; ++i) p.add_tokens(0, 4000, 20, t0 + milliseconds(4000 + 1000 * i));
  s = p.snapshot(t0 + milliseconds(24000));
  // The last 10 s: from the sample at 14 s to now.
  EXPECT_DOUBLE_EQ(s.decode_tokens_per_s, 20.0);
  EXPECT_EQ(s.tokens_generated, 400);
  EXPECT_EQ(s.prompt_tokens_prefilled, 84000);  // the test adds as it likes; no cap
  // Nothing for 30 s: the rates fall to what the window saw.
  s = p.snapshot(t0 + milliseconds(54000));
  EXPECT_DOUBLE_EQ(s.decode_tokens_per_s, 0.0);
  p.finish(t0 + milliseconds(25000));
  s = p.snapshot(t0 + milliseconds(99000));
  EXPECT_TRUE(s.finished);
  EXPECT_DOUBLE_EQ(s.elapsed_s, 25.0);
  ASSERT_TRUE(s.eta_s.has_value());
  EXPECT_EQ(*s.eta_s, 0.0);
}

TEST(ProgressRates, EtaAddsPrefillAndTheRepliesLeftAtTheirRates) {
  ProgressSnapshot s;
  s.prompts_total = 4;
  s.prompts_done = 2;
  s.completion_tokens_done = 200;
  s.reply_token_limits = 4 * 300;
  s.prompt_tokens_total = 10000;
  s.prompt_tokens_prefilled = 6000;
  s.tokens_generated = 250;
  s.prefill_tokens_per_s = 2000;
  s.decode_tokens_per_s = 50;
  // Replies of the 2 answered prompts averaged 100 tokens: 4 x 100 - 250 = 150 left.
  auto eta = estimate_eta(s);
  ASSERT_TRUE(eta.has_value());
  EXPECT_DOUBLE_EQ(*eta, 4000.0 / 2000 + 150.0 / 50);
  s.decode_tokens_per_s = 0;
  eta = estimate_eta(s);
  ASSERT_TRUE(eta.has_value());
  EXPECT_DOUBLE_EQ(*eta, 4000.0 / 2000) << "a part with no rate yet is left out";
  s.prefill_tokens_per_s = 0;
  EXPECT_FALSE(estimate_eta(s).has_value()) << "no part has a rate";
  // Before any prompt is answered the replies are taken at their limits: 1,200 - 250 left.
  s.prefill_tokens_per_s = 2000;
  s.decode_tokens_per_s = 50;
  s.prompts_done = 0;
  s.completion_tokens_done = 0;
  eta = estimate_eta(s);
  ASSERT_TRUE(eta.has_value());
  EXPECT_DOUBLE_EQ(*eta, 4000.0 / 2000 + 950.0 / 50);
  s.prompts_done = 4;
  s.completion_tokens_done = 400;
  EXPECT_FALSE(estimate_eta(s).has_value()) << "no prompt in flight";
  s.finished = true;
  EXPECT_EQ(estimate_eta(s), 0.0);
}

TEST(ProgressRates, JsonHasTheDocumentedFields) {
  ProgressSnapshot s;
  s.prompt_tokens_total = 7;
  s.prefill_tokens_per_s = 12.345;
  const nlohmann::json j = progress_json(s);
  for (const char* k : {"steps_total", "steps_done", "runs_total", "runs_done", "prompts_total", "prompts_done",
                        "prompt_tokens_total", "prompt_tokens_prefilled", "tokens_generated", "prefill_tokens_per_s",
                        "decode_tokens_per_s", "eta_s", "elapsed_s"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j.size(), 13u);
  EXPECT_EQ(j["prompt_tokens_total"], 7);
  EXPECT_DOUBLE_EQ(j["prefill_tokens_per_s"].get<double>(), 12.3);
  EXPECT_TRUE(j["eta_s"].is_null());
}

// A job of 3 runs x 2 prompts: the job's numbers add up every request's, and a request
// whose prefilled count went back (a preemption) is counted at its highest.
TEST(ProgressOfAJob, ExecutorAddsEachRequestsProgress) {
  test::TempDir dir;
  plugins::PluginHost host;
  host.load_dirs({REAM_TEST_PLUGIN_DIR "/good"});
  auto store = std::move(store::Store::open(dir.path("ream.db"))).value();
  test::ScriptedModelClient model([](const ModelRequest&, int i) {
    return test::ScriptedReply{std::string(static_cast<size_t>(8 + 4 * i), 'x'), Status(), i % 2 ? 5 : 0};
  });
  auto wf = parse_workflow(R"(name: progress
inputs:
  doc: {type: document}
steps:
  - id: ask
    plugin: testkit
    foreach: {items: [a, b, c]}
    with: {prompts: 2}
)",
                           dir.path("wf.yaml"), catalog_of(host));
  ASSERT_TRUE(wf.ok()) << wf.status().message();
  JobRequest req;
  req.inputs = {{"doc", dir.write("doc.txt", "A short memo about the lease and its notice period.")}};
  auto id = create_job(*store, *wf, req, &model);
  ASSERT_TRUE(id.ok()) << id.status().message();
  Progress progress;
  RunOptions opt;
  opt.progress = &progress;
  Executor ex(*store, host, model);
  auto out = ex.run(*id, opt);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->status, "succeeded") << out->error;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  for (const ModelRequest& r : model.requests()) {
    std::string all;
    for (const auto& m : r.messages) all += m.content;
    prompt_tokens += model.count_tokens(all + r.text);
  }
  for (size_t i = 0; i < model.requests().size(); ++i) completion_tokens += model.count_tokens(std::string(8 + 4 * i, 'x'));
  const ProgressSnapshot s = progress.snapshot();
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(s.prompts_total, 6);
  EXPECT_EQ(s.prompts_done, 6);
  EXPECT_EQ(s.runs_total, 3);
  EXPECT_EQ(s.runs_done, 3);
  EXPECT_EQ(s.steps_done, 1);
  EXPECT_EQ(s.prompt_tokens_total, prompt_tokens);
  EXPECT_EQ(s.prompt_tokens_prefilled, prompt_tokens);
  EXPECT_EQ(s.tokens_generated, completion_tokens);
  EXPECT_EQ(progress.prompt_tokens.load(), prompt_tokens);  // the usage of answered prompts agrees
  EXPECT_EQ(progress.completion_tokens.load(), completion_tokens);
  ASSERT_TRUE(s.eta_s.has_value());
  EXPECT_EQ(*s.eta_s, 0.0);
}

}  // namespace
}  // namespace ream::flow
