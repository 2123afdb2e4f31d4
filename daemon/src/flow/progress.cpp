// Progress: counters, windowed rates and the ETA of a job run.
#include "flow/progress.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace ream::flow {

namespace {

constexpr double kSampleEveryS = 0.25;

double seconds(Progress::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Rounded for display: tokens/s to 0.1, seconds to 0.1.
double round1(double v) { return std::round(v * 10.0) / 10.0; }

}  // namespace

std::optional<double> estimate_eta(const ProgressSnapshot& s) {
  if (s.finished) return 0.0;
  if (s.prompts_total - s.prompts_done <= 0) return std::nullopt;  // what comes next is not known yet
  const double prefill_left = static_cast<double>(std::max<int64_t>(0, s.prompt_tokens_total - s.prompt_tokens_prefilled));
  const double replies = s.prompts_done > 0 ? static_cast<double>(s.completion_tokens_done) /
                                                  static_cast<double>(s.prompts_done) * static_cast<double>(s.prompts_total)
                                            : static_cast<double>(s.reply_token_limits);
  const double decode_left = std::max(0.0, replies - static_cast<double>(s.tokens_generated));
  double eta = 0;
  int known = 0, unknown = 0;
  for (const auto& [left, rate] : {std::pair{prefill_left, s.prefill_tokens_per_s}, std::pair{decode_left, s.decode_tokens_per_s}}) {
    if (left <= 0) continue;
    if (rate > 0) {
      eta += left / rate;
      ++known;
    } else {
      ++unknown;
    }
  }
  if (known == 0 && unknown > 0) return std::nullopt;
  return eta;
}

Progress::Progress(Clock::time_point start) : start_(start) { samples_.push_back({start, 0, 0}); }

void Progress::add_tokens(int64_t prompt_tokens_sent, int64_t prefilled, int64_t generated, Clock::time_point now) {
  prompt_tokens_total_ += prompt_tokens_sent;
  const int64_t p = prefilled_ += prefilled;
  const int64_t g = generated_ += generated;
  if (prefilled == 0 && generated == 0) return;
  std::lock_guard lock(mu_);
  if (seconds(now - samples_.back().at) < kSampleEveryS) return;
  samples_.push_back({now, p, g});
  // Keep one sample at or before the window's start: the rates' base.
  const auto window_start = now - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kRateWindowS));
  while (samples_.size() >= 2 && samples_[1].at <= window_start) samples_.pop_front();
}

void Progress::finish(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!finished_at_) finished_at_ = now;
}

ProgressSnapshot Progress::snapshot(Clock::time_point now) const {
  ProgressSnapshot s;
  s.steps_total = steps_total.load();
  s.steps_done = steps_done.load();
  s.runs_total = runs_total.load();
  s.runs_done = runs_done.load();
  s.prompts_total = prompts_total.load();
  s.prompts_done = prompts_done.load();
  s.prompt_tokens_total = prompt_tokens_total_.load();
  s.prompt_tokens_prefilled = prefilled_.load();
  s.tokens_generated = generated_.load();
  s.completion_tokens_done = completion_tokens.load();
  s.reply_token_limits = reply_token_limits_.load();
  Sample base;
  {
    std::lock_guard lock(mu_);
    if (finished_at_) {
      now = *finished_at_;
      s.finished = true;
    }
    const auto window_start =
        now - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kRateWindowS));
    base = samples_.front();
    for (const Sample& x : samples_) {
      if (x.at > window_start) break;
      base = x;
    }
  }
  s.elapsed_s = std::max(0.0, seconds(now - start_));
  const double dt = seconds(now - base.at);
  if (dt > 0) {
    s.prefill_tokens_per_s = static_cast<double>(s.prompt_tokens_prefilled - base.prefilled) / dt;
    s.decode_tokens_per_s = static_cast<double>(s.tokens_generated - base.generated) / dt;
  }
  s.eta_s = estimate_eta(s);
  return s;
}

nlohmann::json progress_json(const ProgressSnapshot& s) {
  return {{"steps_total", s.steps_total},
          {"steps_done", s.steps_done},
          {"runs_total", s.runs_total},
          {"runs_done", s.runs_done},
          {"prompts_total", s.prompts_total},
          {"prompts_done", s.prompts_done},
          {"prompt_tokens_total", s.prompt_tokens_total},
          {"prompt_tokens_prefilled", s.prompt_tokens_prefilled},
          {"tokens_generated", s.tokens_generated},
          {"prefill_tokens_per_s", round1(s.prefill_tokens_per_s)},
          {"decode_tokens_per_s", round1(s.decode_tokens_per_s)},
          {"eta_s", s.eta_s ? nlohmann::json(round1(*s.eta_s)) : nlohmann::json(nullptr)},
          {"elapsed_s", round1(s.elapsed_s)}};
}

}  // namespace ream::flow
