// `ream tokenize` and `ream generate`: the engine from the command line.
#include <nlohmann/json.hpp>

#include <cmath>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "ream/engine/chat_template.h"
#include "ream/engine/engine.h"
#include "ream/engine/model_config.h"
#include "ream/engine/tokenizer.h"

namespace ream::cli {
namespace {

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "ream: %s\n", message.c_str());
  return code;
}

// Reads the prompt given by --text/--prompt, --text-file or --chat-file into text,
// rendering a chat with the generation prompt. Returns "" on success, else an error.
std::string prompt_text(const Flags& f, const std::string& text_flag, std::string* text, bool* is_chat) {
  int given = f.has(text_flag) + f.has("text-file") + f.has("chat-file") + f.has("prompt-ids");
  if (given != 1)
    return "give exactly one of --" + text_flag + ", --text-file, --chat-file" +
           (text_flag == "prompt" ? ", --prompt-ids" : "");
  *is_chat = false;
  if (f.has(text_flag)) {
    *text = f.get(text_flag);
  } else if (f.has("text-file")) {
    bool ok;
    *text = read_file_or_empty(f.get("text-file"), &ok);
    if (!ok) return "cannot read --text-file " + f.get("text-file");
  } else if (f.has("chat-file")) {
    bool ok;
    std::string json = read_file_or_empty(f.get("chat-file"), &ok);
    if (!ok) return "cannot read --chat-file " + f.get("chat-file");
    auto messages = parse_chat_json(json);
    if (!messages.ok()) return f.get("chat-file") + ": " + messages.status().message();
    auto rendered = render_chat(*messages, /*add_generation_prompt=*/true);
    if (!rendered.ok()) return f.get("chat-file") + ": " + rendered.status().message();
    *text = *rendered;
    *is_chat = true;
  }
  return "";
}

std::string parse_ids(const std::string& csv, std::vector<TokenId>* out) {
  std::stringstream ss(csv);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw 0;
      out->push_back(static_cast<TokenId>(v));
    } catch (...) {
      return "--prompt-ids: '" + item + "' is not a token id";
    }
  }
  if (out->empty()) return "--prompt-ids is empty";
  return "";
}

}  // namespace

std::string usage_tokenize() {
  return "usage: ream tokenize --model DIR (--text T | --text-file F | --chat-file F) [--json]\n";
}

std::string usage_generate() {
  return "usage: ream generate --model DIR (--prompt T | --prompt-ids 1,2,3 | --text-file F | --chat-file F)\n"
         "         [--max-tokens N] [--temperature T] [--top-p P] [--top-k K] [--min-p P] [--seed S]\n"
         "         [--presence-penalty X] [--frequency-penalty X] [--repetition-penalty X]\n"
         "         [--stop STR ...] [--ignore-eos] [--top-logprobs K] [--device cpu|cuda]\n"
         "         [--threads N] [--max-model-len N] [--json]\n"
         "Sampling defaults come from the model's generation_config.json; --temperature 0 is greedy.\n";
}

