// Tokenizer::Impl: the loaded state behind ream::Tokenizer (BPE model, added tokens,
// tokenizer_config.json fields) and the loader that fills it from a directory.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ream/engine/status.h"
#include "ream/engine/tokenizer.h"
#include "tokenizer/bpe.h"

namespace ream {

struct AddedToken {
  std::string content;
  TokenId id = -1;
  bool special = false;
};

struct Tokenizer::Impl {
  std::unique_ptr<tok::BpeModel> bpe;
  std::vector<AddedToken> added;                      // as listed in tokenizer.json
  std::unordered_map<std::string, size_t> added_by_content;
  std::unordered_map<TokenId, size_t> added_by_id;
  // Candidate added tokens by first byte, longest first (leftmost-longest matching).
  std::vector<size_t> added_by_first_byte[256];
  bool nfc = false;  // normalizer is NFC (otherwise none)
  int32_t vocab_size = 0;
  TokenId eos_id = -1;
  TokenId pad_id = -1;
  std::string chat_template;

  const AddedToken* find_added(TokenId id) const {
    auto it = added_by_id.find(id);
    return it == added_by_id.end() ? nullptr : &added[it->second];
  }
};

namespace tok {

// Reads dir/tokenizer.json (required) and dir/tokenizer_config.json (optional).
Result<std::unique_ptr<Tokenizer::Impl>> load_tokenizer_impl(const std::string& dir);

}  // namespace tok
}  // namespace ream
