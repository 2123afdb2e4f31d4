// The grammar library: GBNF parsing (and every error path), matching bytes and tokens,
// masks against a brute-force check, regular expressions against std::regex (ECMAScript),
// and the JSON Schema compiler's errors.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <regex>

#include "grammar/compile.h"
#include "grammar/grammar.h"
#include "grammar/matcher.h"

namespace ream::grammar {
namespace {

// A small vocabulary: every single byte, plus multi-byte tokens.
std::shared_ptr<const TokenVocab> small_vocab() {
  std::vector<std::string> t;
  for (int b = 0; b < 256; ++b) t.push_back(std::string(1, static_cast<char>(b)));
  for (const char* s : {"ab", "abc", "{\"", "\":", "\",", "\"}", "true", "false", "null", "  ", "\n  ", "12", "é", "\xC3",
                        "<eos>", "<special>"})
    t.push_back(s);
  const int32_t eos = static_cast<int32_t>(t.size()) - 2, special = static_cast<int32_t>(t.size()) - 1;
  return TokenVocab::from_bytes(t, {special}, {eos});
}

std::shared_ptr<const CompiledGrammar> compile_gbnf(const std::string& text) {
  Result<Grammar> g = parse_gbnf(text);
  EXPECT_TRUE(g.ok()) << g.status().to_string() << "\n" << text;
  if (!g.ok()) return nullptr;
  return CompiledGrammar::make(std::move(g).value(), small_vocab());
}

bool matches(const std::shared_ptr<const CompiledGrammar>& g, const std::string& s) {
  Matcher m(g);
  return m.accept_bytes(s) && m.is_complete();
}

std::string parse_error(const std::string& text) {
  Result<Grammar> g = parse_gbnf(text);
  return g.ok() ? "" : g.status().message();
}

TEST(Gbnf, LiteralsClassesGroupsAndQuantifiers) {
  auto g = compile_gbnf(R"(root ::= "a" [b-d]+ ("x" | "yz")? tail{2,3}
tail ::= [0-9] # a digit
)");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "ab12"));
  EXPECT_TRUE(matches(g, "abcdyz123"));
  EXPECT_TRUE(matches(g, "adx00"));
  EXPECT_FALSE(matches(g, "a12"));       // + needs one
  EXPECT_FALSE(matches(g, "ab1"));       // {2,3}
  EXPECT_FALSE(matches(g, "ab1234"));
  EXPECT_FALSE(matches(g, "abxy12"));
}

TEST(Gbnf, EscapesUnicodeNegationAndAnyChar) {
  auto g = compile_gbnf("root ::= \"\\x41\\u00e9\\U0001F600\\n\\t\\\\\\\"\" [^a-z\\u00e0] . [\\[\\]]\n");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "A\xC3\xA9\xF0\x9F\x98\x80\n\t\\\"Z\xE4\xB8\xAD["));
  EXPECT_FALSE(matches(g, "A\xC3\xA9\xF0\x9F\x98\x80\n\t\\\"z\xE4\xB8\xAD["));     // z is excluded
  EXPECT_FALSE(matches(g, "A\xC3\xA9\xF0\x9F\x98\x80\n\t\\\"\xC3\xA0\xE4\xB8\xAD["));  // U+00E0 excluded
  EXPECT_FALSE(matches(g, "A\xC3\xA9\xF0\x9F\x98\x80\n\t\\\"Z\xED\xA0\x80["));      // a surrogate is no character
}

TEST(Gbnf, MultiLineAlternativesAndRecursion) {
  auto g = compile_gbnf(R"(root ::= list
list ::= "[" ( item ( "," item )* )? "]"
item ::= list
       | [a-z]+
)");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "[]"));
  EXPECT_TRUE(matches(g, "[a,[b,[]],cd]"));
  EXPECT_FALSE(matches(g, "[a,]"));
  EXPECT_FALSE(matches(g, "[[a]"));
}

