// Foreach expansion (flow/foreach.h) on its own: a parsed step and a context in, run
// units out — no store, no model. Document texts and list items are drawn at random;
// chunk plans come from a planner the test writes, cutting at random places.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <tuple>

#include "flow/foreach.h"
#include "flow/workflow.h"

namespace ream::flow {
namespace {

using nlohmann::json;

std::mt19937_64& rng() {
  static std::mt19937_64 r(std::random_device{}());
  return r;
}

std::string random_text(size_t n) {
  static const char kChars[] = "abcdefghij klmnopqrst uvwxyz.,\n";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kChars[rng()() % (sizeof kChars - 1)];
  return s;
}

class ForeachExpansion : public ::testing::Test {
 protected:
  ForeachExpansion() {
    manifest_.name = "p";
    manifest_.version = "1.0";
    manifest_.params_schema = R"({"type":"object","properties":{"tag":{"type":"string"}}})";
    manifest_.outputs_schema = R"({"n":{"type":"integer"}})";
    catalog_.find = [this](const std::string& n) { return n == "p" ? &manifest_ : nullptr; };
    catalog_.names = [] { return std::vector<std::string>{"p"}; };
    const int docs = 2 + static_cast<int>(rng()() % 3);
    json list = json::array();
    for (int i = 1; i <= docs; ++i) {
      const std::string key = "doc-" + std::to_string(i);
      texts_[key] = random_text(200 + rng()() % 400);
      keys_.push_back(key);
      list.push_back({{"id", key}, {"path", "/d/" + key + ".txt"}});
    }
    for (int i = 0, n = 1 + static_cast<int>(rng()() % 5); i < n; ++i) questions_.push_back(random_text(12));
    ctx_ = {{"inputs", {{"doc", list[0]}, {"docs", list}, {"qs", questions_}, {"n", 7}}},
            {"steps", json::object()},
            {"job", {{"id", 1}}}};
    env_.context = &ctx_;
    env_.documents = keys_;
    env_.document = [this](const std::string& key) {
      plugins::Document d;
      d.id = key;
      d.text = texts_.at(key);
      d.total_bytes = static_cast<int64_t>(d.text.size());
      return d;
    };
  }

  Step step(const std::string& yaml) {
    const std::string wf = "name: t\ninputs:\n  doc: {type: document}\n  docs: {type: documents}\n"
                           "  qs: {type: list, items: string}\n  n: {type: integer}\nsteps:\n  - " + yaml + "\n";
    auto parsed = parse_workflow(wf, "t.yaml", catalog_);
    EXPECT_TRUE(parsed.ok()) << parsed.status().message();
    return parsed.ok() ? parsed->steps.at(0) : Step{};
  }

  plugins::Manifest manifest_;
  PluginCatalog catalog_;
  std::map<std::string, std::string> texts_;
  std::vector<std::string> keys_;
  std::vector<std::string> questions_;
  json ctx_;
  ExpandEnv env_;
};

TEST_F(ForeachExpansion, AStepWithoutForeachIsOneRunOverItsDocuments) {
  auto all = expand_step(step("{id: a, plugin: p}"), 3, env_);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->units.size(), 1u);
  EXPECT_EQ(all->units[0].step, 3u);
  EXPECT_EQ(all->units[0].iteration, -1);
  EXPECT_TRUE(all->units[0].item.is_null());
  ASSERT_EQ(all->units[0].documents.size(), keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) EXPECT_EQ(all->units[0].documents[i].text, texts_[keys_[i]]);
  auto one = expand_step(step("{id: a, plugin: p, documents: \"${{ inputs.doc }}\"}"), 0, env_);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->units.at(0).documents.size(), 1u);
  EXPECT_EQ(one->units[0].documents[0].id, "doc-1");
  EXPECT_TRUE(one->plans.empty());
}

TEST_F(ForeachExpansion, ItemsGiveOneRunEachWithTheStepsDocuments) {
  auto literal = expand_step(step("{id: a, plugin: p, foreach: {items: [x, 2, {k: v}]}, documents: \"${{ inputs.doc }}\"}"), 0, env_);
  ASSERT_TRUE(literal.ok()) << literal.status().message();
  ASSERT_EQ(literal->units.size(), 3u);
  EXPECT_EQ(literal->units[0].item, "x");
  EXPECT_EQ(literal->units[1].item, 2);
  EXPECT_EQ(literal->units[2].item, json({{"k", "v"}}));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(literal->units[static_cast<size_t>(i)].iteration, i);
    ASSERT_EQ(literal->units[static_cast<size_t>(i)].documents.size(), 1u);
  }
  auto from_input = expand_step(step("{id: a, plugin: p, foreach: {items: \"${{ inputs.qs }}\"}}"), 0, env_);
  ASSERT_TRUE(from_input.ok()) << from_input.status().message();
  ASSERT_EQ(from_input->units.size(), questions_.size());
  for (size_t i = 0; i < questions_.size(); ++i) {
    EXPECT_EQ(from_input->units[i].item, questions_[i]);
    EXPECT_EQ(from_input->units[i].documents.size(), keys_.size());
  }
}

