// Progress: the live numbers of one job run, shown by the job resource, the SSE
// `progress` events, `ream run`'s bar and the metrics.
//
// The executor counts steps, runs and prompts; the model's per-request progress
// (ModelRequest::on_progress: prompt length at submit, the engine's event after each
// prefill chunk, each generated token) counts prompt tokens prefilled and tokens
// generated. Rates are over the last kRateWindowS seconds; the ETA covers the prompts
// submitted so far (docs/api.md, "Progress").
//
// Thread-safety: every method may be called from any thread (executor workers, the
// engine's thread, HTTP handlers).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

namespace ream::flow {

struct ProgressSnapshot {
  int steps_total = 0, steps_done = 0;
  int64_t runs_total = 0, runs_done = 0;
  int64_t prompts_total = 0, prompts_done = 0;  // prompts sent to the model so far, and answered
  int64_t prompt_tokens_total = 0;      // tokens of the prompts sent so far
  int64_t prompt_tokens_prefilled = 0;  // of those, tokens whose KV is computed (a cached prefix counts)
  int64_t tokens_generated = 0;         // reply tokens so far, replies still streaming included
  double prefill_tokens_per_s = 0;      // prompt tokens prefilled per second, last window
  double decode_tokens_per_s = 0;       // tokens generated per second, last window
  std::optional<double> eta_s;          // none: not estimable now (see estimate_eta)
  double elapsed_s = 0;                 // since the run started in this process
  bool finished = false;
  // For the ETA (not shown): reply tokens of the prompts answered, and the sum of the
  // reply limits (max_tokens) of the prompts sent.
  int64_t completion_tokens_done = 0;
  int64_t reply_token_limits = 0;
};

// Seconds until the prompts sent so far are done, at the current rates: their prompt
// tokens left at the prefill rate, plus their reply tokens left at the decode rate. The
// reply tokens left: the average reply of the prompts answered times the prompts sent,
// less the tokens generated; before any prompt is answered, the prompts' reply limits
// (max_tokens) less the tokens generated, so then it is an upper bound. A part whose rate
// is not known yet (0) is left out; none when no part can be estimated or no prompt is in
// flight (what comes next is not known). 0 once finished.
std::optional<double> estimate_eta(const ProgressSnapshot& s);

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr double kRateWindowS = 10.0;

  explicit Progress(Clock::time_point start = Clock::now());

  // Written by the executor.
  std::atomic<int> steps_total{0}, steps_done{0};
  std::atomic<int64_t> runs_total{0}, runs_done{0};
  std::atomic<int64_t> prompts_total{0}, prompts_done{0};
  // Usage of the prompts answered (as the store records it).
  std::atomic<int64_t> prompt_tokens{0}, completion_tokens{0}, cached_prompt_tokens{0};

  // A prompt was sent whose reply may take up to `max_tokens` tokens.
  void add_reply_limit(int64_t max_tokens) { reply_token_limits_ += max_tokens; }
  // Requests advanced: more prompt tokens sent, prefilled, generated (each >= 0).
  void add_tokens(int64_t prompt_tokens_sent, int64_t prefilled, int64_t generated,
                  Clock::time_point now = Clock::now());
  // The run ended: elapsed time and rates stop at `now`, the ETA is 0.
  void finish(Clock::time_point now = Clock::now());

  ProgressSnapshot snapshot(Clock::time_point now = Clock::now()) const;

 private:
  struct Sample {
    Clock::time_point at;
    int64_t prefilled = 0, generated = 0;
  };
  const Clock::time_point start_;
  std::atomic<int64_t> prompt_tokens_total_{0}, prefilled_{0}, generated_{0}, reply_token_limits_{0};
  mutable std::mutex mu_;
  std::deque<Sample> samples_;  // oldest first, at most one every 0.25 s; the first at or before the window
  std::optional<Clock::time_point> finished_at_;
};

// The JSON shape of the job resource's `progress` and of SSE `progress` events.
nlohmann::json progress_json(const ProgressSnapshot& s);

}  // namespace ream::flow
