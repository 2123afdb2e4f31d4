// Workflow loading and validation: a catalogue of invalid workflows, each with its
// exact message (file:line:col and what was expected), plus valid workflows and
// the step order the needs DAG gives.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "flow/workflow.h"

namespace ream::flow {
namespace {

plugins::Manifest manifest(const std::string& name, const std::string& params, const std::string& outputs) {
  plugins::Manifest m;
  m.name = name;
  m.version = "1.0";
  m.params_schema = params;
  m.outputs_schema = outputs;
  return m;
}

class WorkflowValidation : public ::testing::Test {
 protected:
  WorkflowValidation() {
    plugins_.push_back(manifest("qa",
                                R"({"type":"object","properties":{"questions":{"type":"array","items":{"type":"string"}},)"
                                R"("max_quotes":{"type":"integer","minimum":0,"default":3},"style":{"type":"string","enum":["short","long"]}},)"
                                R"("required":["questions"]})",
                                R"({"answers":{"type":"array"},"answered":{"type":"integer"}})"));
    plugins_.push_back(manifest("sum", R"({"type":"object","properties":{"max_words":{"type":"integer"}}})",
                                R"({"summary":{"type":"string"}})"));
    catalog_.find = [this](const std::string& name) -> const plugins::Manifest* {
      for (const auto& m : plugins_) {
        if (m.name == name) return &m;
      }
      return nullptr;
    };
    catalog_.names = [] { return std::vector<std::string>{"qa", "sum"}; };
  }

  std::string error_of(const std::string& yaml) {
    auto wf = parse_workflow(yaml, "wf.yaml", catalog_);
    return wf.ok() ? "<ok>" : wf.status().message();
  }

