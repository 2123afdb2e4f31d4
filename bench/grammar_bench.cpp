// ream_grammar_bench: constrained decoding on the CPU, with the real Qwen3 vocabulary.
//
//   ream_grammar_bench [--tokenizer DIR] [--schema FILE]... [--walks N] [--steps N] [--budget N] [--seed S]
//
// For each constraint (legal_review's findings schema and "any JSON object" by default):
// the time to compile it (GBNF, grammar, automaton's first state; cold, no cache), and
// over random walks (each step: compute the mask, pick uniformly among the allowed
// tokens, advance) the time of a mask per token, first walk (cold caches: per-stack masks
// are computed as the walk meets new stacks) and later walks (warm) apart, and walks held
// to a reply budget of --budget tokens as the engine holds them (masks bounded near the
// end; every walk must end complete: `complete_walks`). One JSON
// object per measurement on stdout. bench/NOTES.md records the figures.
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "grammar/compile.h"
#include "ream/engine/tokenizer.h"

using namespace ream;
using json = nlohmann::json;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + name) return argv[i + 1];
  return fallback;
}

struct WalkStats {
  double mask_ms = 0, max_mask_ms = 0;
  int64_t masks = 0, allowed = 0, finished = 0, complete = 0;
};

// Replays `tokens` with a fresh matcher (every place already cached: the steady state of
// many requests under one schema).
WalkStats replay(const std::shared_ptr<const grammar::CompiledGrammar>& g, const std::vector<int32_t>& tokens) {
  WalkStats st;
  std::vector<uint32_t> mask(g->vocab().mask_words());
  grammar::Matcher m(g);
  for (int32_t t : tokens) {
    const double t0 = now_ms();
    st.allowed += m.fill_mask(mask.data(), true);
    st.mask_ms += now_ms() - t0;
    ++st.masks;
    if (!m.accept_token(t)) break;
  }
  return st;
}

// `budget` > 0: each walk is `budget` tokens at most, its masks bounded as the engine's.
WalkStats walk(const std::shared_ptr<const grammar::CompiledGrammar>& g, int walks, int steps, std::mt19937& rng,
               std::vector<int32_t>* record = nullptr, int budget = 0) {
  WalkStats st;
  std::vector<uint32_t> mask(g->vocab().mask_words());
  std::vector<int32_t> ids;
  for (int w = 0; w < walks; ++w) {
    grammar::Matcher m(g);
    for (int s = 0; s < steps; ++s) {
      const double t0 = now_ms();
      const int64_t n = m.fill_mask(mask.data(), true, budget > 0 ? budget - s : grammar::Matcher::kNoBudget);
      const double dt = now_ms() - t0;
      st.mask_ms += dt;
      st.max_mask_ms = std::max(st.max_mask_ms, dt);
      ++st.masks;
      st.allowed += n;
      ids.clear();
      for (int32_t i = 0; i < g->vocab().vocab_size(); ++i)
        if ((mask[i >> 5] >> (i & 31)) & 1) ids.push_back(i);
      if (ids.empty()) break;
      const int32_t pick = ids[rng() % ids.size()];
      const auto& eos = g->vocab().eos_ids();
      if (record && w == 0 && std::find(eos.begin(), eos.end(), pick) == eos.end()) record->push_back(pick);
      if (std::find(eos.begin(), eos.end(), pick) != eos.end() || !m.accept_token(pick) || m.must_end()) {
        ++st.finished;
        break;
      }
    }
    st.complete += m.is_complete();
  }
  return st;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string tok_dir = flag(argc, argv, "tokenizer", REAM_DEFAULT_TOKENIZER_DIR);
  const int walks = std::stoi(flag(argc, argv, "walks", "5"));
  const int steps = std::stoi(flag(argc, argv, "steps", "400"));
  const int budget = std::stoi(flag(argc, argv, "budget", "200"));
  std::mt19937 rng(static_cast<uint32_t>(std::stoul(flag(argc, argv, "seed", "1"))));
  auto tok = Tokenizer::load(tok_dir);
  if (!tok.ok()) {
    std::cerr << tok.status().to_string() << "\n";
    return 1;
  }
  double t0 = now_ms();
  auto vocab = grammar::TokenVocab::build(**tok, 151936, {(*tok)->token_to_id("<|im_end|>"), (*tok)->token_to_id("<|endoftext|>")});
  std::cout << json{{"mode", "vocab"}, {"tokens", vocab->size()}, {"ms", now_ms() - t0}} << "\n";

  std::vector<std::pair<std::string, Constraint>> cases;
  std::vector<std::string> schemas;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--schema") schemas.push_back(argv[i + 1]);
  if (schemas.empty()) schemas.push_back(std::string(REAM_SOURCE_DIR) + "/tests/data/schemas/legal_review_findings.json");
  for (const std::string& path : schemas) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    cases.push_back({path.substr(path.find_last_of('/') + 1), Constraint{Constraint::Kind::kJsonSchema, ss.str()}});
  }
  cases.push_back({"json_object", Constraint{Constraint::Kind::kJsonObject, ""}});
  for (const auto& [name, c] : cases) {
    t0 = now_ms();
    grammar::GrammarCache cache(vocab);  // fresh: a cold compile
    auto g = cache.get(c);
    const double compile_ms = now_ms() - t0;
    if (!g.ok()) {
      std::cerr << name << ": " << g.status().to_string() << "\n";
      return 1;
    }
    std::cout << json{{"mode", "compile"}, {"constraint", name}, {"ms", compile_ms},
                      {"rules", (*g)->grammar().rules.size()}} << "\n";
    std::vector<int32_t> first;
    const WalkStats cold = walk(*g, 1, steps, rng, &first);
    const WalkStats warm = walk(*g, walks, steps, rng);
    const WalkStats again = replay(*g, first);
    const WalkStats bounded = walk(*g, walks, budget, rng, nullptr, budget);
    for (const auto& [label, st] :
         {std::pair{"cold", cold}, std::pair{"warm", warm}, std::pair{"replay", again}, std::pair{"budgeted", bounded}})
      std::cout << json{{"mode", "mask"}, {"constraint", name}, {"caches", label}, {"masks", st.masks},
                        {"us_per_mask", st.masks ? 1000.0 * st.mask_ms / st.masks : 0.0},
                        {"max_us_per_mask", 1000.0 * st.max_mask_ms},
                        {"mean_allowed", st.masks ? st.allowed / st.masks : 0}, {"finished_walks", st.finished},
                        {"complete_walks", st.complete}, {"cache_mib", (*g)->cache_bytes() / 1048576.0}} << "\n";
  }
  return 0;
}
