// The OpenAI-compatible API of a reamd without a local model: each call is forwarded to the
// upstream its prompt routes to (UpstreamPool), and the answer relayed.
//
// A streamed call is relayed event by event. The client's own model name is put back in
// every chunk (the upstream may serve the model under another name), and when the client did
// not ask for stream_options.include_usage its usage chunk is dropped (reamd asks for usage
// always, for its per-upstream token counts). A non-streamed call's body and status are
// relayed whole, the model name likewise put back.
//
// Failures: an upstream that cannot be reached is retried once on another (Exchange); if no
// upstream takes the call the client gets a 503 saying why. A stream cut after it began ends
// with `data: {"error": {...}}` and `data: [DONE]` (as reamd and vLLM report an engine
// failure mid-stream): that call alone fails, the others go on. The client leaving cancels the
// upstream request.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "http/message.h"
#include "upstream/pool.h"

namespace ream::upstream {

// `target`: the route ("/v1/chat/completions", "/v1/completions", "/tokenize", ...); `body`
// the parsed request (an object).
http::Response forward(UpstreamPool& pool, const std::string& target, nlohmann::json body, int64_t affinity_chars,
                       const std::string& request_id);

}  // namespace ream::upstream
