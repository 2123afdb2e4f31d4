// OpenAI-compatible /v1/chat/completions (streamed and not) and /v1/models, served
// straight from the engine at interactive priority (they outrank workflow jobs).
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <filesystem>

#include "api/routes.h"
#include "http/sse.h"
#include "ream/engine/chat_template.h"

namespace ream::api {

namespace {

using nlohmann::json;
using http::json_error;
using http::Request;
using http::Response;

std::string model_name(App& app) {
  std::string m = app.config().model.empty() ? std::filesystem::path(app.model_dir()).filename().string()
                                             : app.config().model;
  return m.empty() ? "ream" : m;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Fills `gen` from the request body; returns an error response on bad input.
std::optional<Response> parse_chat(App& app, const json& b, GenerationRequest* gen, bool* stream,
                                   bool* include_usage) {
  if (!b.contains("messages") || !b["messages"].is_array() || b["messages"].empty()) {
    return json_error(400, "invalid_request", "'messages' must be a non-empty array", "messages");
  }
  std::vector<ChatMessage> msgs;
  for (size_t i = 0; i < b["messages"].size(); ++i) {
    const json& m = b["messages"][i];
    std::string field = "messages[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return json_error(400, "invalid_request", field + ": expected {role, content}", field);
    }
    std::string content;
    const json& c = m.value("content", json(""));
    if (c.is_string()) {
      content = c.get<std::string>();
    } else if (c.is_array()) {
      for (const json& part : c) {
        if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
            part["text"].is_string()) {
          content += part["text"].get<std::string>();
        } else {
          return json_error(400, "invalid_request", field + ".content: only text parts are supported",
                            field + ".content");
        }
      }
    } else if (!c.is_null()) {
      return json_error(400, "invalid_request", field + ".content: expected a string", field + ".content");
    }
    msgs.push_back({m["role"].get<std::string>(), content});
  }
  auto prompt = render_chat(msgs, true);
  if (!prompt.ok()) return json_error(400, "invalid_request", prompt.status().message(), "messages");
  gen->prompt = app.engine()->tokenizer()->encode(prompt.value(), true);
  gen->priority = Priority::kInteractive;
  SamplingParams& s = gen->sampling;
  s = app.engine()->default_sampling();
  try {
    if (b.contains("temperature")) s.temperature = b["temperature"].get<float>();
    if (b.contains("top_p")) s.top_p = b["top_p"].get<float>();
    if (b.contains("top_k")) s.top_k = b["top_k"].get<int32_t>();
    if (b.contains("min_p")) s.min_p = b["min_p"].get<float>();
    if (b.contains("presence_penalty")) s.presence_penalty = b["presence_penalty"].get<float>();
    if (b.contains("frequency_penalty")) s.frequency_penalty = b["frequency_penalty"].get<float>();
    if (b.contains("repetition_penalty")) s.repetition_penalty = b["repetition_penalty"].get<float>();
    if (b.contains("seed") && !b["seed"].is_null()) {
      s.seed = b["seed"].get<uint64_t>();
      s.has_seed = true;
    }
    int64_t room = app.engine()->max_model_len() - static_cast<int64_t>(gen->prompt.size());
    int64_t max_tokens = std::min<int64_t>(room, 4096);
    if (b.contains("max_completion_tokens") && !b["max_completion_tokens"].is_null()) {
      max_tokens = b["max_completion_tokens"].get<int64_t>();
    } else if (b.contains("max_tokens") && !b["max_tokens"].is_null()) {
      max_tokens = b["max_tokens"].get<int64_t>();
    }
    if (max_tokens < 1 || max_tokens > room) {
      return json_error(400, "invalid_request",
                        "max_tokens must be in 1.." + std::to_string(std::max<int64_t>(room, 0)) +
                            " (the prompt has " + std::to_string(gen->prompt.size()) + " tokens)",
                        "max_tokens");
    }
    s.max_tokens = static_cast<int32_t>(max_tokens);
    if (b.contains("stop") && !b["stop"].is_null()) {
      if (b["stop"].is_string()) s.stop = {b["stop"].get<std::string>()};
      else s.stop = b["stop"].get<std::vector<std::string>>();
    }
    if (b.value("n", 1) != 1) return json_error(400, "invalid_request", "only n = 1 is supported", "n");
    *stream = b.value("stream", false);
    *include_usage = b.contains("stream_options") && b["stream_options"].is_object() &&
                     b["stream_options"].value("include_usage", false);
  } catch (const json::exception& e) {
    return json_error(400, "invalid_request", std::string("wrong type in the request: ") + e.what());
  }
  std::string bad = validate_sampling(s);
  if (!bad.empty()) return json_error(400, "invalid_request", bad);
  return std::nullopt;
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_prompt_tokens}}}};
}

