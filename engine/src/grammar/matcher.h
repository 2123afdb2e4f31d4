// Matching a Grammar against tokens: the vocabulary index, the compiled grammar (a
// byte-level pushdown automaton with memoised transitions and cached token masks) and
// the per-request Matcher.
//
// How a mask is computed (after xgrammar, "Flexible and Efficient Grammar-Constrained
// Decoding"): a matcher state is a set of PDA stacks whose top is a byte set. Stacks are
// hash-consed nodes (position, parent) shared by every request of one compiled grammar,
// and a right-recursive call (a tail call) pushes nothing, so a JSON value's stack is
// the same node every time the output is at the same place of the schema (the 3rd and
// the 30th array item alike). The tokens a stack allows are found once by walking the
// vocabulary in byte order (a trie walk: tokens sharing a prefix share its steps, and a
// dead prefix skips every token that starts with it), and cached per stack. A state's
// mask is then the OR of its stacks' cached masks (itself cached per state), plus EOS
// when the grammar is complete. Byte steps between stack sets are memoised too (a lazily built DFA), so the
// walk through a string body costs a table lookup per byte.
//
// Finishing within a token budget: every grammar position has a count of tokens that
// surely complete the output from it: a literal run (keys, enum values, punctuation;
// calls of rules that may match nothing, like whitespace, are skipped) costs the tokens
// of its greedy longest-match tokenization, any other byte one token (byte-level BPE
// has a token for every byte), a rule call its cheapest alternative (a fixpoint over
// the rules). Following the counted path lowers the count by one per token, so a state
// (whose count is its stacks' least) can always be completed in that many tokens. Each
// cached stack mask also records, for the tokens that open more structure, the count
// after them. Given a budget of R tokens, fill_mask allows only tokens after which the
// count is at most R - 1: while R is large that is the cached mask, near the end a few
// tokens are taken out of it, and in the last steps (R at most a stack's count + 1) only
// the tokens that close something (also listed with each mask, with their counts) are
// left. A constrained output therefore ends complete whenever the budget covers the
// starting state's count.
//
// Thread-safety: TokenVocab is immutable. A CompiledGrammar may be shared by many
// Matchers on many threads (its caches are guarded by a mutex). A Matcher is used by one
// thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "grammar/grammar.h"
#include "ream/engine/tokenizer.h"

namespace ream::grammar {

// The vocabulary as the matcher walks it: the bytes of every token a constraint may
// allow, sorted, with each one's common prefix length with the one before. Special
// tokens and tokens without bytes are left out; EOS ids are handled apart.
class TokenVocab {
 public:
  // `vocab_size` (the model's, may exceed the tokenizer's) is the number of mask bits.
  static std::shared_ptr<const TokenVocab> build(const Tokenizer& tokenizer, int32_t vocab_size,
                                                 std::vector<int32_t> eos_ids);
  // From raw token bytes (tests): id i has bytes tokens[i]; `special` ids are excluded.
  static std::shared_ptr<const TokenVocab> from_bytes(const std::vector<std::string>& tokens,
                                                      const std::vector<int32_t>& special,
                                                      std::vector<int32_t> eos_ids);

  int32_t vocab_size() const { return vocab_size_; }
  int32_t mask_words() const { return (vocab_size_ + 31) / 32; }
  const std::vector<int32_t>& eos_ids() const { return eos_; }
  const std::string& bytes(int32_t id) const { return bytes_[id]; }
  bool allowed(int32_t id) const { return id >= 0 && id < vocab_size_ && allowed_[id]; }
  size_t size() const { return order_.size(); }          // constrainable tokens
  int32_t id_at(size_t i) const { return order_[i]; }     // i-th in byte order
  uint16_t lcp_at(size_t i) const { return lcp_[i]; }     // common prefix with (i-1)-th
  size_t max_len() const { return max_len_; }
  // The length of the longest constrainable token that `s` has at offset `at` (1 when
  // only the single byte, or none, is one).
  size_t longest_token_at(std::string_view s, size_t at) const;

 private:
  void index();
  int32_t vocab_size_ = 0;
  std::vector<std::string> bytes_;  // by id
  std::vector<uint8_t> allowed_;    // by id
  std::vector<int32_t> order_;
  std::vector<uint16_t> lcp_;
  std::vector<int32_t> eos_;
  size_t max_len_ = 0;
};

class CompiledGrammar;

// One request's position in a grammar.
class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const CompiledGrammar> grammar);

  // Advances by one token; false (and no change) when the token is not allowed.
  bool accept_token(int32_t id);
  // Advances by raw bytes (tests); false (and no change) when they leave the language.
  bool accept_bytes(std::string_view bytes);
  // Sets the bit of every allowed token in `words` (mask_words() uint32, overwritten);
  // EOS bits when the output may end here and `allow_eos`. With a `budget` (tokens that
  // may still be generated, this one included), only tokens after which
  // tokens_to_complete() is at most budget - 1; when none qualifies (the budget was short
  // from the start), EOS alone if the output may end here, else the unbounded mask.
  // Returns the number of allowed tokens.
  static constexpr int64_t kNoBudget = INT64_MAX;
  int64_t fill_mask(uint32_t* words, bool allow_eos, int64_t budget = kNoBudget);
  bool is_complete() const;  // the output may end here
  bool must_end() const;     // complete, and nothing may follow
  // A number of tokens that surely completes the output from here (see above; 0 when
  // complete, kNoBudget when nothing can). At most the fewest bytes that complete it,
  // at least the fewest tokens.
  int64_t tokens_to_complete() const;
  // The automaton state (tests: two matchers with the same id are in the same place).
  int32_t state_id() const { return state_; }
  const CompiledGrammar& grammar() const { return *grammar_; }

 private:
  std::shared_ptr<const CompiledGrammar> grammar_;
  int32_t state_;
};

