// A step run: its attempts and retries (run_step), and one attempt: resolve
// parameters, plan, send prompts, reduce in rounds, and turn the plugin's findings
// into store records with located evidence.
#include "flow/step_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "flow/params_schema.h"
#include "ream/common/utf8.h"

namespace ream::flow {

using nlohmann::json;

namespace {

constexpr int kMaxRounds = 16;

// `s` as valid UTF-8 (utf8::repair: U+FFFD for each ill-formed run). With `trim_cut`, a
// character cut at either end (a quote sliced mid-character) is dropped first and
// *front says how many bytes went from the front.
std::string valid_text(std::string_view s, bool trim_cut = false, size_t* front = nullptr) {
  if (front) *front = 0;
  if (utf8::is_valid(s)) return std::string(s);
  if (trim_cut) {
    auto continuation = [&](size_t i) { return (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80; };
    size_t b = 0;
    while (b < s.size() && b < 3 && continuation(b)) ++b;
    s.remove_prefix(b);
    if (front) *front = b;
    s = s.substr(0, utf8::incomplete_tail_start(s));
  }
  return utf8::repair(s);
}

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

// A request's progress as deltas into the job's Progress. The prefilled count a request
// reports may fall after a preemption (its prompt is recomputed): the job counts each
// request's highest, so its numbers never go back.
std::function<void(const ModelProgress&)> progress_counter(Progress* progress) {
  auto seen = std::make_shared<ModelProgress>();
  auto mu = std::make_shared<std::mutex>();
  return [progress, seen, mu](const ModelProgress& now) {
    int64_t sent, prefilled, generated;
    {
      std::lock_guard lock(*mu);
      sent = std::max<int64_t>(0, now.prompt_tokens - seen->prompt_tokens);
      prefilled = std::max<int64_t>(0, now.prompt_tokens_prefilled - seen->prompt_tokens_prefilled);
      generated = std::max<int64_t>(0, now.completion_tokens - seen->completion_tokens);
      seen->prompt_tokens += sent;
      seen->prompt_tokens_prefilled += prefilled;
      seen->completion_tokens += generated;
    }
    progress->add_tokens(sent, prefilled, generated);
  };
}

// Sends all prompts at once and waits for every reply, the deadline or a cancel.
Status run_prompts(const AttemptEnv& env, const std::vector<plugins::Prompt>& prompts,
                   std::vector<plugins::Reply>* out, store::Usage* usage) {
  // Counted before they are sent, so prompts_done never passes prompts_total (a prompt's
  // tokens are counted a moment later, inside submit).
  if (env.progress) env.progress->prompts_total += static_cast<int64_t>(prompts.size());
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
  // A cancel wakes the wait below at once.
  CancelToken::Listener on_cancel;
  if (env.cancel) {
    on_cancel = env.cancel->on_cancel([pending] {
      std::lock_guard lock(pending->mu);
      pending->cv.notify_all();
    });
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const plugins::Prompt& p = prompts[i];
    ModelRequest req;
    req.messages = p.messages;
    req.text = p.text;
    req.sampling = env.sampling;
    if (p.max_tokens > 0) req.sampling.max_tokens = p.max_tokens;
    if (p.temperature >= 0) req.sampling.temperature = p.temperature;
    req.sampling.constraint = p.constraint;
    req.tag = env.tag + " " + p.key;
    Progress* progress = env.progress;
    if (progress) {
      progress->add_reply_limit(req.sampling.max_tokens);
      req.on_progress = progress_counter(progress);
    }
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
  {
    std::unique_lock lock(pending->mu);
    auto done = [&] { return pending->left == 0 || (env.cancel && env.cancel->cancelled()); };
    if (env.deadline == std::chrono::steady_clock::time_point::max()) {
      pending->cv.wait(lock, done);
    } else {
      pending->cv.wait_until(lock, env.deadline, done);
    }
  }
  if (!wait_all(std::chrono::steady_clock::now())) {  // cancelled, or past the deadline
    const bool cancelled = env.cancel && env.cancel->cancelled();
    cancel_all();
    wait_all(std::chrono::steady_clock::now() + std::chrono::seconds(30));
    if (cancelled) return Status(StatusCode::kCancelled, "cancelled");
    return Status(StatusCode::kDeadlineExceeded, "timed out after " + fmt_seconds(env.timeout_s));
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

void collect(const plugins::CallResult& call, const RunUnit& unit, const AttemptEnv& env,
             AttemptResult* result) {
  for (const plugins::Finding& f : call.findings) {
    store::FindingRecord rec;
    rec.kind = valid_text(f.kind);
    rec.category = valid_text(f.category);
    rec.severity = f.severity;
    rec.title = valid_text(f.title);
    rec.text = valid_text(f.text);
    rec.confidence = f.confidence;
    rec.details_json = f.details_json.empty() ? "{}" : f.details_json;
    for (const plugins::Evidence& e : f.evidence) rec.evidence.push_back(locate_evidence(e, unit, *env.docs));
    result->findings.push_back(std::move(rec));
  }
  for (const auto& [name, value] : call.outputs) result->outputs[name] = json::parse(value);
  for (const std::string& w : call.warnings) result->warnings.push_back(valid_text(w));
}

// Unicode code points in text[0, byte_offset).
int64_t char_offset(std::string_view text, int64_t byte_offset) {
  int64_t n = 0;
  const size_t limit = std::min(text.size(), static_cast<size_t>(std::max<int64_t>(byte_offset, 0)));
  for (size_t i = 0; i < limit; ++i) n += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
  return n;
}

}  // namespace

store::EvidenceRecord locate_evidence(const plugins::Evidence& e, const RunUnit& unit,
                                      const std::map<std::string, JobDoc>& docs) {
  store::EvidenceRecord r;
  r.document_key = e.document_id;
  // Stored and reported quotes are valid UTF-8; a quote cut mid-character keeps
  // its whole characters (and its offsets move with the bytes dropped in front).
  size_t dropped = 0;
  r.quote = valid_text(e.quote, true, &dropped);
  const int64_t hint_begin = e.start >= 0 ? e.start + static_cast<int64_t>(dropped) : -1;
  const int64_t hint_end = hint_begin >= 0 ? hint_begin + static_cast<int64_t>(r.quote.size()) : -1;
  const plugins::Document* local = nullptr;
  for (const plugins::Document& d : unit.documents) {
    if (d.id == e.document_id || (e.document_id.empty() && unit.documents.size() == 1)) local = &d;
  }
  if (local) r.document_key = local->id;
  auto whole = docs.find(r.document_key);
  if (whole == docs.end() || r.quote.empty()) return r;
  r.document_id = whole->second.db_id;
  const ingest::Document& doc = *whole->second.doc;
  const std::string_view text = doc.text;
  const int64_t base = local ? local->base_offset : 0;
  ingest::QuoteMatch m;
  const int64_t hint = base + hint_begin;
  const bool hint_given = e.start >= 0 && e.end - e.start == static_cast<int64_t>(e.quote.size());
  if (local && hint_given && base + hint_end <= static_cast<int64_t>(text.size()) &&
      text.substr(static_cast<size_t>(hint), r.quote.size()) == r.quote) {
    m.kind = ingest::QuoteMatchKind::kExact;
    m.text_begin = hint;
    m.text_end = hint + static_cast<int64_t>(r.quote.size());
  } else {
    m = whole->second.quotes->find(r.quote, local ? base + std::max<int64_t>(hint_begin, 0) : -1);
  }
  if (!m.found()) return r;
  r.verified = true;
  r.match_kind = ingest::quote_match_kind_name(m.kind);
  r.start_byte = m.text_begin;
  r.end_byte = m.text_end;
  r.start_char = char_offset(text, r.start_byte);
  r.end_char = r.start_char + char_offset(text.substr(static_cast<size_t>(r.start_byte)), r.end_byte - r.start_byte);
  const ingest::Location first = doc.locate(static_cast<size_t>(m.text_begin));
  const ingest::Location last = doc.locate(static_cast<size_t>(std::max(m.text_begin, m.text_end - 1)));
  r.source_path = first.source.empty() ? doc.source : first.source;
  r.source_page = first.page;
  r.source_line = first.line;
  r.source_column = first.column;
  r.source_end_line = last.source == first.source && last.page == first.page ? last.line : first.line;
  return r;
}

Result<json> resolve_value(const json& value, const json& context) {
  if (value.is_string()) {
    auto t = Template::parse(value.get<std::string>());
    return t.ok() ? t.value().eval(context) : Result<json>(value);
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& v : value) {
      REAM_ASSIGN_OR_RETURN(json r, resolve_value(v, context));
      out.push_back(std::move(r));
    }
    return out;
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : value.items()) {
      REAM_ASSIGN_OR_RETURN(out[k], resolve_value(v, context));
    }
    return out;
  }
  return value;
}

SamplingParams sampling_from(const json& e, SamplingParams base) {
  SamplingParams& s = base;
  auto num = [&](const char* key, double fallback) {
    return e.contains(key) && e[key].is_number() ? e[key].get<double>() : fallback;
  };
  s.temperature = static_cast<float>(num("temperature", s.temperature));
  s.top_p = static_cast<float>(num("top_p", s.top_p));
  s.top_k = static_cast<int32_t>(num("top_k", s.top_k));
  s.min_p = static_cast<float>(num("min_p", s.min_p));
  s.presence_penalty = static_cast<float>(num("presence_penalty", s.presence_penalty));
  s.repetition_penalty = static_cast<float>(num("repetition_penalty", s.repetition_penalty));
  s.max_tokens = static_cast<int32_t>(num("max_tokens", s.max_tokens));
  if (e.contains("seed") && e["seed"].is_number()) {
    s.seed = e["seed"].get<uint64_t>();
    s.has_seed = true;
  }
  return s;
}

Status run_attempt(const AttemptEnv& env, const RunUnit& unit, AttemptResult* result) {
  const Step& step = env.workflow->steps[unit.step];
  const plugins::Manifest& m = env.plugin->manifest();
  REAM_RETURN_IF_ERROR(env.setup);
  json schema = json::parse(m.params_schema, nullptr, false);
  REAM_ASSIGN_OR_RETURN(json with, resolve_value(step.with, env.context));
  REAM_ASSIGN_OR_RETURN(json params, apply_schema(schema, with, m.name));
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
  for (const std::string& w : plan.warnings) result->warnings.push_back(valid_text(w));
  std::vector<plugins::Prompt> prompts = std::move(plan.prompts);
  std::string state = plan.state_json;
  for (int round = 0;; ++round) {
    // A prompt's own constraint wins; the others get the step's reply_schema.
    for (plugins::Prompt& p : prompts) {
      if (p.constraint.kind == Constraint::Kind::kNone) p.constraint = step.reply;
    }
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

RunOutcome run_step(AttemptEnv env, const RunUnit& unit, const Step& step, store::Store& store,
                    const std::function<void(const std::string&)>& event) {
  const std::string name = unit.iteration < 0 ? step.id : step.id + "[" + std::to_string(unit.iteration) + "]";
  const std::string item_json = unit.item.is_null() ? "" : unit.item.dump();
  auto cancelled = [&] { return env.cancel && env.cancel->cancelled(); };
  // The backoff between attempts: the clock, or a cancel, ends it.
  std::mutex wait_mu;
  std::condition_variable wait_cv;
  CancelToken::Listener on_cancel;
  if (env.cancel) {
    on_cancel = env.cancel->on_cancel([&] {
      std::lock_guard lock(wait_mu);
      wait_cv.notify_all();
    });
  }
  RunOutcome out;
  for (int attempt = 1; attempt <= step.retry.attempts; ++attempt) {
    if (cancelled()) {
      out.error = "step '" + name + "': cancelled";
      break;
    }
    auto begun = store.begin_step_run(env.job_id, step.id, unit.iteration, item_json);
    if (!begun.ok()) {
      out.error = "step '" + name + "': " + begun.status().message();
      if (begun.status().code() == StatusCode::kUnavailable) {
        out.stopped = Status(StatusCode::kUnavailable, out.error);
        return out;
      }
      break;
    }
    store::StepRunRecord rec = std::move(begun).value();
    env.deadline = step.timeout_s > 0
                       ? std::chrono::steady_clock::now() +
                             std::chrono::milliseconds(static_cast<int64_t>(step.timeout_s * 1000))
                       : std::chrono::steady_clock::time_point::max();
    AttemptResult res;
    const auto t0 = std::chrono::steady_clock::now();
    Status st = run_attempt(env, unit, &res);
    if (st.ok()) {
      rec.usage = res.usage;
      rec.outputs_json = res.outputs.dump();
      rec.warnings_json = nlohmann::json(res.warnings).dump();
      if (Status commit = store.commit_step_run(rec, res.findings); !commit.ok()) {
        out.error = "step '" + name + "': cannot commit: " + commit.message();
        if (commit.code() == StatusCode::kUnavailable) out.stopped = Status(StatusCode::kUnavailable, out.error);
        return out;
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      event("step " + name + " succeeded: " + std::to_string(res.findings.size()) + " findings, " +
            std::to_string(res.warnings.size()) + " warnings, " + std::to_string(res.usage.prompts) +
            " prompts (" + std::to_string(static_cast<int>(secs * 1000)) + " ms)");
      for (const std::string& w : res.warnings) event("step " + name + " warning: " + w);
      out.ok = true;
      out.outputs = std::move(res.outputs);
      out.findings = static_cast<int64_t>(res.findings.size());
      return out;
    }
    out.error = "step '" + name + "' failed: " + st.message();
    const bool retry = attempt < step.retry.attempts && st.code() != StatusCode::kCancelled && !cancelled();
    (void)store.fail_step_run(rec.id, out.error, retry, res.usage);
    if (!retry) break;
    const double wait = std::min(step.retry.max_backoff_s,
                                 step.retry.backoff_s * std::pow(step.retry.factor, attempt - 1));
    event(out.error + " (attempt " + std::to_string(attempt) + " of " + std::to_string(step.retry.attempts) +
          "; retrying in " + std::to_string(static_cast<int>(wait * 1000)) + " ms)");
    std::unique_lock lock(wait_mu);
    wait_cv.wait_until(lock, std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(wait * 1000)),
                       cancelled);
  }
  event(out.error);
  return out;
}

}  // namespace ream::flow
