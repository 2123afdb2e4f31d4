// OpenAI-compatible /v1/chat/completions (streamed and not) and /v1/models, served
// straight from the engine at interactive priority (they outrank workflow jobs).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <sstream>
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
  std::string m = app.config().engine.model.empty()
                      ? std::filesystem::path(app.model_dir()).filename().string()
                      : app.config().engine.model;
  return m.empty() ? "ream" : m;
}

// top_k beyond any vocabulary (Qwen3: 151,936) is the same as 0, off; larger is a mistake.
constexpr uint64_t kMaxTopK = 1000000;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One number field of the body: absent or null keeps the default; otherwise a 400
// naming the field and its range unless it is a number in [lo, hi] ((lo, hi] if lo_open).
std::optional<Response> number_field(const json& b, const char* key, double lo, double hi, bool lo_open,
                                     float* out) {
  if (!b.contains(key) || b[key].is_null()) return std::nullopt;
  const json& v = b[key];
  const double d = v.is_number() ? v.get<double>() : std::nan("");
  if (!(d <= hi && (lo_open ? d > lo : d >= lo))) {
    std::ostringstream range;
    range << (lo_open ? "(" : "[") << lo << ", " << hi << "]";
    return json_error(400, "invalid_request",
                      std::string("'") + key + "' must be a number in " + range.str() + " (got " + v.dump() + ")",
                      key);
  }
  *out = static_cast<float>(d);
  return std::nullopt;
}

// The same for an integer field in lo..hi (an unsigned JSON integer is compared as one).
std::optional<Response> integer_field(const json& b, const char* key, int64_t lo, uint64_t hi, uint64_t* out) {
  if (!b.contains(key) || b[key].is_null()) return std::nullopt;
  const json& v = b[key];
  bool ok = v.is_number_unsigned() ? v.get<uint64_t>() <= hi && (lo <= 0 || v.get<uint64_t>() >= static_cast<uint64_t>(lo))
            : v.is_number_integer() && v.get<int64_t>() >= lo && (v.get<int64_t>() < 0 || static_cast<uint64_t>(v.get<int64_t>()) <= hi);
  if (!ok) {
    return json_error(400, "invalid_request",
                      std::string("'") + key + "' must be an integer in " + std::to_string(lo) + ".." +
                          std::to_string(hi) + " (got " + v.dump() + ")",
                      key);
  }
  *out = v.is_number_unsigned() ? v.get<uint64_t>() : static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

// temperature, top_p, top_k, min_p, penalties and seed, each within its range.
std::optional<Response> parse_sampling(const json& b, SamplingParams* s) {
  std::optional<Response> bad;
  if ((bad = number_field(b, "temperature", 0, 100, false, &s->temperature))) return bad;
  if ((bad = number_field(b, "top_p", 0, 1, true, &s->top_p))) return bad;
  if ((bad = number_field(b, "min_p", 0, 1, false, &s->min_p))) return bad;
  if ((bad = number_field(b, "presence_penalty", -2, 2, false, &s->presence_penalty))) return bad;
  if ((bad = number_field(b, "frequency_penalty", -2, 2, false, &s->frequency_penalty))) return bad;
  if ((bad = number_field(b, "repetition_penalty", 0, 10, true, &s->repetition_penalty))) return bad;
  uint64_t top_k = static_cast<uint64_t>(s->top_k);
  if ((bad = integer_field(b, "top_k", 0, kMaxTopK, &top_k))) return bad;
  s->top_k = static_cast<int32_t>(top_k);
  if (b.contains("seed") && !b["seed"].is_null()) {
    if ((bad = integer_field(b, "seed", 0, std::numeric_limits<uint64_t>::max(), &s->seed))) return bad;
    s->has_seed = true;
  }
  return std::nullopt;
}

// max_completion_tokens (or the older max_tokens): 1..what the context leaves.
std::optional<Response> parse_max_tokens(const json& b, int64_t room, size_t prompt_tokens, SamplingParams* s) {
  const char* key = b.contains("max_completion_tokens") && !b["max_completion_tokens"].is_null()
                        ? "max_completion_tokens" : "max_tokens";
  uint64_t max_tokens = static_cast<uint64_t>(std::clamp<int64_t>(room, 0, 4096));
  const uint64_t hi = static_cast<uint64_t>(std::max<int64_t>(room, 0));
  if (integer_field(b, key, 1, hi, &max_tokens)) {  // the same check, told with the context
    return json_error(400, "invalid_request",
                      std::string("'") + key + "' must be an integer in 1.." + std::to_string(hi) + " (got " +
                          b[key].dump() + "; the prompt has " + std::to_string(prompt_tokens) + " of " +
                          std::to_string(room + static_cast<int64_t>(prompt_tokens)) + " context tokens)",
                      key);
  }
  if (max_tokens < 1) {
    return json_error(400, "invalid_request",
                      "the prompt has " + std::to_string(prompt_tokens) + " tokens and leaves no room to reply",
                      "messages");
  }
  s->max_tokens = static_cast<int32_t>(max_tokens);
  return std::nullopt;
}

// stop: a non-empty string or a list of them.
std::optional<Response> parse_stop(const json& b, SamplingParams* s) {
  if (!b.contains("stop") || b["stop"].is_null()) return std::nullopt;
  const json& v = b["stop"];
  bool ok = v.is_string() || v.is_array();
  if (v.is_array()) {
    for (const json& x : v) ok = ok && x.is_string();
  }
  if (!ok) return json_error(400, "invalid_request", "'stop' must be a string or a list of strings", "stop");
  s->stop = v.is_string() ? std::vector<std::string>{v.get<std::string>()} : v.get<std::vector<std::string>>();
  return std::nullopt;
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
  if (auto bad = parse_sampling(b, &s)) return bad;
  const int64_t room = app.engine()->max_model_len() - static_cast<int64_t>(gen->prompt.size());
  if (auto bad = parse_max_tokens(b, room, gen->prompt.size(), &s)) return bad;
  if (auto bad = parse_stop(b, &s)) return bad;
  if (b.contains("n") && !(b["n"].is_number_integer() && b["n"].get<int64_t>() == 1)) {
    return json_error(400, "invalid_request", "'n' must be 1 (got " + b["n"].dump() + ")", "n");
  }
  if (b.contains("stream") && !b["stream"].is_boolean() && !b["stream"].is_null()) {
    return json_error(400, "invalid_request", "'stream' must be true or false", "stream");
  }
  *stream = b.value("stream", json(false)) == json(true);
  if (b.contains("stream_options") && !b["stream_options"].is_null()) {
    const json& o = b["stream_options"];
    if (!o.is_object() || (o.contains("include_usage") && !o["include_usage"].is_boolean())) {
      return json_error(400, "invalid_request", "'stream_options' must be {\"include_usage\": true|false}",
                        "stream_options");
    }
    *include_usage = o.value("include_usage", false);
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