  std::vector<plugins::Manifest> plugins_;
  PluginCatalog catalog_;
};

const char* kHeader =
    "name: t\n"
    "inputs:\n"
    "  doc: {type: document}\n"
    "  qs: {type: list, items: string}\n";

TEST_F(WorkflowValidation, CatalogueOfInvalidWorkflowsWithExactMessages) {
  struct Case {
    std::string yaml, message;
  };
  const std::string h = kHeader;
  const std::vector<Case> cases = {
      {"name: [unclosed\n", "wf.yaml:2:1: invalid YAML: end of sequence flow not found"},
      {"- just\n- a list\n", "wf.yaml:1:1: expected a mapping at the top level"},
      {"steps:\n  - {id: a, plugin: sum}\n", "wf.yaml:1:1: workflow is missing required field 'name'"},
      {"name: t\n", "wf.yaml:1:1: workflow is missing required field 'steps'"},
      {"name: t\nstpes: []\nsteps:\n  - {id: a, plugin: sum}\n",
       "wf.yaml:2:1: unknown field 'stpes' in workflow (expected one of: name, version, description, inputs, "
       "engine, steps, outputs, schedule)"},
      {"name: t\nsteps: []\n", "wf.yaml:2:8: 'steps' must be a non-empty list of steps"},
      {h + "steps:\n  - id: a\n    plugin: sumarize\n",
       "wf.yaml:6:5: step 'a': unknown plugin 'sumarize' (loaded plugins: qa, sum)"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    nedds: [b]\n",
       "wf.yaml:8:5: unknown field 'nedds' in step 'a' (expected one of: id, name, plugin, with, documents, needs, "
       "foreach, parallel, retry, timeout, when, engine, continue_on_error, reply_schema, reply_grammar)"},
      {h + "steps:\n  - id: a\n    plugin: sum\n  - id: a\n    plugin: sum\n",
       "wf.yaml:8:9: duplicate step id 'a' (first defined at line 6)"},
      {h + "steps:\n  - id: 9lives\n    plugin: sum\n",
       "wf.yaml:6:9: step id '9lives' is not valid (expected letters, digits, '_' or '-', starting with a letter)"},
      {h + "steps:\n  - plugin: sum\n", "wf.yaml:6:5: step is missing required field 'id'"},
      {h + "steps:\n  - id: a\n", "wf.yaml:6:5: step 'a' is missing required field 'plugin'"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    needs: [c]\n", "wf.yaml:6:5: step 'a': needs unknown step 'c'"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    needs: a\n", "wf.yaml:6:5: step 'a' needs itself"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    needs: c\n  - id: b\n    plugin: sum\n    needs: a\n"
           "  - id: c\n    plugin: sum\n    needs: b\n",
       "wf.yaml:6:5: cycle in needs: a -> c -> b -> a"},
      {h + "steps:\n  - id: a\n    plugin: qa\n    with:\n      questions: ${{ inputs.question }}\n",
       "wf.yaml:9:18: step 'a': unknown input 'question' in 'inputs.question' (declared inputs: doc, qs)"},
      {h + "steps:\n  - id: a\n    plugin: sum\n  - id: b\n    plugin: qa\n    with:\n"
           "      questions: ['${{ steps.a.outputs.summary }}']\n",
       "wf.yaml:11:18: step 'b': references steps.a but 'a' is not in its needs"},
      {h + "steps:\n  - id: a\n    plugin: sum\n  - id: b\n    plugin: qa\n    needs: a\n    with:\n"
           "      questions: ['${{ steps.a.outputs.summry }}']\n",
       "wf.yaml:12:18: step 'b': plugin 'sum' of step 'a' declares no output 'summry' (declared: summary)"},
      {h + "steps:\n  - id: a\n    plugin: qa\n    with:\n      questions: ${{ inputs. }}\n",
       "wf.yaml:9:18: step 'a': parameter 'questions': bad expression '${{ inputs. }}': expected a name after '.' "
       "at column 8"},
      {h + "steps:\n  - id: a\n    plugin: qa\n    with:\n      questions: [a]\n      questons: [b]\n",
       "wf.yaml:10:17: step 'a': unknown parameter 'questons' for plugin 'qa' (expected one of: max_quotes, "
       "questions, style)"},
      {h + "steps:\n  - id: a\n    plugin: qa\n    with:\n      max_quotes: 2\n",
       "wf.yaml:6:5: step 'a': missing required parameter 'questions' for plugin 'qa'"},
      {h + "steps:\n  - id: a\n    plugin: qa\n    with:\n      questions: [a]\n      max_quotes: many\n",
       "wf.yaml:10:19: step 'a': parameter 'max_quotes' must be an integer"},
      {h + "steps:\n  - id: a\n    plugin: qa\n    with:\n      questions: [a]\n      style: medium\n",
       "wf.yaml:10:14: step 'a': parameter 'style' must be one of: short, long"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    retry: {attempts: 0}\n",
       "wf.yaml:8:12: step 'a': retry attempts must be between 1 and 100"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    timeout: soon\n",
       "wf.yaml:8:14: 'timeout' must be a duration such as 30s, 500ms, 5m or 1h"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    foreach: {chunks: '${{ inputs.doc }}', items: '${{ inputs.qs }}'}\n",
       "wf.yaml:8:14: step 'a': 'foreach' needs exactly one of: documents, chunks, items"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    foreach: {chunks: '${{ inputs.qs }}'}\n",
       "wf.yaml:8:23: step 'a': 'foreach' source must be a document or documents input, as in ${{ inputs.document }}"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    with: {max_words: '${{ item }}'}\n",
       "wf.yaml:8:23: step 'a': 'item' is only defined in a step with 'foreach'"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    when: ${{ input.x == 1 }}\n",
       "wf.yaml:6:5: step 'a': 'when': unknown name 'input' (expected inputs, steps, item or job)"},
      {"name: t\ninputs:\n  n: {type: integr}\nsteps:\n  - {id: a, plugin: sum}\n",
       "wf.yaml:3:13: input 'n': unknown type 'integr' (expected one of: string, number, integer, boolean, enum, "
       "list, document, documents)"},
      {"name: t\ninputs:\n  n: {type: integer, default: lots}\nsteps:\n  - {id: a, plugin: sum}\n",
       "wf.yaml:3:31: input 'n': default must be an integer"},
      {"name: t\ninputs:\n  e: {type: enum}\nsteps:\n  - {id: a, plugin: sum}\n",
       "wf.yaml:3:6: input 'e': an enum needs 'values'"},
      {"name: t\nengine: {temperature: hot}\nsteps:\n  - {id: a, plugin: sum}\n",
       "wf.yaml:2:23: engine 'temperature' must be a number"},
      {"name: t\nsteps:\n  - {id: a, plugin: sum}\noutputs:\n  s: ${{ steps.b.outputs.summary }}\n",
       "wf.yaml:5:6: output 's': unknown step 'b' in 'steps.b.outputs.summary'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    EXPECT_EQ(error_of(c.yaml), c.message);
  }
}

TEST_F(WorkflowValidation, NumericFieldsOutOfRangeAreRefusedAtLoad) {
  // Before: max_tokens 1e11 loaded and overflowed int when a job ran; parallel and
  // retry attempts were narrowed to int before any check (2^32 + 1 attempts passed as 1).
  struct Case {
    std::string yaml, message;
  };
  const std::string h = kHeader;
  const std::string step = "steps:\n  - id: a\n    plugin: sum\n";
  const std::vector<Case> cases = {
      {"name: t\nengine:\n  max_tokens: 100000000000\n" + step,
       "wf.yaml:3:15: engine 'max_tokens' must be an integer in 1..262144 (got 100000000000)"},
      {"name: t\nengine:\n  max_tokens: 0\n" + step,
       "wf.yaml:3:15: engine 'max_tokens' must be an integer in 1..262144 (got 0)"},
      {"name: t\nengine:\n  top_k: 1099511627776\n" + step,
       "wf.yaml:3:10: engine 'top_k' must be an integer in 0..1000000 (got 1099511627776)"},
      {"name: t\nengine:\n  top_k: 20.5\n" + step,
       "wf.yaml:3:10: engine 'top_k' must be an integer in 0..1000000 (got 20.5)"},
      {"name: t\nengine:\n  temperature: 1e9\n" + step,
       "wf.yaml:3:16: engine 'temperature' must be a number in [0, 100] (got 1e9)"},
      {"name: t\nengine:\n  top_p: 0\n" + step, "wf.yaml:3:10: engine 'top_p' must be a number in (0, 1] (got 0)"},
      {"name: t\nengine:\n  seed: -1\n" + step,
       "wf.yaml:3:9: engine 'seed' must be an integer in 0..9007199254740991 (got -1)"},
      {h + step + "    engine: {max_tokens: 99999999999999999999}\n",
       "wf.yaml:8:26: engine 'max_tokens' must be a number"},
      {h + step + "    engine: {min_p: 2}\n", "wf.yaml:8:21: engine 'min_p' must be a number in [0, 1] (got 2)"},
      {h + step + "    parallel: 4294967297\n", "wf.yaml:8:15: 'parallel' must be in 0..1024 (got 4294967297)"},
      {h + step + "    retry: 4294967297\n", "wf.yaml:8:12: step 'a': retry attempts must be between 1 and 100"},
      {h + step + "    timeout: 9999999h\n", "wf.yaml:8:14: 'timeout' must be at most 604800s (got 9999999h)"},
      {h + step + "    retry: {attempts: 2, backoff: 100000h}\n",
       "wf.yaml:8:35: 'backoff' must be at most 86400s (got 100000h)"},
      {h + "steps:\n  - id: a\n    plugin: sum\n    foreach: {chunks: '${{ inputs.doc }}', chunk_tokens: 1000000000}\n",
       "wf.yaml:8:58: 'chunk_tokens' must be in 0..262144 (got 1000000000)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    EXPECT_EQ(error_of(c.yaml), c.message);
  }
  // The edges load.
  EXPECT_EQ(error_of("name: t\nengine: {max_tokens: 262144, top_k: 0, temperature: 0, top_p: 1, seed: 0}\n" + step),
            "<ok>");
}

TEST_F(WorkflowValidation, IllFormedUtf8IsRefusedWithItsPosition) {
  // Before: a step parameter holding a stray continuation byte made parse_workflow throw
  // nlohmann::json's type_error 316 out of validation (found by fuzz_workflow_yaml; the
  // input is tests/fuzz/corpus/workflow_yaml/crash-invalid-utf8-param).
  const std::string step = "steps:\n  - id: a\n    plugin: qa\n    with: {questions: [\"ok \x83\"]}\n";
  EXPECT_EQ(error_of(kHeader + step), "wf.yaml:8:28: not valid UTF-8 (byte 0x83)");
  EXPECT_EQ(error_of("name: t\xC3\n"), "wf.yaml:1:8: not valid UTF-8 (byte 0xC3)");
  EXPECT_EQ(error_of("# caf\xC3\xA9\nname: \xED\xA0\x80\n"), "wf.yaml:2:7: not valid UTF-8 (byte 0xED)");
  // Well-formed text outside ASCII loads.
  EXPECT_EQ(error_of(std::string(kHeader) + "steps:\n  - id: a\n    plugin: qa\n    with: {questions: [\"café ✓\"]}\n"),
            "<ok>");
  // A UTF-8 file whose double-quoted escape decodes to bytes that are not UTF-8: yaml-cpp
  // writes "\_" (U+00A0) as the lone byte A0. The same type_error before, found by an hour
  // of fuzz_workflow_yaml (tests/fuzz/corpus/workflow_yaml/crash-escape-decodes-to-bad-utf8).
  // In a value and in a key.
  const std::string bad_value =
      error_of(kHeader + std::string("steps:\n  - id: a\n    plugin: qa\n    with: {questions: [\"ok \\_\"]}\n"));
  EXPECT_EQ(bad_value.rfind("wf.yaml:8:", 0), 0u) << bad_value;
  EXPECT_NE(bad_value.find("not valid UTF-8 once its escapes are decoded"), std::string::npos) << bad_value;
  EXPECT_NE(error_of(kHeader + std::string("steps:\n  - id: a\n    plugin: qa\n    with: {\"k\\_\": 1}\n"))
                .find("not valid UTF-8 once its escapes are decoded"),
            std::string::npos);
}

TEST_F(WorkflowValidation, ReportsEveryErrorNotJustTheFirst) {
  // Structural errors are all reported; references are checked once the structure is sound.
  std::string msg = error_of(std::string(kHeader) +
                             "steps:\n  - id: a\n    plugin: sum\n    timeout: soon\n"
                             "  - id: b\n    plugin: sum\n    retry: -2\n");
  EXPECT_EQ(msg,
            "wf.yaml:8:14: 'timeout' must be a duration such as 30s, 500ms, 5m or 1h\n"
            "wf.yaml:11:12: step 'b': retry attempts must be between 1 and 100");
  msg = error_of(std::string(kHeader) + "steps:\n  - {id: a, plugin: nope}\n  - {id: b, plugin: sum, needs: a, "
                 "with: {max_words: '${{ inputs.nope }}'}}\n");
  EXPECT_EQ(msg,
            "wf.yaml:6:5: step 'a': unknown plugin 'nope' (loaded plugins: qa, sum)\n"
            "wf.yaml:7:54: step 'b': unknown input 'nope' in 'inputs.nope' (declared inputs: doc, qs)");
}

TEST_F(WorkflowValidation, NeedsGiveATopologicalOrder) {
  auto wf = parse_workflow(std::string(kHeader) +
                               "steps:\n"
                               "  - {id: report, plugin: sum, needs: [left, right]}\n"
                               "  - {id: left, plugin: sum, needs: root}\n"
                               "  - {id: right, plugin: sum, needs: root}\n"
                               "  - {id: root, plugin: sum}\n",
                           "wf.yaml", catalog_);
  ASSERT_TRUE(wf.ok()) << wf.status().message();
  std::vector<std::string> order;
  for (size_t i : wf->order) order.push_back(wf->steps[i].id);
  ASSERT_EQ(order.size(), 4u);
  auto pos = [&](const std::string& id) { return std::find(order.begin(), order.end(), id) - order.begin(); };
  EXPECT_LT(pos("root"), pos("left"));
  EXPECT_LT(pos("root"), pos("right"));
  EXPECT_LT(pos("left"), pos("report"));
  EXPECT_LT(pos("right"), pos("report"));
}

TEST_F(WorkflowValidation, ValidWorkflowKeepsTypesDefaultsAndSettings) {
  auto wf = parse_workflow(std::string(kHeader) +
                               "  n: {type: integer, default: 7, minimum: 1}\n"
                               "  mode: {type: enum, values: [fast, slow], default: slow}\n"
                               "engine:\n  temperature: 0.2\n  max_tokens: ${{ inputs.n }}\n"
                               "steps:\n"
                               "  - id: ask\n    plugin: qa\n    documents: ${{ inputs.doc }}\n"
                               "    foreach: {items: '${{ inputs.qs }}'}\n"
                               "    with: {questions: ['${{ item }}'], style: short}\n"
                               "    retry: {attempts: 3, backoff: 250ms, factor: 3, max_backoff: 1m}\n"
                               "    timeout: 2m\n"
                               "    when: inputs.mode == 'slow' && length(inputs.qs) > 0\n"
                               "outputs:\n  answers: ${{ steps.ask.outputs.answers }}\n",
                           "wf.yaml", catalog_);
  ASSERT_TRUE(wf.ok()) << wf.status().message();
  const InputSpec* n = wf->find_input("n");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->type, InputType::kInteger);
  EXPECT_EQ(n->default_value->get<int>(), 7);
  EXPECT_FALSE(n->required);
  EXPECT_TRUE(wf->find_input("doc")->required);
  const Step& s = wf->steps[0];
  EXPECT_EQ(s.foreach.kind, ForeachKind::kItems);
  EXPECT_EQ(s.retry.attempts, 3);
  EXPECT_DOUBLE_EQ(s.retry.backoff_s, 0.25);
  EXPECT_DOUBLE_EQ(s.retry.factor, 3);
  EXPECT_DOUBLE_EQ(s.retry.max_backoff_s, 60);
  EXPECT_DOUBLE_EQ(s.timeout_s, 120);
  EXPECT_DOUBLE_EQ(wf->engine["temperature"].get<double>(), 0.2);
  // Unset sampling keys stay unset: the model's generation_config.json gives them at run time.
  EXPECT_FALSE(wf->engine.contains("top_p"));
  EXPECT_FALSE(wf->engine.contains("top_k"));
  EXPECT_EQ(wf->engine["max_tokens"], "${{ inputs.n }}");
  EXPECT_EQ(wf->content_hash.size(), 64u);
}

TEST_F(WorkflowValidation, ShippedWorkflowsLoadAgainstTheirPluginsSchemas) {
  plugins_.push_back(manifest("summarize", R"({"type":"object","properties":{"max_words":{},"focus":{},"max_tokens":{},"repair":{}}})",
                              R"({"summary":{},"parts":{},"unparsed":{}})"));
  plugins_.push_back(manifest("long_qa", R"({"type":"object","properties":{"questions":{},"max_quotes":{},"repair":{},"max_tokens":{}}})",
                              R"({"answers":{},"answered":{},"unparsed":{}})"));
  for (const char* name : {"summarize", "long_qa"}) {
    auto wf = load_workflow(std::string(REAM_SOURCE_DIR) + "/workflows/" + name + ".yaml", catalog_);
    EXPECT_TRUE(wf.ok()) << name << ": " << wf.status().message();
  }
}

}  // namespace
}  // namespace ream::flow

namespace ream::flow {
namespace {

// A step's reply_schema / reply_grammar: inline or from a file next to the workflow,
// and each way of getting it wrong named with the file, line and column.
class ReplySchemaValidation : public ::testing::Test {
 protected:
  ReplySchemaValidation() {
    m_.name = "sum";
    m_.params_schema = R"({"type":"object","properties":{}})";
    m_.outputs_schema = "{}";
    catalog_.find = [this](const std::string& n) -> const plugins::Manifest* { return n == "sum" ? &m_ : nullptr; };
    catalog_.names = [] { return std::vector<std::string>{"sum"}; };
    dir_ = std::filesystem::temp_directory_path() / ("ream-reply-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                                                     std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(dir_ / "schemas");
  }
  ~ReplySchemaValidation() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  Result<Workflow> load(const std::string& step_extra) {
    write("wf.yaml", "name: t\nsteps:\n  - id: a\n    plugin: sum\n" + step_extra);
    return load_workflow((dir_ / "wf.yaml").string(), catalog_);
  }
  std::string error_of(const std::string& step_extra) {
    auto wf = load(step_extra);
    if (wf.ok()) return "<ok>";
    std::string m = wf.status().message();
    const std::string prefix = (dir_ / "wf.yaml").string();
    return m.rfind(prefix, 0) == 0 ? "wf.yaml" + m.substr(prefix.size()) : m;
  }
  plugins::Manifest m_;
  PluginCatalog catalog_;
  std::filesystem::path dir_;
};

TEST_F(ReplySchemaValidation, InlineAndFileSchemasAndGrammarsLoad) {
  auto inline_wf = load("    reply_schema:\n      type: object\n      properties: {b: {type: string}, a: {type: integer}}\n"
                        "      required: [b]\n");
  ASSERT_TRUE(inline_wf.ok()) << inline_wf.status().message();
  EXPECT_EQ(inline_wf->steps[0].reply.kind, Constraint::Kind::kJsonSchema);
  EXPECT_EQ(nlohmann::json::parse(inline_wf->steps[0].reply.source)["required"], nlohmann::json::array({"b"}));
  write("schemas/r.json", R"({"type": "object", "properties": {"x": {"$ref": "#/$defs/x"}}, "$defs": {"x": {"enum": [1, 2]}}})");
  auto file_wf = load("    reply_schema: schemas/r.json\n");
  ASSERT_TRUE(file_wf.ok()) << file_wf.status().message();
  EXPECT_EQ(nlohmann::json::parse(file_wf->steps[0].reply.source)["$defs"]["x"]["enum"], nlohmann::json::array({1, 2}));
  // The schema file is part of what a job records: another schema, another hash.
  const std::string hash = file_wf->content_hash;
  write("schemas/r.json", R"({"type": "object"})");
  EXPECT_NE(load("    reply_schema: schemas/r.json\n")->content_hash, hash);
  write("g.gbnf", "# yes or no\nroot ::= \"yes\" | \"no\"\n");
  auto grammar = load("    reply_grammar: g.gbnf\n");
  ASSERT_TRUE(grammar.ok()) << grammar.status().message();
  EXPECT_EQ(grammar->steps[0].reply.kind, Constraint::Kind::kGrammar);
  EXPECT_NE(grammar->steps[0].reply.source.find("root ::="), std::string::npos);
  auto none = load("");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->steps[0].reply.kind, Constraint::Kind::kNone);
}

TEST_F(ReplySchemaValidation, EachMistakeIsNamedWithFileLineAndColumn) {
  write("schemas/bad.json", "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"a\": {\"typ\": \"string\"}\n  }\n}\n");
  write("schemas/broken.json", "{\n  \"type\": \"object\",\n  \"properties\": {\n}\n");
  write("schemas/y.yaml", "type: object\nproperties:\n  a: {type: strin}\n");
  EXPECT_EQ(error_of("    reply_schema:\n      type: object\n      propeties: {}\n"),
            "wf.yaml:7:18: step 'a': reply_schema: unknown keyword 'propeties' (at /propeties)");
  EXPECT_EQ(error_of("    reply_schema: schemas/missing.json\n"),
            "wf.yaml:5:19: step 'a': reply_schema: cannot read 'schemas/missing.json' (looked for " +
                (dir_ / "schemas/missing.json").string() + ")");
  EXPECT_EQ(error_of("    reply_schema: schemas/bad.json\n"),
            "wf.yaml:5:19: step 'a': reply_schema schemas/bad.json:4:18: unknown keyword 'typ' (at /properties/a/typ)");
  EXPECT_EQ(error_of("    reply_schema: schemas/y.yaml\n"),
            "wf.yaml:5:19: step 'a': reply_schema schemas/y.yaml:3:13: 'type' must be one of null, boolean, object, "
            "array, number, string, integer (or an array of them); got \"strin\" (at /properties/a/type)");
  EXPECT_EQ(error_of("    reply_schema: schemas/broken.json\n").rfind(
                "wf.yaml:5:19: step 'a': reply_schema schemas/broken.json:5:1: not valid JSON", 0),
            0u)
      << error_of("    reply_schema: schemas/broken.json\n");
  // A number past a double's range (out_of_range, not parse_error, in nlohmann::json).
  write("schemas/huge.json", "{\"type\": \"number\", \"maximum\": 1e999}\n");
  EXPECT_EQ(error_of("    reply_schema: schemas/huge.json\n").rfind(
                "wf.yaml:5:19: step 'a': reply_schema schemas/huge.json: not valid JSON", 0),
            0u)
      << error_of("    reply_schema: schemas/huge.json\n");
  EXPECT_EQ(error_of("    reply_schema:\n      type: object\n      properties: {a: {$ref: '#/$defs/nope'}}\n"),
            "wf.yaml:7:30: step 'a': reply_schema: '$ref' \"#/$defs/nope\" does not resolve to anything in this schema "
            "(at /properties/a/$ref)");
  EXPECT_EQ(error_of("    reply_schema: [1, 2]\n"),
            "wf.yaml:5:19: step 'a': reply_schema must be a JSON Schema (a mapping) or the path of a .json, .yaml or .yml file");
  EXPECT_EQ(error_of("    reply_schema: {type: object, minItems: 3, maxItems: 2}\n"),
            "wf.yaml:5:44: step 'a': reply_schema: minItems 3 is greater than maxItems 2 (at /minItems)");
  EXPECT_EQ(error_of("    reply_grammar: 'answer ::= \"yes\"'\n"),
            "wf.yaml:5:20: step 'a': reply_grammar: the grammar has no 'root ::= ...' rule (GBNF's start symbol)");
  EXPECT_EQ(error_of("    reply_schema: {type: object}\n    reply_grammar: 'root ::= \"x\"'\n"),
            "wf.yaml:6:20: step 'a': give reply_schema or reply_grammar, not both");
}

}  // namespace
}  // namespace ream::flow
