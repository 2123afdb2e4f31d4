// ModelApi: what reamd's OpenAI-compatible routes do with a call once its body is parsed.
// Two implementations, chosen once when the model backend starts (engine.backend):
//   local      (routes_openai.cpp)        the call is checked, rendered and run on this
//                                         process's engine (openai/);
//   upstreams  (upstream_model_api.cpp)   the call is forwarded to an OpenAI-compatible
//                                         upstream (upstream/proxy.h), which checks it.
// The routes (routes_openai.cpp) check readiness and parse the body, then call one of these.
//
// Thread-safety: called from handler threads concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "http/message.h"
#include "upstream/pool.h"

namespace ream::api {

class App;

class ModelApi {
 public:
  virtual ~ModelApi() = default;
  virtual http::Response chat(const http::Request& req, nlohmann::ordered_json body) = 0;
  virtual http::Response completions(const http::Request& req, nlohmann::ordered_json body) = 0;
  // POST /tokenize (forward) or /detokenize.
  virtual http::Response tokenize(const http::Request& req, nlohmann::ordered_json body, bool forward) = 0;
  // The context /v1/models reports (0: unknown).
  virtual int64_t max_model_len() const = 0;
};

// `app` (and `pool`) must outlive the ModelApi.
std::unique_ptr<ModelApi> make_local_model_api(App& app);
// `served_names`: the model names clients may send (the first is what /v1/models lists).
std::unique_ptr<ModelApi> make_upstream_model_api(upstream::UpstreamPool& pool, int64_t affinity_chars,
                                                  std::vector<std::string> served_names);

}  // namespace ream::api
