// The pushdown automaton, the per-stack mask cache and the Matcher (see matcher.h).
#include "grammar/matcher.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace ream::grammar {
namespace {

constexpr size_t kMaxCacheBytes = size_t{256} << 20;  // masks + automaton per grammar
constexpr int32_t kDead = 0;                          // the state with no stack
constexpr int64_t kNever = Matcher::kNoBudget;         // no completion

int64_t add_sat(int64_t a, int64_t b) { return a >= kNever - b ? kNever : a + b; }

}  // namespace

// ---- TokenVocab ----

void TokenVocab::index() {
  for (int32_t id = 0; id < vocab_size_; ++id)
    if (allowed_[id]) order_.push_back(id);
  std::sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) { return bytes_[a] < bytes_[b]; });
  lcp_.assign(order_.size(), 0);
  for (size_t i = 0; i < order_.size(); ++i) {
    const std::string& t = bytes_[order_[i]];
    max_len_ = std::max(max_len_, t.size());
    if (i == 0) continue;
    const std::string& p = bytes_[order_[i - 1]];
    size_t n = 0;
    while (n < t.size() && n < p.size() && t[n] == p[n] && n < 65535) ++n;
    lcp_[i] = static_cast<uint16_t>(n);
  }
}

std::shared_ptr<const TokenVocab> TokenVocab::build(const Tokenizer& tok, int32_t vocab_size,
                                                    std::vector<int32_t> eos_ids) {
  auto v = std::make_shared<TokenVocab>();
  v->vocab_size_ = vocab_size;
  v->bytes_.resize(vocab_size);
  v->allowed_.assign(vocab_size, 0);
  const int32_t n = std::min(vocab_size, tok.vocab_size());
  for (int32_t id = 0; id < n; ++id) {
    if (tok.is_special(id)) continue;
    v->bytes_[id] = tok.token_bytes(id);
    v->allowed_[id] = !v->bytes_[id].empty();
  }
  for (int32_t e : eos_ids)
    if (e >= 0 && e < vocab_size) v->allowed_[e] = 0, v->eos_.push_back(e);
  v->index();
  return v;
}

std::shared_ptr<const TokenVocab> TokenVocab::from_bytes(const std::vector<std::string>& tokens,
                                                         const std::vector<int32_t>& special,
                                                         std::vector<int32_t> eos_ids) {
  auto v = std::make_shared<TokenVocab>();
  v->vocab_size_ = static_cast<int32_t>(tokens.size());
  v->bytes_ = tokens;
  v->allowed_.assign(tokens.size(), 0);
  for (size_t i = 0; i < tokens.size(); ++i) v->allowed_[i] = !tokens[i].empty();
  for (int32_t s : special)
    if (s >= 0 && s < v->vocab_size_) v->allowed_[s] = 0;
  for (int32_t e : eos_ids)
    if (e >= 0 && e < v->vocab_size_) v->allowed_[e] = 0, v->eos_.push_back(e);
  v->index();
  return v;
}

size_t TokenVocab::longest_token_at(std::string_view s, size_t at) const {
  const std::string_view rest = s.substr(at);
  for (size_t k = std::min(rest.size(), max_len_); k > 1; --k) {
    const std::string_view want = rest.substr(0, k);
    auto it = std::lower_bound(order_.begin(), order_.end(), want,
                               [&](int32_t id, std::string_view w) { return std::string_view(bytes_[id]) < w; });
    if (it != order_.end() && bytes_[*it] == want) return k;
  }
  return rest.empty() ? 0 : 1;
}

// ---- CompiledGrammar: flattening ----

std::shared_ptr<const CompiledGrammar> CompiledGrammar::make(Grammar grammar, std::shared_ptr<const TokenVocab> vocab) {
  return std::shared_ptr<const CompiledGrammar>(new CompiledGrammar(std::move(grammar), std::move(vocab)));
}

CompiledGrammar::~CompiledGrammar() = default;

