// The real documents of REAM_TEST_DOCUMENTS_DIR (tests/data/documents: four CUAD
// contracts and Apple's 10-K; or a larger corpus of the same layout): ingestion, offsets that map back to the source bytes,
// chunk plans and quote verification. Token counts use bytes/4 (see
// ingest_test_util.h); the engine's tokenizer is the real counter at run time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <regex>

#include "ingest/chunking.h"
#include "ingest/ingest.h"
#include "ingest/quotes.h"
#include "ingest_test_util.h"
#include "ream/common/sha256.h"

namespace ream::ingest {
namespace {

namespace fs = std::filesystem;
using testing::Rng;

struct Loaded {
  std::string path;
  std::string source;  // the file's bytes
  Document doc;
  bool html = false;
};

std::vector<Loaded>& corpus() {
  static std::vector<Loaded> docs = [] {
    std::vector<std::string> paths;
    for (const auto& e : fs::directory_iterator(REAM_TEST_DOCUMENTS_DIR "/cuad/contracts")) paths.push_back(e.path());
    for (const auto& e : fs::directory_iterator(REAM_TEST_DOCUMENTS_DIR "/edgar"))
      if (e.path().extension().string().rfind(".htm", 0) == 0) paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    IngestOptions opt;
    opt.count_tokens = testing::bytes_over_4;
    auto results = ingest_paths(paths, opt);
    std::vector<Loaded> out;
    for (size_t i = 0; i < paths.size(); ++i) {
      EXPECT_TRUE(results[i].ok()) << results[i].status().message();
      if (!results[i].ok()) continue;
      out.push_back(Loaded{paths[i], testing::read_file(paths[i]), std::move(results[i]).value(),
                           paths[i].find("/edgar/") != std::string::npos});
    }
    return out;
  }();
  return docs;
}

// Alphanumeric runs of `s`.
std::vector<std::string> words_of(std::string_view s) {
  std::vector<std::string> w;
  for (size_t i = 0; i < s.size();) {
    if (!testing::is_word_byte(s[i])) { ++i; continue; }
    size_t j = i;
    while (j < s.size() && testing::is_word_byte(s[j])) ++j;
    w.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return w;
}

// The alphanumeric bytes of `s`, everything else dropped; for HTML source, tags
// and character references are dropped first.
std::string alnum_of(std::string_view s, bool html) {
  static const std::regex markup("<[^>]*>|&[#a-zA-Z0-9]+;");
  const std::string plain = html ? std::regex_replace(std::string(s), markup, " ") : std::string(s);
  std::string out;
  for (char c : plain)
    if (testing::is_word_byte(c)) out += c;
  return out;
}

// A random span of `doc.text` that starts and ends at word boundaries.
std::pair<size_t, size_t> random_span(Rng& rng, const std::string& text, size_t min_len, size_t max_len) {
  for (;;) {
    size_t b = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(text.size() - max_len - 2)));
    while (b < text.size() && !(testing::is_word_byte(text[b]) && (b == 0 || text[b - 1] == ' ' || text[b - 1] == '\n'))) ++b;
    size_t e = b + static_cast<size_t>(rng.uniform(static_cast<int64_t>(min_len), static_cast<int64_t>(max_len)));
    while (e < text.size() && testing::is_word_byte(text[e - 1]) && testing::is_word_byte(text[e])) ++e;
    while (e > b && (static_cast<unsigned char>(text[e - 1]) >= 0x80 || text[e - 1] == ' ' || text[e - 1] == '\n')) --e;
    if (e < text.size() && e > b + min_len / 2) return {b, e};
  }
}

TEST(RealDocuments, AllIngestWithText) {
  const auto& docs = corpus();
  int contracts = 0, filings = 0;
  for (const Loaded& l : docs) {
    SCOPED_TRACE(l.path);
    EXPECT_GT(l.doc.text.size(), 1000u);
    EXPECT_EQ(l.doc.id, sha256_hex(l.source));
    EXPECT_EQ(l.doc.tokens, testing::bytes_over_4(l.doc.text));
    EXPECT_EQ(l.doc.source, l.path);
    (l.html ? filings : contracts)++;
  }
  // At least what tests/data/documents holds (a larger corpus may be configured).
  EXPECT_GE(contracts, 4);
  EXPECT_GE(filings, 1);
}

TEST(RealDocuments, TenKTextIsCleanAndReadable) {
  for (const Loaded& l : corpus()) {
    if (!l.html) continue;
    SCOPED_TRACE(l.path);
    const std::string& t = l.doc.text;
    EXPECT_EQ(l.doc.media_type, "text/html");
    for (std::string_view bad : {"<div", "<span", "<td", "</", "<ix:", "ix:nonFraction", "xbrli:", "dei:",
                                 "display:none", "&nbsp;", "&#", "&amp;", "font-family"})
      EXPECT_EQ(t.find(bad), std::string::npos) << bad << " at " << t.find(bad);
    std::string lower = t;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (std::string_view good : {"item 1a", "risk factors", "item 7", "discussion and analysis"})
      EXPECT_NE(lower.find(good), std::string::npos) << good;
    // Financial tables come out as rows: "Total net sales | $391,035 | ...".
    static const std::regex row(R"((^|\n)[A-Za-z][^\n|]* \| \$\(?[0-9][0-9,.]*\)? \| )");
    EXPECT_TRUE(std::regex_search(t, row));
    EXPECT_GT(l.doc.tokens, 40000);
    EXPECT_LT(l.doc.tokens, 300000);
  }
  const auto apple = std::find_if(corpus().begin(), corpus().end(),
                                  [](const Loaded& l) { return l.path.find("aapl") != std::string::npos; });
  ASSERT_NE(apple, corpus().end());
  EXPECT_NE(apple->doc.text.find("Apple Inc."), std::string::npos);
  EXPECT_EQ(apple->doc.text.find("0000320193"), std::string::npos);  // the hidden XBRL CIK
}

TEST(RealDocuments, OffsetsMapBackToSourceBytes) {
  Rng rng;
  for (const Loaded& l : corpus()) {
    SCOPED_TRACE(l.path + " seed " + std::to_string(rng.seed));
    const std::string& t = l.doc.text;
    // Every sampled word byte is the very byte found at its mapped offset.
    for (int k = 0; k < 300; ++k) {
      const auto p = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(t.size()) - 1));
      if (!testing::is_word_byte(t[p])) continue;
      const Location loc = l.doc.locate(p);
      ASSERT_GE(loc.byte_offset, 0);
      ASSERT_LT(loc.byte_offset, static_cast<int64_t>(l.source.size()));
      ASSERT_EQ(l.source[static_cast<size_t>(loc.byte_offset)], t[p]) << "text offset " << p;
      // Line and column agree with the source.
      const size_t src = static_cast<size_t>(loc.byte_offset);
      const auto line = 1 + std::count(l.source.begin(), l.source.begin() + static_cast<std::ptrdiff_t>(src), '\n');
      const size_t line_start = l.source.rfind('\n', src == 0 ? 0 : src - 1);
      EXPECT_EQ(loc.line, line);
      EXPECT_EQ(loc.column, static_cast<int64_t>(src - (line_start == std::string::npos ? 0 : line_start + 1)) + 1);
      EXPECT_EQ(loc.source, l.path);
    }
    // Spans of words: the source between the mapped ends holds the same words.
    for (int k = 0; k < 40; ++k) {
      const auto [b, e] = random_span(rng, t, 40, 400);
      const std::vector<std::string> tw = words_of(t.substr(b, e - b));
      if (tw.size() < 3) continue;
      const size_t first = b + t.substr(b, e - b).find(tw.front());
      const size_t last = t.rfind(tw.back(), e - 1);
      const auto sb = static_cast<size_t>(l.doc.map.source_offset(first));
      // The last word's last byte (a word may span inline tags: "1<span>B</span>").
      const auto se = static_cast<size_t>(l.doc.map.source_offset(last + tw.back().size() - 1)) + 1;
      ASSERT_LT(sb, se);
      const std::string_view slice = std::string_view(l.source).substr(sb, se - sb);
      EXPECT_EQ(alnum_of(slice, l.html), alnum_of(t.substr(first, last + tw.back().size() - first), false))
          << "text [" << b << ", " << e << ")";
    }
  }
}

