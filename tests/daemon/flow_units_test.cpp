// The flow library's pieces: expressions, and evidence quotes located in ingested
// documents (offsets, how they matched, file:line and PDF page). Chunk plans,
// quote normalisation and SHA-256 are ream_ingest's, tested in tests/ingest.
#include <gtest/gtest.h>

#include <filesystem>

#include "flow/expr.h"
#include "flow/step_runner.h"
#include "ingest/ingest.h"
#include "make_pdf.h"
#include "test_util.h"

namespace ream::flow {
namespace {

using nlohmann::json;

json eval(const std::string& text, const json& ctx) {
  auto t = Template::parse(text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status().message();
  if (!t.ok()) return json();
  auto v = t->eval(ctx);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().message();
  return v.ok() ? *v : json();
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

// A long expression's error quotes it around the error, not whole; the character
// refused is quoted whole, so the message is valid UTF-8. Before, a 100 KB expression
// gave a 100 KB message, and `${{ é }}` quoted half of the é.
TEST(Expr, ErrorsQuoteALongExpressionAroundTheErrorAndStayValidUtf8) {
  const std::string long_tail(100000, 'x');
  auto t = Template::parse("${{ inputs.a == " + long_tail + " ) }}");
  ASSERT_FALSE(t.ok());
  const std::string m = t.status().message();
  EXPECT_LT(m.size(), 200u) << m.substr(0, 300);
  EXPECT_TRUE(m.starts_with("bad expression '…" + std::string(32, 'x') )) << m;
  EXPECT_TRUE(m.ends_with(std::string(59, 'x') + " ) }}': unexpected ')' at column 100014")) << m;
  auto head = Template::parse("${{ ) " + long_tail + " }}");
  ASSERT_FALSE(head.ok());
  EXPECT_TRUE(head.status().message().starts_with("bad expression '${{ ) xxx")) << head.status().message();
  EXPECT_TRUE(head.status().message().find("…': unexpected ')' at column 1") != std::string::npos)
      << head.status().message();
  // Short ones are quoted whole, as before.
  EXPECT_EQ(Template::parse("a ${{ inputs. }}").status().message(),
            "bad expression '${{ inputs. }}': expected a name after '.' at column 8");
  EXPECT_EQ(Expr::parse("inputs.a == \u00e9").status().message(), "unexpected '\u00e9' at column 13");
  EXPECT_EQ(Expr::parse("a \u00e9").status().message(), "unexpected '\u00e9' at column 3");
  EXPECT_EQ(Expr::parse("a \xff").status().message(), "unexpected '\ufffd' at column 3");
  EXPECT_EQ(Expr::parse(std::string(500, '9') + ".5.5").status().message().size(),
            std::string("bad number '…' at column 1").size() + 64);
  EXPECT_EQ(excerpt("short"), "short");
  // Stray continuation bytes (fuzz_expr's input): each is U+FFFD, and the quote stays
  // about `width` bytes; before, the cut walked over the whole run and quoted it.
  const std::string stray(100000, '\xa4');
  EXPECT_LE(excerpt(stray, 50000).size(), 64u + 3u + 6u);
  EXPECT_LE(excerpt(std::string(60, '\xa4')).size(), 64u + 3u + 3u);
  auto t2 = Template::parse("${{ x " + stray + " }}");
  ASSERT_FALSE(t2.ok());
  EXPECT_LT(t2.status().message().size(), 200u);
  EXPECT_EQ(excerpt(std::string(10, 'a') + "\u00e9" + std::string(100, 'b'), 0, 11), "aaaaaaaaaa\u00e9…");
}

// toJSON escapes what it is given, so nested it doubles a string at each level (a
// backslash) or more (six times a control character). Before, 28 levels of a short
// input took 32 s and gigabytes in fuzz_expr; now the value's size is capped and the
// evaluation is refused, naming the call. Within the cap, nesting works as before.
TEST(Expr, AValuePastTheSizeCapIsRefusedNamingTheCall) {
  const json ctx = {{"s", "\\"}};
  std::string text = "s";
  for (int i = 0; i < 30; ++i) text = "toJSON(" + text + ")";
  auto e = Expr::parse("length(" + text + ")");
  ASSERT_TRUE(e.ok());
  auto v = e->eval(ctx);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  const std::string m = v.status().message();
  EXPECT_TRUE(m.starts_with("expression 'length(toJSON(toJSON(")) << m;
  EXPECT_NE(m.find("': toJSON at column "), std::string::npos) << m;
  EXPECT_NE(m.find("more than the 16 MiB an expression's value may have"), std::string::npos) << m;
  EXPECT_LT(m.size(), 300u);
  auto t = Template::parse("x ${{ " + text + " }} y");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->eval(ctx).ok());
  // join multiplies: 16 items, the separator the join one level in, eight levels deep.
  std::string joins = "'x'";
  for (int i = 0; i < 8; ++i) joins = "join(l, " + joins + ")";
  auto j = Expr::parse(joins);
  ASSERT_TRUE(j.ok());
  auto jv = j->eval(json{{"l", json(std::vector<std::string>(16, "ab"))}});
  ASSERT_FALSE(jv.ok());
  EXPECT_NE(jv.status().message().find("': join at column "), std::string::npos) << jv.status().message();
  // Three levels: "\\" -> "\"\\\\\"" ...: within the cap, the value as before.
  auto three = Expr::parse("toJSON(toJSON(toJSON(s)))");
  ASSERT_TRUE(three.ok());
  auto got = three->eval(ctx);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, json(json(json("\\").dump()).dump()).dump());
  // Invalid UTF-8 in a value (a plugin's or the model's text) is written as U+FFFD.
  auto bad = Expr::parse("toJSON(s)");
  ASSERT_TRUE(bad.ok());
  auto replaced = bad->eval(json{{"s", std::string("a\xff")}});
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(*replaced, "\"a\ufffd\"");
}

// `piece` n times after `head`.
std::string repeat(std::string head, const std::string& piece, int n) {
  for (int i = 0; i < n; ++i) head += piece;
  return head;
}

// Nesting past kMaxExprDepth is refused at the column where it goes past. Before, a
// deep expression overflowed the stack: in the parser (fuzz_expr's input was 1,234
// '('), or, for chains the parser builds in a loop, in evaluating and freeing the tree.
TEST(Expr, NestingPastTheLimitIsRefusedAtItsColumn) {
  ASSERT_EQ(kMaxExprDepth, 256);
  const std::string too_deep = "expression nested deeper than 256 levels at column ";
  const int n = 100000;
  EXPECT_EQ(Expr::parse(std::string(n, '(') + "1").status().message(), too_deep + "257");
  EXPECT_EQ(Expr::parse(std::string(n, '!') + "true").status().message(), too_deep + "257");
  EXPECT_EQ(Expr::parse(repeat("", "length(", n)).status().message(), too_deep + "1799");  // 7 * 257
  EXPECT_EQ(Expr::parse(repeat("x", "[x", n)).status().message(), too_deep + "514");       // 2 * 257
  // Chains: the 257th '[', '.' or '||'.
  EXPECT_EQ(Expr::parse(repeat("x", "[0]", n)).status().message(), too_deep + "770");      // 2 + 3 * 256
  EXPECT_EQ(Expr::parse(repeat("x", ".a", n)).status().message(), too_deep + "514");       // 2 + 2 * 256
  EXPECT_EQ(Expr::parse(repeat("x", " || x", n)).status().message(), too_deep + "1283");   // 3 + 5 * 256
  EXPECT_EQ(Expr::parse(repeat("x", " && x", n)).status().message(), too_deep + "1283");
  // '-' is no operator: a run of them is one bad number.
  EXPECT_EQ(Expr::parse(std::string(n, '-') + "1").status().message(), "bad number '-' at column 1");
  auto t = Template::parse("a ${{ " + std::string(n, '(') + " }}");
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().message().ends_with(": " + too_deep + "257")) << t.status().message().substr(0, 80);
}

TEST(Expr, NestingAtTheLimitParsesAndEvaluates) {
  const int n = kMaxExprDepth;
  json list = "deep", object = "deep";
  for (int i = 0; i < n; ++i) {
    list = json::array({list});
    object = json{{"a", object}};
  }
  const json ctx = {{"l", list}, {"o", object}, {"s", "abc"}};
  auto value = [&](const std::string& text) {
    auto e = Expr::parse(text);
    EXPECT_TRUE(e.ok()) << e.status().message();
    if (!e.ok()) return json("not parsed");
    auto v = e->eval(ctx);
    EXPECT_TRUE(v.ok()) << v.status().message();
    return v.ok() ? *v : json("not evaluated");
  };
  EXPECT_EQ(value(std::string(n, '(') + "s" + std::string(n, ')')), "abc");
  EXPECT_EQ(value(std::string(n, '!') + "s"), true);
  EXPECT_EQ(value(std::string(n - 1, '!') + "s"), false);
  EXPECT_EQ(value(repeat("l", "[0]", n)), "deep");
  EXPECT_EQ(value(repeat("o", ".a", n)), "deep");
  EXPECT_EQ(value(repeat("false", " || false", n - 1) + " || s"), "abc");
  EXPECT_EQ(value(repeat("", "length(", n) + "s" + std::string(n, ')')), 0);
  EXPECT_EQ(value("length(s)"), 3);
  auto e = Expr::parse(repeat("o", ".a", n));
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->references().size(), 1u);
  EXPECT_EQ(e->references()[0].size(), static_cast<size_t>(n + 1));
}

