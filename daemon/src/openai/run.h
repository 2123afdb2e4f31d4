// One API call's engine work: n choices (for each prompt), submitted as independent engine
// requests, answered as a stream of chunks (Server-Sent Events) or as one response completed
// when the last choice finishes. Neither holds an HTTP handler thread while the engine works.
//
// The stream: chunks as choices produce them (each chunk carries one choice), a final chunk
// per choice with its finish_reason, with stream_options.include_usage a last chunk with
// `"choices": []` and the usage (and `"usage": null` on the others), then `data: [DONE]`. An
// engine failure mid-stream sends `data: {"error": {...}}` and `data: [DONE]`, as vLLM does.
//
// Usage sums as OpenAI does: each prompt's tokens once, every choice's completion tokens;
// cached_tokens per prompt is the least any of its choices found in the prefix cache.
//
// The client leaving (a closed stream, or a closed connection while a non-streamed reply is
// being made) cancels every engine request of the call.
#pragma once

#include <string>
#include <vector>

#include "http/message.h"
#include "openai/output.h"
#include "ream/engine/engine.h"

namespace ream::openai {

struct RunSpec {
  Api api = Api::kChat;
  std::string id;        // "chatcmpl-…" or "cmpl-…"
  std::string model;     // the served name
  int64_t created = 0;
  bool stream = false;
  bool include_usage = false;
  // One per choice, in choice order (choice index = prompt * n + sample).
  std::vector<GenerationRequest> requests;
  std::vector<ChoiceSetup> choices;
  std::vector<int> prompt_of;  // the prompt each choice answers
  // The request field the engine's constraint came from ("response_format.json_schema.schema",
  // "tools"): the engine refuses a constraint it cannot compile when the request is
  // submitted, and that 400 names this field. Empty: no constraint.
  std::string constraint_param;
};

// Submits every request and returns the response to send: a stream, a deferred response, or
// an error when a request cannot be submitted (those already submitted are cancelled). The
// fields were checked before, so an invalid-argument refusal of a constrained request is the
// engine refusing its constraint (a keyword it cannot enforce): a 400 naming constraint_param.
http::Response run(Engine& engine, const ModelInfo& model, RunSpec spec);

}  // namespace ream::openai
