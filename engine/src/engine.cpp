// EngineImpl: owns the model, the backend, the block manager and the scheduler, and
// runs the serving loop on its own thread: drain submissions and cancellations,
// schedule a step, run it on the backend, commit, and stream prefill progress and
// tokens to callers.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "backend.h"
#include "grammar/compile.h"
#include "grammar/matcher.h"
#include "model/qwen3.h"
#include "ream/common/thread.h"
#include "ream/engine/engine.h"
#include "sched/scheduler.h"
#include "sched/stop_matcher.h"

namespace ream {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kNone: return "none";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "unknown";
}

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Per-request output state kept beside the Sequence: text decoding and stop strings.
struct OutputState {
  std::unique_ptr<StreamDecoder> decoder;
  StopMatcher stops;
};

class EngineImpl final : public Engine {
 public:
  EngineImpl(std::shared_ptr<LoadedModel> model, std::shared_ptr<const Tokenizer> tokenizer,
             std::unique_ptr<Backend> backend, const EngineOptions& options, int64_t max_model_len)
      : model_(std::move(model)), tokenizer_(std::move(tokenizer)), backend_(std::move(backend)),
        options_(options), max_model_len_(max_model_len),
        blocks_(backend_->num_kv_blocks(), options.kv_block_size, options.enable_prefix_caching),
        scheduler_({options.max_num_seqs, options.max_batch_tokens, options.interactive_batch_chunk,
                    options.max_step_pairs},
                   &blocks_) {
    eos_ = model_->generation.eos_token_ids;
    if (eos_.empty()) eos_ = model_->config.eos_token_ids;
    if (eos_.empty() && tokenizer_ && tokenizer_->eos_token_id() >= 0) eos_.push_back(tokenizer_->eos_token_id());
    loop_ = std::thread([this] { run_loop(); });
  }