// A job document as the executor holds it: ingested, with its quote index.
JobDoc job_doc(const std::string& key, ingest::Document doc) {
  auto d = std::make_shared<const ingest::Document>(std::move(doc));
  return JobDoc{7, key, d, std::make_shared<const ingest::QuoteIndex>(*d)};
}

plugins::Document given(const JobDoc& jd, int64_t begin, int64_t end) {
  plugins::Document d;
  d.id = jd.key;
  d.path = jd.doc->source;
  d.text = jd.doc->text.substr(static_cast<size_t>(begin), static_cast<size_t>(end - begin));
  d.base_offset = begin;
  return d;
}

TEST(Evidence, ExactThenNormalisedWithOffsetsAndFileLine) {
  test::TempDir dir;
  std::string path = dir.write("terms.txt", "Preamble.\r\nThe  Supplier shall\r\n deliver \u201cGoods\u201d on time. \u00dcber alles.\r\n");
  auto ingested = ingest::ingest_path(path);
  ASSERT_TRUE(ingested.ok()) << ingested.status().message();
  std::map<std::string, JobDoc> docs;
  docs.emplace("doc-1", job_doc("doc-1", *ingested));
  const std::string& text = docs.at("doc-1").doc->text;  // CRLF -> LF
  RunUnit unit;
  unit.documents.push_back(given(docs.at("doc-1"), 0, static_cast<int64_t>(text.size())));

  auto e = locate_evidence({"doc-1", "Supplier shall", -1, -1}, unit, docs);
  ASSERT_TRUE(e.verified);
  EXPECT_EQ(e.match_kind, "exact");
  EXPECT_EQ(e.document_id, 7);
  EXPECT_EQ(text.substr(e.start_byte, e.end_byte - e.start_byte), "Supplier shall");
  EXPECT_EQ(e.source_path, path);
  EXPECT_EQ(e.source_line, 2);
  EXPECT_EQ(e.source_column, 6);

  // Case, runs of white space and typographic quotes do not stop a match; lines
  // are the source file's.
  e = locate_evidence({"doc-1", "the supplier shall deliver \"goods\" on time", -1, -1}, unit, docs);
  ASSERT_TRUE(e.verified);
  EXPECT_EQ(e.match_kind, "normalized");
  EXPECT_EQ(text.substr(e.start_byte, e.end_byte - e.start_byte), "The  Supplier shall\n deliver \u201cGoods\u201d on time");
  EXPECT_EQ(e.source_line, 2);
  EXPECT_EQ(e.source_end_line, 3);
  // Character offsets count code points: two curly quotes (3 bytes each), a U umlaut (2 bytes).
  auto alles = locate_evidence({"doc-1", "alles", -1, -1}, unit, docs);
  ASSERT_TRUE(alles.verified);
  EXPECT_EQ(alles.start_char, alles.start_byte - 2 * 2 - 1);

  EXPECT_FALSE(locate_evidence({"doc-1", "the buyer shall pay", -1, -1}, unit, docs).verified);
  EXPECT_FALSE(locate_evidence({"doc-1", "", -1, -1}, unit, docs).verified);
  auto unknown = locate_evidence({"doc-9", "Preamble", -1, -1}, unit, docs);
  EXPECT_FALSE(unknown.verified);
  EXPECT_EQ(unknown.document_id, 0);
}

