// The OpenAI-compatible API's shared pieces: the JSON type, the error every parser returns,
// what a request may be checked against (ModelInfo), the check of a body's field names, and
// the JSON text the chat template's `tojson` writes.
//
// The daemon/src/openai library holds the protocol (parsing requests, prompts and tools,
// tool-call parsing, logprobs, response shapes, running the n engine requests of one API
// call); it knows the engine's public API and JSON, nothing of App, the store or the routes.
// daemon/src/api/routes_openai.cpp joins it to the server.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ream/engine/sampling.h"
#include "ream/engine/tokenizer.h"

namespace ream::openai {

// Objects keep their keys in the order sent (tools are rendered into the prompt as sent) and
// responses keep OpenAI's order (id, object, created, model, choices, usage).
using Json = nlohmann::ordered_json;

// A request that cannot be served, in OpenAI's terms: HTTP status, a stable code, a message
// that says what was wrong, and the field (`param`) to blame.
//   400 invalid_request        wrong type, out of range, malformed value
//   400 unknown_parameter      a field OpenAI's API does not have ("Unrecognized request argument")
//   400 unsupported_parameter  a field of OpenAI's API that reamd does not implement
//   400 unsupported_value      a value reamd does not implement (e.g. "store": true)
//   404 model_not_found        `model` is not the served model
struct ApiError {
  unsigned status = 400;
  std::string code = "invalid_request";
  std::string message;
  std::string param;
};
using Error = std::optional<ApiError>;  // nullopt: fine

ApiError invalid(std::string param, std::string message);
ApiError unsupported_parameter(std::string param, std::string why);
ApiError unsupported_value(std::string param, std::string why);

// What requests are checked against: the served model and its tokenizer.
struct ModelInfo {
  std::vector<std::string> names;           // names[0] is the name responses carry
  std::shared_ptr<const Tokenizer> tokenizer;
  int64_t max_model_len = 0;
  int32_t vocab_size = 0;                   // logits: ids a prompt or a logit_bias may name
  std::vector<TokenId> eos_token_ids;
  SamplingParams defaults;                  // generation_config.json's
  int64_t created = 0;                      // unix seconds the model was loaded
};

// How reamd treats one field of OpenAI's request body.
enum class FieldUse {
  kSupported,    // parsed and honoured
  kInformational,// accepted and type-checked; it changes nothing in the output (user, metadata)
  kUnsupported,  // 400 unsupported_parameter unless null or `harmless` says the value is fine
};
struct FieldRule {
  const char* name;
  FieldUse use;
  const char* why = "";                       // kUnsupported: why (the message says it)
  bool (*harmless)(const Json& value) = nullptr;  // kUnsupported: values that ask for nothing
};

// Every key of `body` must be one of `rules` (else 400 unknown_parameter, as OpenAI answers
// "Unrecognized request argument supplied: x"); unsupported ones must be null or harmless.
Error check_fields(const Json& body, const std::vector<FieldRule>& rules, const std::string& prefix = "");

// `model`: absent or null means the served model; a string must be one of its names (404
// model_not_found otherwise).
Error check_model(const Json& body, const ModelInfo& model);

// Typed optional fields: absent or null leaves *out alone.
Error get_bool(const Json& obj, const char* key, const std::string& param, bool* out);
Error get_string(const Json& obj, const char* key, const std::string& param, std::string* out);
// An integer in lo..hi (JSON integers only: 2.0 is refused, as OpenAI does).
Error get_int(const Json& obj, const char* key, const std::string& param, int64_t lo, int64_t hi,
              int64_t* out);
// A number in [lo, hi] ((lo, hi] when lo_open); integers count as numbers.
Error get_number(const Json& obj, const char* key, const std::string& param, double lo, double hi,
                 bool lo_open, double* out);
// The JSON type of a value in words ("a string", "an object", ...), for messages.
std::string type_name(const Json& value);

// JSON text as Python's json.dumps writes it (what the chat template's `tojson` gives):
// ", " and ": " separators, keys in order, non-ASCII characters as they are.
std::string python_json(const Json& value);
// Compact JSON text; invalid UTF-8 in strings becomes U+FFFD.
std::string dump(const Json& value);

}  // namespace ream::openai
