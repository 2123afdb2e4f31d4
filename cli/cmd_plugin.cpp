// `ream plugin check PATH`: loads a plugin, prints its manifest and runs its
// callbacks on a sample document (with sample replies, or the real model when
// --model is given), so that plugin authors can check their work.
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "flow/engine_model_client.h"
#include "flow/params_schema.h"
#include "plugins/plugin_host.h"
#include "ream/engine/engine.h"

namespace ream::cli {
namespace {

using nlohmann::json;

const char* kUsage =
    "usage: ream plugin check PATH [--doc FILE] [--params JSON] [--model DIR [--device cpu|cuda]]\n"
    "\n"
    "Loads the plugin at PATH (checking its ABI version), prints its manifest, then runs\n"
    "plan and reduce on a sample document (--doc, else a built-in text). Without --model\n"
    "every prompt gets the sample reply below; with --model the model answers.\n";

const char* kSampleDoc =
    "MASTER SERVICES AGREEMENT\n\n"
    "1. Parties. This Agreement is made between Acme Corporation (\"Customer\") and Widget Ltd "
    "(\"Supplier\").\n\n"
    "2. Term. This Agreement begins on 1 March 2024 and continues for two (2) years, renewing "
    "automatically for successive one-year terms unless either party gives ninety (90) days' notice.\n\n"
    "3. Governing Law. This Agreement is governed by the laws of the State of New York.\n";

const char* kSampleReply =
    "{\"answer\": \"sample answer\", \"found\": true, "
    "\"quotes\": [\"This Agreement is governed by the laws of the State of New York.\"], \"confidence\": 0.5}";

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "ream plugin: %s\n", message.c_str());
  return code;
}

// Sample values for parameters the schema requires and gives no default for.
json sample_params(const json& schema) {
  json p = json::object();
  for (const std::string& name : flow::schema_required(schema)) {
    const json& prop = schema["properties"].value(name, json::object());
    std::string type = prop.value("type", "string");
    if (type == "array") p[name] = json::array({"What is the governing law?"});
    else if (type == "integer" || type == "number") p[name] = prop.value("minimum", 1);
    else if (type == "boolean") p[name] = true;
    else p[name] = "sample";
  }
  return p;
}

