// ChoiceOutput: engine events -> OpenAI chat and completions choices (see output.h).
#include "openai/output.h"

#include <algorithm>
#include <cmath>

namespace ream::openai {

namespace {

double clamp_logprob(float lp) { return lp > -9999.0f ? static_cast<double>(lp) : -9999.0; }

int64_t code_points(const std::string& s) {
  return std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

void append_string(Json& obj, const char* key, const std::string& more) {
  obj[key] = obj[key].get<std::string>() + more;
}

}  // namespace

const char* finish_reason_text(FinishReason reason, bool tool_calls) {
  switch (reason) {
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "abort";
    case FinishReason::kError: return "error";
    default: return tool_calls ? "tool_calls" : "stop";
  }
}

ChoiceOutput::ChoiceOutput(ChoiceSetup setup, const ModelInfo& model, const SamplingParams& sampling)
    : setup_(std::move(setup)), tokenizer_(model.tokenizer) {
  if (!sampling.ignore_eos) end_ids_ = model.eos_token_ids;
  end_ids_.insert(end_ids_.end(), sampling.stop_token_ids.begin(), sampling.stop_token_ids.end());
  if (setup_.api == Api::kCompletions && setup_.logprobs) {
    completion_logprobs_ = Json{{"tokens", Json::array()},
                                {"token_logprobs", Json::array()},
                                {"top_logprobs", Json::array()},
                                {"text_offset", Json::array()}};
  }
  content_ = setup_.echo;
  text_offset_ = code_points(setup_.echo);
}

Json ChoiceOutput::chat_entry(TokenId id, float logprob, const std::vector<TopLogprob>& top) const {
  auto bytes = [this](TokenId t) {
    Json b = Json::array();
    for (unsigned char c : tokenizer_->token_bytes(t)) b.push_back(static_cast<int>(c));
    return b;
  };
  Json tops = Json::array();
  for (const TopLogprob& t : top) {
    if (static_cast<int>(tops.size()) >= setup_.top_logprobs) break;
    tops.push_back(Json{{"token", tokenizer_->decode({t.id})}, {"logprob", clamp_logprob(t.logprob)}, {"bytes", bytes(t.id)}});
  }
  return Json{{"token", tokenizer_->decode({id})},
              {"logprob", clamp_logprob(logprob)},
              {"bytes", bytes(id)},
              {"top_logprobs", std::move(tops)}};
}

void ChoiceOutput::completion_entry(const StreamEvent& ev, Json* lp) {
  const std::string text = tokenizer_->decode({ev.token});
  Json top = Json::object();
  for (const TopLogprob& t : ev.top_logprobs) {
    if (static_cast<int>(top.size()) >= setup_.top_logprobs) break;
    top[tokenizer_->decode({t.id})] = clamp_logprob(t.logprob);
  }
  if (!top.contains(text)) top[text] = clamp_logprob(ev.logprob);
  *lp = Json{{"tokens", {text}},
             {"token_logprobs", {clamp_logprob(ev.logprob)}},
             {"top_logprobs", {top}},
             {"text_offset", {text_offset_}}};
  for (const char* key : {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
    completion_logprobs_[key].push_back((*lp)[key][0]);
  }
  text_offset_ += code_points(text);
}

ParsedText ChoiceOutput::parse(const std::string& text) {
  if (setup_.tools) return setup_.tools->push(text);
  ParsedText t;
  t.content = text;
  return t;
}

void ChoiceOutput::absorb(const ParsedText& text) {
  content_ += text.content;
  for (const ToolCallPiece& p : text.calls) {
    while (static_cast<int>(calls_.size()) <= p.index) {
      calls_.push_back(Json{{"id", ""}, {"type", "function"}, {"function", {{"name", ""}, {"arguments", ""}}}});
    }
    Json& call = calls_[static_cast<size_t>(p.index)];
    if (!p.id.empty()) call["id"] = p.id;
    if (!p.name.empty()) call["function"]["name"] = p.name;
    append_string(call["function"], "arguments", p.arguments);
  }
}

Json ChoiceOutput::piece(const ParsedText& text, const std::vector<Json>& chat_lp, const Json& completion_lp) const {
  if (setup_.api == Api::kCompletions) {
    return Json{{"index", setup_.index},
                {"text", text.content},
                {"logprobs", completion_lp},
                {"finish_reason", nullptr}};
  }
  Json delta = Json::object();
  if (!text.content.empty()) delta["content"] = text.content;
  if (!text.calls.empty()) {
    Json calls = Json::array();
    for (const ToolCallPiece& p : text.calls) {
      Json c = {{"index", p.index}};
      if (!p.id.empty()) {
        c["id"] = p.id;
        c["type"] = "function";
        c["function"] = {{"name", p.name}, {"arguments", p.arguments}};
      } else {
        c["function"] = {{"arguments", p.arguments}};
      }
      calls.push_back(std::move(c));
    }
    delta["tool_calls"] = std::move(calls);
  }
  return Json{{"index", setup_.index},
              {"delta", std::move(delta)},
              {"logprobs", chat_lp.empty() ? Json(nullptr) : Json{{"content", chat_lp}}},
              {"finish_reason", nullptr}};
}

Json ChoiceOutput::on_token(const StreamEvent& ev) {
  const bool ends = std::find(end_ids_.begin(), end_ids_.end(), ev.token) != end_ids_.end();
  std::vector<Json> chat_lp;
  Json completion_lp = nullptr;
  if (setup_.logprobs && !ends) {
    if (setup_.api == Api::kChat) {
      chat_lp.push_back(chat_entry(ev.token, ev.logprob, ev.top_logprobs));
      chat_logprobs_.push_back(chat_lp.back());
    } else {
      completion_entry(ev, &completion_lp);
    }
  }
  const ParsedText text = parse(ev.text);
  absorb(text);
  if (text.empty() && chat_lp.empty() && completion_lp.is_null()) return nullptr;
  return piece(text, chat_lp, completion_lp);
}

std::vector<Json> ChoiceOutput::on_finish(const StreamEvent& ev) {
  ParsedText text = parse(ev.text);
  if (setup_.tools) {
    ParsedText rest = setup_.tools->finish();
    text.content += rest.content;
    for (ToolCallPiece& p : rest.calls) {
      if (!text.calls.empty() && text.calls.back().index == p.index && p.id.empty()) {
        text.calls.back().arguments += p.arguments;
      } else {
        text.calls.push_back(std::move(p));
      }
    }
  }
  absorb(text);
  usage_ = ev.usage;
  finish_reason_ = finish_reason_text(ev.finish_reason, setup_.tools && setup_.tools->calls() > 0);
  std::vector<Json> out;
  if (!text.empty()) out.push_back(piece(text, {}, nullptr));
  Json last = piece(ParsedText{}, {}, nullptr);
  last["finish_reason"] = finish_reason_;
  out.push_back(std::move(last));
  return out;
}

std::vector<Json> ChoiceOutput::opening() const {
  if (setup_.api == Api::kChat) {
    return {Json{{"index", setup_.index},
                 {"delta", {{"role", "assistant"}, {"content", ""}}},
                 {"logprobs", nullptr},
                 {"finish_reason", nullptr}}};
  }
  if (setup_.echo.empty()) return {};
  ParsedText t;
  t.content = setup_.echo;
  return {piece(t, {}, nullptr)};
}

Json ChoiceOutput::choice() const {
  if (setup_.api == Api::kCompletions) {
    return Json{{"index", setup_.index},
                {"text", content_},
                {"logprobs", setup_.logprobs ? completion_logprobs_ : Json(nullptr)},
                {"finish_reason", finish_reason_}};
  }
  Json message = {{"role", "assistant"}, {"content", content_.empty() && !calls_.empty() ? Json(nullptr) : Json(content_)}};
  if (!calls_.empty()) message["tool_calls"] = calls_;
  return Json{{"index", setup_.index},
              {"message", std::move(message)},
              {"logprobs", setup_.logprobs ? Json{{"content", chat_logprobs_}} : Json(nullptr)},
              {"finish_reason", finish_reason_}};
}

}  // namespace ream::openai