TEST(RealDocuments, ChunkPlansWithinBudgetWithOverlap) {
  for (const Loaded& l : corpus()) {
    SCOPED_TRACE(l.path);
    int64_t counted = 0;
    const TokenCounter counter = [&](std::string_view s) {
      counted += static_cast<int64_t>(s.size());
      return testing::bytes_over_4(s);
    };
    const int64_t budget = l.html ? 16384 : 2048, overlap = budget / 16;
    auto plan = plan_chunks(l.doc, budget, overlap, counter);
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    const auto& ch = plan->chunks;
    const auto n = static_cast<int64_t>(l.doc.text.size());
    EXPECT_EQ(plan->total_tokens, l.doc.tokens);
    EXPECT_EQ(plan->fits, l.doc.tokens <= budget);
    ASSERT_FALSE(ch.empty());
    EXPECT_EQ(ch.front().text_begin, 0);
    EXPECT_EQ(ch.back().text_end, n);
    for (size_t i = 0; i < ch.size(); ++i) {
      EXPECT_LE(ch[i].tokens, budget);
      EXPECT_EQ(ch[i].tokens, testing::bytes_over_4(std::string_view(l.doc.text).substr(
                                  static_cast<size_t>(ch[i].text_begin), static_cast<size_t>(ch[i].text_end - ch[i].text_begin))));
      if (i + 1 < ch.size()) EXPECT_GT(ch[i].tokens, budget / 3) << "chunk " << i << " is needlessly small";
      if (i == 0) continue;
      EXPECT_GT(ch[i].text_begin, ch[i - 1].text_begin);
      EXPECT_LT(ch[i].text_begin, ch[i - 1].text_end) << "no overlap before chunk " << i;
      EXPECT_GE(testing::bytes_over_4(std::string_view(l.doc.text).substr(
                    static_cast<size_t>(ch[i].text_begin), static_cast<size_t>(ch[i - 1].text_end - ch[i].text_begin))),
                overlap / 2);
    }
    if (ch.size() > 1) EXPECT_LE(ch.back().tokens, budget);
    // Counting work stays linear in the text size.
    EXPECT_LE(counted, 4 * n + 4096) << ch.size() << " chunks";
    // Generous budget: one chunk.
    auto whole = plan_chunks(l.doc, l.doc.tokens, 0, testing::bytes_over_4);
    ASSERT_TRUE(whole.ok());
    ASSERT_EQ(whole->chunks.size(), 1u);
    EXPECT_TRUE(whole->fits);
  }
}

