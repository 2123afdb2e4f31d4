// One attempt of a step run: resolve parameters, plan, send prompts, reduce in
// rounds, and turn the plugin's findings into store records with located evidence.
#include "flow/step_runner.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "flow/params_schema.h"
#include "flow/quotes.h"

namespace ream::flow {

using nlohmann::json;

namespace {

constexpr int kMaxRounds = 16;

std::string fmt_seconds(double s) {
  json v = s;
  return v.dump() + "s";
}

struct PendingReplies {
  std::mutex mu;
  std::condition_variable cv;
  size_t left = 0;
  std::vector<std::optional<ModelReply>> replies;
};

// Sends all prompts at once and waits for every reply, the deadline or a cancel.
Status run_prompts(const AttemptEnv& env, const std::vector<plugins::Prompt>& prompts,
                   std::vector<plugins::Reply>* out, store::Usage* usage) {
  auto pending = std::make_shared<PendingReplies>();
  pending->left = prompts.size();
  pending->replies.resize(prompts.size());
  std::vector<uint64_t> ids;
  auto cancel_all = [&] {
    for (uint64_t id : ids) env.model->cancel(id);
  };
  auto wait_all = [&](std::chrono::steady_clock::time_point until) {
    std::unique_lock lock(pending->mu);
    return pending->cv.wait_until(lock, until, [&] { return pending->left == 0; });
  };
  if (env.progress) env.progress->prompts_total += static_cast<int64_t>(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const plugins::Prompt& p = prompts[i];
    ModelRequest req;
    req.messages = p.messages;
    req.text = p.text;
    req.sampling = env.sampling;
    if (p.max_tokens > 0) req.sampling.max_tokens = p.max_tokens;
    if (p.temperature >= 0) req.sampling.temperature = p.temperature;
    req.tag = env.tag + " " + p.key;
    Progress* progress = env.progress;
    auto id = env.model->submit(req, [pending, i, progress](ModelReply reply) {
      if (progress) {
        ++progress->prompts_done;
        progress->prompt_tokens += reply.prompt_tokens;
        progress->completion_tokens += reply.completion_tokens;
        progress->cached_prompt_tokens += reply.cached_prompt_tokens;
      }
      std::lock_guard lock(pending->mu);
      pending->replies[i] = std::move(reply);
      --pending->left;
      pending->cv.notify_all();
    });
    if (!id.ok()) {
      {
        std::lock_guard lock(pending->mu);
        pending->left -= prompts.size() - i;  // these will never reply
      }
      cancel_all();
      wait_all(std::chrono::steady_clock::now() + std::chrono::seconds(30));
      return Status(id.status().code(), "prompt '" + p.key + "': " + id.status().message());
    }
    ids.push_back(id.value());
  }
  for (;;) {
    auto slice = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    if (wait_all(std::min(slice, env.deadline))) break;
    bool cancelled = env.cancel && env.cancel->load();
    if (cancelled || std::chrono::steady_clock::now() >= env.deadline) {
      cancel_all();
      wait_all(std::chrono::steady_clock::now() + std::chrono::seconds(30));
      if (cancelled) return Status(StatusCode::kCancelled, "cancelled");
      return Status(StatusCode::kDeadlineExceeded, "timed out after " + fmt_seconds(env.timeout_s));
    }
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const ModelReply& r = *pending->replies[i];
    usage->prompts += 1;
    usage->prompt_tokens += r.prompt_tokens;
    usage->completion_tokens += r.completion_tokens;
    usage->cached_prompt_tokens += r.cached_prompt_tokens;
    if (!r.status.ok()) return Status(r.status.code(), "prompt '" + prompts[i].key + "': " + r.status.message());
    out->push_back({prompts[i].key, r.text, r.finish_reason, r.prompt_tokens, r.completion_tokens,
                    r.cached_prompt_tokens});
  }
  return {};
}

store::EvidenceRecord locate(const plugins::Evidence& e, const RunUnit& unit,
                             const std::map<std::string, JobDoc>& docs) {
  store::EvidenceRecord r;
  r.document_key = e.document_id;
  r.quote = e.quote;
  const plugins::Document* local = nullptr;
  for (const plugins::Document& d : unit.documents) {
    if (d.id == e.document_id || (e.document_id.empty() && unit.documents.size() == 1)) local = &d;
  }
  if (local) r.document_key = local->id;
  auto whole = docs.find(r.document_key);
  if (whole == docs.end()) return r;
  r.document_id = whole->second.db_id;
  const std::string& text = whole->second.text;
  QuoteMatch m;
  int64_t base = 0;
  if (local) {
    m = locate_quote(local->text, e.quote, e.start, e.end);
    base = local->base_offset;
  }
  if (!m.found) {
    m = locate_quote(text, e.quote);
    base = 0;
  }
  if (!m.found) return r;
  r.verified = true;
  r.start_byte = base + m.start;
  r.end_byte = base + m.end;
  r.start_char = char_offset(text, r.start_byte);
  r.end_char = r.start_char + char_offset(std::string_view(text).substr(static_cast<size_t>(r.start_byte)),
                                          r.end_byte - r.start_byte);
  return r;
}

void collect(const plugins::CallResult& call, const RunUnit& unit, const AttemptEnv& env,
             AttemptResult* result) {
  for (const plugins::Finding& f : call.findings) {
    store::FindingRecord rec;
    rec.kind = f.kind;
    rec.category = f.category;
    rec.severity = f.severity;
    rec.title = f.title;
    rec.text = f.text;
    rec.confidence = f.confidence;
    rec.details_json = f.details_json.empty() ? "{}" : f.details_json;
    for (const plugins::Evidence& e : f.evidence) rec.evidence.push_back(locate(e, unit, *env.docs));
    result->findings.push_back(std::move(rec));
  }
  for (const auto& [name, value] : call.outputs) result->outputs[name] = json::parse(value);
  result->warnings.insert(result->warnings.end(), call.warnings.begin(), call.warnings.end());
}

}  // namespace

json resolve_value(const json& value, const json& context) {
  if (value.is_string()) {
    auto t = Template::parse(value.get<std::string>());
    return t.ok() ? t.value().eval(context) : value;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& v : value) out.push_back(resolve_value(v, context));
    return out;
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : value.items()) out[k] = resolve_value(v, context);
    return out;
  }
  return value;
}

