// Chunk planning and quote normalisation on texts made here, where the right
// answer is known exactly.
#include <gtest/gtest.h>

#include "ingest/chunking.h"
#include "ingest/ingest.h"
#include "ingest/quotes.h"
#include "ingest_test_util.h"

namespace ream::ingest {
namespace {

using testing::bytes_over_4;

// A contract of `articles` articles, each a heading and `paras` paragraphs of
// varied sentences drawn from `rng`.
std::string make_contract(testing::Rng& rng, int articles, int paras) {
  static const char* kWords[] = {"the", "Supplier", "shall", "deliver", "Products", "to", "Customer", "within",
                                 "thirty", "days", "of", "any", "Purchase", "Order", "and", "indemnify"};
  std::string s = "MASTER SUPPLY AGREEMENT\n\n";
  for (int a = 1; a <= articles; ++a) {
    s += "ARTICLE " + std::to_string(a) + "\n\n";
    for (int p = 1; p <= paras; ++p) {
      s += std::to_string(a) + "." + std::to_string(p) + " ";
      const int64_t words = rng.uniform(20, 60);
      for (int64_t w = 0; w < words; ++w) s += std::string(w ? " " : "") + kWords[rng.uniform(0, 15)];
      s += ".\n\n";
    }
  }
  return s;
}

TEST(Chunking, WholeTextFitsInOneChunk) {
  auto plan = plan_text_chunks("short text", 100, 10, bytes_over_4);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->chunks.size(), 1u);
  EXPECT_TRUE(plan->fits);
  EXPECT_EQ(plan->chunks[0].text_end, 10);
  EXPECT_FALSE(plan_text_chunks("x", 0, 0, bytes_over_4).ok());
  EXPECT_FALSE(plan_text_chunks("x", 10, 0, nullptr).ok());
}

TEST(Chunking, CutsAtArticlesWhenTheyFit) {
  testing::Rng rng;
  SCOPED_TRACE("seed " + std::to_string(rng.seed));
  const std::string text = make_contract(rng, 12, 6);
  // A budget a little over the largest article: every cut lands on "ARTICLE".
  int64_t largest = 0;
  for (size_t a = text.find("ARTICLE "); a != std::string::npos;) {
    const size_t next = text.find("ARTICLE ", a + 1);
    largest = std::max(largest, bytes_over_4(std::string_view(text).substr(a, (next == std::string::npos ? text.size() : next) - a)));
    a = next;
  }
  auto plan = plan_text_chunks(text, largest * 3 / 2 + 10, 0, bytes_over_4);
  ASSERT_TRUE(plan.ok());
  ASSERT_GT(plan->chunks.size(), 2u);
  for (size_t i = 1; i < plan->chunks.size(); ++i) {
    EXPECT_EQ(text.compare(static_cast<size_t>(plan->chunks[i].text_begin), 8, "ARTICLE "), 0)
        << text.substr(static_cast<size_t>(plan->chunks[i].text_begin), 40);
    EXPECT_EQ(plan->chunks[i].text_begin, plan->chunks[i - 1].text_end);  // no overlap asked
    EXPECT_EQ(plan->chunks[i].heading.rfind("ARTICLE ", 0), 0u);
  }
  // Smaller budget with overlap: cuts at clauses "3.2 ..." and overlapping.
  auto small = plan_text_chunks(text, largest / 2, largest / 10, bytes_over_4);
  ASSERT_TRUE(small.ok());
  for (size_t i = 1; i < small->chunks.size(); ++i) {
    const Chunk& c = small->chunks[i];
    EXPECT_LE(c.tokens, largest / 2);
    EXPECT_LT(c.text_begin, small->chunks[i - 1].text_end);
    EXPECT_TRUE(text[static_cast<size_t>(c.text_begin) - 1] == '\n') << "cut inside a line: chunk " << i << " of " << small->chunks.size() << " at " << c.text_begin << " prev end " << small->chunks[i - 1].text_end << " budget " << largest / 2 << ": " << text.substr(static_cast<size_t>(c.text_begin) - 20, 60);
  }
}

TEST(Chunking, LongLinesSplitAtSentencesAndCharacters) {
  // One 40 KB line of sentences with multi-byte characters, no line breaks at all.
  std::string text;
  testing::Rng rng;
  while (text.size() < 40000) text += "Le fournisseur livrera \xC3\xA0 l\xE2\x80\x99" "acheteur sous " +
                                      std::to_string(rng.uniform(1, 99)) + " jours. ";
  int64_t counted = 0;
  auto plan = plan_text_chunks(text, 500, 50, [&](std::string_view s) {
    counted += static_cast<int64_t>(s.size());
    return bytes_over_4(s);
  });
  ASSERT_TRUE(plan.ok());
  EXPECT_GT(plan->chunks.size(), 15u);
  for (const Chunk& c : plan->chunks) {
    EXPECT_LE(c.tokens, 500);
    const auto b = static_cast<unsigned char>(text[static_cast<size_t>(c.text_begin)]);
    EXPECT_NE(b & 0xC0, 0x80) << "chunk starts inside a UTF-8 character";
  }
  EXPECT_LE(counted, 6 * static_cast<int64_t>(text.size()));  // linear, not quadratic
}

TEST(Chunking, StrengthOfLines) {
  EXPECT_EQ(line_strength("==> src/a.cpp (C++) <==", false), 6);
  EXPECT_EQ(line_strength("ARTICLE IV", false), 5);
  EXPECT_EQ(line_strength("Item 1A. Risk Factors", true), 5);
  EXPECT_EQ(line_strength("## Usage", false), 5);
  EXPECT_EQ(line_strength("Section 2. Term", false), 4);
  EXPECT_EQ(line_strength("12. Indemnification. Each party", false), 4);
  EXPECT_EQ(line_strength("GOVERNING LAW", true), 4);
  EXPECT_EQ(line_strength("12.3 Indemnification. Each party", false), 3);
  EXPECT_EQ(line_strength("an ordinary paragraph", true), 2);
  EXPECT_EQ(line_strength("an ordinary line", false), 1);
  EXPECT_EQ(line_strength("2024 was a good year.", false), 1);
}

TEST(Quotes, NormalisedForms) {
  EXPECT_EQ(normalize_for_match("  The \xE2\x80\x9C" "Company\xE2\x80\x9D\xC2\xA0 shall\n\n not\xE2\x80\xA6 "),
            "the \"company\" shall not...");
  EXPECT_EQ(normalize_for_match("non\xE2\x80\x91" "compete \xE2\x80\x94 \xEF\xAC\x81nal"), "non-compete - final");
  EXPECT_EQ(normalize_for_match("STRASSE \xEF\xBC\xA1"), "strasse a");  // full-width A
  EXPECT_EQ(normalize_for_match("soft\xC2\xADhyphen"), "softhyphen");
}

TEST(Quotes, ExactNormalisedSpaceFreeAndMissing) {
  Document d;
  const std::string text = "Section 9. The \xE2\x80\x9CSupplier\xE2\x80\x9D shall not\nassign this Agreement.\n\n"
                           "Section 10. Governing law: the laws of the State of New York.";
  d.text = text;
  auto exact = locate_quote(d, "shall not\nassign");
  EXPECT_EQ(exact.kind, QuoteMatchKind::kExact);
  EXPECT_EQ(exact.text_begin, static_cast<int64_t>(text.find("shall")));
  auto norm = locate_quote(d, "the \"supplier\" SHALL   not assign");
  EXPECT_EQ(norm.kind, QuoteMatchKind::kNormalized);
  EXPECT_EQ(norm.text_begin, static_cast<int64_t>(text.find("The ")));
  EXPECT_EQ(norm.text_end, static_cast<int64_t>(text.find(" this")));
  auto dense = locate_quote(d, "the laws of theState of NewYork");
  EXPECT_EQ(dense.kind, QuoteMatchKind::kIgnoringSpace);
  EXPECT_EQ(text.substr(static_cast<size_t>(dense.text_begin), static_cast<size_t>(dense.text_end - dense.text_begin)),
            "the laws of the State of New York");
  EXPECT_FALSE(locate_quote(d, "the laws of the State of Delaware").found());
  EXPECT_FALSE(locate_quote(d, "   ").found());
  EXPECT_FALSE(locate_quote(d, "NewYork").found());  // too short to match without spaces
  EXPECT_STREQ(quote_match_kind_name(norm.kind), "normalized");
}

TEST(Quotes, NearestOccurrenceToHint) {
  Document d;
  d.text = "pay the fee. later: pay the fee. and again: pay the fee.";
  const auto last = static_cast<int64_t>(d.text.rfind("pay"));
  EXPECT_EQ(locate_quote(d, "pay the fee").text_begin, 0);
  EXPECT_EQ(locate_quote(d, "pay the fee", last - 2).text_begin, last);
  EXPECT_EQ(locate_quote(d, "PAY THE FEE", last).text_begin, last);
}

}  // namespace
}  // namespace ream::ingest