// Answers prompts: the real model when given, else the sample reply.
std::vector<plugins::Reply> answer(const std::vector<plugins::Prompt>& prompts, flow::ModelClient* model) {
  std::vector<plugins::Reply> out;
  for (const plugins::Prompt& p : prompts) {
    plugins::Reply r{p.key, kSampleReply, "stop", 0, 0, 0};
    if (model) {
      flow::ModelRequest req{p.messages, p.text, {}, "plugin check " + p.key};
      req.sampling.max_tokens = p.max_tokens > 0 ? p.max_tokens : 256;
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      flow::ModelReply reply;
      auto id = model->submit(req, [&](flow::ModelReply rep) {
        std::lock_guard lock(mu);
        reply = std::move(rep);
        done = true;
        cv.notify_all();
      });
      if (id.ok()) {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return done; });
        r = {p.key, reply.text, reply.finish_reason, reply.prompt_tokens, reply.completion_tokens, 0};
      } else {
        r.text = "";
        r.finish_reason = "error: " + id.status().message();
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

void print_call(const char* what, const plugins::CallResult& r) {
  std::printf("%s: %zu prompts, %zu findings, %zu outputs, %zu warnings\n", what, r.prompts.size(),
              r.findings.size(), r.outputs.size(), r.warnings.size());
  if (!r.prompts.empty()) {
    const plugins::Prompt& p = r.prompts[0];
    std::string body = p.messages.empty() ? p.text : p.messages.back().content;
    if (body.size() > 300) body = body.substr(0, 150) + " [...] " + body.substr(body.size() - 150);
    std::printf("  first prompt '%s' (%zu messages): %s\n", p.key.c_str(), p.messages.size(), body.c_str());
  }
  for (const plugins::Finding& f : r.findings) {
    std::printf("  finding [%s] %s: %s (%zu quotes)\n", f.kind.c_str(), f.title.c_str(),
                f.text.substr(0, 120).c_str(), f.evidence.size());
  }
  for (const auto& [name, value] : r.outputs) std::printf("  output %s = %s\n", name.c_str(), value.substr(0, 200).c_str());
  for (const std::string& w : r.warnings) std::printf("  warning: %s\n", w.c_str());
}

int check(const Flags& f, const std::string& path) {
  auto plugin = plugins::open_plugin(path);
  if (!plugin.ok()) return fail(plugin.status().message());
  const plugins::Manifest& m = (*plugin)->manifest();
  json schema = json::parse(m.params_schema);
  std::printf("name:        %s\nversion:     %s\nabi version: %u\npath:        %s\ndescription: %s\n",
              m.name.c_str(), m.version.c_str(), m.abi_version, m.path.c_str(), m.description.c_str());
  std::printf("parameters:  %s\noutputs:     %s\n", schema.dump(2).c_str(), json::parse(m.outputs_schema).dump(2).c_str());

  std::unique_ptr<Engine> engine;
  std::unique_ptr<flow::EngineModelClient> model;
  if (f.has("model")) {
    auto e = Engine::create(EngineOptions{f.get("model"), f.get("device", "cpu")});
    if (!e.ok()) return fail("cannot load the model: " + e.status().message());
    engine = std::move(e).value();
    model = std::make_unique<flow::EngineModelClient>(*engine);
  }
  plugins::Document doc;
  doc.id = "doc-1";
  doc.path = f.has("doc") ? f.get("doc") : "sample.txt";
  if (f.has("doc")) {
    bool ok;
    doc.text = read_file_or_empty(f.get("doc"), &ok);
    if (!ok) return fail("cannot read " + f.get("doc"), 2);
  } else {
    doc.text = kSampleDoc;
  }
  doc.total_bytes = static_cast<int64_t>(doc.text.size());
  json params = f.has("params") ? json::parse(f.get("params"), nullptr, false) : sample_params(schema);
  if (params.is_discarded()) return fail("--params is not valid JSON", 2);
  auto applied = flow::apply_schema(schema, params, m.name);
  if (!applied.ok()) return fail(applied.status().message(), 2);
  std::printf("sample params: %s\n", applied->dump().c_str());

  plugins::CallEnv env;
  env.count_tokens = [&](std::string_view t) -> int64_t {
    return model ? model->count_tokens(t) : static_cast<int64_t>(t.size() / 4 + 1);
  };
  env.context_size = model ? model->context_size() : 32768;
  env.prompt_overhead = model ? model->prompt_overhead() : 16;
  env.log = [](int level, std::string_view msg) { std::printf("  log(%d): %.*s\n", level, static_cast<int>(msg.size()), msg.data()); };
  std::vector<plugins::Document> docs{doc};
  auto plan = (*plugin)->plan(env, docs, applied->dump(), "");
  if (!plan.ok()) return fail(plan.status().message());
  print_call("plan", *plan);
  std::vector<plugins::Prompt> prompts = plan->prompts;
  std::string state = plan->state_json;
  for (int round = 0; round < 16; ++round) {
    auto red = (*plugin)->reduce(env, docs, applied->dump(), "", round, answer(prompts, model.get()), state);
    if (!red.ok()) return fail(red.status().message());
    print_call(("reduce round " + std::to_string(round)).c_str(), *red);
    if (red->prompts.empty()) {
      std::printf("ok: %s %s loads and runs\n", m.name.c_str(), m.version.c_str());
      return 0;
    }
    prompts = red->prompts;
    state = red->state_json;
  }
  return fail("reduce kept asking for more rounds (16)");
}

}  // namespace

int cmd_plugin(const Args& args) {
  Flags f({"doc", "params", "model", "device"}, {"help"});
  if (std::string err = f.parse(args); !err.empty()) return fail(err + "\n" + kUsage, 2);
  if (f.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (f.positional().size() != 2 || f.positional()[0] != "check") return fail(std::string("expected: check PATH\n") + kUsage, 2);
  return check(f, f.positional()[1]);
}

}  // namespace ream::cli