  ~EngineImpl() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    loop_.join();
  }

  Result<uint64_t> submit(GenerationRequest request, StreamCallback callback) override {
    if (request.prompt.empty()) return invalid_argument("the prompt is empty");
    const std::string bad = validate_sampling(request.sampling);
    if (!bad.empty()) return invalid_argument(bad);
    for (int32_t id : request.prompt)
      if (id < 0 || id >= model_->config.vocab_size)
        return invalid_argument("prompt token id " + std::to_string(id) + " is outside the vocabulary (size " +
                                std::to_string(model_->config.vocab_size) + ")");
    const int64_t total = static_cast<int64_t>(request.prompt.size()) + request.sampling.max_tokens;
    if (total > max_model_len_)
      return invalid_argument("prompt (" + std::to_string(request.prompt.size()) + " tokens) + max_tokens (" +
                              std::to_string(request.sampling.max_tokens) + ") exceeds the context of " +
                              std::to_string(max_model_len_) + " tokens");
    for (const auto& [id, bias] : request.sampling.logit_bias)
      if (id >= model_->config.vocab_size)
        return invalid_argument("logit_bias: token id " + std::to_string(id) + " is outside the vocabulary (size " +
                                std::to_string(model_->config.vocab_size) + ")");
    std::shared_ptr<grammar::Matcher> matcher;
    if (request.sampling.constraint.kind != Constraint::Kind::kNone) {
      Result<std::shared_ptr<grammar::Matcher>> m = make_matcher(request.sampling.constraint);
      if (!m.ok()) return m.status();
      matcher = std::move(m).value();
    }
    const int64_t kv_tokens = blocks_.num_blocks() * blocks_.block_size();
    if (total > kv_tokens)
      return resource_exhausted("prompt + max_tokens (" + std::to_string(total) +
                                " tokens) can never fit the KV cache of " + std::to_string(kv_tokens) +
                                " tokens; raise the KV budget");
    auto seq = std::make_unique<Sequence>();
    seq->request = std::move(request);
    seq->callback = std::move(callback);
    seq->matcher = std::move(matcher);
    seq->tokens = seq->request.prompt;
    seq->prompt_len = static_cast<int64_t>(seq->tokens.size());
    seq->rng_seed = seq->request.sampling.has_seed ? seq->request.sampling.seed : std::random_device{}() * 0x100000001ull;
    seq->submitted = Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    seq->id = ++next_id_;
    seq->arrival = seq->id;
    const uint64_t id = seq->id;
    incoming_.push_back(std::move(seq));
    cv_.notify_all();
    return id;
  }

  void cancel(uint64_t request_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    cancels_.push_back(request_id);
    cv_.notify_all();
  }

  const ModelConfig& config() const override { return model_->config; }
  std::shared_ptr<const Tokenizer> tokenizer() const override { return tokenizer_; }
  int64_t max_model_len() const override { return max_model_len_; }
  std::string device_name() const override { return backend_->name(); }
  const std::vector<TokenId>& eos_token_ids() const override { return eos_; }

  SamplingParams default_sampling() const override {
    SamplingParams p;
    const GenerationDefaults& g = model_->generation;
    if (g.has_temperature) p.temperature = g.temperature;
    if (g.has_top_p) p.top_p = g.top_p;
    if (g.has_top_k) p.top_k = g.top_k;
    if (g.has_min_p) p.min_p = g.min_p;
    if (g.has_repetition_penalty) p.repetition_penalty = g.repetition_penalty;
    if (!g.do_sample) p.temperature = 0.0f;
    return p;
  }

  EngineStats stats() const override {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

 private:
  Result<std::shared_ptr<grammar::Matcher>> make_matcher(const Constraint& c);
  void attach_masks(ScheduledStep* step);
  void fill_masks(const ScheduledStep& step);
  void run_loop();
  void drain_inputs();
  void finish(Sequence* seq, FinishReason reason, Status error = Status());
  void on_token(Sequence* seq, const SampleResult& r);
  void report_prefill(Sequence* seq);
  void publish_stats();

  std::shared_ptr<LoadedModel> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::unique_ptr<Backend> backend_;
  EngineOptions options_;
  int64_t max_model_len_;
  std::vector<TokenId> eos_;
  BlockManager blocks_;
  Scheduler scheduler_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t next_id_ = 0;
  std::vector<std::unique_ptr<Sequence>> incoming_;
  std::vector<uint64_t> cancels_;

  // Engine-thread state.
  std::map<uint64_t, std::unique_ptr<Sequence>> live_;
  std::map<uint64_t, OutputState> outputs_;
  int64_t tokens_generated_ = 0, tokens_prefilled_ = 0;

  // Constrained decoding: the compiled grammars (made on the first constrained request)
  // and one mask row per sequence of a step, allocated once.
  std::mutex grammar_mu_;
  std::unique_ptr<grammar::GrammarCache> grammars_;
  std::vector<uint32_t> masks_;

  mutable std::mutex stats_mu_;
  EngineStats stats_;
  std::thread loop_;
};

Result<std::shared_ptr<grammar::Matcher>> EngineImpl::make_matcher(const Constraint& c) {
  grammar::GrammarCache* cache;
  {
    std::lock_guard<std::mutex> lock(grammar_mu_);
    if (!grammars_) {
      if (!tokenizer_) return invalid_argument("constraint: the model has no tokenizer.json, so tokens have no text");
      grammars_ = std::make_unique<grammar::GrammarCache>(
          grammar::TokenVocab::build(*tokenizer_, static_cast<int32_t>(model_->config.vocab_size), eos_));
    }
    cache = grammars_.get();
  }
  Result<std::shared_ptr<const grammar::CompiledGrammar>> g = cache->get(c);
  if (!g.ok()) return Status(g.status().code(), "constraint: " + g.status().message());
  return std::make_shared<grammar::Matcher>(std::move(g).value());
}

