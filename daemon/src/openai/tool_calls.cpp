// ToolCallParser: Qwen3's tool-call blocks -> content and OpenAI tool-call pieces.
#include "openai/tool_calls.h"

#include <optional>
#include <random>
#include <utility>

namespace ream::openai {

namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";
constexpr size_t kMaxHeader = 4096;    // bytes a call header may take before it is not one
constexpr size_t kMaxBlock = 1 << 20;  // bytes of a block read whole before it is content

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// The length of the longest suffix of `s` that is a proper prefix of `word`.
size_t partial_suffix(std::string_view s, std::string_view word) {
  for (size_t n = std::min(s.size(), word.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == word.substr(0, n)) return n;
  }
  return 0;
}

// Reads `s` from its start against a small grammar, one token at a time.
class Scan {
 public:
  enum Result { kNeedMore, kMismatch, kMatch };
  explicit Scan(std::string_view s) : s_(s) {}
  void ws() {
    while (i_ < s_.size() && is_ws(s_[i_])) ++i_;
  }
  Result lit(std::string_view l) {
    for (char c : l) {
      if (i_ >= s_.size()) return kNeedMore;
      if (s_[i_] != c) return kMismatch;
      ++i_;
    }
    return kMatch;
  }
  // A JSON string of name characters (no escapes), after its opening quote.
  Result name(std::string* out) {
    for (; i_ < s_.size(); ++i_) {
      const char c = s_[i_];
      if (c == '"') {
        ++i_;
        return out->empty() ? kMismatch : kMatch;
      }
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-' || c == '.';
      if (!ok || out->size() >= 64) return kMismatch;
      *out += c;
    }
    return kNeedMore;
  }
  size_t pos() const { return i_; }
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return s_[i_]; }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// `{"name": "N", "arguments": ` up to the arguments' opening brace (not consumed).
Scan::Result match_header(std::string_view s, std::string* name, size_t* consumed) {
  Scan sc(s);
  name->clear();
  Scan::Result r;
  sc.ws();
  if ((r = sc.lit("{")) != Scan::kMatch) return r;
  sc.ws();
  if ((r = sc.lit("\"name\"")) != Scan::kMatch) return r;
  sc.ws();
  if ((r = sc.lit(":")) != Scan::kMatch) return r;
  sc.ws();
  if ((r = sc.lit("\"")) != Scan::kMatch) return r;
  if ((r = sc.name(name)) != Scan::kMatch) return r;
  sc.ws();
  if ((r = sc.lit(",")) != Scan::kMatch) return r;
  sc.ws();
  if ((r = sc.lit("\"arguments\"")) != Scan::kMatch) return r;
  sc.ws();
  if ((r = sc.lit(":")) != Scan::kMatch) return r;
  sc.ws();
  if (sc.at_end()) return Scan::kNeedMore;
  if (sc.peek() != '{') return Scan::kMismatch;
  *consumed = sc.pos();
  return Scan::kMatch;
}

}  // namespace

std::string new_tool_call_id() {
  static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlnum[rng() % (sizeof kAlnum - 1)];
  return id;
}

ToolCallParser::ToolCallParser(Mode mode, std::vector<std::string> names, bool parallel)
    : mode_(mode), names_(std::move(names)), parallel_(parallel),
      state_(mode == Mode::kBare ? State::kHeader : State::kText) {}

bool ToolCallParser::known(const std::string& name) const {
  for (const std::string& n : names_) {
    if (n == name) return true;
  }
  return false;
}

ParsedText ToolCallParser::push(std::string_view text) {
  ParsedText out;
  buf_ += text;
  while (step(&out)) {
  }
  return out;
}

bool ToolCallParser::step(ParsedText* out) {
  switch (state_) {
    case State::kText: return step_text(out);
    case State::kHeader: return step_header(out);
    case State::kArgs: return step_args(out);
    case State::kTail: return step_tail(out);
    case State::kBlock: return step_block(out);
    case State::kBuffered: return false;
    case State::kDone: buf_.clear(); return false;
  }
  return false;
}

// Content goes out except trailing whitespace, held until it is known whether a call follows;
// after a call, leading whitespace is dropped.
void ToolCallParser::emit_text(std::string text, bool before_call, ParsedText* out) {
  if (before_call) dropped_ws_.clear();
  if (after_call_) {
    size_t b = 0;
    while (b < text.size() && is_ws(text[b])) ++b;
    text.erase(0, b);
    if (text.empty()) return;
    after_call_ = false;
  }
  text = std::exchange(held_ws_, std::string()) + text;
  size_t end = text.size();
  while (end > 0 && is_ws(text[end - 1])) --end;
  out->content += text.substr(0, end);
  if (before_call) {
    dropped_ws_ = text.substr(end);
  } else {
    held_ws_ = text.substr(end);
  }
}

bool ToolCallParser::step_text(ParsedText* out) {
  const size_t at = buf_.find(kOpen);
  if (at != std::string::npos) {
    emit_text(buf_.substr(0, at), true, out);
    buf_.erase(0, at + kOpen.size());
    state_ = State::kHeader;
    return true;
  }
  const size_t keep = partial_suffix(buf_, kOpen);
  emit_text(buf_.substr(0, buf_.size() - keep), false, out);
  buf_.erase(0, buf_.size() - keep);
  return false;
}