Sampling sampling_from(const json& e) {
  Sampling s;
  auto num = [&](const char* key, double fallback) {
    return e.contains(key) && e[key].is_number() ? e[key].get<double>() : fallback;
  };
  s.temperature = static_cast<float>(num("temperature", s.temperature));
  s.top_p = static_cast<float>(num("top_p", s.top_p));
  s.top_k = static_cast<int>(num("top_k", s.top_k));
  s.min_p = static_cast<float>(num("min_p", s.min_p));
  s.presence_penalty = static_cast<float>(num("presence_penalty", s.presence_penalty));
  s.repetition_penalty = static_cast<float>(num("repetition_penalty", s.repetition_penalty));
  s.max_tokens = static_cast<int>(num("max_tokens", s.max_tokens));
  if (e.contains("seed") && e["seed"].is_number()) s.seed = e["seed"].get<uint64_t>();
  return s;
}

Status run_attempt(const AttemptEnv& env, const RunUnit& unit, AttemptResult* result) {
  const Step& step = env.workflow->steps[unit.step];
  const plugins::Manifest& m = env.plugin->manifest();
  json schema = json::parse(m.params_schema, nullptr, false);
  REAM_ASSIGN_OR_RETURN(json params, apply_schema(schema, resolve_value(step.with, env.context), m.name));
  const std::string params_json = params.dump();
  const std::string item_json = unit.item.is_null() ? "" : unit.item.dump();
  plugins::CallEnv call;
  call.count_tokens = [model = env.model](std::string_view t) { return model->count_tokens(t); };
  call.context_size = env.model->context_size();
  call.prompt_overhead = env.model->prompt_overhead();
  call.log = [tag = env.tag](int level, std::string_view msg) {
    auto lvl = level >= 3 ? spdlog::level::err : level == 2 ? spdlog::level::warn
               : level == 1 ? spdlog::level::info : spdlog::level::debug;
    spdlog::log(lvl, "{}: plugin: {}", tag, msg);
  };
  REAM_ASSIGN_OR_RETURN(plugins::CallResult plan, env.plugin->plan(call, unit.documents, params_json, item_json));
  result->warnings = plan.warnings;
  std::vector<plugins::Prompt> prompts = std::move(plan.prompts);
  std::string state = plan.state_json;
  for (int round = 0;; ++round) {
    std::vector<plugins::Reply> replies;
    REAM_RETURN_IF_ERROR(run_prompts(env, prompts, &replies, &result->usage));
    REAM_ASSIGN_OR_RETURN(plugins::CallResult red,
                          env.plugin->reduce(call, unit.documents, params_json, item_json, round, replies, state));
    collect(red, unit, env, result);
    if (red.prompts.empty()) break;
    if (round + 1 >= kMaxRounds) {
      return internal_error("plugin '" + m.name + "' asked for more than " + std::to_string(kMaxRounds) +
                            " reduce rounds");
    }
    prompts = std::move(red.prompts);
    state = red.state_json;
  }
  return {};
}

}  // namespace ream::flow
