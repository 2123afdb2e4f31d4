// Parsing of the shared request fields into SamplingParams (see params.h).
#include "openai/params.h"

#include <limits>

namespace ream::openai {

namespace {

// top_k beyond any vocabulary (Qwen3: 151,936) is the same as 0, off; larger is a mistake.
constexpr int64_t kMaxTopK = 1000000;

Error parse_floats(const Json& b, SamplingParams* s) {
  struct F {
    const char* key;
    double lo, hi;
    bool lo_open;
    float* out;
  };
  const F fields[] = {{"temperature", 0, 100, false, &s->temperature},
                      {"top_p", 0, 1, true, &s->top_p},
                      {"min_p", 0, 1, false, &s->min_p},
                      {"presence_penalty", -2, 2, false, &s->presence_penalty},
                      {"frequency_penalty", -2, 2, false, &s->frequency_penalty},
                      {"repetition_penalty", 0, 10, true, &s->repetition_penalty}};
  for (const F& f : fields) {
    double d = *f.out;
    if (auto e = get_number(b, f.key, f.key, f.lo, f.hi, f.lo_open, &d)) return e;
    *f.out = static_cast<float>(d);
  }
  return std::nullopt;
}

Error parse_seed(const Json& b, SamplingParams* s) {
  if (!b.contains("seed") || b["seed"].is_null()) return std::nullopt;
  const Json& v = b["seed"];
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) {
    s->seed = v.is_number_unsigned() ? v.get<uint64_t>() : static_cast<uint64_t>(v.get<int64_t>());
    s->has_seed = true;
    return std::nullopt;
  }
  return invalid("seed", "'seed' must be an integer in 0.." +
                             std::to_string(std::numeric_limits<uint64_t>::max()) + " (got " + dump(v) + ")");
}

Error parse_stop(const Json& b, SamplingParams* s) {
  if (!b.contains("stop") || b["stop"].is_null()) return std::nullopt;
  const Json& v = b["stop"];
  std::vector<std::string> stops;
  if (v.is_string()) {
    stops.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const Json& x : v) {
      if (!x.is_string()) return invalid("stop", "'stop' must be a string or a list of strings");
      stops.push_back(x.get<std::string>());
    }
  } else {
    return invalid("stop", "'stop' must be a string or a list of strings");
  }
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) return invalid("stop", "'stop' strings must not be empty");
  }
  s->stop = std::move(stops);
  return std::nullopt;
}

Error parse_token_ids(const Json& b, const ModelInfo& model, SamplingParams* s) {
  if (!b.contains("stop_token_ids") || b["stop_token_ids"].is_null()) return std::nullopt;
  const Json& v = b["stop_token_ids"];
  if (!v.is_array()) return invalid("stop_token_ids", "'stop_token_ids' must be a list of token ids");
  s->stop_token_ids.clear();
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string param = "stop_token_ids[" + std::to_string(i) + "]";
    if (!v[i].is_number_integer() || v[i].get<int64_t>() < 0 || v[i].get<int64_t>() >= model.vocab_size) {
      return invalid(param, "'" + param + "' must be a token id in 0.." + std::to_string(model.vocab_size - 1) +
                                " (got " + dump(v[i]) + ")");
    }
    s->stop_token_ids.push_back(static_cast<TokenId>(v[i].get<int64_t>()));
  }
  return std::nullopt;
}

// logit_bias: {"<token id>": bias in [-100, 100]}; each error names its key.
Error parse_logit_bias(const Json& b, const ModelInfo& model, SamplingParams* s) {
  if (!b.contains("logit_bias") || b["logit_bias"].is_null()) return std::nullopt;
  const Json& v = b["logit_bias"];
  if (!v.is_object()) {
    return invalid("logit_bias", "'logit_bias' must be an object mapping token ids (as strings) to a bias in [-100, 100]");
  }
  s->logit_bias.clear();
  for (const auto& [key, bias] : v.items()) {
    const std::string param = "logit_bias." + key;
    int64_t id = -1;
    // Canonical decimal only ("050" is refused): no two keys may name one token.
    if (!key.empty() && key.size() <= 9 && key.find_first_not_of("0123456789") == std::string::npos &&
        (key == "0" || key[0] != '0')) {
      id = std::stoll(key);
    }
    if (id < 0 || id >= model.vocab_size) {
      return invalid(param, "Invalid key in 'logit_bias': '" + key + "': keys must be token ids, integers in 0.." +
                                std::to_string(model.vocab_size - 1) + " written as strings");
    }
    if (!bias.is_number() || !(bias.get<double>() >= -100 && bias.get<double>() <= 100)) {
      return invalid(param, "'logit_bias' value for token " + key + " must be a number in [-100, 100] (got " +
                                dump(bias) + ")");
    }
    s->logit_bias.emplace_back(static_cast<TokenId>(id), bias.get<float>());
  }
  return std::nullopt;
}

Error parse_stream(const Json& b, CommonParams* out) {
  if (auto e = get_bool(b, "stream", "stream", &out->stream)) return e;
  if (!b.contains("stream_options") || b["stream_options"].is_null()) return std::nullopt;
  const Json& o = b["stream_options"];
  if (!o.is_object()) return invalid("stream_options", "'stream_options' must be an object");
  if (!out->stream) return invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
  static const std::vector<FieldRule> rules = {
      {"include_usage", FieldUse::kSupported},
      {"include_obfuscation", FieldUse::kUnsupported, "reamd adds no obfuscation padding",
       [](const Json& v) { return v == Json(false); }},
  };
  if (auto e = check_fields(o, rules, "stream_options.")) return e;
  return get_bool(o, "include_usage", "stream_options.include_usage", &out->include_usage);
}

}  // namespace

