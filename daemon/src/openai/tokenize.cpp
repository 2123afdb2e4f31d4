// /tokenize and /detokenize (see tokenize.h).
#include "openai/tokenize.h"

#include "openai/chat.h"

namespace ream::openai {

Error tokenize(const Json& body, const ModelInfo& model, Json* response) {
  const bool chat = body.contains("messages");
  if (chat == body.contains("prompt")) {
    return invalid(chat ? "prompt" : "messages", "give either 'prompt' (text) or 'messages' (a conversation)");
  }
  const char* kTemplates = "reamd renders with the model's own chat template";
  std::vector<FieldRule> rules = {{"model", FieldUse::kSupported},
                                  {"add_special_tokens", FieldUse::kSupported},
                                  {"return_token_strs", FieldUse::kSupported}};
  if (chat) {
    for (FieldRule r : std::vector<FieldRule>{
             {"messages", FieldUse::kSupported},
             {"tools", FieldUse::kSupported},
             {"add_generation_prompt", FieldUse::kSupported},
             {"continue_final_message", FieldUse::kUnsupported, "not implemented",
              [](const Json& v) { return v == Json(false); }},
             {"chat_template", FieldUse::kUnsupported, kTemplates},
             {"chat_template_kwargs", FieldUse::kUnsupported, kTemplates},
             {"mm_processor_kwargs", FieldUse::kUnsupported, "reamd serves text only"},
             {"media_io_kwargs", FieldUse::kUnsupported, "reamd serves text only"}}) {
      rules.push_back(r);
    }
  } else {
    rules.push_back({"prompt", FieldUse::kSupported});
  }
  if (auto e = check_fields(body, rules)) return e;
  if (auto e = check_model(body, model)) return e;
  bool add_special = true, token_strs = false, add_generation_prompt = true;
  if (auto e = get_bool(body, "add_special_tokens", "add_special_tokens", &add_special)) return e;
  if (auto e = get_bool(body, "return_token_strs", "return_token_strs", &token_strs)) return e;
  std::vector<TokenId> ids;
  if (chat) {
    if (auto e = get_bool(body, "add_generation_prompt", "add_generation_prompt", &add_generation_prompt)) return e;
    std::vector<ChatMessage> messages;
    ToolPlan tools;
    if (auto e = parse_messages(body, &messages)) return e;
    if (auto e = parse_tools(body, &tools)) return e;
    if (auto e = chat_prompt(messages, tools, *model.tokenizer, add_generation_prompt, &ids)) return e;
  } else {
    std::string prompt;
    if (!body["prompt"].is_string()) return invalid("prompt", "'prompt' must be a string");
    if (auto e = get_string(body, "prompt", "prompt", &prompt)) return e;
    ids = model.tokenizer->encode(prompt, true);
  }
  Json strs = nullptr;
  if (token_strs) {
    strs = Json::array();
    for (TokenId id : ids) strs.push_back(model.tokenizer->id_to_token(id));
  }
  *response = Json{{"count", ids.size()}, {"max_model_len", model.max_model_len}, {"tokens", ids}, {"token_strs", strs}};
  return std::nullopt;
}

Error detokenize(const Json& body, const ModelInfo& model, Json* response) {
  if (auto e = check_fields(body, {{"model", FieldUse::kSupported}, {"tokens", FieldUse::kSupported}})) return e;
  if (auto e = check_model(body, model)) return e;
  if (!body.contains("tokens") || !body["tokens"].is_array()) {
    return invalid("tokens", "'tokens' must be a list of token ids");
  }
  std::vector<TokenId> ids;
  const Json& t = body["tokens"];
  for (size_t i = 0; i < t.size(); ++i) {
    if (!t[i].is_number_integer() || t[i].get<int64_t>() < 0 || t[i].get<int64_t>() >= model.vocab_size) {
      const std::string p = "tokens[" + std::to_string(i) + "]";
      return invalid(p, "'" + p + "' must be a token id in 0.." + std::to_string(model.vocab_size - 1) + " (got " +
                            dump(t[i]) + ")");
    }
    ids.push_back(static_cast<TokenId>(t[i].get<int64_t>()));
  }
  *response = Json{{"prompt", model.tokenizer->decode(ids)}};
  return std::nullopt;
}

}  // namespace ream::openai
