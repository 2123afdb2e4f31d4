// ream_bench: drives the engine for checks and benchmarks on a GPU machine.
//
//   ream_bench run     --model DIR [--device cuda] --requests IN.jsonl --out OUT.jsonl [--concurrent]
//       Runs each request ({"prompt_ids": [...], "max_tokens": N, "top_logprobs": K,
//       "temperature": T}) and writes one result line each ({"ids", "top_logprobs", "usage"}).
//       --concurrent submits them all at once (continuous batching), else one at a time;
//       --twice runs the list a second time in the same engine and writes that run.
//   Common: --max-batch-tokens N, --max-step-pairs N (0: no bound), --max-num-seqs N,
//   --kv-cache-bytes N, --no-prefix-cache,
//   --no-batch-invariant (CUDA: faster kernels whose results depend on the batch).
//   ream_bench prefill --model DIR [--device cuda] --tokens N [--repeat R]
//       Time to first token for one random prompt of N tokens.
//   ream_bench decode  --model DIR [--device cuda] --batch B [--prompt-len P] [--new-tokens T]
//                      [--schema FILE | --json-object]   (every request constrained)
//       Aggregate decode tokens/s with B concurrent requests.
//   ream_bench followup --model DIR [--device cuda] --tokens N [--new M] [--questions Q]
//       A document of N tokens prefilled cold, then Q questions of M new tokens after it:
//       each one's time to first token and prefix-cache hit.
//   ream_bench chat-during-prefill --model DIR [--device cuda] [--tokens N] [--chat-at T1,T2,...]
//                      [--chat-tokens C] [--chat-new M]
//       Issue 13's measurement: one batch-priority prompt of N tokens (default 262,143,
//       max_tokens 1); each time its prefill passes a T of --chat-at (prompt tokens
//       prefilled; default: after its first chunk), one interactive chat of C random tokens
//       (default 64) and M new tokens (default 16) is submitted: its time to first token,
//       the engine steps that took, and its total time. Before that: a chat alone (after a
//       warm-up) and a long prompt alone (fresh prompts each, so no prefix cache helps),
//       for the long prompt's time with and without the chats.
//   Common: --interactive-batch-chunk N (EngineOptions; reamd's default is 512).
// Every mode prints one JSON object per measurement on stdout.
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ream/engine/engine.h"

using namespace ream;
using json = nlohmann::json;