CompiledGrammar::CompiledGrammar(Grammar grammar, std::shared_ptr<const TokenVocab> vocab)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)) {
  alt_starts_.resize(grammar_.rules.size());
  for (size_t r = 0; r < grammar_.rules.size(); ++r)
    for (const Sequence& s : grammar_.rules[r].alts) {
      alt_starts_[r].push_back(static_cast<int32_t>(ops_.size()));
      for (const Element& e : s) ops_.push_back(e.kind == Element::Kind::kBytes ? e.arg : -2 - e.arg);
      ops_.push_back(kEnd);
    }
  compute_costs();
  nodes_.push_back({kEnd, -1});  // node 0: the bottom
  node_min_.push_back(0);
  state_leaves_.push_back({});   // state 0: dead
  state_complete_.push_back(0);
  state_min_.push_back(kNever);
  state_ids_.emplace(std::string(), kDead);
  trans_.assign(256, kDead);
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int32_t> leaves;
  bool complete = false;
  for (int32_t a : alt_starts_[grammar_.root]) expand(node(a, 0), &leaves, &complete);
  initial_ = intern_state(std::move(leaves), complete);
}

// How many tokens surely complete the output from each grammar position (see matcher.h):
// a literal run (single-byte sets, skipping calls of rules that may match nothing) costs
// the tokens of its greedy longest-match tokenization, any other byte set one token (a
// single-byte token), a call the least over the rule's alternatives (a fixpoint).
void CompiledGrammar::compute_costs() {
  const size_t n_rules = grammar_.rules.size();
  // Which rules may match nothing (the fewest bytes each derives, a fixpoint).
  std::vector<int64_t> min_bytes(n_rules, kNever);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < n_rules; ++r)
      for (int32_t a : alt_starts_[r]) {
        int64_t n = 0;
        for (int32_t i = a; ops_[i] != kEnd; ++i) n = add_sat(n, ops_[i] >= 0 ? 1 : min_bytes[-2 - ops_[i]]);
        if (n < min_bytes[r]) min_bytes[r] = n, changed = true;
      }
  }
  auto singleton = [&](int32_t op, uint8_t* byte) {
    if (op < 0 || grammar_.sets[op].count() != 1) return false;
    for (int b = 0; b < 256; ++b)
      if (grammar_.sets[op][b]) *byte = static_cast<uint8_t>(b);
    return true;
  };
  // Each position's literal run: its greedy token count and where it stops.
  const size_t n_ops = ops_.size();
  std::vector<int64_t> run_tokens(n_ops, 0);
  std::vector<int32_t> run_stop(n_ops, 0);
  std::string lit;
  for (size_t i = 0; i < n_ops; ++i) {
    lit.clear();
    size_t j = i;
    for (uint8_t b = 0;; ++j) {
      const int32_t op = ops_[j];
      if (op == kEnd) break;
      if (op >= 0) {
        if (!singleton(op, &b)) break;
        lit.push_back(static_cast<char>(b));
      } else if (min_bytes[-2 - op] != 0) {
        break;
      }
    }
    run_stop[i] = static_cast<int32_t>(j);
    for (size_t at = 0; at < lit.size(); ++run_tokens[i]) at += vocab_->longest_token_at(lit, at);
  }
  // The fixpoint over the rules' costs.
  std::vector<int64_t> rule_cost(n_rules, kNever);
  min_rest_.assign(n_ops + 1, 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = n_ops; i-- > 0;) {
      const int32_t op = ops_[i];
      if (op == kEnd) {
        min_rest_[i] = 0;
        continue;
      }
      const int32_t e = run_stop[i];
      int64_t tail;  // from the run's stop on
      if (static_cast<size_t>(e) == i) {  // not a literal: one byte, or a call
        tail = add_sat(op >= 0 ? 1 : rule_cost[-2 - op], min_rest_[i + 1]);
      } else {
        tail = min_rest_[e];
      }
      min_rest_[i] = add_sat(run_tokens[i], tail);  // run_tokens[i] is 0 when e == i
    }
    for (size_t r = 0; r < n_rules; ++r)
      for (int32_t a : alt_starts_[r])
        if (min_rest_[a] < rule_cost[r]) rule_cost[r] = min_rest_[a], changed = true;
  }
}