TEST(Gbnf, EveryErrorNamesLineAndColumn) {
  EXPECT_EQ(parse_error("root ::= \"a\"\nroot ::= \"b\"\n"), "grammar 2:1: rule 'root' is defined twice");
  EXPECT_EQ(parse_error("root ::= foo\n"), "grammar 1:10: rule 'foo' is not defined");
  EXPECT_EQ(parse_error("start ::= \"a\"\n"), "grammar 2:1: the grammar has no 'root' rule");
  EXPECT_EQ(parse_error("root := \"a\"\n"), "grammar 1:6: expected '::=' after rule name 'root'");
  EXPECT_EQ(parse_error("root ::= \"abc\n"), "grammar 1:14: unterminated string literal");
  EXPECT_EQ(parse_error("root ::= [abc\n"), "grammar 1:14: expected ']'");
  EXPECT_EQ(parse_error("root ::= [z-a]\n"), "grammar 1:13: character range is out of order");
  EXPECT_EQ(parse_error("root ::= \"\\q\"\n"), "grammar 1:11: unknown escape '\\q'");
  EXPECT_EQ(parse_error("root ::= \"\\xZZ\"\n"), "grammar 1:13: expected a hex digit, got 'Z'");
  EXPECT_EQ(parse_error("root ::= \"\\uD800\"\n"), "grammar 1:17: escape is not a Unicode character");
  EXPECT_EQ(parse_error("root ::= ( \"a\"\n"), "grammar 2:1: expected ')'");
  EXPECT_EQ(parse_error("root ::= * \"a\"\n"), "grammar 1:10: '*' has nothing to repeat");
  EXPECT_EQ(parse_error("root ::= \"a\"{3,1}\n"), "grammar 1:13: repetition {m,n} has n < m");
  EXPECT_EQ(parse_error("root ::= \"a\"{2\n"), "grammar 1:15: expected '}'");
  EXPECT_EQ(parse_error("root ::= \"a\"{999999}\n"), "grammar 1:14: repetition count is larger than 100000");
  EXPECT_EQ(parse_error("root ::= \"a\" ]\n"), "grammar 1:14: unexpected ']'");
  EXPECT_EQ(parse_error("root ::= \"a\" x ::= \"b\"\n"), "grammar 1:14: missing newline before rule 'x'");
  EXPECT_EQ(parse_error("::= \"a\"\n"), "grammar 1:1: expected a rule name");
  EXPECT_EQ(parse_error("root ::= root \"a\" | \"b\"\n"),
            "grammar: rule 'root' is left-recursive (it can call itself before matching anything)");
  EXPECT_EQ(parse_error("root ::= x \"a\"\nx ::= y\ny ::= \"\" | root\n"),
            "grammar: rule 'root' is left-recursive (it can call itself before matching anything)");
}

TEST(Gbnf, NullableLoopsAndTailRecursionRun) {
  // ("a"?)* and right recursion through a nullable prefix are fine: tail calls.
  auto g = compile_gbnf("root ::= (\"a\"?)* \"b\"\n");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "aaab"));
  EXPECT_TRUE(matches(g, "b"));
  auto r = compile_gbnf("root ::= x root | \"z\"\nx ::= \"\" | \"y\"\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(matches(r, "yyz"));
  EXPECT_TRUE(matches(r, "z"));
}

