// ream::Tokenizer and ream::StreamDecoder: encode (added tokens first, then NFC,
// the Qwen2 pre-tokenizer and byte-level BPE per segment), decode with U+FFFD repair,
// and incremental decoding that never splits a UTF-8 character.
#include "ream/engine/tokenizer.h"

#include "ream/common/utf8.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace ream {

namespace {

// Leftmost-longest match of an added token at or after `from`; returns the index into
// impl.added and sets `at`, or SIZE_MAX when none is left.
// `literal` (sorted, disjoint byte ranges) marks where special tokens are plain text.
using Ranges = std::vector<std::pair<size_t, size_t>>;

bool overlaps_literal(const Ranges* literal, size_t begin, size_t end) {
  if (!literal) return false;
  for (const auto& [b, e] : *literal)
    if (b < end && begin < e) return true;
  return false;
}

size_t find_added(const Tokenizer::Impl& impl, std::string_view text, size_t from,
                  bool parse_special, size_t& at, const Ranges* literal = nullptr) {
  for (size_t pos = from; pos < text.size(); ++pos) {
    const auto& bucket = impl.added_by_first_byte[static_cast<unsigned char>(text[pos])];
    for (size_t idx : bucket) {
      const AddedToken& a = impl.added[idx];
      if (a.special && !parse_special) continue;
      if (a.special && overlaps_literal(literal, pos, pos + a.content.size())) continue;
      if (text.compare(pos, a.content.size(), a.content) == 0) {
        at = pos;
        return idx;
      }
    }
  }
  return SIZE_MAX;
}

void encode_segment(const Tokenizer::Impl& impl, std::string_view segment,
                    std::vector<TokenId>& out) {
  if (segment.empty()) return;
  std::string normalized = impl.nfc ? utf8::nfc(segment) : std::string(segment);
  for (std::string_view piece : tok::pretokenize_qwen2(normalized)) {
    impl.bpe->encode_word(piece, out);
  }
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Result<std::shared_ptr<const Tokenizer>> Tokenizer::load(const std::string& dir) {
  REAM_ASSIGN_OR_RETURN(auto impl, tok::load_tokenizer_impl(dir));
  return std::shared_ptr<const Tokenizer>(new Tokenizer(std::move(impl)));
}

namespace {

// Added tokens first (leftmost, longest), the text between them through NFC, the
// pre-tokenizer and BPE. `text` is valid UTF-8.
std::vector<TokenId> encode_valid(const Tokenizer::Impl& impl, std::string_view text, bool parse_special,
                                  const Ranges* literal) {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t at = 0;
    size_t idx = find_added(impl, text, pos, parse_special, at, literal);
    if (idx == SIZE_MAX) break;
    encode_segment(impl, text.substr(pos, at - pos), out);
    out.push_back(impl.added[idx].id);
    pos = at + impl.added[idx].content.size();
  }
  encode_segment(impl, text.substr(pos), out);
  return out;
}

}  // namespace

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool parse_special) const {
  // Callers may hand us arbitrary bytes; HF only ever sees valid strings, so broken
  // sequences become U+FFFD first.
  if (!utf8::is_valid(text)) return encode_valid(*impl_, utf8::repair(text), parse_special, nullptr);
  return encode_valid(*impl_, text, parse_special, nullptr);
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, const Ranges& literal_ranges) const {
  if (utf8::is_valid(text)) return encode_valid(*impl_, text, true, &literal_ranges);
  // Repair each stretch between range boundaries on its own so the ranges can follow.
  std::string repaired;
  Ranges moved;
  size_t pos = 0;
  for (const auto& [b, e] : literal_ranges) {
    repaired += utf8::repair(text.substr(pos, b - pos));
    const size_t nb = repaired.size();
    repaired += utf8::repair(text.substr(b, e - b));
    moved.emplace_back(nb, repaired.size());
    pos = e;
  }
  repaired += utf8::repair(text.substr(pos));
  return encode_valid(*impl_, repaired, true, &moved);
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool skip_special) const {
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (TokenId id : ids) {
    if (const AddedToken* a = impl_->find_added(id)) {
      if (!(skip_special && a->special)) bytes += a->content;
    } else if (const std::string* b = impl_->bpe->token_raw_bytes(id)) {
      bytes += *b;
    }
  }
  return utf8::is_valid(bytes) ? bytes : utf8::repair(bytes);
}

std::string Tokenizer::token_bytes(TokenId id) const {
  if (const AddedToken* a = impl_->find_added(id)) return a->content;
  if (const std::string* b = impl_->bpe->token_raw_bytes(id)) return *b;
  return {};
}

std::string Tokenizer::id_to_token(TokenId id) const {
  if (const AddedToken* a = impl_->find_added(id)) return a->content;
  if (const std::string* s = impl_->bpe->token_string(id)) return *s;
  return {};
}

TokenId Tokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->added_by_content.find(std::string(token));
  if (it != impl_->added_by_content.end()) return impl_->added[it->second].id;
  return impl_->bpe->token_to_id(token);
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

bool Tokenizer::is_special(TokenId id) const {
  const AddedToken* a = impl_->find_added(id);
  return a != nullptr && a->special;
}

TokenId Tokenizer::eos_token_id() const { return impl_->eos_id; }
TokenId Tokenizer::pad_token_id() const { return impl_->pad_id; }
const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }

StreamDecoder::StreamDecoder(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special)
    : tokenizer_(std::move(tokenizer)), skip_special_(skip_special) {}

std::string StreamDecoder::push(TokenId id) {
  if (skip_special_ && tokenizer_->is_special(id)) return {};
  pending_ += tokenizer_->token_bytes(id);
  // Everything before a trailing, still-incomplete character is final: a lead byte
  // always starts a new sequence, so repairing the prefix alone equals repairing it
  // as part of the whole.
  size_t cut = utf8::incomplete_tail_start(pending_);
  std::string out = utf8::repair(std::string_view(pending_).substr(0, cut));
  pending_.erase(0, cut);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = utf8::repair(pending_);
  pending_.clear();
  return out;
}

}  // namespace ream