size_t CompiledGrammar::cache_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mask_bytes_ + trans_.size() * 4 + nodes_.size() * 24;
}

// ---- the automaton ----

int32_t CompiledGrammar::node(int32_t pos, int32_t parent) const {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) | static_cast<uint32_t>(parent);
  auto [it, fresh] = node_ids_.emplace(key, static_cast<int32_t>(nodes_.size()));
  if (fresh) {
    nodes_.push_back({pos, parent});
    node_min_.push_back(add_sat(min_rest_[pos], node_min_[parent]));
  }
  return it->second;
}

// Follows calls, returns and tail calls from `start` until every path stops at a byte
// set (a leaf) or pops the last frame (complete).
void CompiledGrammar::expand(int32_t start, std::vector<int32_t>* leaves, bool* complete) const {
  if (++visit_epoch_ == 0) {
    std::fill(visit_mark_.begin(), visit_mark_.end(), 0);
    visit_epoch_ = 1;
  }
  std::vector<int32_t>& work = scratch_work_;
  work.clear();
  work.push_back(start);
  while (!work.empty()) {
    const int32_t n = work.back();
    work.pop_back();
    if (visit_mark_.size() < nodes_.size()) visit_mark_.resize(nodes_.size() * 2, 0);
    if (visit_mark_[n] == visit_epoch_) continue;
    visit_mark_[n] = visit_epoch_;
    if (n == 0) {
      *complete = true;
      continue;
    }
    const Node nd = nodes_[n];
    const int32_t op = ops_[nd.pos];
    if (op >= 0) {
      leaves->push_back(n);
    } else if (op == kEnd) {
      work.push_back(nd.parent);
    } else {
      const int32_t rule = -2 - op;
      // A call that ends its alternative returns straight to our caller: no frame.
      const int32_t base = ops_[nd.pos + 1] == kEnd ? nd.parent : node(nd.pos + 1, nd.parent);
      for (int32_t a : alt_starts_[rule]) work.push_back(node(a, base));
    }
  }
}

int32_t CompiledGrammar::intern_state(std::vector<int32_t> leaves, bool complete) const {
  std::sort(leaves.begin(), leaves.end());
  leaves.erase(std::unique(leaves.begin(), leaves.end()), leaves.end());
  std::string key(reinterpret_cast<const char*>(leaves.data()), leaves.size() * sizeof(int32_t));
  key.push_back(complete ? 'c' : 'o');
  if (leaves.empty() && !complete) return kDead;
  auto [it, fresh] = state_ids_.emplace(std::move(key), static_cast<int32_t>(state_leaves_.size()));
  if (fresh) {
    int64_t least = complete ? 0 : kNever;
    for (int32_t leaf : leaves) least = std::min(least, node_min_[leaf]);
    state_min_.push_back(least);
    state_leaves_.push_back(std::move(leaves));
    state_complete_.push_back(complete ? 1 : 0);
    trans_.resize(trans_.size() + 256, -1);
  }
  return it->second;
}

int32_t CompiledGrammar::step(int32_t state, uint8_t byte) const {
  const int32_t known = trans_[static_cast<size_t>(state) * 256 + byte];
  if (known >= 0) return known;
  std::vector<int32_t> leaves;
  bool complete = false;
  const std::vector<int32_t> from = state_leaves_[state];  // copy: expand may grow the tables
  for (int32_t leaf : from) {
    const Node nd = nodes_[leaf];
    if (!grammar_.sets[ops_[nd.pos]][byte]) continue;
    expand(node(nd.pos + 1, nd.parent), &leaves, &complete);
  }
  const int32_t next = intern_state(std::move(leaves), complete);
  trans_[static_cast<size_t>(state) * 256 + byte] = next;
  return next;
}

