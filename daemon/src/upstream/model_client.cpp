// UpstreamModelClient: workflow steps as streamed OpenAI requests to the upstream pool.
#include "upstream/model_client.h"

#include <spdlog/spdlog.h>

#include "ream/engine/chat_template.h"
#include "upstream/exchange.h"

namespace ream::upstream {

using Json = nlohmann::json;

std::string affinity_text(const Json& body, size_t max_chars) {
  // Leading system messages count whole: instructions shared by every request of a workflow
  // would otherwise fill the key, and every document would hash alike.
  std::string system, rest;
  if (body.contains("messages") && body["messages"].is_array()) {
    bool leading = true;
    for (const Json& m : body["messages"]) {
      if (rest.size() >= max_chars) break;
      if (!m.is_object() || !m.contains("content")) continue;
      const bool is_system = m.value("role", "") == "system" || m.value("role", "") == "developer";
      leading = leading && is_system;
      std::string& out = leading ? system : rest;
      const Json& c = m["content"];
      if (c.is_string()) {
        out += c.get<std::string>();
      } else if (c.is_array()) {  // content parts: their text
        for (const Json& part : c) {
          if (part.is_object() && part.contains("text") && part["text"].is_string()) out += part["text"].get<std::string>();
        }
      }
      out += '\n';
    }
  } else if (body.contains("prompt")) {
    const Json& p = body["prompt"];
    if (p.is_string()) rest = p.get<std::string>();
    else if (p.is_array() && !p.empty()) rest = p[0].is_string() ? p[0].get<std::string>() : p[0].dump();
  }
  if (rest.size() > max_chars) rest.resize(max_chars);
  return system + rest;
}

Result<Json> request_body(const flow::ModelRequest& request, int32_t max_tokens) {
  const SamplingParams& s = request.sampling;
  Json b = Json::object();
  if (!request.messages.empty()) {
    Json msgs = Json::array();
    for (const plugins::Message& m : request.messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
    b["messages"] = std::move(msgs);
  } else {
    b["prompt"] = request.text;
  }
  b["max_tokens"] = max_tokens;
  b["temperature"] = s.temperature;
  b["top_p"] = s.top_p;
  if (s.top_k > 0) b["top_k"] = s.top_k;
  if (s.min_p > 0) b["min_p"] = s.min_p;
  if (s.presence_penalty != 0) b["presence_penalty"] = s.presence_penalty;
  if (s.frequency_penalty != 0) b["frequency_penalty"] = s.frequency_penalty;
  if (s.repetition_penalty != 1) b["repetition_penalty"] = s.repetition_penalty;
  if (s.has_seed) b["seed"] = s.seed;
  if (!s.stop.empty()) b["stop"] = s.stop;
  if (!s.stop_token_ids.empty()) b["stop_token_ids"] = s.stop_token_ids;
  if (s.ignore_eos) b["ignore_eos"] = true;
  if (!s.logit_bias.empty()) {
    Json bias = Json::object();
    for (const auto& [id, v] : s.logit_bias) bias[std::to_string(id)] = v;
    b["logit_bias"] = std::move(bias);
  }
  switch (s.constraint.kind) {
    case Constraint::Kind::kNone:
      break;
    case Constraint::Kind::kJsonObject:
      b["response_format"] = {{"type", "json_object"}};
      break;
    case Constraint::Kind::kJsonSchema: {
      Json schema = Json::parse(s.constraint.source, nullptr, false);
      if (schema.is_discarded()) return invalid_argument("the reply schema is not JSON");
      b["response_format"] = {{"type", "json_schema"},
                              {"json_schema", {{"name", "reply"}, {"schema", std::move(schema)}, {"strict", true}}}};
      break;
    }
    case Constraint::Kind::kRegex:
    case Constraint::Kind::kGrammar:
      return invalid_argument(std::string("a ") + (s.constraint.kind == Constraint::Kind::kRegex ? "regex" : "grammar") +
                              " constraint cannot be sent to an OpenAI-compatible upstream (the API has only "
                              "response_format json_object and json_schema); run this step on a local engine "
                              "or give it a reply_schema");
  }
  b["stream"] = true;
  b["stream_options"] = {{"include_usage", true}};
  return b;
}

UpstreamModelClient::UpstreamModelClient(UpstreamPool& pool, std::shared_ptr<const Tokenizer> tokenizer,
                                         SamplingParams defaults, int64_t fallback_context, int64_t affinity_chars)
    : pool_(pool),
      tokenizer_(std::move(tokenizer)),
      defaults_(std::move(defaults)),
      fallback_context_(fallback_context),
      affinity_chars_(affinity_chars) {
  auto rendered = render_chat({{"system", "x"}, {"user", "x"}}, true);
  if (rendered.ok()) overhead_ = static_cast<int64_t>(tokenizer_->encode(rendered.value()).size());
}

int64_t UpstreamModelClient::count_tokens(std::string_view text) const {
  return static_cast<int64_t>(tokenizer_->encode(text, /*parse_special=*/false).size());
}

int64_t UpstreamModelClient::context_size() const {
  int64_t reported = pool_.min_model_len();
  return reported > 0 ? reported : fallback_context_;
}

int64_t UpstreamModelClient::prompt_tokens(const flow::ModelRequest& request) const {
  if (request.messages.empty()) return static_cast<int64_t>(tokenizer_->encode(request.text, true).size());
  std::vector<ChatMessage> chat;
  for (const plugins::Message& m : request.messages) chat.push_back({m.role, m.content});
  auto rendered = render_chat_spans(chat, /*add_generation_prompt=*/true);
  if (!rendered.ok()) return 0;
  return static_cast<int64_t>(tokenizer_->encode(rendered->text, rendered->content_ranges).size());
}

namespace {

// What one streamed reply has gathered.
struct ReplyState {
  std::mutex mu;
  flow::ModelReply reply;
  flow::ModelProgress progress;
  bool done_event = false;  // [DONE] arrived
  std::string stream_error;  // an {"error": …} event
};

Status status_from_http(unsigned status, const std::string& upstream, const std::string& body) {
  auto j = Json::parse(body, nullptr, false);
  std::string message = body.substr(0, 500);
  if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
      j["error"]["message"].is_string()) {
    message = j["error"]["message"].get<std::string>();
  }
  message = "upstream " + upstream + " answered " + std::to_string(status) + ": " + message;
  if (status == 400 || status == 422) return invalid_argument(message);
  if (status == 429) return Status(StatusCode::kResourceExhausted, message);
  return unavailable(message);
}

}  // namespace

Result<uint64_t> UpstreamModelClient::submit(const flow::ModelRequest& request,
                                             std::function<void(flow::ModelReply)> done) {
  const int64_t prompt = prompt_tokens(request);
  const int64_t room = context_size() - prompt;
  if (room <= 0) {
    return invalid_argument("the prompt has " + std::to_string(prompt) + " tokens; the context holds " +
                            std::to_string(context_size()));
  }
  const int32_t max_tokens = static_cast<int32_t>(std::min<int64_t>(request.sampling.max_tokens, room));
  REAM_ASSIGN_OR_RETURN(Json body, request_body(request, max_tokens));
  const bool chat = !request.messages.empty();
  const uint64_t key = pool_.affinity(affinity_text(body, static_cast<size_t>(affinity_chars_)));
  auto exchange = std::make_shared<Exchange>(pool_, chat ? "/v1/chat/completions" : "/v1/completions",
                                             std::move(body), key, request.tag);
  auto state = std::make_shared<ReplyState>();
  state->progress.prompt_tokens = prompt;
  auto on_progress = request.on_progress;
  if (on_progress) on_progress(state->progress);
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
    running_[id] = exchange;
  }
  auto work = [this, id, exchange, state, chat, on_progress, done = std::move(done), tag = request.tag]() {
    Exchange::Handlers h;
    std::string error_body;
    unsigned error_status = 0;
    h.on_event = [&](const std::string& data) {
      if (data == "[DONE]") {
        state->done_event = true;
        return false;
      }
      Json j = Json::parse(data, nullptr, false);
      if (!j.is_object()) return true;
      if (j.contains("error")) {
        const Json& e = j["error"];
        state->stream_error = e.is_object() && e.contains("message") && e["message"].is_string()
                                  ? e["message"].get<std::string>()
                                  : e.dump();
        return false;
      }
      if (j.contains("usage") && j["usage"].is_object()) {
        UpstreamUsage u = usage_of(j);
        state->reply.prompt_tokens = u.prompt_tokens;
        state->reply.completion_tokens = u.completion_tokens;
        state->reply.cached_prompt_tokens = u.cached_prompt_tokens;
      }
      if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return true;
      const Json& c = j["choices"][0];
      std::string piece;
      if (chat && c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content") &&
          c["delta"]["content"].is_string()) {
        piece = c["delta"]["content"].get<std::string>();
      } else if (!chat && c.contains("text") && c["text"].is_string()) {
        piece = c["text"].get<std::string>();
      }
      if (c.contains("finish_reason") && c["finish_reason"].is_string()) {
        state->reply.finish_reason = c["finish_reason"].get<std::string>();
      }
      if (!piece.empty()) {
        state->reply.text += piece;
        ++state->progress.completion_tokens;
        state->progress.prompt_tokens_prefilled = state->progress.prompt_tokens;
        if (on_progress) on_progress(state->progress);
      }
      return true;
    };
    h.on_body = [&](unsigned status, std::string body) {
      error_status = status;
      error_body = std::move(body);
    };
    ExchangeResult r = exchange->run(h);
    flow::ModelReply reply = std::move(state->reply);
    using Stage = HttpOutcome::Stage;
    if (r.outcome.stage == Stage::kCancelled) {
      reply.status = Status(StatusCode::kCancelled, "cancelled");
      reply.finish_reason = "cancelled";
    } else if (r.outcome.stage != Stage::kOk) {
      reply.status = unavailable(r.error);
      reply.finish_reason = "error";
    } else if (error_status != 0) {
      reply.status = status_from_http(error_status, r.upstream, error_body);
      reply.finish_reason = "error";
    } else if (!state->stream_error.empty()) {
      reply.status = unavailable("upstream " + r.upstream + " failed mid-reply: " + state->stream_error);
      reply.finish_reason = "error";
    } else if (!state->done_event) {
      reply.status = unavailable("upstream " + r.upstream + " ended the stream without [DONE]");
      reply.finish_reason = "error";
    }
    if (!reply.status.ok()) spdlog::warn("upstream: {} failed: {}", tag, reply.status.message());
    {
      std::lock_guard lock(mu_);
      running_.erase(id);
    }
    done(std::move(reply));
  };
  pool_.spawn(std::move(work), [exchange] { exchange->cancel(); });
  return id;
}

void UpstreamModelClient::cancel(uint64_t id) {
  std::shared_ptr<Exchange> e;
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(id);
    if (it == running_.end()) return;
    e = it->second;
  }
  e->cancel();
}

}  // namespace ream::upstream
