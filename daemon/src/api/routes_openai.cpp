// The OpenAI-compatible routes: /v1/chat/completions and /v1/completions (streamed or not,
// answered from the engine at interactive priority, ahead of workflow jobs), /v1/models,
// /v1/models/{id}, and vLLM's /tokenize and /detokenize. The protocol itself lives in
// daemon/src/openai; this file gives it the served model and the engine (LocalModelApi), or
// hands each call to the upstreams' ModelApi (api/model_api.h). docs/api.md documents every
// field.
#include <chrono>

#include "api/model_api.h"
#include "api/routes.h"
#include "openai/requests.h"
#include "openai/tokenize.h"

namespace ream::api {

namespace {

using http::Request;
using http::Response;
using openai::Json;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

openai::ModelInfo model_info(App& app) {
  Engine& engine = *app.engine();
  openai::ModelInfo m;
  m.names = app.served_model_names();
  m.tokenizer = engine.tokenizer();
  m.max_model_len = engine.max_model_len();
  m.vocab_size = static_cast<int32_t>(engine.config().vocab_size);
  m.eos_token_ids = engine.eos_token_ids();
  m.defaults = engine.default_sampling();
  m.created = app.model_loaded_unix();
  return m;
}

Response error_response(const openai::ApiError& e) { return http::json_error(e.status, e.code, e.message, e.param); }

Response json_ok(const Json& body) {
  Response r;
  r.body = openai::dump(body) + "\n";
  return r;
}

// The local engine's ModelApi: parse, render, run (openai/).
class LocalModelApi : public ModelApi {
 public:
  explicit LocalModelApi(App& app) : app_(app) {}

  Response chat(const Request& req, Json body) override {
    openai::ModelInfo info;
    if (auto r = prelude(&info)) return *r;
    openai::ChatRequest parsed;
    if (auto e = openai::parse_chat_request(body, info, &parsed)) return error_response(*e);
    return openai::run(*app_.engine(), info, openai::chat_run(std::move(parsed), info, req.request_id, unix_now()));
  }

  Response completions(const Request& req, Json body) override {
    openai::ModelInfo info;
    if (auto r = prelude(&info)) return *r;
    openai::CompletionRequest parsed;
    if (auto e = openai::parse_completion_request(body, info, &parsed)) return error_response(*e);
    return openai::run(*app_.engine(), info,
                       openai::completion_run(std::move(parsed), info, req.request_id, unix_now()));
  }

  Response tokenize(const Request&, Json body, bool forward) override {
    openai::ModelInfo info;
    if (auto r = prelude(&info)) return *r;
    Json out;
    if (auto e = forward ? openai::tokenize(body, info, &out) : openai::detokenize(body, info, &out)) {
      return error_response(*e);
    }
    return json_ok(out);
  }

  int64_t max_model_len() const override { return app_.engine()->max_model_len(); }

 private:
  std::optional<Response> prelude(openai::ModelInfo* info) {
    if (!app_.engine()->tokenizer()) {
      return http::json_error(501, "unimplemented", "the served model has no tokenizer.json; text routes are unavailable");
    }
    *info = model_info(app_);
    return std::nullopt;
  }

  App& app_;
};

// The checks every route that uses the model makes first; fills *body.
std::optional<Response> prelude(App& app, Request& req, Json* body) {
  if (!app.ready() || app.draining() || !app.model_api()) return unavailable_response(app);
  Response err;
  auto parsed = parse_ordered_json_body(req, &err);
  if (!parsed) return err;
  *body = std::move(*parsed);
  return std::nullopt;
}

Response chat(App& app, Request& req) {
  Json body;
  if (auto r = prelude(app, req, &body)) return *r;
  return app.model_api()->chat(req, std::move(body));
}

Response completions(App& app, Request& req) {
  Json body;
  if (auto r = prelude(app, req, &body)) return *r;
  return app.model_api()->completions(req, std::move(body));
}

Response tokenize(App& app, Request& req, bool forward) {
  Json body;
  if (auto r = prelude(app, req, &body)) return *r;
  return app.model_api()->tokenize(req, std::move(body), forward);
}

Json model_card(App& app, const std::string& name) {
  return Json{{"id", name},
              {"object", "model"},
              {"created", app.model_loaded_unix()},
              {"owned_by", "ream"},
              {"max_model_len", app.model_api()->max_model_len()}};
}

Response models(App& app) {
  if (!app.ready() || !app.model_api()) return unavailable_response(app);
  Json data = Json::array();
  for (const std::string& name : app.served_model_names()) data.push_back(model_card(app, name));
  return json_ok(Json{{"object", "list"}, {"data", std::move(data)}});
}

// GET /v1/models/{id}; a Hugging Face id ("Qwen/Qwen3-4B-Instruct-2507") spans two segments.
Response model(App& app, const Request& req) {
  if (!app.ready() || !app.model_api()) return unavailable_response(app);
  std::string id = req.params.at("id");
  if (req.params.count("name")) id += "/" + req.params.at("name");
  for (const std::string& name : app.served_model_names()) {
    if (name == id) return json_ok(model_card(app, name));
  }
  return http::json_error(404, "model_not_found", "The model `" + id + "` does not exist; this server serves `" +
                                                      app.served_model_names().at(0) + "`");
}

}  // namespace

std::unique_ptr<ModelApi> make_local_model_api(App& app) { return std::make_unique<LocalModelApi>(app); }

void add_openai_routes(http::Router& router, App& app) {
  router.add("POST", "/v1/chat/completions", "chat_completions", http::Access::kSubmit,
             [&app](Request& r) { return chat(app, r); });
  router.add("POST", "/v1/completions", "completions", http::Access::kSubmit,
             [&app](Request& r) { return completions(app, r); });
  router.add("GET", "/v1/models", "models_list", http::Access::kRead, [&app](Request&) { return models(app); });
  router.add("GET", "/v1/models/{id}", "models_get", http::Access::kRead,
             [&app](Request& r) { return model(app, r); });
  router.add("GET", "/v1/models/{id}/{name}", "models_get", http::Access::kRead,
             [&app](Request& r) { return model(app, r); });
  router.add("POST", "/tokenize", "tokenize", http::Access::kRead,
             [&app](Request& r) { return tokenize(app, r, true); });
  router.add("POST", "/detokenize", "detokenize", http::Access::kRead,
             [&app](Request& r) { return tokenize(app, r, false); });
}

}  // namespace ream::api