int cmd_tokenize(const Args& args) {
  Flags f({"model", "text", "text-file", "chat-file"}, {"json", "help"});
  if (auto err = f.parse(args); !err.empty()) return fail(err, 2);
  if (f.has("help") || !f.has("model")) {
    std::fputs(usage_tokenize().c_str(), f.has("help") ? stdout : stderr);
    return f.has("help") ? 0 : 2;
  }
  std::string text;
  bool is_chat;
  if (auto err = prompt_text(f, "text", &text, &is_chat); !err.empty()) return fail(err, 2);
  auto dir = resolve_model_dir(f.get("model"));
  if (!dir.ok()) return fail(dir.status().message());
  auto tok = Tokenizer::load(*dir);
  if (!tok.ok()) return fail(tok.status().message());
  std::vector<TokenId> ids = (*tok)->encode(text);
  nlohmann::json out = {{"ids", ids}};
  if (is_chat) out["text"] = text;
  if (f.has("json")) {
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}

int cmd_generate(const Args& args) {
  Flags f({"model", "prompt", "prompt-ids", "text-file", "chat-file", "max-tokens", "temperature", "top-p",
           "top-k", "min-p", "seed", "top-logprobs", "device", "presence-penalty", "frequency-penalty",
           "repetition-penalty", "stop", "threads", "max-model-len"},
          {"json", "ignore-eos", "help"});
  if (auto err = f.parse(args); !err.empty()) return fail(err, 2);
  if (f.has("help") || !f.has("model")) {
    std::fputs(usage_generate().c_str(), f.has("help") ? stdout : stderr);
    return f.has("help") ? 0 : 2;
  }
  std::vector<TokenId> ids;
  std::string text;
  bool is_chat = false;
  if (auto err = prompt_text(f, "prompt", &text, &is_chat); !err.empty()) return fail(err, 2);
  if (f.has("prompt-ids"))
    if (auto err = parse_ids(f.get("prompt-ids"), &ids); !err.empty()) return fail(err, 2);

  EngineOptions opts;
  opts.model = f.get("model");
  opts.device = f.get("device", "cpu");
  auto num = [&](const char* name, double fallback) -> std::optional<double> {
    return f.has(name) ? parse_number(name, f.get(name)) : std::optional<double>(fallback);
  };
  auto threads = num("threads", 0), max_len = num("max-model-len", 0);
  if (!threads || !max_len) return 2;
  opts.num_threads = static_cast<int>(*threads);
  opts.max_model_len = static_cast<int64_t>(*max_len);
  auto engine = Engine::create(opts);
  if (!engine.ok()) return fail(engine.status().message());
  auto tok = (*engine)->tokenizer();
  if (ids.empty()) {
    if (!tok) return fail("the model has no tokenizer.json; use --prompt-ids");
    ids = tok->encode(text);
  }

  GenerationRequest req;
  req.prompt = ids;
  SamplingParams& p = req.sampling;
  p = (*engine)->default_sampling();
  struct {
    const char* name;
    float* target;
  } floats[] = {{"temperature", &p.temperature}, {"top-p", &p.top_p}, {"min-p", &p.min_p},
                {"presence-penalty", &p.presence_penalty}, {"frequency-penalty", &p.frequency_penalty},
                {"repetition-penalty", &p.repetition_penalty}};
  for (auto& fl : floats)
    if (f.has(fl.name)) {
      auto v = parse_number(fl.name, f.get(fl.name));
      if (!v) return 2;
      *fl.target = static_cast<float>(*v);
    }
  auto max_tokens = num("max-tokens", 256), top_k = num("top-k", p.top_k), lps = num("top-logprobs", 0);
  if (!max_tokens || !top_k || !lps) return 2;
  p.max_tokens = static_cast<int32_t>(*max_tokens);
  p.top_k = static_cast<int32_t>(*top_k);
  p.top_logprobs = static_cast<int32_t>(*lps);
  if (f.has("seed")) {
    auto seed = parse_number("seed", f.get("seed"));
    if (!seed) return 2;
    p.seed = static_cast<uint64_t>(*seed);
    p.has_seed = true;
  }
  p.stop = f.all("stop");
  p.ignore_eos = f.has("ignore-eos");

  const bool json = f.has("json");
  Completion done;
  Status error;
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  auto id = (*engine)->submit(req, [&](const StreamEvent& ev) {
    std::lock_guard<std::mutex> lock(mu);
    done.text += ev.text;
    if (!json && !ev.text.empty()) {
      std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
      std::fflush(stdout);
    }
    if (!ev.finished) {
      done.tokens.push_back(ev.token);
      done.top_logprobs.push_back(ev.top_logprobs);
      return;
    }
    done.finish_reason = ev.finish_reason;
    done.usage = ev.usage;
    done.timings = ev.timings;
    error = ev.error;
    finished = true;
    cv.notify_all();
  });
  if (!id.ok()) return fail(id.status().message());
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished; });
  if (!error.ok()) return fail(error.message());
  if (!json) {
    std::fputs("\n", stdout);
    std::fprintf(stderr, "[%lld prompt + %lld generated tokens, %s, %.1f ms to first token, %.1f tok/s]\n",
                 static_cast<long long>(done.usage.prompt_tokens),
                 static_cast<long long>(done.usage.completion_tokens), finish_reason_name(done.finish_reason),
                 done.timings.ttft_ms, done.timings.decode_tokens_per_s);
    return 0;
  }
  nlohmann::json tops = nlohmann::json::array();
  for (const auto& step : done.top_logprobs) {
    nlohmann::json s = nlohmann::json::array();
    for (const auto& t : step) s.push_back({t.id, t.logprob});
    tops.push_back(s);
  }
  nlohmann::json out = {
      {"ids", done.tokens},
      {"text", done.text},
      {"top_logprobs", tops},
      {"finish_reason", finish_reason_name(done.finish_reason)},
      {"usage", {{"prompt_tokens", done.usage.prompt_tokens}, {"completion_tokens", done.usage.completion_tokens}}},
      {"timings", {{"ttft_ms", done.timings.ttft_ms}, {"total_ms", done.timings.total_ms},
                   {"decode_tokens_per_s", done.timings.decode_tokens_per_s}}}};
  std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace ream::cli
