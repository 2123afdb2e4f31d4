// Chat template tests. tests/data/tokenizer/chat_golden.jsonl holds conversations
// rendered by transformers' apply_chat_template with the real Qwen3 template (text and
// ids); render_chat must reproduce the text byte for byte and the tokenizer the ids.
// Hand-checked renderings and the error paths of render_chat / parse_chat_json too.
#include "ream/engine/chat_template.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "ream/engine/tokenizer.h"

namespace ream {
namespace {

using nlohmann::json;

const std::string kGoldenPath = std::string(REAM_TEST_DATA_DIR) + "/tokenizer/chat_golden.jsonl";

std::vector<json> load_golden() {
  std::vector<json> rows;
  std::ifstream in(kGoldenPath);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(json::parse(line));
  }
  EXPECT_GE(rows.size(), 30u) << "golden file missing or short: " << kGoldenPath
                              << "\nproduce it with tools/make_tokenizer_golden.py on a machine "
                                 "with tokenizers + transformers";
  return rows;
}

std::string render_or_error(const std::vector<ChatMessage>& msgs, bool gen) {
  auto r = render_chat(msgs, gen);
  return r.ok() ? r.value() : "ERROR: " + r.status().to_string();
}

TEST(ChatTemplateGolden, TextAndIdsMatchTransformers) {
  auto tok = Tokenizer::load(REAM_TOKENIZER_DIR);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  for (const json& e : load_golden()) {
    std::string name = e["name"];
    auto msgs = parse_chat_json(e["messages"].dump());
    ASSERT_TRUE(msgs.ok()) << name << ": " << msgs.status().to_string();
    std::string text = render_or_error(*msgs, e["add_generation_prompt"].get<bool>());
    EXPECT_EQ(text, e["text"].get<std::string>()) << "conversation " << name;
    EXPECT_EQ((*tok)->encode(e["text"].get<std::string>()), e["ids"].get<std::vector<TokenId>>())
        << "conversation " << name;
  }
}

// render_chat_spans renders the same text and marks exactly the message contents.
TEST(ChatTemplateGolden, SpansRenderTheSameTextAndCoverTheContents) {
  for (const json& e : load_golden()) {
    auto msgs = parse_chat_json(e["messages"].dump());
    ASSERT_TRUE(msgs.ok());
    auto r = render_chat_spans(*msgs, e["add_generation_prompt"].get<bool>());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->text, e["text"].get<std::string>()) << e["name"];
    size_t last_end = 0;
    for (const auto& [b, end] : r->content_ranges) {
      EXPECT_LE(last_end, b);
      EXPECT_LE(end, r->text.size());
      last_end = end;
    }
    // Every user and system content appears verbatim as one of the ranges.
    for (const ChatMessage& m : *msgs) {
      if (m.role != "user" && m.role != "system") continue;
      bool found = false;
      for (const auto& [b, end] : r->content_ranges) found |= r->text.substr(b, end - b) == m.content;
      EXPECT_TRUE(found) << e["name"] << ": " << m.content;
    }
  }
}

TEST(ChatTemplate, UserOnly) {
  EXPECT_EQ(render_or_error({{"user", "hi"}}, true),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render_or_error({{"user", "hi"}}, false), "<|im_start|>user\nhi<|im_end|>\n");
}

TEST(ChatTemplate, SystemFirstAndLater) {
  EXPECT_EQ(render_or_error({{"system", "S"}, {"user", "U"}, {"system", "T"}}, false),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
            "<|im_start|>system\nT<|im_end|>\n");
}

TEST(ChatTemplate, ReasoningDroppedBeforeLastQueryKeptAfter) {
  std::vector<ChatMessage> msgs = {{"user", "Q1"},
                                   {"assistant", "<think>\nr1\n</think>\n\nA1"},
                                   {"user", "Q2"},
                                   {"assistant", "<think>r2</think>A2"}};
  EXPECT_EQ(render_or_error(msgs, false),
            "<|im_start|>user\nQ1<|im_end|>\n"
            "<|im_start|>assistant\nA1<|im_end|>\n"
            "<|im_start|>user\nQ2<|im_end|>\n"
            "<|im_start|>assistant\n<think>\nr2\n</think>\n\nA2<|im_end|>\n");
}

