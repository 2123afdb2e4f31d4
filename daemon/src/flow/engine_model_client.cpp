// ModelClient over ream::Engine.
#include "flow/engine_model_client.h"

#include <mutex>

#include "ream/engine/chat_template.h"

namespace ream::flow {

namespace {

std::vector<ChatMessage> to_chat(const std::vector<plugins::Message>& messages) {
  std::vector<ChatMessage> out;
  for (const plugins::Message& m : messages) out.push_back({m.role, m.content});
  return out;
}

}  // namespace

EngineModelClient::EngineModelClient(Engine& engine) : engine_(engine), tokenizer_(engine.tokenizer()) {
  auto rendered = render_chat({{"system", "x"}, {"user", "x"}}, true);
  if (rendered.ok()) overhead_ = static_cast<int64_t>(tokenizer_->encode(rendered.value()).size());
}

int64_t EngineModelClient::count_tokens(std::string_view text) const {
  return static_cast<int64_t>(tokenizer_->encode(text, /*parse_special=*/false).size());
}

int64_t EngineModelClient::context_size() const { return engine_.max_model_len(); }

Result<uint64_t> EngineModelClient::submit(const ModelRequest& request, std::function<void(ModelReply)> done) {
  GenerationRequest gen;
  if (!request.messages.empty()) {
    // Message contents (documents, questions) are literal text: a special token inside a
    // document cannot end its turn or start another.
    auto rendered = render_chat_spans(to_chat(request.messages), /*add_generation_prompt=*/true);
    if (!rendered.ok()) return rendered.status();
    gen.prompt = tokenizer_->encode(rendered->text, rendered->content_ranges);
  } else {
    gen.prompt = tokenizer_->encode(request.text, /*parse_special=*/true);
  }
  gen.priority = Priority::kBatch;
  gen.tag = request.tag;
  gen.sampling = request.sampling;
  SamplingParams& s = gen.sampling;
  int64_t room = engine_.max_model_len() - static_cast<int64_t>(gen.prompt.size());
  if (room <= 0) {
    return invalid_argument("the prompt has " + std::to_string(gen.prompt.size()) +
                            " tokens; the context holds " + std::to_string(engine_.max_model_len()));
  }
  s.max_tokens = static_cast<int32_t>(std::min<int64_t>(request.sampling.max_tokens, room));
  struct State {
    std::mutex mu;
    std::string text;
    ModelProgress progress;
  };
  auto state = std::make_shared<State>();
  state->progress.prompt_tokens = static_cast<int64_t>(gen.prompt.size());
  auto on_progress = request.on_progress;
  gen.prefill_progress = static_cast<bool>(on_progress);
  if (on_progress) on_progress(state->progress);
  return engine_.submit(std::move(gen), [state, on_progress, done = std::move(done)](const StreamEvent& ev) {
    if (ev.prefill) {
      // Engine events come from its one thread, in order: no lock needed for progress.
      state->progress.prompt_tokens_prefilled = ev.prompt_tokens_done;
      if (on_progress) on_progress(state->progress);
      return;
    }
    if (!ev.finished) {
      ++state->progress.completion_tokens;
      {
        std::lock_guard lock(state->mu);
        state->text += ev.text;
      }
      if (on_progress) on_progress(state->progress);
      return;
    }
    ModelReply reply;
    {
      std::lock_guard lock(state->mu);
      reply.text = std::move(state->text);
    }
    reply.text += ev.text;
    reply.finish_reason = finish_reason_name(ev.finish_reason);
    reply.prompt_tokens = ev.usage.prompt_tokens;
    reply.completion_tokens = ev.usage.completion_tokens;
    reply.cached_prompt_tokens = ev.usage.cached_prompt_tokens;
    if (ev.finish_reason == FinishReason::kError) {
      reply.status = ev.error.ok() ? internal_error("engine error") : ev.error;
    } else if (ev.finish_reason == FinishReason::kCancelled) {
      reply.status = Status(StatusCode::kCancelled, "cancelled");
    }
    done(std::move(reply));
  });
}

void EngineModelClient::cancel(uint64_t id) { engine_.cancel(id); }

}  // namespace ream::flow