Error parse_response_format(const Json& b, Constraint* out) {
  if (!b.contains("response_format") || b["response_format"].is_null()) return std::nullopt;
  const Json& rf = b["response_format"];
  if (!rf.is_object()) return invalid("response_format", "'response_format' must be an object with a 'type'");
  if (!rf.contains("type") || !rf["type"].is_string()) {
    return invalid("response_format.type", "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"");
  }
  const std::string type = rf["type"];
  if (type == "text" || type == "json_object") {
    if (auto e = check_fields(rf, {{"type", FieldUse::kSupported}}, "response_format.")) return e;
    *out = type == "text" ? Constraint{} : Constraint{Constraint::Kind::kJsonObject, ""};
    return std::nullopt;
  }
  if (type != "json_schema") {
    return unsupported_value("response_format.type", "\"" + type +
                                                         "\" is not supported (use \"text\", \"json_object\" or \"json_schema\")");
  }
  if (auto e = check_fields(rf, {{"type", FieldUse::kSupported}, {"json_schema", FieldUse::kSupported}},
                            "response_format.")) {
    return e;
  }
  if (!rf.contains("json_schema") || !rf["json_schema"].is_object()) {
    return invalid("response_format.json_schema",
                   "'response_format.json_schema' must be an object {\"name\", \"schema\", \"strict\"?}");
  }
  const Json& js = rf["json_schema"];
  const std::string p = "response_format.json_schema.";
  if (auto e = check_fields(js, {{"name", FieldUse::kSupported}, {"description", FieldUse::kSupported},
                                 {"schema", FieldUse::kSupported}, {"strict", FieldUse::kSupported}},
                            p)) {
    return e;
  }
  std::string name, description;
  bool strict = false;
  if (auto e = get_string(js, "name", p + "name", &name)) return e;
  if (auto e = get_string(js, "description", p + "description", &description)) return e;
  if (auto e = get_bool(js, "strict", p + "strict", &strict)) return e;
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos) {
    return invalid(p + "name", "'" + p + "name' is required: 1 to 64 letters, digits, '_' or '-'");
  }
  if (!js.contains("schema") || !(js["schema"].is_object() || js["schema"].is_boolean())) {
    return invalid(p + "schema", "'" + p + "schema' is required: a JSON Schema (an object)");
  }
  *out = Constraint{Constraint::Kind::kJsonSchema, dump(js["schema"])};
  return std::nullopt;
}

Error parse_common(const Json& b, const ModelInfo& model, CommonParams* out, const char* max_tokens_key) {
  SamplingParams& s = out->sampling;
  s = model.defaults;
  if (auto e = parse_floats(b, &s)) return e;
  int64_t top_k = s.top_k;
  if (auto e = get_int(b, "top_k", "top_k", 0, kMaxTopK, &top_k)) return e;
  s.top_k = static_cast<int32_t>(top_k);
  if (auto e = parse_seed(b, &s)) return e;
  if (auto e = parse_stop(b, &s)) return e;
  if (auto e = parse_token_ids(b, model, &s)) return e;
  if (auto e = get_bool(b, "ignore_eos", "ignore_eos", &s.ignore_eos)) return e;
  if (auto e = parse_logit_bias(b, model, &s)) return e;
  int64_t n = 1;
  if (auto e = get_int(b, "n", "n", 1, kMaxChoices, &n)) return e;
  out->n = static_cast<int>(n);
  if (auto e = parse_stream(b, out)) return e;
  if (auto e = parse_response_format(b, &s.constraint)) return e;
  for (const char* key : {max_tokens_key, "max_tokens"}) {
    if (b.contains(key) && !b[key].is_null()) {
      const Json& v = b[key];
      if (!(v.is_number_unsigned() ? v.get<uint64_t>() >= 1 : v.is_number_integer() && v.get<int64_t>() >= 1)) {
        return invalid(key, std::string("'") + key +
                                "' must be an integer in 1..(the context left after the prompt) (got " + dump(v) + ")");
      }
      out->max_tokens = v.is_number_unsigned()
                            ? static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), INT64_MAX))
                            : v.get<int64_t>();
      out->max_tokens_param = key;
      break;
    }
  }
  return std::nullopt;
}

Error resolve_max_tokens(const CommonParams& p, const ModelInfo& model, size_t prompt_tokens, int64_t fallback,
                         const std::string& prompt_param, SamplingParams* s) {
  const int64_t room = model.max_model_len - static_cast<int64_t>(prompt_tokens);
  if (room < 1) {
    return invalid(prompt_param,
                   "the prompt has " + std::to_string(prompt_tokens) + " tokens and leaves no room to reply (context " +
                       std::to_string(model.max_model_len) + " tokens)");
  }
  if (!p.max_tokens) {
    s->max_tokens = static_cast<int32_t>(std::min(room, fallback));
    return std::nullopt;
  }
  if (*p.max_tokens > room) {
    const std::string& k = p.max_tokens_param;
    return invalid(k, "'" + k + "' must be an integer in 1.." + std::to_string(room) + " (got " +
                          std::to_string(*p.max_tokens) + "; the prompt has " + std::to_string(prompt_tokens) +
                          " of " + std::to_string(model.max_model_len) + " context tokens)");
  }
  s->max_tokens = static_cast<int32_t>(*p.max_tokens);
  return std::nullopt;
}

}  // namespace ream::openai