namespace {

std::string flag(int argc, char** argv, const std::string& name, const std::string& fallback = "") {
  for (int i = 2; i + 1 < argc; ++i)
    if (argv[i] == "--" + name) return argv[i + 1];
  return fallback;
}
bool has_flag(int argc, char** argv, const std::string& name) {
  for (int i = 2; i < argc; ++i)
    if (argv[i] == "--" + name) return true;
  return false;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Completion generate_or_exit(Engine& e, const GenerationRequest& req, size_t index) {
  auto c = e.generate(req);
  if (!c.ok()) {
    std::fprintf(stderr, "request %zu failed: %s\n", index, c.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(c).value();
}

// Submits all requests at once (or one by one) and waits for every completion.
std::vector<Completion> run_all(Engine& e, const std::vector<GenerationRequest>& reqs, bool concurrent) {
  std::vector<Completion> out(reqs.size());
  if (!concurrent) {
    for (size_t i = 0; i < reqs.size(); ++i) out[i] = generate_or_exit(e, reqs[i], i);
    return out;
  }
  std::vector<std::thread> threads;
  for (size_t i = 0; i < reqs.size(); ++i)
    threads.emplace_back([&, i] { out[i] = generate_or_exit(e, reqs[i], i); });
  for (auto& t : threads) t.join();
  return out;
}

GenerationRequest greedy(std::vector<int32_t> prompt, int max_tokens, int top_logprobs) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.sampling.max_tokens = max_tokens;
  r.sampling.ignore_eos = true;
  r.sampling.top_logprobs = top_logprobs;
  return r;
}

std::vector<int32_t> random_prompt(std::mt19937& rng, int64_t n) {
  std::vector<int32_t> p(n);
  for (auto& t : p) t = static_cast<int32_t>(rng() % 151643);
  return p;
}

int cmd_run(Engine& e, int argc, char** argv) {
  std::ifstream in(flag(argc, argv, "requests"));
  if (!in) {
    std::fprintf(stderr, "cannot read --requests\n");
    return 2;
  }
  std::vector<GenerationRequest> reqs;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json j = json::parse(line);
    GenerationRequest r = greedy(j["prompt_ids"].get<std::vector<int32_t>>(), j.value("max_tokens", 64),
                                 j.value("top_logprobs", 5));
    r.sampling.temperature = j.value("temperature", 0.0f);
    reqs.push_back(std::move(r));
  }
  const bool concurrent = has_flag(argc, argv, "concurrent");
  const double t0 = now_s();
  auto outs = run_all(e, reqs, concurrent);
  const double t1 = now_s();
  // --twice: run the list again in the same engine (prefix-cache hits) and write that.
  if (has_flag(argc, argv, "twice")) outs = run_all(e, reqs, concurrent);
  std::ofstream out(flag(argc, argv, "out"));
  for (const auto& c : outs) {
    json tops = json::array();
    for (const auto& step : c.top_logprobs) {
      json s = json::array();
      for (const auto& t : step) s.push_back({t.id, t.logprob});
      tops.push_back(s);
    }
    out << json{{"ids", c.tokens}, {"top_logprobs", tops},
                {"usage", {{"prompt_tokens", c.usage.prompt_tokens}, {"cached", c.usage.cached_prompt_tokens}}},
                {"ttft_ms", c.timings.ttft_ms}}
               .dump()
        << "\n";
  }
  const EngineStats st = e.stats();
  std::cout << json{{"mode", "run"}, {"requests", reqs.size()}, {"seconds", t1 - t0},
                    {"preemptions", st.preemptions}, {"prefix_cache_hits", st.prefix_cache_hits},
                    {"kv_blocks_total", st.kv_blocks_total}}
                   .dump()
            << std::endl;
  return 0;
}

int cmd_prefill(Engine& e, int argc, char** argv) {
  const int64_t n = std::stoll(flag(argc, argv, "tokens", "4096"));
  const int repeat = std::stoi(flag(argc, argv, "repeat", "1"));
  std::mt19937 rng(12345);
  for (int r = 0; r < repeat; ++r) {
    // A fresh prompt each time so the prefix cache cannot help.
    auto req = greedy(random_prompt(rng, n), 1, 0);
    const double t0 = now_s();
    auto c = e.generate(req);
    const double t1 = now_s();
    if (!c.ok()) {
      std::fprintf(stderr, "prefill failed: %s\n", c.status().to_string().c_str());
      return 1;
    }
    std::cout << json{{"mode", "prefill"}, {"tokens", n}, {"seconds", t1 - t0},
                      {"tokens_per_s", n / (t1 - t0)}, {"ttft_ms", c->timings.ttft_ms}}
                     .dump()
              << std::endl;
  }
  return 0;
}

// A document asked again: one cold prompt of N tokens (the document), then Q follow-up
// questions, each the same document plus M new random tokens; reports each one's time to
// first token and how many of its prompt tokens came from the prefix cache.
int cmd_followup(Engine& e, int argc, char** argv) {
  const int64_t n = std::stoll(flag(argc, argv, "tokens", "200000"));
  const int64_t m = std::stoll(flag(argc, argv, "new", "16"));
  const int questions = std::stoi(flag(argc, argv, "questions", "3"));
  std::mt19937 rng(4242);
  const std::vector<int32_t> doc = random_prompt(rng, n);
  for (int q = 0; q <= questions; ++q) {
    std::vector<int32_t> prompt = doc;
    if (q > 0) {
      const auto tail = random_prompt(rng, m);
      prompt.insert(prompt.end(), tail.begin(), tail.end());
    }
    const double t0 = now_s();
    const Completion c = generate_or_exit(e, greedy(prompt, 1, 0), static_cast<size_t>(q));
    const double t1 = now_s();
    std::cout << json{{"mode", "followup"}, {"question", q}, {"prompt_tokens", prompt.size()},
                      {"cached_tokens", c.usage.cached_prompt_tokens}, {"seconds", t1 - t0},
                      {"ttft_ms", c.timings.ttft_ms}}
                     .dump()
              << std::endl;
  }
  return 0;
}

// The chat-during-prefill measurement (see the top of the file).
class ChatDuringPrefill {
 public:
  ChatDuringPrefill(Engine& e, int argc, char** argv) : e_(e) {
    n_ = std::stoll(flag(argc, argv, "tokens", "262143"));
    chat_tokens_ = std::stoll(flag(argc, argv, "chat-tokens", "64"));
    chat_new_ = std::stoi(flag(argc, argv, "chat-new", "16"));
    std::stringstream at(flag(argc, argv, "chat-at", "1"));
    for (std::string t; std::getline(at, t, ',');) chat_at_.push_back(std::stoll(t));
  }

  int run() {
    generate_or_exit(e_, chat_request(), 0);  // warm-up
    const Chat alone = chat_now();
    std::cout << json{{"mode", "chat_during_prefill"}, {"phase", "chat_alone"}, {"prompt_tokens", chat_tokens_},
                      {"new_tokens", chat_new_}, {"ttft_ms", alone.ttft_ms}, {"steps_to_first_token", alone.steps},
                      {"total_ms", alone.total_ms}}
                     .dump()
              << std::endl;
    GenerationRequest lone = long_request();
    const double t0 = now_s();
    generate_or_exit(e_, lone, 1);
    const double alone_s = now_s() - t0;
    std::cout << json{{"mode", "chat_during_prefill"}, {"phase", "long_alone"}, {"tokens", n_}, {"seconds", alone_s}}.dump()
              << std::endl;
    return with_chats(alone_s);
  }

 private:
  struct Chat {
    double ttft_ms = 0, total_ms = 0;
    int64_t steps = 0;  // engine steps from submission to the first token
  };

  GenerationRequest chat_request() {
    GenerationRequest r = greedy(random_prompt(rng_, chat_tokens_), chat_new_, 0);
    r.priority = Priority::kInteractive;
    return r;
  }
  GenerationRequest long_request() {
    GenerationRequest r = greedy(random_prompt(rng_, n_), 1, 0);
    r.priority = Priority::kBatch;
    return r;
  }

  // Submits a chat and waits for its end.
  Chat chat_now() {
    struct Shared {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      int64_t first_step = -1;
      Timings timings;
    } sh;
    const int64_t submitted_step = e_.stats().steps;
    auto id = e_.submit(chat_request(), [&](const StreamEvent& ev) {
      std::lock_guard lock(sh.mu);
      if (!ev.finished && sh.first_step < 0) sh.first_step = e_.stats().steps;
      if (!ev.finished) return;
      if (ev.finish_reason == FinishReason::kError) std::fprintf(stderr, "chat failed: %s\n", ev.error.to_string().c_str());
      sh.timings = ev.timings;
      sh.done = true;
      sh.cv.notify_all();
    });
    if (!id.ok()) {
      std::fprintf(stderr, "chat refused: %s\n", id.status().to_string().c_str());
      std::exit(1);
    }
    std::unique_lock lock(sh.mu);
    sh.cv.wait(lock, [&] { return sh.done; });
    return {sh.timings.ttft_ms, sh.timings.total_ms, sh.first_step - submitted_step};
  }

  // The long prompt again (a fresh one), with a chat each time its prefill passes a mark.
  int with_chats(double alone_s) {
    struct Shared {
      std::mutex mu;
      std::condition_variable cv;
      int64_t prefilled = 0;
      bool done = false;
    };
    auto sh = std::make_shared<Shared>();
    GenerationRequest req = long_request();
    req.prefill_progress = true;
    const int64_t preempted = e_.stats().preemptions;
    const double t0 = now_s();
    auto id = e_.submit(req, [sh](const StreamEvent& ev) {
      std::lock_guard lock(sh->mu);
      if (ev.prefill) sh->prefilled = ev.prompt_tokens_done;
      if (ev.finished) sh->done = true;
      sh->cv.notify_all();
    });
    if (!id.ok()) {
      std::fprintf(stderr, "long prompt refused: %s\n", id.status().to_string().c_str());
      return 1;
    }
    int chats = 0;
    for (int64_t mark : chat_at_) {
      int64_t at = 0;
      {
        std::unique_lock lock(sh->mu);
        sh->cv.wait(lock, [&] { return sh->done || sh->prefilled >= mark; });
        if (sh->done) break;
        at = sh->prefilled;
      }
      // The chat arrives right after a chunk was computed, when the next step has usually
      // started: it waits for that whole step, the worst case at this depth.
      const Chat c = chat_now();
      ++chats;
      std::cout << json{{"mode", "chat_during_prefill"}, {"phase", "chat"}, {"long_prompt_prefilled", at},
                        {"ttft_ms", c.ttft_ms}, {"steps_to_first_token", c.steps}, {"total_ms", c.total_ms}}
                       .dump()
                << std::endl;
    }
    {
      std::unique_lock lock(sh->mu);
      sh->cv.wait(lock, [&] { return sh->done; });
    }
    const double with_s = now_s() - t0;
    std::cout << json{{"mode", "chat_during_prefill"}, {"phase", "long_with_chats"}, {"tokens", n_},
                      {"chats", chats}, {"seconds", with_s}, {"alone_seconds", alone_s},
                      {"slowdown_s", with_s - alone_s}, {"preemptions", e_.stats().preemptions - preempted}}
                     .dump()
              << std::endl;
    return 0;
  }

  Engine& e_;
  std::mt19937 rng_{9090};
  int64_t n_ = 262143, chat_tokens_ = 64;
  int chat_new_ = 16;
  std::vector<int64_t> chat_at_;
};

int cmd_decode(Engine& e, int argc, char** argv) {
  const int batch = std::stoi(flag(argc, argv, "batch", "1"));
  const int64_t prompt_len = std::stoll(flag(argc, argv, "prompt-len", "128"));
  const int new_tokens = std::stoi(flag(argc, argv, "new-tokens", "256"));
  std::mt19937 rng(777);
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < batch; ++i) reqs.push_back(greedy(random_prompt(rng, prompt_len), new_tokens, 0));
  // --schema FILE / --json-object: every request constrained (issue 12's constrained decode).
  std::string constraint = "none";
  if (has_flag(argc, argv, "schema") || has_flag(argc, argv, "json-object")) {
    Constraint c{Constraint::Kind::kJsonObject, ""};
    constraint = "json_object";
    if (has_flag(argc, argv, "schema")) {
      std::ifstream in(flag(argc, argv, "schema"));
      std::stringstream text;
      text << in.rdbuf();
      c = Constraint{Constraint::Kind::kJsonSchema, text.str()};
      constraint = flag(argc, argv, "schema");
    }
    for (auto& r : reqs) r.sampling.constraint = c;
  }
  // Aggregate decode rate: tokens after each request's first, over the span from the
  // last first-token to the last finish (when all B sequences decode together).
  const double t0 = now_s();
  auto outs = run_all(e, reqs, true);
  const double t1 = now_s();
  double sum_rate = 0;
  int64_t generated = 0;
  for (const auto& c : outs) sum_rate += c.timings.decode_tokens_per_s, generated += c.usage.completion_tokens;
  std::cout << json{{"mode", "decode"}, {"batch", batch}, {"prompt_len", prompt_len}, {"new_tokens", new_tokens},
                    {"constraint", constraint}, {"generated_tokens", generated},
                    {"wall_s", t1 - t0}, {"aggregate_tokens_per_s", sum_rate},
                    {"per_seq_tokens_per_s", sum_rate / batch}}
                   .dump()
            << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: ream_bench run|prefill|decode|followup|chat-during-prefill --model DIR [--device cuda] ...\n", stderr);
    return 2;
  }
  EngineOptions o;
  o.model = flag(argc, argv, "model");
  o.device = flag(argc, argv, "device", "cuda");
  o.max_batch_tokens = std::stoi(flag(argc, argv, "max-batch-tokens", "8192"));
  o.max_step_pairs = std::stoll(flag(argc, argv, "max-step-pairs", std::to_string(o.max_step_pairs)));
  o.max_num_seqs = std::stoi(flag(argc, argv, "max-num-seqs", "64"));
  if (has_flag(argc, argv, "no-prefix-cache")) o.enable_prefix_caching = false;
  if (has_flag(argc, argv, "no-batch-invariant")) o.batch_invariant = false;
  o.kv_cache_bytes = std::stoll(flag(argc, argv, "kv-cache-bytes", "0"));
  o.interactive_batch_chunk = std::stoi(flag(argc, argv, "interactive-batch-chunk", "512"));
  auto engine = Engine::create(o);
  if (!engine.ok()) {
    std::fprintf(stderr, "ream_bench: %s\n", engine.status().to_string().c_str());
    return 1;
  }
  const std::string mode = argv[1];
  if (mode == "run") return cmd_run(**engine, argc, argv);
  if (mode == "prefill") return cmd_prefill(**engine, argc, argv);
  if (mode == "decode") return cmd_decode(**engine, argc, argv);
  if (mode == "followup") return cmd_followup(**engine, argc, argv);
  if (mode == "chat-during-prefill") return ChatDuringPrefill(**engine, argc, argv).run();
  std::fprintf(stderr, "ream_bench: unknown mode %s\n", mode.c_str());
  return 2;
}
