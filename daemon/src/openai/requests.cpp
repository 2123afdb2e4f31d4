// Chat and completions request bodies (see requests.h).
#include "openai/requests.h"

namespace ream::openai {

namespace {

bool is_false(const Json& v) { return v == Json(false); }
bool is_text_only(const Json& v) { return v == Json::array({"text"}); }
bool is_default_tier(const Json& v) { return v == Json("auto") || v == Json("default"); }
bool is_empty_string(const Json& v) { return v == Json(""); }

// Fields both endpoints share.
std::vector<FieldRule> shared_rules() {
  return {{"model", FieldUse::kSupported},
          {"frequency_penalty", FieldUse::kSupported},
          {"presence_penalty", FieldUse::kSupported},
          {"logit_bias", FieldUse::kSupported},
          {"logprobs", FieldUse::kSupported},
          {"max_tokens", FieldUse::kSupported},
          {"n", FieldUse::kSupported},
          {"seed", FieldUse::kSupported},
          {"stop", FieldUse::kSupported},
          {"stream", FieldUse::kSupported},
          {"stream_options", FieldUse::kSupported},
          {"temperature", FieldUse::kSupported},
          {"top_p", FieldUse::kSupported},
          {"response_format", FieldUse::kSupported},
          {"user", FieldUse::kInformational},
          // vLLM's extensions that reamd honours.
          {"top_k", FieldUse::kSupported},
          {"min_p", FieldUse::kSupported},
          {"repetition_penalty", FieldUse::kSupported},
          {"ignore_eos", FieldUse::kSupported},
          {"stop_token_ids", FieldUse::kSupported}};
}

const std::vector<FieldRule>& chat_rules() {
  static const std::vector<FieldRule> rules = [] {
    std::vector<FieldRule> r = shared_rules();
    const std::vector<FieldRule> chat = {
        {"messages", FieldUse::kSupported},
        {"max_completion_tokens", FieldUse::kSupported},
        {"top_logprobs", FieldUse::kSupported},
        {"tools", FieldUse::kSupported},
        {"tool_choice", FieldUse::kSupported},
        {"parallel_tool_calls", FieldUse::kSupported},
        {"metadata", FieldUse::kInformational},
        {"safety_identifier", FieldUse::kInformational},
        {"prompt_cache_key", FieldUse::kInformational},
        {"store", FieldUse::kUnsupported, "reamd does not store completions", is_false},
        {"modalities", FieldUse::kUnsupported, "reamd answers with text only", is_text_only},
        {"service_tier", FieldUse::kUnsupported, "reamd has one tier (chat already runs ahead of workflow jobs)",
         is_default_tier},
        {"audio", FieldUse::kUnsupported, "reamd answers with text only"},
        {"prediction", FieldUse::kUnsupported, "predicted outputs are not implemented"},
        {"reasoning_effort", FieldUse::kUnsupported, "the served model does not reason in a separate budget"},
        {"verbosity", FieldUse::kUnsupported, "not implemented"},
        {"web_search_options", FieldUse::kUnsupported, "reamd has no web search"},
        {"prompt_cache_retention", FieldUse::kUnsupported, "the prefix cache keeps prompts as long as its memory allows"},
        {"functions", FieldUse::kUnsupported, "deprecated by OpenAI; use tools"},
        {"function_call", FieldUse::kUnsupported, "deprecated by OpenAI; use tool_choice"},
    };
    r.insert(r.end(), chat.begin(), chat.end());
    return r;
  }();
  return rules;
}

const std::vector<FieldRule>& completion_rules() {
  static const std::vector<FieldRule> rules = [] {
    std::vector<FieldRule> r = shared_rules();
    const std::vector<FieldRule> completions = {
        {"prompt", FieldUse::kSupported},
        {"echo", FieldUse::kSupported},
        {"best_of", FieldUse::kSupported},
        {"suffix", FieldUse::kUnsupported, "the served model has no fill-in-the-middle format here", is_empty_string},
    };
    r.insert(r.end(), completions.begin(), completions.end());
    return r;
  }();
  return rules;
}

// Fields accepted as information only still have their types checked.
Error check_informational(const Json& body) {
  for (const char* key : {"user", "safety_identifier", "prompt_cache_key"}) {
    std::string ignored;
    if (auto e = get_string(body, key, key, &ignored)) return e;
  }
  if (body.contains("metadata") && !body["metadata"].is_null()) {
    const Json& m = body["metadata"];
    if (!m.is_object() || m.size() > 16) return invalid("metadata", "'metadata' must be an object of at most 16 string values");
    for (const auto& [k, v] : m.items()) {
      if (!v.is_string()) return invalid("metadata." + k, "'metadata." + k + "' must be a string");
    }
  }
  return std::nullopt;
}

// One prompt of token ids, each in the vocabulary.
Error token_prompt(const Json& ids, const std::string& param, int32_t vocab, std::vector<TokenId>* out) {
  for (size_t j = 0; j < ids.size(); ++j) {
    const Json& id = ids[j];
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab) {
      const std::string p = param + "[" + std::to_string(j) + "]";
      return invalid(p, "'" + p + "' must be a token id in 0.." + std::to_string(vocab - 1) + " (got " + dump(id) + ")");
    }
    out->push_back(static_cast<TokenId>(id.get<int64_t>()));
  }
  return std::nullopt;
}

Error parse_prompts(const Json& body, const ModelInfo& model, CompletionRequest* out) {
  const char* kShape = "'prompt' must be a string, a list of strings, a list of token ids or a list of lists of token ids";
  if (!body.contains("prompt") || body["prompt"].is_null()) return invalid("prompt", kShape);
  const Json& p = body["prompt"];
  auto add_text = [&](const std::string& text, const std::string& param) -> Error {
    if (text.empty()) return invalid(param, "'" + param + "' must not be empty");
    out->prompts.push_back(model.tokenizer->encode(text, true));
    out->prompt_texts.push_back(text);
    return std::nullopt;
  };
  auto add_ids = [&](const Json& ids, const std::string& param) -> Error {
    if (ids.empty()) return invalid(param, "'" + param + "' must not be empty");
    std::vector<TokenId> prompt;
    if (auto e = token_prompt(ids, param, model.vocab_size, &prompt)) return e;
    out->prompt_texts.push_back(model.tokenizer->decode(prompt));
    out->prompts.push_back(std::move(prompt));
    return std::nullopt;
  };
  if (p.is_string()) return add_text(p.get<std::string>(), "prompt");
  if (!p.is_array() || p.empty()) return invalid("prompt", kShape);
  if (p[0].is_number()) return add_ids(p, "prompt");
  for (size_t i = 0; i < p.size(); ++i) {
    const std::string param = "prompt[" + std::to_string(i) + "]";
    Error e;
    if (p[i].is_string() && p[0].is_string()) e = add_text(p[i].get<std::string>(), param);
    else if (p[i].is_array() && p[0].is_array()) e = add_ids(p[i], param);
    else return invalid(param, kShape);
    if (e) return e;
  }
  return std::nullopt;
}

std::string response_format_param(const Constraint& c) {
  return c.kind == Constraint::Kind::kJsonSchema ? "response_format.json_schema.schema" : "response_format";
}

size_t longest(const std::vector<std::vector<TokenId>>& prompts) {
  size_t n = 0;
  for (const auto& p : prompts) n = std::max(n, p.size());
  return n;
}

}  // namespace