TEST(Evidence, ChunkOffsetsMapToTheWholeDocumentAndTheNearestRepeat) {
  std::string text;
  for (int i = 1; i <= 40; ++i) text += "Clause " + std::to_string(i) + ". The fee is due monthly.\n";
  auto ingested = ingest::ingest_buffer("fees.txt", text);
  ASSERT_TRUE(ingested.ok());
  std::map<std::string, JobDoc> docs;
  docs.emplace("doc-1", job_doc("doc-1", *ingested));
  const int64_t begin = static_cast<int64_t>(text.find("Clause 30."));
  RunUnit unit;
  unit.documents.push_back(given(docs.at("doc-1"), begin, static_cast<int64_t>(text.size())));
  // The plugin's offsets are relative to its chunk.
  auto e = locate_evidence({"doc-1", "Clause 30", 0, 9}, unit, docs);
  ASSERT_TRUE(e.verified);
  EXPECT_EQ(e.start_byte, begin);
  EXPECT_EQ(e.source_line, 30);
  // A repeated sentence without offsets: the copy in the plugin's chunk, not the first.
  e = locate_evidence({"doc-1", "THE FEE IS DUE MONTHLY", -1, -1}, unit, docs);
  ASSERT_TRUE(e.verified);
  EXPECT_EQ(e.source_line, 30);
  // Wrong offsets are not trusted: the quote is searched for instead.
  e = locate_evidence({"doc-1", "Clause 31", 0, 9}, unit, docs);
  ASSERT_TRUE(e.verified);
  EXPECT_EQ(e.source_line, 31);
}