TEST_F(ForeachExpansion, ItemsThatAreNotAListAreAnError) {
  auto r = expand_step(step("{id: a, plugin: p, foreach: {items: \"${{ inputs.n }}\"}}"), 0, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "foreach items is not a list (got 7)");
}

TEST_F(ForeachExpansion, DocumentsGiveOneRunPerDocument) {
  auto r = expand_step(step("{id: a, plugin: p, foreach: {documents: \"${{ inputs.docs }}\"}}"), 0, env_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->units.size(), keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    EXPECT_EQ(r->units[i].item, json({{"document", keys_[i]}, {"index", i}}));
    ASSERT_EQ(r->units[i].documents.size(), 1u);
    EXPECT_EQ(r->units[i].documents[0].text, texts_[keys_[i]]);
  }
}

TEST_F(ForeachExpansion, ChunksCutEachDocumentAsThePlannerSays) {
  std::map<std::string, ingest::ChunkPlan> plans;
  std::vector<std::tuple<std::string, int64_t, int64_t>> asked;
  env_.context_budget = 1000 + static_cast<int64_t>(rng()() % 1000);
  env_.plan = [&](const std::string& key, int64_t budget, int64_t overlap) -> Result<ingest::ChunkPlan> {
    asked.emplace_back(key, budget, overlap);
    const int64_t size = static_cast<int64_t>(texts_.at(key).size());
    ingest::ChunkPlan p;
    // doc-1 fits; the others are cut at random places into 2..4 chunks.
    std::vector<int64_t> cuts = {0};
    if (key != "doc-1") {
      for (int i = 0, n = 1 + static_cast<int>(rng()() % 3); i < n; ++i) cuts.push_back(1 + static_cast<int64_t>(rng()() % (size - 1)));
      std::sort(cuts.begin(), cuts.end());
      cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    }
    cuts.push_back(size);
    for (size_t c = 0; c + 1 < cuts.size(); ++c) p.chunks.push_back({cuts[c], cuts[c + 1], (cuts[c + 1] - cuts[c]) / 4, "h" + std::to_string(c)});
    p.fits = p.chunks.size() == 1;
    plans[key] = p;
    return p;
  };
  auto r = expand_step(step("{id: a, plugin: p, foreach: {chunks: \"${{ inputs.docs }}\", overlap_tokens: 5}}"), 2, env_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(asked.size(), keys_.size());
  for (const auto& [key, budget, overlap] : asked) {
    EXPECT_EQ(budget, env_.context_budget);
    EXPECT_EQ(overlap, 5);
  }
  ASSERT_EQ(r->plans.size(), keys_.size());
  size_t u = 0;
  for (const std::string& key : keys_) {
    const ingest::ChunkPlan& p = plans[key];
    const size_t n = p.chunks.size();
    for (size_t c = 0; c < n; ++c, ++u) {
      ASSERT_LT(u, r->units.size());
      const RunUnit& unit = r->units[u];
      EXPECT_EQ(unit.iteration, static_cast<int>(u));
      EXPECT_EQ(unit.item["document"], key);
      EXPECT_EQ(unit.item["chunk"], c);
      EXPECT_EQ(unit.item["chunks"], n);
      EXPECT_EQ(unit.item["heading"], p.chunks[c].heading);
      const plugins::Document& d = unit.documents.at(0);
      if (n == 1) {  // a document that fits goes whole
        EXPECT_EQ(d.text, texts_[key]);
        EXPECT_EQ(d.chunk_count, 0);
      } else {
        EXPECT_EQ(d.text, texts_[key].substr(static_cast<size_t>(p.chunks[c].text_begin),
                                             static_cast<size_t>(p.chunks[c].text_end - p.chunks[c].text_begin)));
        EXPECT_EQ(d.base_offset, p.chunks[c].text_begin);
        EXPECT_EQ(d.chunk_index, static_cast<int>(c));
        EXPECT_EQ(d.chunk_count, static_cast<int>(n));
      }
    }
  }
  EXPECT_EQ(u, r->units.size());
  // chunk_tokens, when given, is the budget.
  asked.clear();
  auto fixed = expand_step(step("{id: a, plugin: p, foreach: {chunks: \"${{ inputs.doc }}\", chunk_tokens: 77}}"), 0, env_);
  ASSERT_TRUE(fixed.ok());
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(std::get<1>(asked[0]), 77);
  EXPECT_EQ(fixed->plans.at(0).budget, 77);
}

TEST_F(ForeachExpansion, APlannerErrorIsTheExpansionsError) {
  env_.plan = [](const std::string& key, int64_t, int64_t) -> Result<ingest::ChunkPlan> {
    return invalid_argument(key + ": cannot count tokens");
  };
  auto r = expand_step(step("{id: a, plugin: p, foreach: {chunks: \"${{ inputs.doc }}\", chunk_tokens: 50}}"), 0, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "doc-1: cannot count tokens");
}

}  // namespace
}  // namespace ream::flow