// The mask equals what a brute-force token-by-token check gives, for random states.
TEST(Matcher, MaskEqualsBruteForceOnRandomWalks) {
  auto g = compile_gbnf(R"(root ::= "{" ws "\"k\"" ws ":" ws value ws "}"
value ::= "true" | "false" | "null" | [0-9]+ | "\"" [^"]* "\"" | "[" ws (value (ws "," ws value)*)? ws "]"
ws ::= [ \n]{0,3}
)");
  ASSERT_TRUE(g);
  const TokenVocab& v = g->vocab();
  std::mt19937 rng(std::random_device{}());
  std::vector<uint32_t> mask(v.mask_words());
  for (int walk = 0; walk < 20; ++walk) {
    Matcher m(g);
    for (int step = 0; step < 40; ++step) {
      const int64_t n = m.fill_mask(mask.data(), true);
      std::vector<int32_t> allowed;
      for (int32_t id = 0; id < v.vocab_size(); ++id) {
        const bool bit = (mask[id >> 5] >> (id & 31)) & 1;
        bool want;
        if (std::find(v.eos_ids().begin(), v.eos_ids().end(), id) != v.eos_ids().end()) {
          want = m.is_complete();
        } else {
          Matcher probe = m;
          want = v.allowed(id) && probe.accept_token(id);
        }
        ASSERT_EQ(bit, want) << "token " << id << " '" << v.bytes(id) << "' at step " << step;
        if (bit) allowed.push_back(id);
      }
      ASSERT_EQ(n, static_cast<int64_t>(allowed.size()));
      if (allowed.empty() || m.must_end()) break;
      const int32_t pick = allowed[rng() % allowed.size()];
      if (std::find(v.eos_ids().begin(), v.eos_ids().end(), pick) != v.eos_ids().end()) break;
      ASSERT_TRUE(m.accept_token(pick));
    }
  }
}

// The fewest steps that complete the output, found by a breadth-first search over the
// matcher's states: steps of one byte (`tokens` false) or of one vocabulary token.
int64_t shortest_by_search(const Matcher& from, int max_depth, bool tokens) {
  const TokenVocab& v = from.grammar().vocab();
  std::vector<Matcher> frontier = {from};
  std::set<int32_t> seen = {from.state_id()};
  for (int depth = 0; depth <= max_depth && !frontier.empty(); ++depth) {
    std::vector<Matcher> next;
    for (const Matcher& m : frontier) {
      if (m.is_complete()) return depth;
      for (int x = 0; x < (tokens ? v.vocab_size() : 256); ++x) {
        Matcher probe = m;
        const bool ok = tokens ? probe.accept_token(x) : probe.accept_bytes(std::string(1, static_cast<char>(x)));
        if (ok && seen.insert(probe.state_id()).second) next.push_back(probe);
      }
    }
    frontier = std::move(next);
  }
  return -1;
}

const char* kJsonishGrammar = R"(root ::= "{" ws "\"k\"" ws ":" ws value ws "}"
value ::= "true" | "false" | "null" | [0-9]+ | "\"" [^"]* "\"" | "[" ws (value (ws "," ws value)*)? ws "]" | obj
obj ::= "{" ws "\"a\"" ws ":" ws "\"" [a-z]{2,4} "\"" ws "}"
ws ::= [ \n]{0,3}
)";

// tokens_to_complete() lies between the fewest tokens and the fewest bytes that complete
// the output, and some allowed token always lowers it by one (what the budget relies on).
TEST(Matcher, TokensToCompleteIsBoundedAndFallsByOnePerToken) {
  auto g = compile_gbnf(kJsonishGrammar);
  ASSERT_TRUE(g);
  const TokenVocab& v = g->vocab();
  EXPECT_EQ(Matcher(g).tokens_to_complete(), 5);  // {" k ": 0 } (optional whitespace skipped)
  std::mt19937 rng(std::random_device{}());
  std::vector<uint32_t> mask(v.mask_words());
  for (int walk = 0; walk < 12; ++walk) {
    Matcher m(g);
    for (int step = 0; step < 30; ++step) {
      const int64_t count = m.tokens_to_complete();
      ASSERT_LE(shortest_by_search(m, 60, /*tokens=*/true), count) << "after step " << step;
      ASSERT_GE(shortest_by_search(m, 60, /*tokens=*/false), count) << "after step " << step;
      std::vector<int32_t> allowed;
      m.fill_mask(mask.data(), false);
      bool falls = count == 0;
      for (int32_t id = 0; id < v.vocab_size(); ++id)
        if ((mask[id >> 5] >> (id & 31)) & 1) {
          allowed.push_back(id);
          Matcher probe = m;
          ASSERT_TRUE(probe.accept_token(id));
          falls |= probe.tokens_to_complete() == count - 1;
        }
      ASSERT_TRUE(falls) << "no token lowers the count " << count << " at step " << step;
      if (allowed.empty()) break;
      ASSERT_TRUE(m.accept_token(allowed[rng() % allowed.size()]));
    }
  }
  // Literal runs count their greedy tokens: "false" is one token of the small vocabulary.
  auto lit = compile_gbnf("root ::= \"false\" | \"abc\" \"d\"\n");
  ASSERT_TRUE(lit);
  EXPECT_EQ(Matcher(lit).tokens_to_complete(), 1);
  auto skip = compile_gbnf("root ::= \"{\" ws \"\\\"\" ws \":\" [a-c] \"x\"\nws ::= [ ]*\n");
  ASSERT_TRUE(skip);
  EXPECT_EQ(Matcher(skip).tokens_to_complete(), 4);  // {" : a x
}

// With a budget of R tokens a token is allowed when the output can be completed in
// R - 1 more after it; when none can, EOS alone if complete, else the unbounded mask.
TEST(Matcher, BudgetMaskAllowsExactlyTheTokensThatStillFit) {
  auto g = compile_gbnf(kJsonishGrammar);
  ASSERT_TRUE(g);
  const TokenVocab& v = g->vocab();
  std::mt19937 rng(std::random_device{}());
  std::vector<uint32_t> mask(v.mask_words()), full(v.mask_words());
  int bounded_steps = 0;
  for (int walk = 0; walk < 30; ++walk) {
    Matcher m(g);
    for (int step = 0; step < 30; ++step) {
      const int64_t budget = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(m.tokens_to_complete() + 8));
      m.fill_mask(full.data(), true);
      const int64_t n = m.fill_mask(mask.data(), true, budget);
      std::vector<int32_t> fit;
      for (int32_t id = 0; id < v.vocab_size(); ++id) {
        if (!v.allowed(id)) continue;
        Matcher probe = m;
        if (probe.accept_token(id) && probe.tokens_to_complete() <= budget - 1) fit.push_back(id);
      }
      std::vector<uint32_t> want(v.mask_words(), 0);
      if (!fit.empty()) {
        for (int32_t id : fit) want[id >> 5] |= 1u << (id & 31);
        for (int32_t e : v.eos_ids())
          if (m.is_complete()) want[e >> 5] |= 1u << (e & 31);
        bounded_steps += fit.size() < static_cast<size_t>(m.fill_mask(full.data(), false));
      } else if (m.is_complete()) {
        for (int32_t e : v.eos_ids()) want[e >> 5] |= 1u << (e & 31);
      } else {
        want = full;
      }
      for (int32_t id = 0; id < v.vocab_size(); ++id)
        ASSERT_EQ((mask[id >> 5] >> (id & 31)) & 1, (want[id >> 5] >> (id & 31)) & 1)
            << "token " << id << " '" << v.bytes(id) << "' budget " << budget << " step " << step;
      int64_t count = 0;
      for (uint32_t w : want) count += __builtin_popcount(w);
      ASSERT_EQ(n, count);
      // Walk on (unbounded, so the walk reaches deep states).
      std::vector<int32_t> allowed;
      for (int32_t id = 0; id < v.vocab_size(); ++id)
        if (v.allowed(id) && ((full[id >> 5] >> (id & 31)) & 1)) allowed.push_back(id);
      if (allowed.empty()) break;
      ASSERT_TRUE(m.accept_token(allowed[rng() % allowed.size()]));
    }
  }
  EXPECT_GT(bounded_steps, 20) << "the budgets never took a token out: the test tests nothing";
}

// Walks held to a budget end complete whenever the budget covers the shortest output.
TEST(Matcher, BudgetedWalksEndComplete) {
  auto g = compile_gbnf(kJsonishGrammar);
  ASSERT_TRUE(g);
  const TokenVocab& v = g->vocab();
  std::mt19937 rng(std::random_device{}());
  std::vector<uint32_t> mask(v.mask_words());
  const int64_t shortest = Matcher(g).tokens_to_complete();
  for (int walk = 0; walk < 200; ++walk) {
    const int64_t budget = shortest + static_cast<int64_t>(rng() % 40);
    Matcher m(g);
    std::string text;
    bool ended = false;
    for (int64_t i = 0; i < budget && !ended; ++i) {
      m.fill_mask(mask.data(), true, budget - i);
      std::vector<int32_t> allowed;
      for (int32_t id = 0; id < v.vocab_size(); ++id)
        if ((mask[id >> 5] >> (id & 31)) & 1) allowed.push_back(id);
      ASSERT_FALSE(allowed.empty());
      const int32_t pick = allowed[rng() % allowed.size()];
      if (pick == v.eos_ids()[0]) break;
      ASSERT_TRUE(m.accept_token(pick));
      text += v.bytes(pick);
      ended = m.must_end();
    }
    EXPECT_TRUE(m.is_complete()) << "budget " << budget << ": " << text;
  }
}

TEST(Matcher, SpecialTokensNeverAllowedAndEosOnlyWhenComplete) {
  auto g = compile_gbnf("root ::= [^x]* \"x\" \"y\"?\n");
  ASSERT_TRUE(g);
  const TokenVocab& v = g->vocab();
  const int32_t eos = v.eos_ids()[0], special = eos + 1;
  std::vector<uint32_t> mask(v.mask_words());
  Matcher m(g);
  m.fill_mask(mask.data(), true);
  EXPECT_FALSE((mask[eos >> 5] >> (eos & 31)) & 1);
  EXPECT_FALSE((mask[special >> 5] >> (special & 31)) & 1);
  EXPECT_FALSE(m.accept_token(special));
  ASSERT_TRUE(m.accept_bytes("abx"));
  m.fill_mask(mask.data(), true);
  EXPECT_TRUE((mask[eos >> 5] >> (eos & 31)) & 1);
  m.fill_mask(mask.data(), false);
  EXPECT_FALSE((mask[eos >> 5] >> (eos & 31)) & 1);
  EXPECT_FALSE(m.must_end());
  ASSERT_TRUE(m.accept_bytes("y"));
  EXPECT_TRUE(m.must_end());
  EXPECT_EQ(m.fill_mask(mask.data(), true), 1);  // only EOS
}

TEST(Matcher, RejectedInputLeavesTheStateAlone) {
  auto g = compile_gbnf("root ::= \"abc\"\n");
  Matcher m(g);
  EXPECT_TRUE(m.accept_bytes("a"));
  EXPECT_FALSE(m.accept_bytes("bx"));
  EXPECT_TRUE(m.accept_bytes("bc"));
  EXPECT_TRUE(m.must_end());
}

std::shared_ptr<const CompiledGrammar> compile_constraint(Constraint::Kind kind, const std::string& source) {
  Result<Grammar> g = constraint_grammar(Constraint{kind, source});
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  if (!g.ok()) return nullptr;
  return CompiledGrammar::make(std::move(g).value(), small_vocab());
}

// Whole-text regex matching against std::regex (ECMAScript), on random ASCII strings.
TEST(Regex, AgreesWithStdRegexOnRandomStrings) {
  const char* patterns[] = {"a(b|cd)*e?",       "[a-c]{2,3}x+",      "(?:ab|a)(?:bc|c)",  "\\d{1,3}(\\.\\d+)?",
                            "[^abc]\\w\\s.",    "(a|b|)c{0,2}",      "x*?y+?z??",         "[\\-\\]a-]+",
                            "(ab)+c",          "\\x41\\u0042[\\0-\\x20]", "^[a-z]+$",          "a{2}b{1,}c{0}"};
  const std::string alphabet = "abcdexyz019.- AB]\\\t";
  std::mt19937 rng(std::random_device{}());
  for (const char* p : patterns) {
    auto g = compile_constraint(Constraint::Kind::kRegex, p);
    ASSERT_TRUE(g) << p;
    const std::regex re(p, std::regex::ECMAScript);
    int matched = 0;
    for (int i = 0; i < 3000; ++i) {
      std::string s;
      for (int n = static_cast<int>(rng() % 7); n > 0; --n) s += alphabet[rng() % alphabet.size()];
      const bool want = std::regex_match(s, re);
      matched += want;
      ASSERT_EQ(matches(g, s), want) << "pattern /" << p << "/ on '" << s << "'";
    }
  }
}

std::string regex_error(const std::string& p) {
  Result<std::string> r = regex_to_gbnf(p, RegexMode::kWhole);
  return r.ok() ? "" : r.status().message();
}

TEST(Regex, UnsupportedConstructsAreErrors) {
  EXPECT_EQ(regex_error("(a)\\1"), "regex /(a)\\1/ at character 4: backreferences are not supported");
  EXPECT_EQ(regex_error("(?<n>a)\\k<n>"), "regex /(?<n>a)\\k<n>/ at character 8: backreferences are not supported");
  EXPECT_EQ(regex_error("a(?=b)"), "regex /a(?=b)/ at character 2: lookaround assertions are not supported");
  EXPECT_EQ(regex_error("a(?!b)"), "regex /a(?!b)/ at character 2: lookaround assertions are not supported");
  EXPECT_EQ(regex_error("(?<=a)b"), "regex /(?<=a)b/ at character 1: lookaround assertions are not supported");
  EXPECT_EQ(regex_error("\\bword"), "regex /\\bword/ at character 1: word boundaries (\\b) are not supported");
  EXPECT_EQ(regex_error("a\\B"), "regex /a\\B/ at character 2: word boundaries (\\B) are not supported");
  EXPECT_EQ(regex_error("\\p{L}"), "regex /\\p{L}/ at character 1: Unicode property escapes (\\p) are not supported");
  EXPECT_EQ(regex_error("a^b"), "regex /a^b/ at character 2: '^' is only supported at the start of the pattern");
  EXPECT_EQ(regex_error("a$b"), "regex /a$b/ at character 2: '$' is only supported at the end of the pattern");
  EXPECT_EQ(regex_error("(ab"), "regex /(ab/ at character 1: unterminated group");
  EXPECT_EQ(regex_error("ab)"), "regex /ab)/ at character 3: unbalanced ')'");
  EXPECT_EQ(regex_error("[ab"), "regex /[ab/ at character 1: unterminated character class");
  EXPECT_EQ(regex_error("[z-a]"), "regex /[z-a]/ at character 4: character range is out of order");
  EXPECT_EQ(regex_error("[a-\\d]"), "regex /[a-\\d]/ at character 4: a class cannot end a range");
  EXPECT_EQ(regex_error("*a"), "regex /*a/ at character 1: nothing to repeat");
  EXPECT_EQ(regex_error("a**"), "regex /a**/ at character 3: nothing to repeat");
  EXPECT_EQ(regex_error("a\\"), "regex /a\\/ at character 2: pattern ends with '\\'");
  EXPECT_EQ(regex_error("\\q"), "regex /\\q/ at character 1: unknown escape '\\q'");
  EXPECT_EQ(regex_error("\\xZ1"), "regex /\\xZ1/ at character 3: expected a hex digit");
  EXPECT_EQ(regex_error("\\uD800"), "regex /\\uD800/ at character 1: \\u escape of a surrogate or beyond Unicode");
  EXPECT_EQ(regex_error("a{1,999999}"), "regex /a{1,999999}/ at character 2: repetition count is too large");
  EXPECT_EQ(regex_error("[^\\s\\S]"), "regex /[^\\s\\S]/ at character 8: a character class matches nothing");
}

// JSON Schema pattern: unanchored means "contains", and JSON escapes are written.
TEST(Regex, JsonStringPatternsSearchAndEscape) {
  auto g = compile_constraint(Constraint::Kind::kJsonSchema, R"({"type":"string","pattern":"a\"b"})");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, "\"xxa\\\"byy\""));
  EXPECT_FALSE(matches(g, "\"xxa\"byy\""));
  EXPECT_FALSE(matches(g, "\"xxab\""));
  auto anchored = compile_constraint(Constraint::Kind::kJsonSchema, R"({"type":"string","pattern":"^\\d+$"})");
  ASSERT_TRUE(anchored);
  EXPECT_TRUE(matches(anchored, "\"123\""));
  EXPECT_FALSE(matches(anchored, "\"x123\""));
}