// Points each constrained sampling slice at its mask row; the rows are filled by
// fill_masks when the backend asks (after it has started the forward pass).
void EngineImpl::attach_masks(ScheduledStep* step) {
  size_t row = 0;
  const size_t words = static_cast<size_t>((model_->config.vocab_size + 31) / 32);
  for (size_t i = 0; i < step->seqs.size(); ++i) {
    if (!step->batch.seqs[i].sample || !step->seqs[i]->matcher) continue;
    if (masks_.empty()) masks_.assign(static_cast<size_t>(options_.max_num_seqs) * words, 0);
    step->batch.seqs[i].allowed = masks_.data() + row++ * words;
  }
  if (row > 0) step->batch.fill_masks = [this, step] { fill_masks(*step); };
}

void EngineImpl::fill_masks(const ScheduledStep& step) {
  for (size_t i = 0; i < step.seqs.size(); ++i) {
    const SeqSlice& slice = step.batch.seqs[i];
    if (!slice.allowed) continue;
    Sequence* seq = step.seqs[i];
    auto* row = const_cast<uint32_t*>(slice.allowed);
    // The tokens left, this one included: near the end only tokens after which the output
    // can still be completed, so a constrained reply never stops half-written.
    const int64_t budget = seq->request.sampling.max_tokens - static_cast<int64_t>(seq->output.size());
    const int64_t n = seq->matcher->fill_mask(row, !seq->request.sampling.ignore_eos, budget);
    seq->mask_empty = n == 0;
    if (seq->mask_empty && !eos_.empty()) row[eos_[0] >> 5] |= 1u << (eos_[0] & 31);  // ended with an error below
  }
}

void EngineImpl::drain_inputs() {
  std::vector<std::unique_ptr<Sequence>> incoming;
  std::vector<uint64_t> cancels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    incoming.swap(incoming_);
    cancels.swap(cancels_);
  }
  for (auto& seq : incoming) {
    OutputState& out = outputs_[seq->id];
    if (tokenizer_) out.decoder = std::make_unique<StreamDecoder>(tokenizer_, /*skip_special=*/true);
    out.stops = StopMatcher(seq->request.sampling.stop);
    scheduler_.add(seq.get());
    live_.emplace(seq->id, std::move(seq));
  }
  for (uint64_t id : cancels) {
    auto it = live_.find(id);
    if (it != live_.end()) finish(it->second.get(), FinishReason::kCancelled);
  }
}

void EngineImpl::finish(Sequence* seq, FinishReason reason, Status error) {
  scheduler_.remove(seq);
  seq->finished = Clock::now();
  StreamEvent ev;
  ev.request_id = seq->id;
  ev.finished = true;
  ev.finish_reason = reason;
  ev.error = std::move(error);
  OutputState& out = outputs_[seq->id];
  if (!out.stops.stopped()) {  // release held-back text; a matched stop string ends it
    std::string tail = out.decoder ? out.decoder->flush() : "";
    ev.text = out.stops.push(tail);
    if (!out.stops.stopped()) ev.text += out.stops.flush();
  }
  ev.usage.prompt_tokens = seq->prompt_len;
  ev.usage.completion_tokens = static_cast<int64_t>(seq->output.size());
  ev.usage.cached_prompt_tokens = seq->cached_prompt_tokens;
  ev.timings.queue_ms = seq->scheduled_once ? ms_between(seq->submitted, seq->first_scheduled) : 0;
  ev.timings.ttft_ms = seq->output.empty() ? 0 : ms_between(seq->submitted, seq->first_token);
  ev.timings.total_ms = ms_between(seq->submitted, seq->finished);
  if (seq->output.size() > 1) {
    const double s = ms_between(seq->first_token, seq->finished) / 1000.0;
    if (s > 0) ev.timings.decode_tokens_per_s = (seq->output.size() - 1) / s;
  }
  if (seq->callback) seq->callback(ev);
  outputs_.erase(seq->id);
  live_.erase(seq->id);
}

// After a chunk of the prompt is computed (requests that asked for prefill progress).
void EngineImpl::report_prefill(Sequence* seq) {
  if (!seq->request.prefill_progress || !seq->callback) return;
  StreamEvent ev;
  ev.request_id = seq->id;
  ev.prefill = true;
  ev.prompt_tokens_total = seq->prompt_len;
  ev.prompt_tokens_done = std::min(seq->num_computed, seq->prompt_len);
  seq->callback(ev);
}

