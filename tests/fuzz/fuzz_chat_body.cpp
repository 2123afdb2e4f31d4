// Chat and completion bodies: POST /v1/chat/completions, /v1/completions, /tokenize and
// /detokenize, through the functions their routes call (api/routes_openai.cpp).
//
// Each input is a request body. It is read as the routes read it (parse_ordered_json_body),
// then handed to each of the four parsers with the served model's description: the real
// Qwen3 tokenizer and chat template (.deps/tokenizer-qwen3), Qwen3-4B's vocabulary size and
// 262,144-token context. A parser may refuse with a 4xx; a 5xx or an escaping exception is
// a defect. An accepted chat or completion becomes the engine requests reamd would submit:
// each must pass the engine's own checks of Engine::submit (the parser promises that only a
// constraint can still be refused there), and each constraint is compiled to its grammar
// as the engine does (a refusal is fine: a 400 naming the constraint's field).
#include <memory>

#include "api/routes.h"
#include "fuzz_util.h"
#include "grammar/compile.h"
#include "openai/requests.h"
#include "openai/tokenize.h"

namespace {

using namespace ream;

const openai::ModelInfo& model() {
  static const openai::ModelInfo* info = [] {
    fuzz::quiet_logs();
    auto tok = Tokenizer::load(REAM_TOKENIZER_DIR);
    if (!tok.ok()) fuzz::fail("tokenizer: " + tok.status().message());
    auto* m = new openai::ModelInfo();
    m->names = {"Qwen/Qwen3-4B-Instruct-2507", "qwen3"};
    m->tokenizer = tok.value();
    m->max_model_len = 262144;
    m->vocab_size = 151936;          // Qwen3-4B's config.json (the tokenizer has 151,669 ids)
    m->eos_token_ids = {151645, 151643};
    m->defaults.temperature = 0.7f;  // generation_config.json of Qwen3-4B-Instruct-2507
    m->defaults.top_p = 0.8f;
    m->defaults.top_k = 20;
    m->created = 1700000000;
    return m;
  }();
  return *info;
}

void check_error(const openai::Error& e, const char* route) {
  if (!e) return;
  fuzz::check(e->status >= 400 && e->status < 500,
              std::string(route) + " answered " + std::to_string(e->status) + ": " + e->message);
  fuzz::check(!e->message.empty(), std::string(route) + ": an error without a message");
  (void)http::json_error(e->status, e->code, e->message, e->param);  // as the route sends it
}

// What Engine::submit checks before it compiles the constraint (engine/src/engine.cpp).
void check_engine_accepts(const openai::RunSpec& spec, const openai::ModelInfo& m) {
  for (const GenerationRequest& r : spec.requests) {
    fuzz::check(!r.prompt.empty(), "an accepted request has an empty prompt");
    const std::string bad = validate_sampling(r.sampling);
    fuzz::check(bad.empty(), "an accepted request has sampling the engine refuses: " + bad);
    for (TokenId id : r.prompt) {
      fuzz::check(id >= 0 && id < m.vocab_size, "prompt token id " + std::to_string(id) + " is outside the vocabulary");
    }
    fuzz::check(static_cast<int64_t>(r.prompt.size()) + r.sampling.max_tokens <= m.max_model_len,
                "prompt + max_tokens exceed the context");
    for (const auto& [id, bias] : r.sampling.logit_bias) {
      fuzz::check(id >= 0 && id < m.vocab_size, "logit_bias id " + std::to_string(id) + " is outside the vocabulary");
    }
    if (r.sampling.constraint.kind != Constraint::Kind::kNone) {
      fuzz::check(!spec.constraint_param.empty(), "a constraint without the field it came from");
      (void)grammar::constraint_grammar(r.sampling.constraint);
    }
  }
}

}  // namespace

// The slow set-up (loading the tokenizer, a catalog, an App, a server) happens here, before
// libFuzzer starts timing inputs.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)model();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const openai::ModelInfo& m = model();
  http::Request req;
  req.method = "POST";
  req.headers = {{"content-type", "application/json"}};
  req.body = std::string(fuzz::bytes(data, size));
  http::Response err;
  auto parsed = api::parse_ordered_json_body(req, &err);
  if (!parsed) {
    fuzz::check(err.status >= 400 && err.status < 500, "body refused with " + std::to_string(err.status));
    return 0;
  }
  const openai::Json& body = *parsed;

  openai::ChatRequest chat;
  openai::Error e = openai::parse_chat_request(body, m, &chat);
  check_error(e, "/v1/chat/completions");
  if (!e) check_engine_accepts(openai::chat_run(std::move(chat), m, "fuzz", 1700000000), m);

  openai::CompletionRequest completion;
  e = openai::parse_completion_request(body, m, &completion);
  check_error(e, "/v1/completions");
  if (!e) check_engine_accepts(openai::completion_run(std::move(completion), m, "fuzz", 1700000000), m);

  openai::Json out;
  e = openai::tokenize(body, m, &out);
  check_error(e, "/tokenize");
  if (!e) (void)openai::dump(out);  // the route's reply
  out = nullptr;
  e = openai::detokenize(body, m, &out);
  check_error(e, "/detokenize");
  if (!e) (void)openai::dump(out);
  return 0;
}
