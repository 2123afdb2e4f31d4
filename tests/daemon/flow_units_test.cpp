// Expressions, chunking, quote location and SHA-256: the flow library's pieces.
#include <gtest/gtest.h>

#include <random>

#include "flow/chunker.h"
#include "flow/expr.h"
#include "flow/quotes.h"
#include "flow/sha256.h"

namespace ream::flow {
namespace {

using nlohmann::json;

json eval(const std::string& text, const json& ctx) {
  auto t = Template::parse(text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status().message();
  return t.ok() ? t.value().eval(ctx) : json();
}

TEST(Expr, EvaluatesReferencesOperatorsAndFunctions) {
  json ctx = {{"inputs", {{"n", 3}, {"name", "it's"}, {"qs", {"a", "b"}}}},
              {"steps", {{"s", {{"outputs", {{"list", {1, 2, 3}}}}, {"status", "succeeded"}}}}},
              {"item", {{"q", "x"}}}};
  EXPECT_EQ(eval("${{ inputs.n }}", ctx), 3);  // a whole expression keeps its type
  EXPECT_EQ(eval("n=${{ inputs.n }}!", ctx), "n=3!");
  EXPECT_EQ(eval("${{ inputs.qs }}", ctx), json({"a", "b"}));
  EXPECT_EQ(eval("${{ inputs.n > 2 && inputs.name == 'it''s' }}", ctx), true);
  EXPECT_EQ(eval("${{ !(inputs.n >= 4) || false }}", ctx), true);
  EXPECT_EQ(eval("${{ inputs.missing || 'fallback' }}", ctx), "fallback");
  EXPECT_EQ(eval("${{ length(steps.s.outputs.list) }}", ctx), 3);
  EXPECT_EQ(eval("${{ steps.s.outputs.list[1] }}", ctx), 2);
  EXPECT_EQ(eval("${{ contains(inputs.qs, 'b') }}", ctx), true);
  EXPECT_EQ(eval("${{ join(inputs.qs, '+') }}", ctx), "a+b");
  EXPECT_EQ(eval("${{ toJSON(item) }}", ctx), "{\"q\":\"x\"}");
  EXPECT_EQ(eval("${{ inputs['name'] }}", ctx), "it's");
  EXPECT_EQ(eval("plain text", ctx), "plain text");
}

TEST(Expr, ListsItsReferencesForValidation) {
  auto e = Expr::parse("steps.a.outputs.x == inputs.y && length(item.z) > 0");
  ASSERT_TRUE(e.ok());
  auto refs = e->references();
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[0], (RefPath{"steps", "a", "outputs", "x"}));
  EXPECT_EQ(refs[1], (RefPath{"inputs", "y"}));
  EXPECT_EQ(refs[2], (RefPath{"item", "z"}));
}

TEST(Expr, SyntaxErrorsSayWhatAndWhere) {
  EXPECT_EQ(Expr::parse("inputs.").status().message(), "expected a name after '.' at column 8");
  EXPECT_EQ(Expr::parse("(1 == 2").status().message(), "expected ')' at column 8");
  EXPECT_EQ(Expr::parse("upper(x)").status().message(),
            "unknown function 'upper' (known: length, contains, join, toJSON) at column 7");
  EXPECT_EQ(Expr::parse("'open").status().message(), "unterminated string at column 6");
  EXPECT_EQ(Template::parse("${{ x").status().message(), "'${{' without a closing '}}'");
}

std::string random_text(std::mt19937& rng, size_t words) {
  static const char* kWords[] = {"the", "party", "shall", "indemnify", "agreement", "term", "notice", "läuft", "€uro"};
  std::string s;
  for (size_t i = 0; i < words; ++i) {
    s += kWords[rng() % 9];
    s += (rng() % 13 == 0) ? ".\n\n" : (rng() % 7 == 0 ? "\n" : " ");
  }
  return s;
}

TEST(Chunker, ChunksFitTheBudgetCoverTheTextAndOverlap) {
  std::mt19937 rng(std::random_device{}());
  std::string text = random_text(rng, 3000);
  auto count = [](std::string_view t) { return static_cast<int64_t>(t.size() / 4 + 1); };
  const int64_t budget = 300, overlap = 40;
  auto chunks = chunk_text(text, budget, overlap, count);
  ASSERT_GT(chunks.size(), 3u);
  EXPECT_EQ(chunks.front().start, 0);
  EXPECT_EQ(chunks.back().end, static_cast<int64_t>(text.size()));
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_LE(count(std::string_view(text).substr(chunks[i].start, chunks[i].end - chunks[i].start)), budget);
    // Never splits a UTF-8 character.
    if (chunks[i].start < static_cast<int64_t>(text.size())) {
      EXPECT_NE(static_cast<unsigned char>(text[chunks[i].start]) & 0xC0, 0x80);
    }
    if (i > 0) {
      EXPECT_LT(chunks[i].start, chunks[i - 1].end);  // overlaps the previous chunk
      EXPECT_GT(chunks[i].start, chunks[i - 1].start);
    }
  }
  auto whole = chunk_text("short text", budget, overlap, count);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].end, 10);
}

TEST(Quotes, ExactThenNormalisedMatchesWithCharacterOffsets) {
  std::string text = "Preamble.\nThe  Supplier shall\n deliver “Goods” on time. Über alles.";
  auto m = locate_quote(text, "Supplier shall");
  ASSERT_TRUE(m.found);
  EXPECT_EQ(text.substr(m.start, m.end - m.start), "Supplier shall");
  m = locate_quote(text, "the supplier shall deliver \"goods\" on time");
  ASSERT_TRUE(m.found);
  EXPECT_EQ(text.substr(m.start, m.end - m.start), "The  Supplier shall\n deliver “Goods” on time");
  EXPECT_FALSE(locate_quote(text, "the buyer shall pay").found);
  EXPECT_FALSE(locate_quote(text, "").found);
  size_t at = text.find("alles");
  EXPECT_EQ(char_offset(text, static_cast<int64_t>(at)), static_cast<int64_t>(at) - 4 - 1);  // “ ” (2 extra bytes each), Ü (1)
  auto hinted = locate_quote(text, "Preamble", 0, 8);
  EXPECT_TRUE(hinted.found);
  EXPECT_EQ(hinted.start, 0);
}

TEST(Sha256, MatchesFips180Vectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace ream::flow
