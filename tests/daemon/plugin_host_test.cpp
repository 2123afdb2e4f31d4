// Plugin host: loading from directories, the ABI version check, refusals that
// do not stop other plugins, and errors crossing the ABI as messages.
#include <gtest/gtest.h>

#include <filesystem>

#include "plugins/plugin_host.h"

namespace ream::plugins {
namespace {

const std::string kGood = REAM_TEST_PLUGIN_DIR "/good";
const std::string kBad = REAM_TEST_PLUGIN_DIR "/bad";

CallEnv test_env() {
  CallEnv env;
  env.count_tokens = [](std::string_view t) { return static_cast<int64_t>(t.size() / 4 + 1); };
  env.context_size = 4096;
  env.prompt_overhead = 8;
  return env;
}

TEST(PluginHost, AbiMismatchIsRefusedNamingBothVersions) {
  auto p = open_plugin(kBad + "/bad_future.so");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            kBad + "/bad_future.so: plugin ABI version mismatch: the plugin was built for ABI version 999, "
                   "this ream speaks ABI version 1");
}

TEST(PluginHost, RefusalsAndBrokenPluginsSayWhy) {
  EXPECT_EQ(open_plugin(kBad + "/bad_refuses.so").status().message(),
            kBad + "/bad_refuses.so: the plugin refused this host's plugin ABI version 1");
  EXPECT_EQ(open_plugin(kBad + "/bad_nosymbol.so").status().message(),
            kBad + "/bad_nosymbol.so: not a ream plugin: no exported symbol 'ream_plugin_entry'");
  EXPECT_EQ(open_plugin(kBad + "/bad_name.so").status().message(),
            kBad + "/bad_name.so: plugin name 'Bad Name' is not valid (expected 1-64 of [a-z0-9_])");
  EXPECT_EQ(open_plugin(kBad + "/bad_schema.so").status().message(),
            kBad + "/bad_schema.so: plugin 'badschema': params_schema is not a JSON object");
  auto missing = open_plugin(kBad + "/nonexistent.so");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot load"), std::string::npos);
}

TEST(PluginHost, OneBadPluginDoesNotStopTheOthers) {
  PluginHost host;
  host.load_dirs({kBad, kGood, REAM_BUILD_PLUGIN_DIR, kGood /* listed twice: loaded once */});
  EXPECT_NE(host.find("testkit"), nullptr);
  EXPECT_NE(host.find("long_qa"), nullptr);
  EXPECT_NE(host.find("summarize"), nullptr);
  EXPECT_EQ(host.find("future"), nullptr);
  EXPECT_EQ(host.errors().size(), 5u);  // the five broken ones, each with its reason
  // testkit plus every shipped plugin built (long_qa, summarize and the domain ones).
  size_t shipped = 0;
  for (const auto& e : std::filesystem::directory_iterator(REAM_BUILD_PLUGIN_DIR)) shipped += e.path().extension() == ".so";
  EXPECT_GE(shipped, 2u);
  EXPECT_EQ(host.plugins().size(), 1 + shipped);
}

TEST(PluginHost, ManifestIsReadableWithoutRunning) {
  auto p = open_plugin(kGood + "/testkit.so");
  ASSERT_TRUE(p.ok()) << p.status().message();
  const Manifest& m = (*p)->manifest();
  EXPECT_EQ(m.name, "testkit");
  EXPECT_EQ(m.version, "0.1.0");
  EXPECT_EQ(m.abi_version, 1u);
  EXPECT_NE(m.params_schema.find("\"mode\""), std::string::npos);
  EXPECT_NE(m.outputs_schema.find("\"reply\""), std::string::npos);
}

TEST(PluginHost, PluginErrorsComeBackAsMessages) {
  auto p = open_plugin(kGood + "/testkit.so");
  ASSERT_TRUE(p.ok());
  std::vector<Document> docs{{"doc-1", "x.txt", "Some document text for the test.", 0, 32, -1, 0, 8}};
  auto plan = (*p)->plan(test_env(), docs, R"({"mode":"fail_plan","message":"the plan went wrong"})", "");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(), "plugin 'testkit' plan failed (failed): the plan went wrong");
  auto red = (*p)->reduce(test_env(), docs, R"({"mode":"fail_reduce","message":"bad reply"})", "", 0, {}, "");
  EXPECT_EQ(red.status().message(), "plugin 'testkit' reduce failed (failed): bad reply");
}

TEST(PluginHost, PlanAndReduceCarryPromptsFindingsOutputsAndState) {
  auto p = open_plugin(kGood + "/testkit.so");
  ASSERT_TRUE(p.ok());
  std::vector<Document> docs{{"doc-1", "x.txt", "Some document text for the test.", 0, 32, -1, 0, 8}};
  auto plan = (*p)->plan(test_env(), docs, R"({"mode":"echo","prompts":3})", "\"item\"");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->prompts.size(), 3u);
  EXPECT_EQ(plan->prompts[2].key, "k2");
  EXPECT_EQ(plan->prompts[0].messages[1].content.rfind("<doc>Some document", 0), 0u);  // document first
  EXPECT_EQ(plan->state_json, "{\"round\":0}");
  std::vector<Reply> replies{{"k0", "hello", "stop", 5, 1, 0}};
  auto red = (*p)->reduce(test_env(), docs, R"({"mode":"echo","findings":2,"tag":"t"})", "", 0, replies, plan->state_json);
  ASSERT_TRUE(red.ok()) << red.status().message();
  ASSERT_EQ(red->findings.size(), 2u);
  EXPECT_EQ(red->findings[0].text, "hello");
  EXPECT_EQ(red->findings[0].evidence[0].quote, "Some document text for t");
  EXPECT_EQ(red->findings[0].details_json, "{\"round\":0,\"state\":{\"round\":0}}");
  ASSERT_EQ(red->outputs.size(), 3u);
  EXPECT_EQ(red->outputs[0], (std::pair<std::string, std::string>{"reply", "\"hello\""}));
}

}  // namespace
}  // namespace ream::plugins