void EngineImpl::on_token(Sequence* seq, const SampleResult& r) {
  if (seq->matcher) {
    const bool eos = std::find(eos_.begin(), eos_.end(), r.token) != eos_.end();
    if (seq->mask_empty)
      return finish(seq, FinishReason::kError, internal_error("constraint: no token can continue the output"));
    if (!(eos && seq->matcher->is_complete()) && !seq->matcher->accept_token(r.token))
      return finish(seq, FinishReason::kError,
                    internal_error("constraint: sampled token " + std::to_string(r.token) + " is outside the grammar"));
  }
  if (seq->output.empty()) seq->first_token = Clock::now();
  seq->output.push_back(r.token);
  seq->tokens.push_back(r.token);
  ++tokens_generated_;
  const SamplingParams& p = seq->request.sampling;
  const bool is_eos = !p.ignore_eos && std::find(eos_.begin(), eos_.end(), r.token) != eos_.end();
  const bool is_stop_id = std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), r.token) != p.stop_token_ids.end();
  OutputState& out = outputs_[seq->id];
  StreamEvent ev;
  ev.request_id = seq->id;
  ev.token = r.token;
  ev.logprob = r.logprob;
  ev.top_logprobs = r.top;
  if (!is_eos && !is_stop_id && out.decoder) ev.text = out.stops.push(out.decoder->push(r.token));
  if (seq->callback) seq->callback(ev);
  if (is_eos || is_stop_id || out.stops.stopped()) return finish(seq, FinishReason::kStop);
  if (seq->matcher && seq->matcher->must_end()) return finish(seq, FinishReason::kStop);  // nothing may follow
  if (static_cast<int64_t>(seq->output.size()) >= p.max_tokens) return finish(seq, FinishReason::kLength);
}

void EngineImpl::publish_stats() {
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.kv_blocks_total = blocks_.num_blocks();
  stats_.kv_blocks_used = blocks_.num_used();
  stats_.prefix_cache_queries = scheduler_.prefix_queries();
  stats_.prefix_cache_hits = scheduler_.prefix_hits();
  stats_.requests_waiting = scheduler_.num_waiting();
  stats_.requests_running = scheduler_.num_running();
  stats_.tokens_generated = tokens_generated_;
  stats_.tokens_prefilled = tokens_prefilled_;
  stats_.preemptions = scheduler_.preemptions();
  stats_.steps = scheduler_.steps();
}

void EngineImpl::run_loop() {
  set_thread_name("ream-engine");
  (void)leave_realtime();  // a step may compute for long: never real-time (common/thread.h)
  if (options_.device == "cpu" && options_.cpu_nice > 0 && !lower_thread_priority(options_.cpu_nice)) {
    spdlog::warn("engine: could not lower the CPU engine's priority by {} (setpriority failed)", options_.cpu_nice);
  }
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !incoming_.empty() || !cancels_.empty() || scheduler_.has_work(); });
      if (stop_) break;
    }
    drain_inputs();
    ScheduledStep step = scheduler_.schedule();
    publish_stats();  // the step count a callback of this step reads includes this step
    if (step.seqs.empty()) continue;
    attach_masks(&step);
    std::vector<SampleResult> results;
    Status st = backend_->step(step.batch, &results);
    if (!st.ok()) {
      spdlog::error("engine step failed: {}", st.to_string());
      for (Sequence* seq : step.seqs) finish(seq, FinishReason::kError, st);
      publish_stats();
      continue;
    }
    scheduler_.commit(step);
    size_t r = 0;
    for (size_t i = 0; i < step.seqs.size(); ++i) {
      Sequence* seq = step.seqs[i];
      const bool sample = step.batch.seqs[i].sample;
      // A decode step's input (the token sampled last) is not a prefilled token.
      tokens_prefilled_ += step.n_tokens[i] - (sample && !seq->output.empty() ? 1 : 0);
      if (seq->num_computed - step.n_tokens[i] < seq->prompt_len) report_prefill(seq);
      if (sample) on_token(seq, results[r++]);
    }
    publish_stats();
  }
  // Shutting down: end every stream so no caller waits forever.
  std::vector<Sequence*> all;
  for (auto& [id, seq] : live_) all.push_back(seq.get());
  for (Sequence* seq : all) finish(seq, FinishReason::kCancelled, cancelled("engine shut down"));
}

}  // namespace

