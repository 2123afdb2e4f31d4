// Reply constraints through the real path: a plugin attaches a JSON Schema to a prompt
// (the C ABI), the host copies it, the executor puts it (or the step's reply_schema)
// on the model request, and EngineModelClient sets SamplingParams::constraint on the
// request the real engine receives. The engine is the real CPU engine with a
// random-weight tiny model; a forwarding Engine around it only records what it is
// handed and what it writes, and changes nothing.
//
// The end-to-end proof of issue 12: the three domain workflows over real documents
// finish with zero unusable replies, every reply valid against its step's schema.
//
// The same path carries sampling (issue 15): a request's SamplingParams are the model's
// generation_config.json values under the workflow's and the step's engine settings.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "../plugins_domain/ajv.h"
#include "daemon/test_util.h"
#include "engine/test_util.h"
#include "flow/engine_model_client.h"
#include "flow/executor.h"
#include "flow/job.h"
#include "flow/report.h"
#include "flow/workflow.h"
#include "ream/engine/engine.h"

namespace ream::flow {
namespace {

using nlohmann::json;

// What the engine was handed and what it wrote, per request.
struct Seen {
  std::string tag;
  Constraint constraint;
  std::string text;
  SamplingParams sampling;  // as the engine received it
};

class RecordingEngine : public Engine {
 public:
  explicit RecordingEngine(std::unique_ptr<Engine> inner) : inner_(std::move(inner)) {}
  Result<uint64_t> submit(GenerationRequest request, StreamCallback callback) override {
    size_t index;
    {
      std::lock_guard lock(mu_);
      index = seen_.size();
      seen_.push_back({request.tag, request.sampling.constraint, "", request.sampling});
    }
    return inner_->submit(std::move(request), [this, index, callback](const StreamEvent& ev) {
      {
        std::lock_guard lock(mu_);
        seen_[index].text += ev.text;
      }
      callback(ev);
    });
  }
  void cancel(uint64_t id) override { inner_->cancel(id); }
  const ModelConfig& config() const override { return inner_->config(); }
  std::shared_ptr<const Tokenizer> tokenizer() const override { return inner_->tokenizer(); }
  int64_t max_model_len() const override { return inner_->max_model_len(); }
  EngineStats stats() const override { return inner_->stats(); }
  std::string device_name() const override { return inner_->device_name(); }
  const std::vector<TokenId>& eos_token_ids() const override { return inner_->eos_token_ids(); }
  SamplingParams default_sampling() const override { return inner_->default_sampling(); }

  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::unique_ptr<Engine> inner_;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
};

class ReplyConstraints : public ::testing::Test {
 protected:
  void SetUp() override {
    use_engine(2048);
    host_.load_dirs({REAM_BUILD_PLUGIN_DIR, std::string(REAM_TEST_PLUGIN_DIR) + "/good"});
    store_ = std::move(store::Store::open(dir_.path("ream.db"))).value();
  }
  void use_engine(int64_t max_model_len, const std::string& model_dir = ream::testing::tiny_model_dir()) {
    EngineOptions o;
    o.model = model_dir;
    o.num_threads = 2;
    o.max_model_len = max_model_len;
    auto e = Engine::create(o);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    client_.reset();
    engine_ = std::make_unique<RecordingEngine>(std::move(e).value());
    client_ = std::make_unique<EngineModelClient>(*engine_);
  }
  json run(const std::string& workflow_path, const json& inputs) {
    auto wf = load_workflow(workflow_path, catalog_of(host_));
    EXPECT_TRUE(wf.ok()) << wf.status().message();
    if (!wf.ok()) return nullptr;
    auto id = create_job(*store_, *wf, {inputs, 0, ""}, client_.get());
    EXPECT_TRUE(id.ok()) << id.status().message();
    if (!id.ok()) return nullptr;
    Executor ex(*store_, host_, *client_);
    auto out = ex.run(*id, {});
    EXPECT_TRUE(out.ok()) << out.status().message();
    auto r = job_result_json(*store_, *id);
    return r.ok() ? *r : json();
  }
  // Runs a workflow of testkit steps over one small document and expects it to succeed:
  // `engine` is the workflow's engine mapping, `steps` its steps (YAML, ${{ inputs.doc }}).
  json run_testkit(const std::string& name, const std::string& engine, const std::string& steps) {
    const std::string wf = dir_.write(name + ".yaml", "name: " + name + "\ninputs:\n  doc: {type: document}\nengine: " +
                                                          engine + "\nsteps:\n" + steps);
    json r = run(wf, {{"doc", dir_.write("d.txt", "Some document text for the test plugin.")}});
    EXPECT_TRUE(r.is_object() && r["job"]["status"] == "succeeded") << r.dump();
    return r;
  }
  // The request whose tag ends with " KEY" (the prompt's key).
  const Seen* request(const std::vector<Seen>& seen, const std::string& key) {
    for (const Seen& s : seen) {
      if (s.tag.size() > key.size() && s.tag.compare(s.tag.size() - key.size() - 1, std::string::npos, " " + key) == 0) return &s;
    }
    ADD_FAILURE() << "no engine request for prompt " << key;
    return nullptr;
  }

