// UpstreamSpec: one OpenAI-compatible server reamd sends model requests to (another reamd,
// vLLM, SGLang, llama-server), as the config's `upstreams:` list names it. Plain data; the
// config reader fills it and etc/reamd.yaml documents every field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ream::upstream {

struct UpstreamSpec {
  std::string name;                // for logs and metrics labels; default "upstream-N"
  std::string url;                 // "http://gpu1:8080" or "https://…" (a trailing /v1 is accepted)
  std::string ca_file;             // https: PEM CA certificates to trust; "" = the system's
  std::string api_key;             // sent as "Authorization: Bearer …"; read from api_key_env/api_key_file
  std::string model;               // the model name sent; "" = the first id its /v1/models lists
  int max_concurrent = 8;          // requests in flight to it at most
  double connect_timeout_s = 5;    // to open a connection
  double timeout_s = 600;          // the longest it may stay silent (no byte) during a request
  std::string health_path = "/v1/models";  // GET; a 200 is healthy ("/healthz" works for reamd)
  double health_interval_s = 5;    // between health checks
};

struct UpstreamRouting {
  // Requests whose prompts share their leading system messages and the first this many
  // characters after them (the start of the document) go to the same upstream, which then
  // has that prefix cached, unless it is full or unhealthy. Shorter than a document, longer
  // than what tells two documents apart; a question after a document longer than this does
  // not move it.
  int64_t affinity_chars = 1024;
};

}  // namespace ream::upstream