TEST(ChatTemplate, LastAssistantWithoutReasoningGetsEmptyThink) {
  EXPECT_EQ(render_or_error({{"user", "Q"}, {"assistant", "A"}}, false),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n");
}

TEST(ChatTemplate, ToolMessagesGroupIntoOneUserTurn) {
  std::vector<ChatMessage> msgs = {{"user", "Q"}, {"assistant", "call"}, {"tool", "r1"},
                                   {"tool", "r2"}};
  EXPECT_EQ(render_or_error(msgs, true),
            "<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\ncall<|im_end|>\n"
            "<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n"
            "</tool_response><|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, Errors) {
  auto empty = render_chat({}, true);
  ASSERT_FALSE(empty.ok());
  auto bad_role = render_chat({{"user", "a"}, {"wizard", "b"}}, true);
  ASSERT_FALSE(bad_role.ok());
  EXPECT_NE(bad_role.status().message().find("message 1"), std::string::npos);
  EXPECT_NE(bad_role.status().message().find("wizard"), std::string::npos);
}

TEST(ParseChatJson, ParsesAndNamesBadIndex) {
  auto ok = parse_chat_json(R"([{"role": "system", "content": "s"},
                                {"role": "assistant", "content": null},
                                {"role": "user", "content": [{"type": "text", "text": "a"},
                                                             {"type": "text", "text": "b"}]}])");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[0].role, "system");
  EXPECT_EQ((*ok)[1].content, "");
  EXPECT_EQ((*ok)[2].content, "ab");

  auto no_role = parse_chat_json(R"([{"role": "user", "content": "x"}, {"content": "y"}])");
  ASSERT_FALSE(no_role.ok());
  EXPECT_NE(no_role.status().message().find("message 1"), std::string::npos);

  auto bad_content = parse_chat_json(R"([{"role": "user", "content": "x"},
                                         {"role": "user", "content": "y"},
                                         {"role": "user", "content": 5}])");
  ASSERT_FALSE(bad_content.ok());
  EXPECT_NE(bad_content.status().message().find("message 2"), std::string::npos);

  EXPECT_FALSE(parse_chat_json("{\"role\": \"user\"}").ok());
  EXPECT_FALSE(parse_chat_json("[{\"role\": ").ok());
  EXPECT_FALSE(parse_chat_json("[3]").ok());
}

}  // namespace
}  // namespace ream

namespace ream {
namespace {

// Tools and tool calls (the real template's output for these is checked against
// @huggingface/jinja in tests/openai/openai_client_test.cjs): the tool definitions, call
// names and arguments are contents, so a document cannot forge a turn through them either.
TEST(ChatTemplate, ToolsAndToolCallsAreContents) {
  const std::string tool = "{\"type\": \"function\", \"function\": {\"name\": \"f<|im_end|>\"}}";
  std::vector<ChatMessage> msgs = {{"system", "S"}, {"user", "U"}, {"assistant", "", {{"f", "{\"a\": 1}"}, {"g", "{}"}}},
                                   {"tool", "R1"}, {"tool", "R2"}};
  auto r = render_chat_spans(msgs, true, {tool});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->text.rfind("<|im_start|>system\nS\n\n# Tools\n", 0), 0u) << r->text;
  EXPECT_NE(r->text.find("<tools>\n" + tool + "\n</tools>"), std::string::npos) << r->text;
  EXPECT_NE(r->text.find("<|im_start|>assistant\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>\n"
                         "<tool_call>\n{\"name\": \"g\", \"arguments\": {}}\n</tool_call><|im_end|>\n"
                         "<|im_start|>user\n<tool_response>\nR1\n</tool_response>\n<tool_response>\nR2\n"
                         "</tool_response><|im_end|>\n<|im_start|>assistant\n"),
            std::string::npos)
      << r->text;
  std::vector<std::string> contents;
  for (const auto& [b, e] : r->content_ranges) contents.push_back(r->text.substr(b, e - b));
  for (const std::string& want : {tool, std::string("f"), std::string("{\"a\": 1}"), std::string("R2")}) {
    EXPECT_NE(std::find(contents.begin(), contents.end(), want), contents.end()) << want;
  }
  // Content before the calls is separated from them by a newline.
  auto with_text = render_chat({{"user", "U"}, {"assistant", "Checking.", {{"f", "{}"}}}}, false);
  ASSERT_TRUE(with_text.ok());
  EXPECT_NE(with_text->find("Checking.\n<tool_call>"), std::string::npos) << *with_text;
  EXPECT_FALSE(render_chat({{"user", "U", {{"f", "{}"}}}}).ok()) << "only assistant turns carry calls";
}

}  // namespace
}  // namespace ream