// A grammar ready for matching over one vocabulary. Immutable to its users; the
// automaton and the mask cache grow inside as requests explore it.
class CompiledGrammar {
 public:
  static std::shared_ptr<const CompiledGrammar> make(Grammar grammar, std::shared_ptr<const TokenVocab> vocab);
  ~CompiledGrammar();
  const TokenVocab& vocab() const { return *vocab_; }
  const Grammar& grammar() const { return grammar_; }
  // Bytes held by the automaton and the mask cache (grows; capped by kMaxCacheBytes).
  size_t cache_bytes() const;

 private:
  friend class Matcher;
  CompiledGrammar(Grammar grammar, std::shared_ptr<const TokenVocab> vocab);
  struct Node {
    int32_t pos;
    int32_t parent;
  };
  struct Mask {
    std::vector<int32_t> ids;     // when sparse
    std::vector<uint32_t> words;  // when dense
    // The tokens after which more tokens are needed to complete than before them (the
    // stack's own count): (id, the count after it), by id; and those after which fewer
    // are (they close something: a string's quote), likewise.
    std::vector<std::pair<int32_t, int64_t>> costly, progress;
    int64_t max_after = 0;        // the most tokens left after any allowed token
  };
  struct StateMask {
    std::vector<uint32_t> words;  // the OR of the stacks' masks, EOS apart
    int64_t max_after = 0;        // the most of theirs
  };

  // All below: call with mu_ held.
  int32_t node(int32_t pos, int32_t parent) const;
  void expand(int32_t node, std::vector<int32_t>* leaves, bool* complete) const;
  int32_t intern_state(std::vector<int32_t> leaves, bool complete) const;
  void compute_costs();  // min_rest_
  int32_t step(int32_t state, uint8_t byte) const;
  const Mask& leaf_mask(int32_t leaf) const;
  const StateMask& state_mask(int32_t state) const;
  // The tokens accepted from `state`, sorted; with `m`, also its costly and progress
  // lists against the count `base`, and its max_after.
  void walk(int32_t state, std::vector<int32_t>* ids, int64_t base = 0, Mask* m = nullptr) const;
  // Fills `words` with the tokens of `state` within `limit`; false when none.
  bool budget_mask(int32_t state, int64_t limit, uint32_t* words) const;
  void charge(size_t bytes) const;  // accounts cache bytes, clearing the caches when full
  bool state_complete(int32_t s) const { return state_complete_[s] != 0; }

  Grammar grammar_;
  std::shared_ptr<const TokenVocab> vocab_;
  // The flattened grammar: each alternative a run of elements ending with kEnd.
  enum Op : int32_t { kEnd = -1 };
  std::vector<int32_t> ops_;       // >= 0: byte set index; kEnd; <= -2: call rule (-2 - op)
  std::vector<std::vector<int32_t>> alt_starts_;  // per rule
  std::vector<int64_t> min_rest_;  // per op position: tokens that surely end its alternative
  int32_t initial_ = 0;

  mutable std::mutex mu_;
  mutable std::vector<Node> nodes_;  // node 0: the bottom (root finished)
  mutable std::vector<int64_t> node_min_;   // per node: tokens that surely complete from it
  mutable std::vector<int64_t> state_min_;  // per state: 0 when complete, else its leaves' least
  mutable std::unordered_map<uint64_t, int32_t> node_ids_;
  mutable std::vector<std::vector<int32_t>> state_leaves_;
  mutable std::vector<uint8_t> state_complete_;
  mutable std::unordered_map<std::string, int32_t> state_ids_;
  mutable std::vector<int32_t> trans_;  // state * 256 + byte -> state; -1 unknown
  mutable std::unordered_map<int32_t, Mask> masks_;  // per leaf node
  mutable std::unordered_map<int32_t, StateMask> state_masks_;  // per state
  mutable size_t mask_bytes_ = 0;
  mutable std::vector<int32_t> scratch_leaves_, scratch_work_, walk_states_;
  mutable std::vector<uint32_t> scratch_mask_;
  mutable std::vector<int32_t> visit_mark_;
  mutable int32_t visit_epoch_ = 0;
};

}  // namespace ream::grammar
