// Helpers of the constrained-decoding tests: ajv (through node) as the validator, the
// real Qwen3 vocabulary, random walks over allowed tokens.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "grammar/compile.h"
#include "grammar/matcher.h"
#include "ream/engine/tokenizer.h"
#include "test_util.h"

namespace ream::testing {

struct AjvResult {
  bool parsed = false;
  bool valid = false;
  std::string errors;
};

// One ajv run (one node process) over many (schema, texts) cases. A schema ajv refuses
// comes back as a case whose results are empty and `schema_error` set.
struct AjvCase {
  nlohmann::json schema;
  std::vector<std::string> texts;
  std::vector<AjvResult> results;
  std::string schema_error;
};

inline void run_ajv(std::vector<AjvCase>* cases) {
  TempDir dir;
  const std::string in = (dir.path() / "in.json").string(), out = (dir.path() / "out.json").string();
  nlohmann::json j = {{"cases", nlohmann::json::array()}};
  for (const AjvCase& c : *cases) j["cases"].push_back({{"schema", c.schema}, {"texts", c.texts}});
  std::ofstream(in) << j.dump();
  const std::string cmd = "NODE_PATH='" REAM_SOURCE_DIR "/tests/node/node_modules' node '" REAM_SOURCE_DIR
                          "/tests/engine/ajv_validate.js' '" + in + "' > '" + out + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream f(out);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_EQ(rc, 0) << "node/ajv failed (run scripts/setup.sh to install tests/node): " << text;
  const nlohmann::json r = nlohmann::json::parse(text);
  ASSERT_EQ(r.size(), cases->size());
  for (size_t i = 0; i < cases->size(); ++i) {
    AjvCase& c = (*cases)[i];
    if (r[i].is_object()) {
      c.schema_error = r[i].value("schema_error", "?");
      continue;
    }
    for (const auto& x : r[i]) c.results.push_back({x["parsed"], x["valid"], x["errors"]});
  }
}

inline std::shared_ptr<const Tokenizer> qwen_tokenizer() {
  static std::shared_ptr<const Tokenizer> tok = [] {
    auto t = Tokenizer::load(REAM_TOKENIZER_DIR);
    if (!t.ok()) throw std::runtime_error(t.status().to_string());
    return t.value();
  }();
  return tok;
}

// Qwen3's vocabulary as the engine builds it (151,936 mask bits, EOS <|im_end|> and
// <|endoftext|>).
inline std::shared_ptr<const grammar::TokenVocab> qwen_vocab() {
  static std::shared_ptr<const grammar::TokenVocab> v = [] {
    const auto& tok = *qwen_tokenizer();
    return grammar::TokenVocab::build(tok, 151936, {tok.token_to_id("<|im_end|>"), tok.token_to_id("<|endoftext|>")});
  }();
  return v;
}

// A random walk: each step picks uniformly among the allowed tokens (EOS included when
// allowed). Returns the text; *finished when EOS was picked or nothing may follow, or
// (`budgeted`: the masks hold the walk to max_tokens as the engine does) when the
// output is complete after the last token.
inline std::string random_walk(const std::shared_ptr<const grammar::CompiledGrammar>& g, std::mt19937& rng,
                               int max_tokens, bool* finished, std::vector<int32_t>* tokens = nullptr,
                               bool budgeted = false) {
  grammar::Matcher m(g);
  const grammar::TokenVocab& v = g->vocab();
  std::vector<uint32_t> mask(v.mask_words());
  std::string text;
  *finished = false;
  for (int i = 0; i < max_tokens; ++i) {
    const int64_t n = m.fill_mask(mask.data(), true, budgeted ? max_tokens - i : grammar::Matcher::kNoBudget);
    if (n == 0) return text;
    // The r-th allowed token, uniformly.
    int64_t r = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
    int32_t w = 0;
    while (r >= __builtin_popcount(mask[w])) r -= __builtin_popcount(mask[w++]);
    uint32_t bits = mask[w];
    for (; r > 0; --r) bits &= bits - 1;
    const int32_t pick = w * 32 + __builtin_ctz(bits);
    if (std::find(v.eos_ids().begin(), v.eos_ids().end(), pick) != v.eos_ids().end()) {
      *finished = true;
      return text;
    }
    EXPECT_TRUE(m.accept_token(pick));
    if (tokens) tokens->push_back(pick);
    text += v.bytes(pick);
    if (m.must_end()) {
      *finished = true;
      return text;
    }
  }
  *finished = budgeted && m.is_complete();
  return text;
}

}  // namespace ream::testing
