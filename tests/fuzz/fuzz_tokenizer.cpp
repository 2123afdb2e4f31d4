// The tokenizer: the real Qwen3 tokenizer.json and tokenizer_config.json
// (.deps/tokenizer-qwen3), on text from outside (prompts, documents, chat messages) and on
// token ids (/detokenize, the engine's output).
//
// Each input is text: encoded with special tokens parsed and not, and with the second half
// of the text as a literal range (as workflow prompts mark document text); every id must be
// a vocabulary id, and decoding the ids must give valid UTF-8. The input's bytes are also
// read as little-endian 16-bit ids (plus an offset from the first byte, so all of the
// vocabulary and a few ids past its end are reached) and decoded, whole and token by token
// with StreamDecoder, whose pieces must add up to the whole decode.
#include <memory>

#include "fuzz_util.h"
#include "ream/engine/tokenizer.h"

namespace {

using namespace ream;

const std::shared_ptr<const Tokenizer>& tokenizer() {
  static const auto* tok = [] {
    fuzz::quiet_logs();
    auto t = Tokenizer::load(REAM_TOKENIZER_DIR);
    if (!t.ok()) fuzz::fail("tokenizer: " + t.status().message());
    return new std::shared_ptr<const Tokenizer>(t.value());
  }();
  return *tok;
}

void check_ids(const std::vector<TokenId>& ids, const Tokenizer& tok) {
  for (TokenId id : ids) fuzz::check(id >= 0 && id < tok.vocab_size(), "encode gave id " + std::to_string(id));
  fuzz::check(fuzz::valid_utf8(tok.decode(ids)), "decode gave invalid UTF-8");
}

}  // namespace

// The slow set-up (loading the tokenizer, a catalog, an App, a server) happens here, before
// libFuzzer starts timing inputs.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)tokenizer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& tok = tokenizer();
  const std::string_view text = fuzz::bytes(data, size);
  check_ids(tok->encode(text, true), *tok);
  check_ids(tok->encode(text, false), *tok);
  check_ids(tok->encode(text, std::vector<std::pair<size_t, size_t>>{{text.size() / 2, text.size()}}), *tok);

  if (size < 3) return 0;
  const int32_t offset = data[0] * 1024;  // 0 .. 261,120: the whole vocabulary and past it
  std::vector<TokenId> ids;
  for (size_t i = 1; i + 1 < size; i += 2) ids.push_back(offset + (data[i] | (data[i + 1] << 8)) % 65536);
  for (bool skip : {false, true}) {
    const std::string whole = tok->decode(ids, skip);
    fuzz::check(fuzz::valid_utf8(whole), "decode of ids gave invalid UTF-8");
    StreamDecoder stream(tok, skip);
    std::string pieces;
    for (TokenId id : ids) {
      std::string piece = stream.push(id);
      fuzz::check(fuzz::valid_utf8(piece), "StreamDecoder emitted a broken character");
      pieces += piece;
    }
    pieces += stream.flush();
    fuzz::check(pieces == whole, "StreamDecoder's pieces differ from decode()");
  }
  return 0;
}