Result<Completion> Engine::generate(GenerationRequest request) {
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Completion c;
    Status error;
  };
  auto shared = std::make_shared<Shared>();
  auto id = submit(std::move(request), [shared](const StreamEvent& ev) {
    if (ev.prefill) return;
    std::lock_guard<std::mutex> lock(shared->mu);
    Completion& c = shared->c;
    c.text += ev.text;
    if (!ev.finished) {
      c.tokens.push_back(ev.token);
      c.logprobs.push_back(ev.logprob);
      c.top_logprobs.push_back(ev.top_logprobs);
      return;
    }
    c.finish_reason = ev.finish_reason;
    c.usage = ev.usage;
    c.timings = ev.timings;
    shared->error = ev.error;
    shared->done = true;
    shared->cv.notify_all();
  });
  if (!id.ok()) return id.status();
  std::unique_lock<std::mutex> lock(shared->mu);
  shared->cv.wait(lock, [&] { return shared->done; });
  if (!shared->error.ok()) return shared->error;
  return std::move(shared->c);
}

Result<std::unique_ptr<Engine>> Engine::create(const EngineOptions& options) {
  REAM_ASSIGN_OR_RETURN(std::unique_ptr<LoadedModel> loaded, load_model(options.model));
  std::shared_ptr<LoadedModel> model(std::move(loaded));
  std::shared_ptr<const Tokenizer> tokenizer;
  if (std::filesystem::exists(std::filesystem::path(model->dir) / "tokenizer.json")) {
    REAM_ASSIGN_OR_RETURN(tokenizer, Tokenizer::load(model->dir));
  } else {
    spdlog::warn("{} has no tokenizer.json: only token ids can be used", model->dir);
  }
  if (options.kv_block_size <= 0 || options.max_batch_tokens <= 0 || options.max_num_seqs <= 0)
    return invalid_argument("kv_block_size, max_batch_tokens and max_num_seqs must be positive");
  if (options.max_step_pairs < 0)
    return invalid_argument("max_step_pairs must be 0 (no bound) or positive, not " +
                            std::to_string(options.max_step_pairs));
  if (options.interactive_batch_chunk < 0)
    return invalid_argument("interactive_batch_chunk must be 0 (no cap) or positive, not " +
                            std::to_string(options.interactive_batch_chunk));
  int64_t max_len = model->config.max_position_embeddings;
  if (options.max_model_len > 0) max_len = std::min(max_len, options.max_model_len);
  BackendOptions bo;
  bo.num_threads = options.num_threads;
  bo.thread_nice = options.cpu_nice;
  bo.block_size = options.kv_block_size;
  bo.kv_cache_bytes = options.kv_cache_bytes;
  bo.gpu_memory_utilization = options.gpu_memory_utilization;
  bo.max_num_seqs = options.max_num_seqs;
  bo.max_batch_tokens = options.max_batch_tokens;
  bo.batch_invariant = options.batch_invariant;
  Result<std::unique_ptr<Backend>> backend =
      options.device == "cpu"    ? make_cpu_backend(model, bo)
      : options.device == "cuda" ? make_cuda_backend(model, bo)
                                 : Result<std::unique_ptr<Backend>>(invalid_argument(
                                       "unknown device '" + options.device + "' (expected cpu or cuda)"));
  if (!backend.ok()) return backend.status();
  return std::unique_ptr<Engine>(
      new EngineImpl(std::move(model), std::move(tokenizer), std::move(backend).value(), options, max_len));
}

}  // namespace ream