// The tokens accepted from `state`: a walk over the sorted vocabulary.
void CompiledGrammar::walk(int32_t state, std::vector<int32_t>* ids, int64_t base, Mask* m) const {
  const TokenVocab& v = *vocab_;
  std::vector<int32_t>& st = walk_states_;
  st.assign(v.max_len() + 1, kDead);
  st[0] = state;
  size_t valid = 0;  // st[0..valid] hold the states of the last walked prefix
  const size_t n = v.size();
  for (size_t i = 0; i < n;) {
    const std::string& t = v.bytes(v.id_at(i));
    size_t j = std::min<size_t>(v.lcp_at(i), valid);
    bool dead = false;
    for (; j < t.size(); ++j) {
      const int32_t s = step(st[j], static_cast<uint8_t>(t[j]));
      if (s == kDead) {
        dead = true;
        break;
      }
      st[j + 1] = s;
    }
    if (dead) {
      valid = j;
      // Every following token that shares the dead prefix t[0..j] is dead too.
      for (++i; i < n && v.lcp_at(i) > j; ++i) {
      }
      continue;
    }
    valid = t.size();
    const int32_t id = v.id_at(i);
    ids->push_back(id);
    if (m) {
      const int64_t after = state_min_[st[t.size()]];
      if (after > base) m->costly.emplace_back(id, after);
      if (after < base) m->progress.emplace_back(id, after);
      m->max_after = std::max(m->max_after, after);
    }
    ++i;
  }
  std::sort(ids->begin(), ids->end());
  if (m) {
    std::sort(m->costly.begin(), m->costly.end());
    std::sort(m->progress.begin(), m->progress.end());
  }
}

void CompiledGrammar::charge(size_t bytes) const {
  if (mask_bytes_ + bytes > kMaxCacheBytes) {  // full: start again
    masks_.clear();
    state_masks_.clear();
    mask_bytes_ = 0;
  }
  mask_bytes_ += bytes;
}

const CompiledGrammar::Mask& CompiledGrammar::leaf_mask(int32_t leaf) const {
  auto it = masks_.find(leaf);
  if (it != masks_.end()) return it->second;
  Mask m;
  m.max_after = node_min_[leaf];
  walk(intern_state({leaf}, false), &m.ids, node_min_[leaf], &m);
  const size_t words = static_cast<size_t>(vocab_->mask_words());
  if (m.ids.size() > words) {  // denser than a bitset: store the bitset
    m.words.assign(words, 0);
    for (int32_t id : m.ids) m.words[id >> 5] |= 1u << (id & 31);
    m.ids = std::vector<int32_t>();
  }
  charge(m.ids.size() * 4 + m.words.size() * 4 + (m.costly.size() + m.progress.size()) * 16);
  return masks_.emplace(leaf, std::move(m)).first->second;
}

const CompiledGrammar::StateMask& CompiledGrammar::state_mask(int32_t state) const {
  auto cached = state_masks_.find(state);
  if (cached != state_masks_.end()) return cached->second;
  StateMask sm;
  const size_t n_words = static_cast<size_t>(vocab_->mask_words());
  sm.words.assign(n_words, 0);
  const std::vector<int32_t> leaves = state_leaves_[state];  // copy: leaf_mask may grow the tables
  for (int32_t leaf : leaves) {
    const Mask& m = leaf_mask(leaf);
    if (!m.words.empty()) {
      for (size_t w = 0; w < n_words; ++w) sm.words[w] |= m.words[w];
    } else {
      for (int32_t id : m.ids) sm.words[id >> 5] |= 1u << (id & 31);
    }
    sm.max_after = std::max(sm.max_after, m.max_after);
  }
  charge(n_words * 4);
  return state_masks_.emplace(state, std::move(sm)).first->second;
}