Error parse_chat_request(const Json& body, const ModelInfo& model, ChatRequest* out) {
  if (auto e = check_fields(body, chat_rules())) return e;
  if (auto e = check_model(body, model)) return e;
  if (auto e = check_informational(body)) return e;
  if (auto e = parse_common(body, model, &out->params, "max_completion_tokens")) return e;
  if (auto e = get_bool(body, "logprobs", "logprobs", &out->logprobs)) return e;
  int64_t top = 0;
  if (auto e = get_int(body, "top_logprobs", "top_logprobs", 0, 20, &top)) return e;
  if (top > 0 && !out->logprobs) return invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  out->top_logprobs = static_cast<int>(top);
  if (auto e = parse_messages(body, &out->messages)) return e;
  if (auto e = parse_tools(body, &out->tools)) return e;
  SamplingParams& s = out->params.sampling;
  if (out->tools.forced()) {
    if (s.constraint.kind != Constraint::Kind::kNone) {
      return invalid("response_format", "'response_format' cannot be combined with a 'tool_choice' that forces a call "
                                        "(the call's arguments follow the tool's parameters)");
    }
    s.constraint = Constraint{Constraint::Kind::kJsonSchema, dump(tool_call_schema(out->tools))};
    out->constraint_param = "tools";
  } else if (s.constraint.kind != Constraint::Kind::kNone) {
    out->constraint_param = response_format_param(s.constraint);
  }
  if (auto e = chat_prompt(out->messages, out->tools, *model.tokenizer, true, &out->prompt)) return e;
  if (auto e = resolve_max_tokens(out->params, model, out->prompt.size(), 4096, "messages", &s)) return e;
  s.top_logprobs = out->logprobs ? out->top_logprobs : 0;
  const std::string bad = validate_sampling(s);
  if (!bad.empty()) return invalid("", bad);
  return std::nullopt;
}

