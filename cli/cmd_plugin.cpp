// `ream plugin check PATH`: loads a plugin, prints its manifest and runs its
// callbacks on a sample document (every prompt gets one reply: the built-in sample,
// --reply, or the real model with --model), so that plugin authors can check their
// work. It shows what an author needs: the manifest, the first prompt in full, the
// reply given to it, the findings parsed from the replies, and the warnings (the first
// few, then a count, so one unusable sample reply per prompt is not a flood).
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

const char* kUsageHead =
    "usage: ream plugin check PATH [--doc FILE] [--params JSON] [--reply TEXT|@FILE]\n"
    "                         [--model DIR [--device cpu|cuda]]\n"
    "\n"
    "Loads the plugin at PATH (checking its ABI version), prints its manifest, then runs\n"
    "plan and reduce on a sample document (--doc, else a built-in text) and prints the\n"
    "first prompt, the reply it got, the findings and the warnings. Without --model every\n"
    "prompt gets one reply: --reply (text, or @FILE), else this sample reply:\n  ";

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

constexpr size_t kWarningsShown = 3;
constexpr size_t kFindingsShown = 10;

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
std::vector<plugins::Reply> answer(const std::vector<plugins::Prompt>& prompts, const std::string& reply_text,
                                   flow::ModelClient* model) {
  std::vector<plugins::Reply> out;
  for (const plugins::Prompt& p : prompts) {
    plugins::Reply r{p.key, reply_text, "stop", 0, 0, 0};
    if (model) {
      flow::ModelRequest req;
      req.messages = p.messages;
      req.text = p.text;
      req.tag = "plugin check " + p.key;
      req.sampling = model->default_sampling();
      req.sampling.constraint = p.constraint;
      req.sampling.max_tokens = p.max_tokens > 0 ? p.max_tokens : 256;
      if (p.temperature >= 0) req.sampling.temperature = p.temperature;
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

// Counts across the rounds, for the closing line.
struct Totals {
  size_t prompts = 0, findings = 0, warnings = 0;
};

// The first prompt of a call, in full but for the middle of a long one.
void print_prompt(const plugins::Prompt& p) {
  std::printf("  first prompt '%s' (max_tokens %d):\n", p.key.c_str(), static_cast<int>(p.max_tokens));
  auto show = [](const std::string& role, std::string body) {
    // Instructions and the reply format usually follow the document: keep more of the end.
    if (body.size() > 4000) body = body.substr(0, 1000) + "\n  [... " + std::to_string(body.size() - 4000) + " bytes ...]\n" + body.substr(body.size() - 3000);
    std::printf("  --- %s\n%s\n", role.c_str(), body.c_str());
  };
  if (p.messages.empty()) show("text", p.text);
  for (const auto& m : p.messages) show(m.role, m.content);
  static const char* kKinds[] = {"none", "JSON object", "JSON Schema", "regex", "grammar"};
  if (p.constraint.kind != Constraint::Kind::kNone) {
    show(std::string("reply constraint: ") + kKinds[static_cast<int>(p.constraint.kind)], p.constraint.source);
  }
  std::printf("  ---\n");
}

void print_call(const char* what, const plugins::CallResult& r, Totals* t) {
  std::printf("%s: %zu prompts, %zu findings, %zu outputs, %zu warnings\n", what, r.prompts.size(),
              r.findings.size(), r.outputs.size(), r.warnings.size());
  t->prompts += r.prompts.size();
  t->findings += r.findings.size();
  t->warnings += r.warnings.size();
  if (!r.prompts.empty()) print_prompt(r.prompts[0]);
  for (size_t i = 0; i < r.findings.size() && i < kFindingsShown; ++i) {
    const plugins::Finding& f = r.findings[i];
    std::printf("  finding [%s] %s: %s (%zu quotes)\n", f.kind.c_str(), f.title.c_str(),
                f.text.substr(0, 120).c_str(), f.evidence.size());
  }
  if (r.findings.size() > kFindingsShown) std::printf("  ... and %zu more findings\n", r.findings.size() - kFindingsShown);
  for (const auto& [name, value] : r.outputs) std::printf("  output %s = %s\n", name.c_str(), value.substr(0, 200).c_str());
  for (size_t i = 0; i < r.warnings.size() && i < kWarningsShown; ++i) std::printf("  warning: %s\n", r.warnings[i].c_str());
  if (r.warnings.size() > kWarningsShown) std::printf("  ... and %zu more warnings\n", r.warnings.size() - kWarningsShown);
}

// The closing line: "ok" when the plugin ran, and what the warnings mean.
int verdict(const plugins::Manifest& m, const Totals& t, bool with_model) {
  std::printf("ok: %s %s loads and runs: %zu prompts, %zu findings, %zu warnings\n", m.name.c_str(),
              m.version.c_str(), t.prompts, t.findings, t.warnings);
  if (t.warnings > 0 && !with_model) {
    std::printf("note: the warnings come from the reply above, which does not follow every prompt's format;\n"
                "      pass --reply with a reply in the format the prompt asks for, or --model DIR\n");
  }
  return 0;
}

// The reply every prompt gets without a model: --reply TEXT or @FILE, else the sample.
bool reply_from(const Flags& f, std::string* out) {
  if (!f.has("reply")) {
    *out = kSampleReply;
    return true;
  }
  const std::string v = f.get("reply");
  if (v.empty() || v[0] != '@') {
    *out = v;
    return true;
  }
  bool ok = false;
  *out = read_file_or_empty(v.substr(1), &ok);
  return ok;
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
  std::string reply_text;
  if (!reply_from(f, &reply_text)) return fail("cannot read " + f.get("reply").substr(1), 2);
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
  Totals totals;
  print_call("plan", *plan, &totals);
  std::vector<plugins::Prompt> prompts = plan->prompts;
  std::string state = plan->state_json;
  for (int round = 0; round < 16; ++round) {
    std::vector<plugins::Reply> replies = answer(prompts, reply_text, model.get());
    if (!replies.empty()) {
      std::printf("reply to '%s'%s:\n%s\n", replies[0].key.c_str(),
                  model ? " (the model)" : " (the same for every prompt)", replies[0].text.c_str());
    }
    auto red = (*plugin)->reduce(env, docs, applied->dump(), "", round, replies, state);
    if (!red.ok()) return fail(red.status().message());
    print_call(("reduce round " + std::to_string(round)).c_str(), *red, &totals);
    if (red->prompts.empty()) return verdict(m, totals, model != nullptr);
    prompts = red->prompts;
    state = red->state_json;
  }
  return fail("reduce kept asking for more rounds (16)");
}

}  // namespace

std::string usage_plugin() { return std::string(kUsageHead) + kSampleReply + "\n"; }

int cmd_plugin(const Args& args) {
  Flags f({"doc", "params", "reply", "model", "device"}, {"help"});
  if (std::string err = f.parse(args); !err.empty()) return fail(err + "\n" + usage_plugin().c_str(), 2);
  if (f.has("help")) {
    std::fputs(usage_plugin().c_str(), stdout);
    return 0;
  }
  if (f.positional().size() != 2 || f.positional()[0] != "check") return fail(std::string("expected: check PATH\n") + usage_plugin().c_str(), 2);
  return check(f, f.positional()[1]);
}

}  // namespace ream::cli