const char* openai_finish(FinishReason r) {
  switch (r) {
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "abort";
    case FinishReason::kError: return "error";
    default: return "stop";
  }
}

Response chat(App& app, Request& req) {
  if (!app.ready() || app.draining()) return unavailable_response(app);
  Response err;
  auto body = parse_json_body(req, &err);
  if (!body) return err;
  GenerationRequest gen;
  bool stream = false, include_usage = false;
  if (auto bad = parse_chat(app, *body, &gen, &stream, &include_usage)) return *bad;
  gen.tag = "chat " + req.request_id;
  const std::string id = "chatcmpl-" + req.request_id;
  const std::string model = model_name(app);
  const int64_t created = unix_now();
  if (!stream) {
    auto c = app.engine()->generate(std::move(gen));
    if (!c.ok()) return http::error_from_status(c.status());
    json msg = {{"role", "assistant"}, {"content", c->text}};
    return http::json_response(
        200, {{"id", id},
              {"object", "chat.completion"},
              {"created", created},
              {"model", model},
              {"choices", json::array({{{"index", 0},
                                        {"message", msg},
                                        {"finish_reason", openai_finish(c->finish_reason)}}})},
              {"usage", usage_json(c->usage)}});
  }
  auto q = std::make_shared<http::QueueStream>(true);
  auto chunk = [id, model, created](json delta, json finish) {
    json c = {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model},
              {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
    return "data: " + c.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
  };
  q->push(chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
  auto cb = [q, chunk, include_usage, id, model, created](const StreamEvent& ev) {
    if (!ev.finished) {
      if (!ev.text.empty()) q->push(chunk({{"content", ev.text}}, nullptr));
      return;
    }
    q->push(chunk(json::object(), openai_finish(ev.finish_reason)));
    if (include_usage) {
      json u = {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created},
                {"model", model}, {"choices", json::array()}, {"usage", usage_json(ev.usage)}};
      q->push("data: " + u.dump() + "\n\n");
    }
    q->push("data: [DONE]\n\n");
    q->finish();
  };
  auto rid = app.engine()->submit(std::move(gen), cb);
  if (!rid.ok()) return http::error_from_status(rid.status());
  Engine* engine = app.engine();
  uint64_t request_id = rid.value();
  q->on_close([engine, request_id]() { engine->cancel(request_id); });
  Response r;
  r.content_type = "text/event-stream";
  r.stream = q;
  return r;
}

Response models(App& app) {
  json m = {{"id", model_name(app)}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "ream"}};
  if (app.engine()) m["max_model_len"] = app.engine()->max_model_len();
  return http::json_response(200, {{"object", "list"}, {"data", json::array({m})}});
}

}  // namespace

void add_chat_routes(http::Router& router, App& app) {
  router.add("POST", "/v1/chat/completions", "chat_completions", http::Access::kSubmit,
             [&app](Request& r) { return chat(app, r); });
  router.add("GET", "/v1/models", "models_list", http::Access::kRead,
             [&app](Request&) { return models(app); });
}

}  // namespace ream::api
