// Byte-level BPE: building the merge table and merging one word. See bpe.h.
#include "tokenizer/bpe.h"

#include <mutex>
#include <queue>

#include "ream/common/utf8.h"
#include "tokenizer/unicode.h"

namespace ream::tok {

Result<std::unique_ptr<BpeModel>> BpeModel::build(
    std::unordered_map<std::string, TokenId> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges) {
  std::unique_ptr<BpeModel> m(new BpeModel());
  TokenId max_id = -1;
  for (const auto& [token, id] : vocab) {
    if (id < 0) return invalid_argument("model.vocab: negative id for token '" + token + "'");
    max_id = std::max(max_id, id);
  }
  m->id_to_token_.resize(static_cast<size_t>(max_id + 1));
  m->id_to_bytes_.resize(static_cast<size_t>(max_id + 1));
  m->has_id_.assign(static_cast<size_t>(max_id + 1), false);
  for (const auto& [token, id] : vocab) {
    m->id_to_token_[id] = token;
    m->id_to_bytes_[id] = byte_level_to_bytes(token);
    m->has_id_[id] = true;
  }
  const ByteLevelMap& map = byte_level_map();
  for (int b = 0; b < 256; ++b) {
    std::string s;
    utf8::append(s, map.byte_to_cp[b]);
    auto it = vocab.find(s);
    m->byte_ids_[b] = it == vocab.end() ? -1 : it->second;
  }
  m->merges_.reserve(merges.size() * 2);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto ia = vocab.find(a);
    auto ib = vocab.find(b);
    auto iab = vocab.find(a + b);
    if (ia == vocab.end() || ib == vocab.end() || iab == vocab.end()) {
      return invalid_argument("model.merges[" + std::to_string(rank) + "]: '" + a + " " + b +
                              "' uses a token missing from model.vocab");
    }
    // A later duplicate overrides an earlier one, as in HF's HashMap build.
    m->merges_[pair_key(ia->second, ib->second)] = {static_cast<int32_t>(rank), iab->second};
  }
  m->vocab_ = std::move(vocab);
  return m;
}

void BpeModel::encode_word(std::string_view bytes, std::vector<TokenId>& out) const {
  bool cacheable = bytes.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(std::string(bytes));
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t start = out.size();
  merge_word(bytes, out);
  if (cacheable) {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) {
      cache_.emplace(std::string(bytes), std::vector<TokenId>(out.begin() + start, out.end()));
    }
  }
}

void BpeModel::merge_word(std::string_view bytes, std::vector<TokenId>& out) const {
  struct Symbol {
    TokenId id;
    int32_t prev;
    int32_t next;
    bool live;
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;
    TokenId new_id;
    // Lowest rank first, then leftmost position (HF's Merge ordering).
    bool operator<(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::vector<Symbol> sym;
  sym.reserve(bytes.size());
  for (char c : bytes) {
    TokenId id = byte_ids_[static_cast<unsigned char>(c)];
    if (id < 0) continue;  // no unk token: HF drops the character
    int32_t idx = static_cast<int32_t>(sym.size());
    sym.push_back({id, idx - 1, idx + 1, true});
  }
  if (sym.empty()) return;
  sym.back().next = -1;
  if (sym.size() == 1) {
    out.push_back(sym[0].id);
    return;
  }
  std::priority_queue<Candidate> heap;
  auto push_pair = [&](int32_t pos) {
    int32_t nx = sym[pos].next;
    if (nx < 0) return;
    auto it = merges_.find(pair_key(sym[pos].id, sym[nx].id));
    if (it != merges_.end()) heap.push({it->second.rank, pos, it->second.id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) push_pair(i);
  while (!heap.empty()) {
    Candidate top = heap.top();
    heap.pop();
    Symbol& cur = sym[top.pos];
    if (!cur.live || cur.next < 0) continue;
    Symbol& right = sym[cur.next];
    auto it = merges_.find(pair_key(cur.id, right.id));
    if (it == merges_.end() || it->second.id != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    right.live = false;
    cur.next = right.next;
    if (cur.next >= 0) sym[cur.next].prev = top.pos;
    if (cur.prev >= 0) push_pair(cur.prev);
    push_pair(top.pos);
  }
  for (const Symbol& s : sym) {
    if (s.live) out.push_back(s.id);
  }
}

const std::string* BpeModel::token_string(TokenId id) const {
  if (id < 0 || id >= id_limit() || !has_id_[id]) return nullptr;
  return &id_to_token_[id];
}

const std::string* BpeModel::token_raw_bytes(TokenId id) const {
  if (id < 0 || id >= id_limit() || !has_id_[id]) return nullptr;
  return &id_to_bytes_[id];
}

TokenId BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  return it == vocab_.end() ? -1 : it->second;
}

}  // namespace ream::tok
