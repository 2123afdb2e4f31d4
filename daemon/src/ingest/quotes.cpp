// Quote lookup over exact, normalised and space-free forms of the text.
#include "ingest/quotes.h"

#include <utf8proc.h>

#include <algorithm>
#include <cctype>
#include <functional>

#include "ingest/utf8.h"

namespace ream::ingest {
namespace {

bool is_space_cp(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000 || c == 0x85;
}

bool is_invisible(char32_t c) {
  return c == 0xAD || (c >= 0x200B && c <= 0x200F) || c == 0x2060 || c == 0xFEFF;
}

class Normalizer {
 public:
  Normalizer(std::string& out, std::vector<uint32_t>* origin) : out_(out), origin_(origin) {}

  void add(char32_t c, uint32_t from) {
    if (is_space_cp(c)) {
      if (!out_.empty() && out_.back() != ' ') push(" ", from);
      return;
    }
    if (is_invisible(c)) return;
    switch (c) {
      case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032: case 0x2035: case 0xB4: case 0x60:
        return push("'", from);
      case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033: case 0x2036: case 0xAB: case 0xBB:
        return push("\"", from);
      case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015: case 0x2212:
      case 0xFE58: case 0xFE63: case 0xFF0D:
        return push("-", from);
      case 0x2026:
        return push("...", from);
      default: break;
    }
    if (c < 0x80) {
      const char ch = static_cast<char>(std::tolower(static_cast<int>(c)));
      return push(std::string_view(&ch, 1), from);
    }
    utf8proc_int32_t buf[16];
    int boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(
        static_cast<utf8proc_int32_t>(c), buf, 16,
        static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD), &boundclass);
    if (n <= 0 || n > 16) {
      std::string s;
      utf8::append(s, c);
      return push(s, from);
    }
    for (utf8proc_ssize_t k = 0; k < n; ++k) {
      const auto d = static_cast<char32_t>(buf[k]);
      if (d == c) {
        std::string s;
        utf8::append(s, d);
        push(s, from);
      } else {
        add(d, from);  // compatibility forms may decompose to spaces, quotes, dashes
      }
    }
  }

  void finish() {
    if (!out_.empty() && out_.back() == ' ') {
      out_.pop_back();
      if (origin_) origin_->pop_back();
    }
  }

 private:
  void push(std::string_view s, uint32_t from) {
    out_.append(s);
    if (origin_) origin_->insert(origin_->end(), s.size(), from);
  }
  std::string& out_;
  std::vector<uint32_t>* origin_;
};

// Offsets of `needle` in `hay`: the first, or the one nearest `near`.
size_t search(std::string_view hay, std::string_view needle, int64_t near,
              const std::vector<uint32_t>* origin) {
  if (needle.empty() || needle.size() > hay.size()) return std::string_view::npos;
  const std::boyer_moore_horspool_searcher searcher(needle.begin(), needle.end());
  auto it = std::search(hay.begin(), hay.end(), searcher);
  if (it == hay.end()) return std::string_view::npos;
  size_t best = static_cast<size_t>(it - hay.begin());
  if (near < 0) return best;
  auto distance = [&](size_t pos) {
    const int64_t at = origin ? static_cast<int64_t>((*origin)[pos]) : static_cast<int64_t>(pos);
    return at > near ? at - near : near - at;
  };
  for (int guard = 0; guard < 10000; ++guard) {
    it = std::search(it + 1, hay.end(), searcher);
    if (it == hay.end()) break;
    const auto pos = static_cast<size_t>(it - hay.begin());
    if (distance(pos) < distance(best)) best = pos;
  }
  return best;
}

int64_t char_end(std::string_view text, int64_t at) {
  const size_t n = utf8::sequence_length(text, static_cast<size_t>(at));
  return at + (n == 0 ? 1 : static_cast<int64_t>(n));
}

}  // namespace

const char* quote_match_kind_name(QuoteMatchKind kind) {
  switch (kind) {
    case QuoteMatchKind::kExact: return "exact";
    case QuoteMatchKind::kNormalized: return "normalized";
    case QuoteMatchKind::kIgnoringSpace: return "ignoring_space";
    default: return "not_found";
  }
}

std::string normalize_for_match(std::string_view s, std::vector<uint32_t>* origin) {
  std::string out;
  out.reserve(s.size());
  if (origin) origin->reserve(s.size());
  Normalizer norm(out, origin);
  for (size_t i = 0; i < s.size();) {
    int len = 1;
    const char32_t c = static_cast<unsigned char>(s[i]) < 0x80 ? static_cast<unsigned char>(s[i])
                                                                 : utf8::decode(s, i, &len);
    norm.add(c, static_cast<uint32_t>(i));
    i += static_cast<size_t>(len);
  }
  norm.finish();
  return out;
}

QuoteIndex::QuoteIndex(const Document& doc) : doc_(doc) {
  norm_ = normalize_for_match(doc.text, &norm_origin_);
  dense_.reserve(norm_.size());
  dense_origin_.reserve(norm_.size());
  for (size_t i = 0; i < norm_.size(); ++i) {
    if (norm_[i] == ' ') continue;
    dense_ += norm_[i];
    dense_origin_.push_back(norm_origin_[i]);
  }
}

QuoteMatch QuoteIndex::make(QuoteMatchKind kind, int64_t begin, int64_t end) const {
  QuoteMatch m;
  m.kind = kind;
  m.text_begin = begin;
  m.text_end = end;
  m.location = doc_.locate(static_cast<size_t>(begin));
  m.end_location = doc_.locate(static_cast<size_t>(std::max(begin, end - 1)));
  return m;
}

QuoteMatch QuoteIndex::find(std::string_view quote, int64_t near) const {
  const std::string q = normalize_for_match(quote);
  if (q.empty()) return {};
  if (const size_t pos = search(doc_.text, quote, near, nullptr); pos != std::string_view::npos)
    return make(QuoteMatchKind::kExact, static_cast<int64_t>(pos), static_cast<int64_t>(pos + quote.size()));
  if (const size_t pos = search(norm_, q, near, &norm_origin_); pos != std::string_view::npos)
    return make(QuoteMatchKind::kNormalized, norm_origin_[pos],
                char_end(doc_.text, norm_origin_[pos + q.size() - 1]));
  std::string dq;
  for (char c : q)
    if (c != ' ') dq += c;
  if (dq.size() < 12) return {};
  if (const size_t pos = search(dense_, dq, near, &dense_origin_); pos != std::string_view::npos)
    return make(QuoteMatchKind::kIgnoringSpace, dense_origin_[pos],
                char_end(doc_.text, dense_origin_[pos + dq.size() - 1]));
  return {};
}

QuoteMatch locate_quote(const Document& doc, std::string_view quote, int64_t near) {
  if (quote.find_first_not_of(" \t\r\n") == std::string_view::npos) return {};
  if (near < 0) {
    const size_t pos = doc.text.find(quote);
    if (pos != std::string::npos) {
      QuoteMatch m;
      m.kind = QuoteMatchKind::kExact;
      m.text_begin = static_cast<int64_t>(pos);
      m.text_end = static_cast<int64_t>(pos + quote.size());
      m.location = doc.locate(pos);
      m.end_location = doc.locate(pos + quote.size() - 1);
      return m;
    }
  }
  return QuoteIndex(doc).find(quote, near);
}

}  // namespace ream::ingest
