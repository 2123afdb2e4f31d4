// The `ream` CLI contract that outside checks rely on: `tokenize --json` prints
// {"ids": [...]} (plus "text" for --chat-file), `generate --json` prints
// {"ids", "text", "top_logprobs", "usage"}, errors go to stderr with a non-zero status.
// Expected values come from the golden files made by transformers/tokenizers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

namespace {

using json = nlohmann::json;
const std::string kReam = REAM_BINARY_DIR "/cli/ream";
const std::string kData = REAM_TEST_DATA_DIR;

struct Proc {
  int status = -1;
  std::string out, err;
};

// Runs `args` through the shell, capturing stdout and stderr separately.
Proc run(const std::string& args) {
  const std::string err_file = std::filesystem::temp_directory_path() /
                               ("ream-cli-err-" + std::to_string(std::random_device{}()));
  Proc r;
  FILE* p = popen((kReam + " " + args + " 2>" + err_file).c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  std::filesystem::remove(err_file);
  return r;
}

std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

TEST(CliContract, TokenizeMatchesTheTokenizersGoldens) {
  auto golden = read_jsonl(kData + "/tokenizer/tokenizer_golden.jsonl");
  ASSERT_GT(golden.size(), 100u);
  std::mt19937 rng(std::random_device{}());
  int checked = 0;
  for (int i = 0; i < 200 && checked < 5; ++i) {
    const json& g = golden[rng() % golden.size()];
    if (!g.contains("text") || g["text"].get<std::string>().empty() || !g.value("parse_special", false)) continue;
    const std::string file = std::filesystem::temp_directory_path() / "ream-cli-text.txt";
    std::ofstream(file, std::ios::binary) << g["text"].get<std::string>();
    Proc r = run("tokenize --model " REAM_TOKENIZER_DIR " --text-file " + file + " --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["ids"], g["ids"]) << g["name"];
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

TEST(CliContract, TokenizeChatFileRendersTheTemplateLikeTransformers) {
  auto golden = read_jsonl(kData + "/tokenizer/chat_golden.jsonl");
  int checked = 0;
  for (const json& g : golden) {
    if (!g.value("add_generation_prompt", false) || !g.contains("messages")) continue;
    const std::string file = std::filesystem::temp_directory_path() / "ream-cli-chat.json";
    std::ofstream(file) << g["messages"].dump();
    Proc r = run("tokenize --model " REAM_TOKENIZER_DIR " --chat-file " + file + " --json");
    ASSERT_EQ(r.status, 0) << r.err;
    json out = json::parse(r.out);
    EXPECT_EQ(out["text"], g["text"]);
    EXPECT_EQ(out["ids"], g["ids"]);
    if (++checked == 4) break;
  }
  EXPECT_EQ(checked, 4);
}

TEST(CliContract, GenerateGreedyMatchesTransformersOnAGoldenModel) {
  std::ifstream in(kData + "/models/goldens.json");
  json g = json::parse(in);
  const json& m = g["models"][0];
  const json& p = m["prompts"][1];
  std::string ids;
  for (int id : p["prompt_ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  const auto expected = p["generated_ids"].get<std::vector<int>>();
  Proc r = run("generate --model " + kData + "/models/" + m["name"].get<std::string>() + " --prompt-ids " + ids +
              " --temperature 0 --ignore-eos --max-tokens " + std::to_string(expected.size()) +
              " --top-logprobs 5 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  json out = json::parse(r.out);
  EXPECT_EQ(out["ids"].get<std::vector<int>>(), expected);
  ASSERT_EQ(out["top_logprobs"].size(), expected.size());
  EXPECT_EQ(out["top_logprobs"][0].size(), 5u);
  EXPECT_EQ(out["top_logprobs"][0][0][0].get<int>(), expected[0]);
  EXPECT_NEAR(out["top_logprobs"][0][0][1].get<double>(), p["top5"][0][0][1].get<double>(), 1e-4);
  EXPECT_EQ(out["usage"]["prompt_tokens"].get<size_t>(), p["prompt_ids"].size());
  EXPECT_EQ(out["usage"]["completion_tokens"].get<size_t>(), expected.size());
  EXPECT_TRUE(out.contains("text"));
}

TEST(CliContract, InitModelThenChatGenerateStreamsText) {
  const std::string dir = std::filesystem::temp_directory_path() / ("ream-cli-model-" + std::to_string(std::random_device{}()));
  Proc init = run("init-model --shape tiny --out " + dir + " --seed 3");
  ASSERT_EQ(init.status, 0) << init.err;
  EXPECT_NE(init.err.find("RANDOM"), std::string::npos);
  const std::string chat = dir + "/chat.json";
  std::ofstream(chat) << R"([{"role": "user", "content": "Name the governing law."}])";
  Proc gen = run("generate --model " + dir + " --chat-file " + chat + " --max-tokens 8 --seed 5 --json");
  ASSERT_EQ(gen.status, 0) << gen.err;
  json out = json::parse(gen.out);
  EXPECT_GE(out["ids"].size(), 1u);
  EXPECT_LE(out["ids"].size(), 8u);
  EXPECT_GT(out["usage"]["prompt_tokens"].get<int>(), 5);
  // Same seed, same tokens.
  Proc again = run("generate --model " + dir + " --chat-file " + chat + " --max-tokens 8 --seed 5 --json");
  EXPECT_EQ(json::parse(again.out)["ids"], out["ids"]);
  std::filesystem::remove_all(dir);
}

TEST(CliContract, ErrorsGoToStderrWithANonZeroStatus) {
  Proc missing = run("generate --model /nonexistent/model --prompt hi --json");
  EXPECT_NE(missing.status, 0);
  EXPECT_TRUE(missing.out.empty());
  EXPECT_NE(missing.err.find("/nonexistent/model"), std::string::npos) << missing.err;
  Proc bad_flag = run("tokenize --model " REAM_TOKENIZER_DIR " --text hi --bogus");
  EXPECT_EQ(bad_flag.status, 2);
  EXPECT_NE(bad_flag.err.find("--bogus"), std::string::npos);
  Proc bad_ids = run("generate --model " + kData + "/models/a_tied_mha_hd16 --prompt-ids 1,x,3");
  EXPECT_EQ(bad_ids.status, 2);
  EXPECT_NE(bad_ids.err.find("'x'"), std::string::npos);
  Proc no_cmd = run("frobnicate");
  EXPECT_EQ(no_cmd.status, 2);
  EXPECT_NE(no_cmd.err.find("unknown command"), std::string::npos);
}

}  // namespace