Error parse_completion_request(const Json& body, const ModelInfo& model, CompletionRequest* out) {
  if (auto e = check_fields(body, completion_rules())) return e;
  if (auto e = check_model(body, model)) return e;
  if (auto e = check_informational(body)) return e;
  if (auto e = parse_common(body, model, &out->params, "max_tokens")) return e;
  if (auto e = get_bool(body, "echo", "echo", &out->echo)) return e;
  if (body.contains("logprobs") && !body["logprobs"].is_null()) {
    int64_t k = 0;
    if (auto e = get_int(body, "logprobs", "logprobs", 0, 20, &k)) return e;
    out->logprobs = static_cast<int>(k);
  }
  if (out->echo && out->logprobs) {
    return unsupported_value("echo", "echo with logprobs needs the prompt's logprobs, which reamd does not compute");
  }
  int64_t best_of = out->params.n;
  if (auto e = get_int(body, "best_of", "best_of", 1, kMaxChoices, &best_of)) return e;
  if (best_of != out->params.n) {
    return unsupported_value("best_of", "must equal n (reamd returns every sample it draws; got best_of " +
                                            std::to_string(best_of) + ", n " + std::to_string(out->params.n) + ")");
  }
  if (auto e = parse_prompts(body, model, out)) return e;
  if (out->params.sampling.constraint.kind != Constraint::Kind::kNone) {
    out->constraint_param = response_format_param(out->params.sampling.constraint);
  }
  if (out->prompts.size() * static_cast<size_t>(out->params.n) > static_cast<size_t>(kMaxChoices)) {
    return invalid("n", "prompts x n must be at most " + std::to_string(kMaxChoices) + " (got " +
                            std::to_string(out->prompts.size()) + " x " + std::to_string(out->params.n) + ")");
  }
  SamplingParams& s = out->params.sampling;
  if (auto e = resolve_max_tokens(out->params, model, longest(out->prompts), 16, "prompt", &s)) return e;
  s.top_logprobs = out->logprobs.value_or(0);
  const std::string bad = validate_sampling(s);
  if (!bad.empty()) return invalid("", bad);
  return std::nullopt;
}

namespace {

GenerationRequest engine_request(std::vector<TokenId> prompt, const SamplingParams& s, int i, const std::string& tag) {
  GenerationRequest g;
  g.prompt = std::move(prompt);
  g.sampling = s;
  if (s.has_seed) g.sampling.seed = choice_seed(s.seed, i);
  g.priority = Priority::kInteractive;
  g.tag = tag;
  return g;
}

}  // namespace

RunSpec chat_run(ChatRequest r, const ModelInfo& model, const std::string& request_id, int64_t created) {
  RunSpec spec;
  spec.api = Api::kChat;
  spec.id = "chatcmpl-" + request_id;
  spec.model = model.names.at(0);
  spec.created = created;
  spec.stream = r.params.stream;
  spec.include_usage = r.params.include_usage;
  spec.constraint_param = r.constraint_param;
  for (int i = 0; i < r.params.n; ++i) {
    spec.requests.push_back(engine_request(r.prompt, r.params.sampling, i, "chat " + request_id));
    ChoiceSetup c;
    c.api = Api::kChat;
    c.index = i;
    c.logprobs = r.logprobs;
    c.top_logprobs = r.top_logprobs;
    if (r.tools.active()) {
      c.tools = std::make_unique<ToolCallParser>(
          r.tools.forced() ? ToolCallParser::Mode::kBare : ToolCallParser::Mode::kTagged, r.tools.callable(),
          r.tools.parallel);
    }
    spec.choices.push_back(std::move(c));
    spec.prompt_of.push_back(0);
  }
  return spec;
}

RunSpec completion_run(CompletionRequest r, const ModelInfo& model, const std::string& request_id, int64_t created) {
  RunSpec spec;
  spec.api = Api::kCompletions;
  spec.id = "cmpl-" + request_id;
  spec.model = model.names.at(0);
  spec.created = created;
  spec.stream = r.params.stream;
  spec.include_usage = r.params.include_usage;
  spec.constraint_param = r.constraint_param;
  for (size_t p = 0; p < r.prompts.size(); ++p) {
    for (int i = 0; i < r.params.n; ++i) {
      spec.requests.push_back(engine_request(r.prompts[p], r.params.sampling, i, "completion " + request_id));
      ChoiceSetup c;
      c.api = Api::kCompletions;
      c.index = static_cast<int>(p) * r.params.n + i;
      c.logprobs = r.logprobs.has_value();
      c.top_logprobs = r.logprobs.value_or(0);
      if (r.echo) c.echo = r.prompt_texts[p];
      spec.choices.push_back(std::move(c));
      spec.prompt_of.push_back(static_cast<int>(p));
    }
  }
  return spec;
}

}  // namespace ream::openai