  test::TempDir dir_;
  std::unique_ptr<RecordingEngine> engine_;
  std::unique_ptr<EngineModelClient> client_;
  plugins::PluginHost host_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(ReplyConstraints, APluginsSchemaAndTheStepsReplySchemaReachTheEngineRequest) {
  const std::string plugin_schema =
      R"({"type":"object","properties":{"verdict":{"type":"string","enum":["yes","no"]}},"required":["verdict"],"additionalProperties":false})";
  run_testkit("constrained", "{max_tokens: 4}", R"(  - id: a
    plugin: testkit
    documents: ${{ inputs.doc }}
    with: {prompts: 2, constraint: ')" + plugin_schema + R"('}
    reply_schema:
      type: object
      properties: {note: {type: string}}
      required: [note]
      additionalProperties: false
)");
  const auto seen = engine_->seen();
  ASSERT_EQ(seen.size(), 2u);
  // k0 carries the plugin's own schema, byte for byte.
  const Seen* k0 = request(seen, "k0");
  ASSERT_TRUE(k0);
  EXPECT_EQ(k0->constraint.kind, Constraint::Kind::kJsonSchema);
  EXPECT_EQ(k0->constraint.source, plugin_schema);
  // k1 carries none of its own: the step's reply_schema applies.
  const Seen* k1 = request(seen, "k1");
  ASSERT_TRUE(k1);
  EXPECT_EQ(k1->constraint.kind, Constraint::Kind::kJsonSchema);
  EXPECT_EQ(json::parse(k1->constraint.source),
            json::parse(R"({"type":"object","properties":{"note":{"type":"string"}},"required":["note"],"additionalProperties":false})"));
}

TEST_F(ReplyConstraints, LegalReviewsPerGroupSchemaReachesTheEngineRequest) {
  json r = run(std::string(REAM_SOURCE_DIR) + "/workflows/legal_review.yaml",
               {{"contracts", {dir_.write("msa.txt", "MASTER SERVICES AGREEMENT\n\n7. Governing Law. This Agreement is "
                                                     "governed by the laws of the State of Delaware.\n")}},
                {"categories", {"Governing Law", "Parties"}}, {"max_tokens", 16}});
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["job"]["status"], "succeeded") << r["job"]["error"];
  const auto seen = engine_->seen();
  const Seen* group = request(seen, "s0-g0");
  ASSERT_TRUE(group);
  ASSERT_EQ(group->constraint.kind, Constraint::Kind::kJsonSchema);
  const json schema = json::parse(group->constraint.source);
  const json& items = schema["properties"]["categories"];
  EXPECT_EQ(items["minItems"], 2);
  EXPECT_EQ(items["items"]["properties"]["category"]["enum"], json::array({"Parties", "Governing Law"}));
  // 16 tokens cannot hold the shortest valid reply (two categories with their fields),
  // so the reply is cut and unusable: the repair prompt carries the same schema, and
  // the report counts what stayed unusable.
  const Seen* repair = request(seen, "s0-g0~repair");
  ASSERT_TRUE(repair);
  EXPECT_EQ(repair->constraint.source, group->constraint.source);
  EXPECT_EQ(r["summary"]["unusable_replies"], r["outputs"]["unparsed"][0]);
}

// The proof of issue 12: with the engine enforcing constraints, the three domain
// workflows over real documents (a CUAD contract, Apple's 10-K, a source tree) with
// the random-weight tiny model (which, unconstrained, writes noise) finish with zero
// unusable replies, and every reply the engine wrote is JSON that ajv validates against
// its step's declared reply_schema. The model fills every free string until the reply
// budget makes it close: each reply is complete within max_tokens.
TEST_F(ReplyConstraints, EndToEndProofZeroUnusableRepliesOverRealDocuments) {
  use_engine(8192);  // legal_review's instructions and a 512-token reply need more than 2,048
  const std::string docs = REAM_TEST_DOCUMENTS_DIR;
  struct Run {
    const char* workflow;
    json inputs;
  };
  const std::vector<Run> runs = {
      {"legal_review",
       {{"contracts", {docs + "/cuad/contracts/ADUROBIOTECH,INC_06_02_2020-EX-10.7-CONSULTING AGREEMENT(1).txt"}},
        {"max_tokens", 512}}},  // all 41 CUAD categories
      {"financial_diligence",
       {{"filings", {docs + "/edgar/aapl-10-k-2024-11-01.html"}}, {"areas", {"litigation"}}, {"max_tokens", 512}}},
      {"code_audit", {{"source", {std::string(REAM_SOURCE_DIR) + "/plugins/example"}}, {"max_tokens", 512}}},
  };
  for (const Run& run_spec : runs) {
    const size_t before = engine_->seen().size();
    json r = run(std::string(REAM_SOURCE_DIR) + "/workflows/" + run_spec.workflow + ".yaml", run_spec.inputs);
    ASSERT_TRUE(r.is_object()) << run_spec.workflow;
    EXPECT_EQ(r["job"]["status"], "succeeded") << run_spec.workflow << ": " << r["job"]["error"];
    EXPECT_EQ(r["summary"]["unusable_replies"], 0) << run_spec.workflow << ": " << r["warnings"].dump(2);
    std::ifstream in(std::string(REAM_SOURCE_DIR) + "/workflows/schemas/" + run_spec.workflow + ".reply.json");
    json cases = {{"schemas", {{"step", json::parse(in)}}}, {"instances", json::array()}};
    const auto seen = engine_->seen();
    ASSERT_GT(seen.size(), before) << run_spec.workflow << " asked the engine nothing";
    for (size_t i = before; i < seen.size(); ++i) {
      json reply = json::parse(seen[i].text, nullptr, false);
      ASSERT_FALSE(reply.is_discarded()) << run_spec.workflow << " " << seen[i].tag << ": not JSON: " << seen[i].text;
      cases["instances"].push_back({{"schema", "step"}, {"data", reply}});
    }
    json out = test::run_ajv(cases);
    ASSERT_TRUE(out.is_object());
    for (size_t i = 0; i < out["instances"].size(); ++i) {
      EXPECT_TRUE(out["instances"][i]["ok"].get<bool>()) << run_spec.workflow << " " << seen[before + i].tag << ": "
                                                        << out["instances"][i]["errors"];
    }
  }
}

// A tiny random model whose generation_config.json asks for sampling values no code of
// ream uses as a default, so a test can tell where a request's values came from.
std::string model_with_generation_config(const test::TempDir& dir, const json& sampling) {
  InitModelOptions o;
  o.shape = "tiny";
  o.out_dir = dir.path("gen-model");
  o.seed = 7;
  o.tokenizer_dir = REAM_TOKENIZER_DIR;
  o.dtype = DType::kF32;
  const Status st = init_random_model(o);
  EXPECT_TRUE(st.ok()) << st.to_string();
  const std::string path = o.out_dir + "/generation_config.json";
  json gen = json::parse(std::ifstream(path));
  gen.update(sampling);
  std::ofstream(path) << gen.dump(2);
  return o.out_dir;
}

const json kGenerationSampling = {{"do_sample", true}, {"temperature", 0.55}, {"top_p", 0.65},
                                  {"top_k", 7}, {"min_p", 0.05}, {"repetition_penalty", 1.15}};

TEST_F(ReplyConstraints, AStepWithoutSamplingSettingsUsesTheModelsGenerationConfig) {
  use_engine(2048, model_with_generation_config(dir_, kGenerationSampling));
  run_testkit("plain", "{max_tokens: 4}", R"(  - id: a
    plugin: testkit
    documents: ${{ inputs.doc }}
    with: {prompts: 1}
)");
  const auto seen = engine_->seen();
  const Seen* k0 = request(seen, "k0");
  ASSERT_TRUE(k0);
  EXPECT_FLOAT_EQ(k0->sampling.temperature, 0.55f);
  EXPECT_FLOAT_EQ(k0->sampling.top_p, 0.65f);
  EXPECT_EQ(k0->sampling.top_k, 7);
  EXPECT_FLOAT_EQ(k0->sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(k0->sampling.repetition_penalty, 1.15f);
  EXPECT_EQ(k0->sampling.max_tokens, 4);
  EXPECT_FALSE(k0->sampling.has_seed);
}

TEST_F(ReplyConstraints, TheWorkflowsAndTheStepsEngineSettingsWinOverTheModels) {
  use_engine(2048, model_with_generation_config(dir_, kGenerationSampling));
  run_testkit("tuned", "{max_tokens: 4, temperature: 0.2, seed: 11}", R"(  - id: a
    plugin: testkit
    documents: ${{ inputs.doc }}
    with: {prompts: 1}
    engine: {top_k: 3, repetition_penalty: 1.0}
  - id: b
    plugin: testkit
    needs: [a]
    documents: ${{ inputs.doc }}
    with: {prompts: 1}
)");
  const auto seen = engine_->seen();
  ASSERT_EQ(seen.size(), 2u);
  for (const Seen& s : seen) {
    SCOPED_TRACE(s.tag);
    const bool step_a = s.tag.find("step a") != std::string::npos;
    EXPECT_FLOAT_EQ(s.sampling.temperature, 0.2f);                      // the workflow's
    EXPECT_EQ(s.sampling.top_k, step_a ? 3 : 7);                        // step a's, else the model's
    EXPECT_FLOAT_EQ(s.sampling.repetition_penalty, step_a ? 1.0f : 1.15f);
    EXPECT_FLOAT_EQ(s.sampling.top_p, 0.65f);                           // the model's
    EXPECT_FLOAT_EQ(s.sampling.min_p, 0.05f);
    EXPECT_TRUE(s.sampling.has_seed);
    EXPECT_EQ(s.sampling.seed, 11u);
  }
}

}  // namespace
}  // namespace ream::flow
