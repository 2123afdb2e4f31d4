// ModelApi over upstreams: every call is forwarded as it came (upstream/proxy.h); the
// upstream checks it and answers in OpenAI's shapes.
#include "api/model_api.h"
#include "http/errors.h"
#include "openai/protocol.h"
#include "upstream/proxy.h"

namespace ream::api {

namespace {

class UpstreamModelApi : public ModelApi {
 public:
  UpstreamModelApi(upstream::UpstreamPool& pool, int64_t affinity_chars, std::vector<std::string> names)
      : pool_(pool), affinity_chars_(affinity_chars) {
    model_.names = std::move(names);
  }

  http::Response chat(const http::Request& req, nlohmann::ordered_json body) override {
    return send(req, "/v1/chat/completions", std::move(body));
  }
  http::Response completions(const http::Request& req, nlohmann::ordered_json body) override {
    return send(req, "/v1/completions", std::move(body));
  }
  http::Response tokenize(const http::Request& req, nlohmann::ordered_json body, bool forward) override {
    return send(req, forward ? "/tokenize" : "/detokenize", std::move(body));
  }
  int64_t max_model_len() const override { return pool_.min_model_len(); }

 private:
  http::Response send(const http::Request& req, const std::string& target, nlohmann::ordered_json body) {
    // The client names this server's model; each upstream gets the name it serves.
    if (auto e = openai::check_model(body, model_)) return http::json_error(e->status, e->code, e->message, e->param);
    // Key order does not matter upstream; the plain json type is what the proxy speaks.
    return upstream::forward(pool_, target, nlohmann::json::parse(body.dump()), affinity_chars_, req.request_id);
  }

  upstream::UpstreamPool& pool_;
  int64_t affinity_chars_;
  openai::ModelInfo model_;  // only its names
};

}  // namespace

std::unique_ptr<ModelApi> make_upstream_model_api(upstream::UpstreamPool& pool, int64_t affinity_chars,
                                                  std::vector<std::string> served_names) {
  return std::make_unique<UpstreamModelApi>(pool, affinity_chars, std::move(served_names));
}

}  // namespace ream::api