TEST(Evidence, PdfPagesAndFilesOfASourceTree) {
  test::TempDir dir;
  std::string pdf = dir.write("msa.pdf", ingest::testing::make_pdf({{"MASTER AGREEMENT"}, {"Fees", "Payment is due in thirty days."}}));
  std::filesystem::create_directories(dir.path("tree/src"));
  dir.write("tree/src/app.py", "import re\n\ndef handler(req):\n    return re.compile(req.pattern)\n");
  dir.write("tree/README.md", "# App\n");
  std::map<std::string, JobDoc> docs;
  for (const auto& [key, path] : {std::pair{"doc-1", pdf}, std::pair{"doc-2", dir.path("tree")}}) {
    auto d = ingest::ingest_path(path);
    ASSERT_TRUE(d.ok()) << d.status().message();
    docs.emplace(key, job_doc(key, *d));
  }
  RunUnit unit;
  for (const char* key : {"doc-1", "doc-2"}) {
    unit.documents.push_back(given(docs.at(key), 0, static_cast<int64_t>(docs.at(key).doc->text.size())));
  }
  auto e = locate_evidence({"doc-1", "Payment is due in thirty days", -1, -1}, unit, docs);
  ASSERT_TRUE(e.verified);
  EXPECT_EQ(e.source_path, pdf);
  EXPECT_EQ(e.source_page, 2);
  EXPECT_EQ(e.source_line, 2);
  e = locate_evidence({"doc-2", "return re.compile(req.pattern)", -1, -1}, unit, docs);
  ASSERT_TRUE(e.verified);
  EXPECT_EQ(e.source_path, "src/app.py");
  EXPECT_EQ(e.source_page, 0);
  EXPECT_EQ(e.source_line, 4);
  EXPECT_EQ(e.source_column, 5);
}

}  // namespace
}  // namespace ream::flow