std::string schema_error(const std::string& schema) {
  Result<std::string> r = json_schema_to_gbnf(schema);
  return r.ok() ? "" : r.status().message();
}

TEST(JsonSchema, EveryErrorNamesTheKeywordAndWhere) {
  EXPECT_EQ(schema_error(R"({"properties":{"x":{"patternProperties":{}}}})"),
            "unsupported JSON Schema keyword 'patternProperties' at /properties/x");
  EXPECT_EQ(schema_error(R"({"items":{"uniqueItems":true}})"), "unsupported JSON Schema keyword 'uniqueItems' at /items");
  EXPECT_EQ(schema_error(R"({"$defs":{"a~b/c":{"not":{}}},"$ref":"#/$defs/a~0b~1c"})"),
            "unsupported JSON Schema keyword 'not' at /$defs/a~0b~1c");
  EXPECT_EQ(schema_error("[1]"), "a schema must be an object or a boolean at /");
  EXPECT_EQ(schema_error("false"), "schema 'false' allows no value at /");
  EXPECT_EQ(schema_error(R"({"$ref":"http://x/y"})"), "only local $ref (\"#...\") is supported, not 'http://x/y' at /$ref");
  EXPECT_EQ(schema_error(R"({"$ref":"#/nothing"})"), "$ref '#/nothing' points at nothing at /$ref");
  EXPECT_EQ(schema_error(R"({"$ref":"#/$defs/a","type":"string","$defs":{"a":{}}})"),
            "$ref beside other validation keywords is not supported at /");
  EXPECT_EQ(schema_error(R"({"allOf":[{},{}]})"), "allOf is supported with exactly one schema at /allOf");
  EXPECT_EQ(schema_error(R"({"anyOf":[]})"), "anyOf must be a non-empty array at /anyOf");
  EXPECT_EQ(schema_error(R"({"type":"object","anyOf":[{}]})"), "anyOf beside other validation keywords is not supported at /");
  EXPECT_EQ(schema_error(R"({"oneOf":[{"type":"integer"},{"type":"number"}]})"),
            "oneOf branches 0 and 1 may both match a value (only oneOf of different types, or of objects told apart by "
            "a required const/enum property, is supported) at /oneOf");
  EXPECT_EQ(schema_error(R"({"enum":[1],"minimum":0})"),
            "enum/const beside validation keywords other than type is not supported at /");
  EXPECT_EQ(schema_error(R"({"type":"string","enum":[1,2]})"), "no enum/const value matches the schema's type at /");
  EXPECT_EQ(schema_error(R"({"type":"strin"})"), "unknown type \"strin\" at /type");
  EXPECT_EQ(schema_error(R"({"type":"string","format":"duration"})"), "unsupported format 'duration' at /format");
  EXPECT_EQ(schema_error(R"({"type":"string","pattern":"(a)\\1"})"),
            "regex /(a)\\1/ at character 4: backreferences are not supported at /pattern");
  EXPECT_EQ(schema_error(R"({"type":"string","pattern":"a","maxLength":3})"),
            "pattern with minLength/maxLength/format is not supported at /");
  EXPECT_EQ(schema_error(R"({"type":"string","minLength":3,"maxLength":2})"), "maxLength is below minLength at /");
  EXPECT_EQ(schema_error(R"({"type":"string","minLength":-1})"), "minLength must be a non-negative integer at /minLength");
  EXPECT_EQ(schema_error(R"({"type":"integer","minimum":1e30})"), "minimum beyond +-1e18 is not supported at /minimum");
  EXPECT_EQ(schema_error(R"({"type":"integer","minimum":3,"maximum":2})"), "no value satisfies the schema at /");
  EXPECT_EQ(schema_error(R"({"type":"object","required":["a"],"additionalProperties":false})"),
            "required property 'a' is not in properties and additionalProperties is false at /");
  EXPECT_EQ(schema_error(R"({"type":"array","minItems":3,"maxItems":2})"),
            "the array constraints allow no array (maxItems below minItems) at /");
  EXPECT_EQ(schema_error(R"({"type":"array","maxItems":5000})"), "minItems/maxItems above 2048 are not supported at /");
  EXPECT_EQ(json_schema_to_gbnf("{not json").status().message().rfind("the JSON Schema is not valid JSON", 0), 0u);
}

TEST(JsonSchema, IntegerRangesAreExact) {
  for (auto [lo, hi] : {std::pair{-37, 1250}, std::pair{0, 9}, std::pair{-100, -3}, std::pair{95, 105}}) {
    auto g = compile_constraint(Constraint::Kind::kJsonSchema, "{\"type\":\"integer\",\"minimum\":" +
                                                                 std::to_string(lo) + ",\"maximum\":" + std::to_string(hi) + "}");
    ASSERT_TRUE(g);
    for (int v = lo - 200; v <= hi + 200; ++v) EXPECT_EQ(matches(g, std::to_string(v)), v >= lo && v <= hi) << v;
    EXPECT_FALSE(matches(g, "-0"));
    EXPECT_FALSE(matches(g, "0" + std::to_string(std::abs(hi))));
  }
  auto open = compile_constraint(Constraint::Kind::kJsonSchema, R"({"type":"integer","exclusiveMinimum":41})");
  EXPECT_FALSE(matches(open, "41"));
  EXPECT_TRUE(matches(open, "42"));
  EXPECT_TRUE(matches(open, "123456789012"));
  // Open ranges stop at 18 digits, so every integer written fits an int64 (a random model
  // that kept writing digits once made a line number no plugin could read).
  EXPECT_TRUE(matches(open, "999999999999999999"));
  EXPECT_FALSE(matches(open, "1000000000000000000"));
  auto any_int = compile_constraint(Constraint::Kind::kJsonSchema, R"({"type":"integer"})");
  EXPECT_TRUE(matches(any_int, "-999999999999999999"));
  EXPECT_TRUE(matches(any_int, "0"));
  EXPECT_FALSE(matches(any_int, "1234567890123456789"));
  EXPECT_FALSE(matches(any_int, "-1234567890123456789"));
  // Numbers keep any length: a double reads them all.
  auto any_number = compile_constraint(Constraint::Kind::kJsonSchema, R"({"type":"number"})");
  EXPECT_TRUE(matches(any_number, "12345678901234567890123456789.5"));
}

}  // namespace
}  // namespace ream::grammar