// The tokens of `state` after which at most `limit` tokens complete the output: the
// OR over its stacks of what each allows within the limit (a token may pass through one
// stack and not another). A stack whose own count is within the limit gives its mask less
// its costly tokens over the limit; one whose count is over it, only its progress tokens
// within the limit. No walk: the lists were made with the stack's mask.
bool CompiledGrammar::budget_mask(int32_t state, int64_t limit, uint32_t* words) const {
  const size_t n_words = static_cast<size_t>(vocab_->mask_words());
  std::memset(words, 0, n_words * 4);
  const std::vector<int32_t> leaves = state_leaves_[state];  // copy: leaf_mask may grow the tables
  std::vector<uint32_t>& part = scratch_mask_;
  bool any = false;
  for (int32_t leaf : leaves) {
    const Mask& m = leaf_mask(leaf);
    if (node_min_[leaf] > limit) {
      for (const auto& [id, after] : m.progress)
        if (after <= limit) words[id >> 5] |= 1u << (id & 31), any = true;
      continue;
    }
    part.assign(n_words, 0);
    if (!m.words.empty()) {
      std::memcpy(part.data(), m.words.data(), n_words * 4);
    } else {
      for (int32_t id : m.ids) part[id >> 5] |= 1u << (id & 31);
    }
    for (const auto& [id, after] : m.costly)
      if (after > limit) part[id >> 5] &= ~(1u << (id & 31));
    for (size_t w = 0; w < n_words; ++w) {
      words[w] |= part[w];
      any |= part[w] != 0;
    }
  }
  return any;
}

// ---- Matcher ----

Matcher::Matcher(std::shared_ptr<const CompiledGrammar> grammar) : grammar_(std::move(grammar)) {
  state_ = grammar_->initial_;
}

bool Matcher::accept_bytes(std::string_view bytes) {
  std::lock_guard<std::mutex> lock(grammar_->mu_);
  int32_t s = state_;
  for (char c : bytes) {
    s = grammar_->step(s, static_cast<uint8_t>(c));
    if (s == kDead) return false;
  }
  state_ = s;
  return true;
}

bool Matcher::accept_token(int32_t id) {
  if (!grammar_->vocab().allowed(id)) return false;
  return accept_bytes(grammar_->vocab().bytes(id));
}

bool Matcher::is_complete() const {
  std::lock_guard<std::mutex> lock(grammar_->mu_);
  return grammar_->state_complete(state_);
}

bool Matcher::must_end() const {
  std::lock_guard<std::mutex> lock(grammar_->mu_);
  return grammar_->state_complete(state_) && grammar_->state_leaves_[state_].empty();
}

int64_t Matcher::fill_mask(uint32_t* words, bool allow_eos, int64_t budget) {
  const CompiledGrammar& g = *grammar_;
  const size_t n_words = static_cast<size_t>(g.vocab().mask_words());
  std::lock_guard<std::mutex> lock(g.mu_);
  const CompiledGrammar::StateMask& sm = g.state_mask(state_);
  const int64_t limit = budget == kNoBudget ? kNoBudget : budget - 1;
  // Within the budget: the cached mask, or (near the end) the tokens that still fit;
  // when none does, EOS alone if the output may end here, else the unbounded mask.
  bool bounded = false;
  if (sm.max_after > limit)
    bounded = g.budget_mask(state_, limit, words) || (allow_eos && g.state_complete(state_) && !g.vocab().eos_ids().empty());
  if (!bounded) std::memcpy(words, g.state_mask(state_).words.data(), n_words * 4);  // sm may be gone: budget_mask can clear
  if (allow_eos && g.state_complete(state_))
    for (int32_t e : g.vocab().eos_ids()) words[e >> 5] |= 1u << (e & 31);
  int64_t count = 0;
  for (size_t w = 0; w < n_words; ++w) count += __builtin_popcount(words[w]);
  return count;
}

int64_t Matcher::tokens_to_complete() const {
  std::lock_guard<std::mutex> lock(grammar_->mu_);
  return grammar_->state_min_[state_];
}

}  // namespace ream::grammar