// Replaces spaces by other white space, straight quotes and hyphens by
// typographic ones, and changes case.
std::string mangle(Rng& rng, std::string_view q) {
  std::string out;
  for (char c : q) {
    if (c == ' ') out += std::vector<std::string>{" ", "  ", "\n", " \t", "\n\n  "}[rng.uniform(0, 4)];
    else if (c == '"') out += rng.uniform(0, 1) ? "\xE2\x80\x9C" : "\xE2\x80\x9D";
    else if (c == '\'') out += "\xE2\x80\x99";
    else if (c == '-') out += "\xE2\x80\x93";
    else if (c >= 'a' && c <= 'z' && rng.uniform(0, 9) == 0) out += static_cast<char>(c - 'a' + 'A');
    else out += c;
  }
  return out;
}

TEST(RealDocuments, QuotesFoundMangledFoundMadeUpNot) {
  Rng rng;
  for (const Loaded& l : corpus()) {
    SCOPED_TRACE(l.path + " seed " + std::to_string(rng.seed));
    const std::string& t = l.doc.text;
    const QuoteIndex index(l.doc);
    for (int k = 0; k < 12; ++k) {
      const auto [b, e] = random_span(rng, t, 60, 300);
      const std::string quote = t.substr(b, e - b);
      const QuoteMatch m = locate_quote(l.doc, quote);
      ASSERT_EQ(m.kind, QuoteMatchKind::kExact) << quote;
      EXPECT_EQ(t.substr(static_cast<size_t>(m.text_begin), static_cast<size_t>(m.text_end - m.text_begin)), quote);
      // The location points at the quote's first word in the source file; in HTML a tag
      // may split that word ("Altho</span><span>ugh"), so a match may stop at a '<'.
      const std::string first = words_of(quote).front();
      if (quote.rfind(first, 0) == 0) {
        const size_t off = static_cast<size_t>(m.location.byte_offset);
        size_t n = 0;
        while (n < first.size() && off + n < l.source.size() && l.source[off + n] == first[n]) ++n;
        EXPECT_TRUE(n == first.size() || (n > 0 && l.source[off + n] == '<'))
            << "quote: " << quote.substr(0, 60) << "\nsource there: " << l.source.substr(off, 60);
      }
      const std::string mangled = mangle(rng, quote);
      const QuoteMatch mm = index.find(mangled, static_cast<int64_t>(b));
      ASSERT_TRUE(mm.found()) << mangled;
      EXPECT_EQ(normalize_for_match(std::string_view(t).substr(static_cast<size_t>(mm.text_begin),
                                                               static_cast<size_t>(mm.text_end - mm.text_begin))),
                normalize_for_match(mangled));
      EXPECT_EQ(mm.text_begin, static_cast<int64_t>(b)) << "nearest occurrence to the hint";
    }
    // Made-up quotes: random words of the document, and an invented clause.
    const std::vector<std::string> vocab = words_of(t);
    for (int k = 0; k < 12; ++k) {
      std::string fake;
      for (int w = 0; w < 9; ++w) fake += (w ? " " : "") + vocab[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(vocab.size()) - 1))];
      EXPECT_FALSE(index.find(fake).found()) << fake;
    }
    EXPECT_FALSE(locate_quote(l.doc, "The Licensee shall pay the Licensor one billion dollars at each full moon.").found());
  }
}

// Correctness on the largest documents; the time is printed, not asserted (bench/ is
// where speed is judged).
TEST(RealDocuments, QuoteLookupOnTheLargestDocuments) {
  Rng rng;
  int large = 0;
  for (const Loaded& l : corpus()) {
    if (l.doc.text.size() < 300000) continue;
    SCOPED_TRACE(l.path);
    ++large;
    const auto start = std::chrono::steady_clock::now();
    const QuoteIndex index(l.doc);
    int found = 0;
    for (int k = 0; k < 100; ++k) {
      const auto [b, e] = random_span(rng, l.doc.text, 80, 250);
      found += index.find(mangle(rng, l.doc.text.substr(b, e - b))).found();
      found += !index.find("Nothing like this sentence appears in the filing at all, surely " + std::to_string(k)).found();
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(found, 200);
    std::printf("%s: %zu bytes, index + 200 lookups in %.3f s\n", fs::path(l.path).filename().c_str(),
                l.doc.text.size(), s);
  }
  EXPECT_GE(large, 1) << "no document of 300,000 text bytes or more in " REAM_TEST_DOCUMENTS_DIR;
}

}  // namespace
}  // namespace ream::ingest