bool ToolCallParser::step_header(ParsedText* out) {
  std::string name;
  size_t consumed = 0;
  Scan::Result r = match_header(buf_, &name, &consumed);
  if (r == Scan::kNeedMore && buf_.size() > kMaxHeader) r = Scan::kMismatch;
  if (r == Scan::kNeedMore) return false;
  if (r == Scan::kMatch && known(name) && (parallel_ || started_ == 0)) {
    out->calls.push_back({started_++, new_tool_call_id(), name, ""});
    buf_.erase(0, consumed);
    depth_ = 0;
    in_string_ = escape_ = false;
    state_ = State::kArgs;
    return true;
  }
  // Not the usual header (keys in another order, say): read the block whole.
  state_ = mode_ == Mode::kBare ? State::kBuffered : State::kBlock;
  return mode_ == Mode::kTagged;
}

// A call {"name": N, "arguments": {...}} in any key order, or nullopt.
std::optional<std::pair<std::string, std::string>> ToolCallParser::read_call(std::string_view text) const {
  const Json j = Json::parse(text, nullptr, false);
  if (!(j.is_object() && j.size() == 2 && j.contains("name") && j["name"].is_string() &&
        known(j["name"].get<std::string>()) && j.contains("arguments") && j["arguments"].is_object())) {
    return std::nullopt;
  }
  return std::make_pair(j["name"].get<std::string>(), dump(j["arguments"]));
}

bool ToolCallParser::step_block(ParsedText* out) {
  const size_t at = buf_.find(kClose);
  if (at == std::string::npos && buf_.size() <= kMaxBlock) return false;
  const std::string body = buf_.substr(0, at);
  auto call = parallel_ || started_ == 0 ? read_call(body) : std::nullopt;
  if (call) {
    out->calls.push_back({started_++, new_tool_call_id(), call->first, call->second});
    after_call_ = true;
    state_ = parallel_ ? State::kText : State::kDone;
  } else {  // not a call after all: the block is content
    held_ws_ = std::exchange(dropped_ws_, std::string());
    emit_text(std::string(kOpen) + body + (at == std::string::npos ? "" : std::string(kClose)), false, out);
    state_ = State::kText;
  }
  buf_.erase(0, at == std::string::npos ? buf_.size() : at + kClose.size());
  return true;
}

bool ToolCallParser::step_args(ParsedText* out) {
  size_t end = std::string::npos;
  for (size_t j = 0; j < buf_.size() && end == std::string::npos; ++j) {
    const char c = buf_[j];
    if (in_string_) {
      if (escape_) escape_ = false;
      else if (c == '\\') escape_ = true;
      else if (c == '"') in_string_ = false;
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if ((c == '}' || c == ']') && --depth_ == 0) {
      end = j + 1;
    }
  }
  const size_t n = end == std::string::npos ? buf_.size() : end;
  if (n > 0) {
    ToolCallPiece piece;
    piece.index = started_ - 1;
    piece.arguments = buf_.substr(0, n);
    if (!out->calls.empty() && out->calls.back().index == piece.index) {
      out->calls.back().arguments += piece.arguments;
    } else {
      out->calls.push_back(std::move(piece));
    }
  }
  buf_.erase(0, n);
  if (end == std::string::npos) return false;
  state_ = State::kTail;
  return true;
}

// After the arguments: `}` and, in tagged mode, `</tool_call>`; anything else is content.
bool ToolCallParser::step_tail(ParsedText* out) {
  (void)out;
  Scan sc(buf_);
  sc.ws();
  Scan::Result r = sc.lit("}");
  if (r == Scan::kNeedMore) return false;
  size_t used = r == Scan::kMatch ? sc.pos() : 0;
  if (r == Scan::kMatch && mode_ == Mode::kTagged) {
    sc.ws();
    r = sc.lit(kClose);
    if (r == Scan::kNeedMore) return false;
    if (r == Scan::kMatch) used = sc.pos();
  }
  buf_.erase(0, used);
  after_call_ = true;
  state_ = parallel_ ? State::kText : State::kDone;
  return true;
}

// Bare mode, output that did not start with the header: the whole output is one
// {"name", "arguments"} object with the keys in any order, or content.
void ToolCallParser::bare_fallback(ParsedText* out) {
  if (auto call = read_call(buf_)) {
    out->calls.push_back({started_++, new_tool_call_id(), call->first, call->second});
  } else {
    out->content += buf_;
  }
  buf_.clear();
}

ParsedText ToolCallParser::finish() {
  ParsedText out;
  switch (state_) {
    case State::kText:
      emit_text(std::exchange(buf_, std::string()), false, &out);
      if (started_ == 0) out.content += std::exchange(held_ws_, std::string());
      break;
    case State::kHeader:
    case State::kBlock:
      if (mode_ == Mode::kBare) {
        bare_fallback(&out);
      } else {  // an unclosed block is content
        held_ws_ = std::exchange(dropped_ws_, std::string());
        emit_text(std::string(kOpen) + std::exchange(buf_, std::string()), false, &out);
        out.content += std::exchange(held_ws_, std::string());
      }
      break;
    case State::kBuffered:
      bare_fallback(&out);
      break;
    case State::kArgs:  // cut short: the call keeps the arguments it has
    case State::kTail:
    case State::kDone:
      buf_.clear();
      break;
  }
  state_ = State::kDone;
  return out;
}

}  // namespace ream::openai
