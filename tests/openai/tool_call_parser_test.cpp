// ToolCallParser on scripted model replies (text written here, not by a model): Qwen3's
// <tool_call> blocks become OpenAI tool calls, streamed in any split of the text and whole,
// with the same result; what is not a call stays content.
#include "openai/tool_calls.h"

#include <gtest/gtest.h>

#include <random>

namespace ream::openai {
namespace {

struct Reply {
  std::string content;
  struct Call {
    std::string id, name, arguments;
  };
  std::vector<Call> calls;
};

void absorb(const ParsedText& t, Reply* r) {
  r->content += t.content;
  for (const ToolCallPiece& p : t.calls) {
    if (p.index >= static_cast<int>(r->calls.size())) {
      ASSERT_EQ(p.index, static_cast<int>(r->calls.size())) << "calls begin in order";
      ASSERT_FALSE(p.id.empty()) << "a call's first piece carries its id";
      r->calls.push_back({p.id, p.name, ""});
    } else {
      EXPECT_TRUE(p.id.empty()) << "only the first piece carries the id";
    }
    r->calls[p.index].arguments += p.arguments;
  }
}

// Feeds `text` in pieces cut at `cuts` (byte offsets) and returns the assembled reply.
Reply parse(ToolCallParser::Mode mode, const std::string& text, const std::vector<size_t>& cuts,
            std::vector<std::string> names = {"get_weather", "search"}, bool parallel = true) {
  ToolCallParser p(mode, std::move(names), parallel);
  Reply r;
  size_t at = 0;
  for (size_t c : cuts) {
    absorb(p.push(text.substr(at, c - at)), &r);
    at = c;
  }
  absorb(p.push(text.substr(at)), &r);
  absorb(p.finish(), &r);
  return r;
}

Reply whole(ToolCallParser::Mode mode, const std::string& text, std::vector<std::string> names = {"get_weather", "search"},
            bool parallel = true) {
  return parse(mode, text, {}, std::move(names), parallel);
}

// Every way of streaming the text byte by byte, and random splits, give the whole result.
void expect_split_invariant(ToolCallParser::Mode mode, const std::string& text, bool parallel = true) {
  const Reply w = whole(mode, text, {"get_weather", "search"}, parallel);
  std::vector<size_t> every;
  for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
  std::mt19937 rng(std::random_device{}());
  std::vector<std::vector<size_t>> splits = {every};
  for (int k = 0; k < 20; ++k) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < text.size(); ++i) {
      if (rng() % 4 == 0) cuts.push_back(i);
    }
    splits.push_back(cuts);
  }
  for (const auto& cuts : splits) {
    const Reply s = parse(mode, text, cuts, {"get_weather", "search"}, parallel);
    EXPECT_EQ(s.content, w.content) << text;
    ASSERT_EQ(s.calls.size(), w.calls.size()) << text;
    for (size_t i = 0; i < s.calls.size(); ++i) {
      EXPECT_EQ(s.calls[i].name, w.calls[i].name);
      EXPECT_EQ(s.calls[i].arguments, w.calls[i].arguments);
    }
  }
}

using Mode = ToolCallParser::Mode;

TEST(ScriptedToolCallReply, OneCallAsQwen3WritesIt) {
  const std::string text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": [1, 2]}}\n</tool_call>";
  Reply r = whole(Mode::kTagged, text);
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Paris\", \"days\": [1, 2]}");
  EXPECT_EQ(r.calls[0].id.rfind("call_", 0), 0u);
  EXPECT_EQ(r.calls[0].id.size(), 29u);
  expect_split_invariant(Mode::kTagged, text);
}

TEST(ScriptedToolCallReply, ContentThenTwoCallsAndBracesInsideStrings) {
  const std::string text =
      "Let me look that up.\n\n<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"a } \\\" { ]\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>";
  Reply r = whole(Mode::kTagged, text);
  EXPECT_EQ(r.content, "Let me look that up.");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "search");
  EXPECT_EQ(r.calls[0].arguments, "{\"q\": \"a } \\\" { ]\"}");
  EXPECT_EQ(r.calls[1].name, "get_weather");
  EXPECT_EQ(r.calls[1].arguments, "{}");
  EXPECT_NE(r.calls[0].id, r.calls[1].id);
  expect_split_invariant(Mode::kTagged, text);
}

TEST(ScriptedToolCallReply, PlainTextStaysContentWithItsWhitespace) {
  const std::string text = "No tools needed: 2 < 3 and <tool is not a tag.\n\n";
  Reply r = whole(Mode::kTagged, text);
  EXPECT_EQ(r.content, text);
  EXPECT_TRUE(r.calls.empty());
  expect_split_invariant(Mode::kTagged, text);
}

TEST(ScriptedToolCallReply, AnUnknownToolOrABrokenBlockIsContent) {
  for (const std::string text : {
           std::string("<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>"),
           std::string("Hi <tool_call>not json</tool_call> there"),
           std::string("<tool_call>\n{\"name\": \"search\", \"arguments\": \"q\"}\n</tool_call>"),
       }) {
    Reply r = whole(Mode::kTagged, text);
    EXPECT_TRUE(r.calls.empty()) << text;
    EXPECT_EQ(r.content, text) << text;
    expect_split_invariant(Mode::kTagged, text);
  }
}

TEST(ScriptedToolCallReply, KeysInAnotherOrderAreStillACall) {
  const std::string text = "<tool_call>\n{\"arguments\": {\"q\": \"x\"}, \"name\": \"search\"}\n</tool_call>";
  Reply r = whole(Mode::kTagged, text);
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "search");
  EXPECT_EQ(nlohmann::json::parse(r.calls[0].arguments), nlohmann::json({{"q", "x"}}));
  expect_split_invariant(Mode::kTagged, text);
}

TEST(ScriptedToolCallReply, CutShortByMaxTokensKeepsTheArgumentsSoFar) {
  const std::string text = "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"unfini";
  Reply r = whole(Mode::kTagged, text);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments, "{\"q\": \"unfini");
  expect_split_invariant(Mode::kTagged, text);
  // An unclosed block whose header never completed is content.
  const std::string open = "see <tool_call>\n{\"na";
  Reply o = whole(Mode::kTagged, open);
  EXPECT_TRUE(o.calls.empty());
  EXPECT_EQ(o.content, open);
}

TEST(ScriptedToolCallReply, WithoutParallelCallsOnlyTheFirstIsKept) {
  const std::string text =
      "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": "
      "\"search\", \"arguments\": {\"q\": 2}}\n</tool_call>";
  Reply r = whole(Mode::kTagged, text, {"search"}, false);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments, "{\"q\": 1}");
  expect_split_invariant(Mode::kTagged, text, false);
}

TEST(ScriptedToolCallReply, BareObjectOfAForcedCall) {
  const std::string text = "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}";
  Reply r = whole(Mode::kBare, text);
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, "{\"city\": \"Oslo\"}");
  expect_split_invariant(Mode::kBare, text);
  // Keys in the other order: read whole at the end.
  Reply swapped = whole(Mode::kBare, "{\"arguments\": {\"city\": \"Oslo\"}, \"name\": \"get_weather\"}");
  ASSERT_EQ(swapped.calls.size(), 1u);
  EXPECT_EQ(swapped.calls[0].arguments, "{\"city\":\"Oslo\"}");
  // Noise (what an unconstrained random model writes) is content.
  Reply noise = whole(Mode::kBare, "zq'{ unrelated");
  EXPECT_TRUE(noise.calls.empty());
  EXPECT_EQ(noise.content, "zq'{ unrelated");
}

}  // namespace
}  // namespace ream::openai
