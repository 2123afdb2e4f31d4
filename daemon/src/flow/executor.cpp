// Executor: job loading, the step DAG, foreach expansion, the worker pool (a step's
// `parallel` caps its own runs in flight), retries with backoff, commits and the job's
// final state.
#include "flow/executor.h"


#include <algorithm>
#include <cmath>
#include <csignal>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "flow/job_documents.h"
#include "flow/step_runner.h"
#include "flow/workflow.h"

namespace ream::flow {

using nlohmann::json;

namespace {

enum class SlotState { kWaiting, kRunning, kDone, kSkipped, kFailed };

struct StepSlot {
  SlotState state = SlotState::kWaiting;
  int runs_left = 0;
  int in_flight = 0;  // runs of this step being run by a worker now
  bool foreach = false;
  int iterations = 0;
  std::map<int, json> outputs;  // by iteration
  int64_t findings = 0;
};

std::string run_name(const Step& step, int iteration) {
  return iteration < 0 ? step.id : step.id + "[" + std::to_string(iteration) + "]";
}

class JobRun {
 public:
  JobRun(store::Store& store, const plugins::PluginHost& plugins, ModelClient& model, int64_t job_id,
         const RunOptions& options)
      : store_(store), plugins_(plugins), model_(model), job_id_(job_id), opt_(options) {}

  Result<JobOutcome> run();

 private:
  Status load();
  bool cancelled() const { return opt_.cancel && opt_.cancel->load(); }
  void event(const std::string& line);
  void after_commit();  // under commit_mu_, right after a commit
  bool needs_met(const Step& step) const;
  void expand_ready();
  Status expand(size_t index);
  std::vector<std::string> select_documents(const Template* source, const json& ctx) const;
  plugins::Document whole_document(const std::string& key) const;
  void plan_documents();
  SamplingParams step_sampling(const Step& step, const json& ctx) const {
    json merged = engine_;
    merged.update(resolve_value(step.engine, ctx));
    return sampling_from(merged, model_.default_sampling());
  }
  void finish_step(size_t index);
  void worker();
  void run_unit(const RunUnit& unit);
  void unit_done(const RunUnit& unit, bool ok, const json& outputs, int64_t findings, const std::string& error);

  store::Store& store_;
  const plugins::PluginHost& plugins_;
  ModelClient& model_;
  const int64_t job_id_;
  const RunOptions& opt_;

  Workflow wf_;
  std::map<std::string, JobDoc> docs_;
  std::vector<std::string> doc_keys_;  // in job order
  std::map<std::pair<std::string, int>, store::StepRunRecord> existing_;
  json engine_;

  std::mutex mu_;
  std::condition_variable cv_;
  json ctx_;
  std::vector<StepSlot> slots_;
  std::deque<RunUnit> queue_;
  int running_ = 0;
  bool stop_ = false;
  bool failed_ = false;
  std::string error_;
  // Serialises each step-run commit (or skip) with its count, so the test hook's kill
  // lands right after the Nth commit, before any other worker's (runs commit in parallel).
  std::mutex commit_mu_;
  int commits_ = 0;
  bool fresh_ = false;  // the job had never started: show the documents' context plans
};

// The executor only reports; its caller logs (reamd) or shows (`ream run`) each line,
// so a line is written once, with the caller's context (reamd adds job_id=).
void JobRun::event(const std::string& line) {
  if (opt_.on_event) opt_.on_event(line);
}

void JobRun::after_commit() {
  ++commits_;
  if (opt_.kill_after_commits > 0 && commits_ == opt_.kill_after_commits) std::raise(SIGKILL);
}

Status JobRun::load() {
  REAM_ASSIGN_OR_RETURN(store::JobRecord job, store_.get_job(job_id_));
  if (job.status == store::kJobSucceeded || job.status == store::kJobCancelled) {
    return failed_precondition("job " + std::to_string(job_id_) + " has already " +
                               (job.status == store::kJobSucceeded ? "succeeded" : "been cancelled"));
  }
  REAM_ASSIGN_OR_RETURN(store::WorkflowRecord w, store_.get_workflow(job.workflow_id));
  auto wf = parse_workflow(w.source, w.path, catalog_of(plugins_));
  if (!wf.ok()) return wf.status();
  wf_ = std::move(wf).value();
  REAM_ASSIGN_OR_RETURN(std::vector<store::JobDocument> jdocs, store_.job_documents(job_id_));
  json doc_info = json::object();
  for (const store::JobDocument& jd : jdocs) {
    REAM_ASSIGN_OR_RETURN(store::DocumentRecord d, store_.get_document(jd.document_id));
    const int64_t db_id = d.id;
    std::string warning;
    std::shared_ptr<const ingest::Document> doc = document_from_record(std::move(d), &warning);
    if (!warning.empty()) event(jd.key + ": " + warning);
    auto quotes = std::make_shared<const ingest::QuoteIndex>(*doc);
    docs_[jd.key] = JobDoc{db_id, jd.key, doc, std::move(quotes), jd.name};
    doc_keys_.push_back(jd.key);
    doc_info[jd.key] = {{"id", jd.key}, {"path", doc->source}, {"media_type", doc->media_type},
                        {"bytes", doc->text.size()}, {"tokens", doc->tokens}};
  }
  fresh_ = job.started_at == 0;
  json inputs = json::parse(job.inputs_json);
  for (const InputSpec& in : wf_.inputs) {
    if (!inputs.contains(in.name)) continue;
    json& v = inputs[in.name];
    if (in.type == InputType::kDocument && v.is_string()) v = doc_info.value(v.get<std::string>(), json());
    if (in.type == InputType::kDocuments && v.is_array()) {
      for (json& k : v) k = doc_info.value(k.get<std::string>(), json());
    }
  }
  ctx_ = {{"inputs", inputs}, {"steps", json::object()}, {"job", {{"id", job_id_}}}};
  engine_ = resolve_value(wf_.engine, ctx_);
  REAM_ASSIGN_OR_RETURN(std::vector<store::StepRunRecord> runs, store_.step_runs(job_id_));
  for (store::StepRunRecord& r : runs) existing_[{r.step_id, r.iteration}] = std::move(r);
  slots_.resize(wf_.steps.size());
  return {};
}

bool JobRun::needs_met(const Step& step) const {
  for (const std::string& n : step.needs) {
    for (size_t j = 0; j < wf_.steps.size(); ++j) {
      if (wf_.steps[j].id != n) continue;
      SlotState s = slots_[j].state;
      if (s != SlotState::kDone && s != SlotState::kSkipped && s != SlotState::kFailed) return false;
    }
  }
  return true;
}

void JobRun::expand_ready() {
  for (size_t i : wf_.order) {
    if (failed_ || slots_[i].state != SlotState::kWaiting || !needs_met(wf_.steps[i])) continue;
    Status st = expand(i);
    if (!st.ok()) {
      failed_ = true;
      error_ = "step '" + wf_.steps[i].id + "': " + st.message();
      event(error_);
    }
  }
}

std::vector<std::string> JobRun::select_documents(const Template* source, const json& ctx) const {
  if (!source) return doc_keys_;
  json v = source->eval(ctx);
  std::vector<std::string> keys;
  auto add = [&](const json& d) {
    if (d.is_object() && d.contains("id")) keys.push_back(d["id"].get<std::string>());
  };
  if (v.is_array()) {
    for (const json& d : v) add(d);
  } else {
    add(v);
  }
  return keys;
}

plugins::Document JobRun::whole_document(const std::string& key) const {
  const JobDoc& jd = docs_.at(key);
  const ingest::Document& d = *jd.doc;
  plugins::Document out;
  out.id = key;
  out.path = jd.name.empty() ? d.source : jd.name;
  out.text = d.text;
  out.total_bytes = static_cast<int64_t>(d.text.size());
  out.token_count = d.tokens;
  return out;
}

// At a job's first start: how each document fits the context with the workflow's
// reply limit (one pass, or how many chunks of how many tokens), as events.
void JobRun::plan_documents() {
  const int64_t budget = context_budget(model_, sampling_from(engine_, model_.default_sampling()));
  for (const std::string& key : doc_keys_) {
    auto plan = plan_document(model_, docs_.at(key), budget, -1);
    if (!plan.ok()) {
      event("cannot plan " + plan.status().message());
      continue;
    }
    (void)store_.add_event(job_id_, "document_plan", plan_json(key, *plan, budget, -1).dump());
    event("context plan: " + plan_line(key, *plan, budget));
  }
}

Status JobRun::expand(size_t index) {
  const Step& step = wf_.steps[index];
  StepSlot& slot = slots_[index];
  slot.state = SlotState::kRunning;
  auto skipped = existing_.find({step.id, -1});
  bool skip = skipped != existing_.end() && skipped->second.status == store::kStepSkipped;
  if (!skip && step.when && !truthy(step.when->eval(ctx_))) {
    {
      std::lock_guard commit_lock(commit_mu_);
      REAM_RETURN_IF_ERROR(store_.skip_step(job_id_, step.id));
      after_commit();
    }
    skip = true;
  }
  if (skip) {
    slot.state = SlotState::kSkipped;
    ctx_["steps"][step.id] = {{"status", "skipped"}, {"outputs", json::object()}, {"findings", 0}};
    if (opt_.progress) ++opt_.progress->steps_done;
    event("step " + step.id + " skipped (when is false)");
    return {};
  }
  std::vector<RunUnit> units;
  slot.foreach = step.foreach.kind != ForeachKind::kNone;
  if (step.foreach.kind == ForeachKind::kNone) {
    RunUnit u{index, -1, json(), {}};
    for (const std::string& k : select_documents(step.documents ? &*step.documents : nullptr, ctx_)) {
      u.documents.push_back(whole_document(k));
    }
    units.push_back(std::move(u));
  } else if (step.foreach.kind == ForeachKind::kItems) {
    json items = step.foreach.literal_items ? *step.foreach.literal_items : step.foreach.source.eval(ctx_);
    if (!items.is_array()) return invalid_argument("foreach items is not a list (got " + items.dump() + ")");
    std::vector<std::string> keys = select_documents(step.documents ? &*step.documents : nullptr, ctx_);
    for (size_t i = 0; i < items.size(); ++i) {
      RunUnit u{index, static_cast<int>(i), items[i], {}};
      for (const std::string& k : keys) u.documents.push_back(whole_document(k));
      units.push_back(std::move(u));
    }
  } else {
    std::vector<std::string> keys = select_documents(&step.foreach.source, ctx_);
    SamplingParams sampling = step_sampling(step, ctx_);
    for (const std::string& key : keys) {
      plugins::Document whole = whole_document(key);
      if (step.foreach.kind == ForeachKind::kDocuments) {
        int it = static_cast<int>(units.size());
        units.push_back({index, it, {{"document", key}, {"index", it}}, {whole}});
        continue;
      }
      int64_t budget = step.foreach.chunk_tokens > 0 ? step.foreach.chunk_tokens : context_budget(model_, sampling);
      REAM_ASSIGN_OR_RETURN(ingest::ChunkPlan plan, plan_document(model_, docs_.at(key), budget, step.foreach.overlap_tokens));
      json plan_event = plan_json(key, plan, budget, step.foreach.overlap_tokens);
      plan_event["step"] = step.id;
      (void)store_.add_event(job_id_, "chunk_plan", plan_event.dump());
      event("step " + step.id + " chunk plan: " + plan_line(key, plan, budget));
      const size_t n = plan.chunks.size();
      for (size_t c = 0; c < n; ++c) {
        const ingest::Chunk& ch = plan.chunks[c];
        plugins::Document d = whole;
        if (n > 1) {
          d.text = whole.text.substr(static_cast<size_t>(ch.text_begin), static_cast<size_t>(ch.text_end - ch.text_begin));
          d.base_offset = ch.text_begin;
          d.chunk_index = static_cast<int>(c);
          d.chunk_count = static_cast<int>(n);
          d.token_count = ch.tokens;
        }
        int it = static_cast<int>(units.size());
        json item = {{"document", key}, {"chunk", c}, {"chunks", n}, {"start", ch.text_begin},
                     {"end", ch.text_end}, {"tokens", ch.tokens}, {"heading", ch.heading}};
        units.push_back({index, it, std::move(item), {std::move(d)}});
      }
    }
  }
  slot.iterations = static_cast<int>(units.size());
  if (opt_.progress) opt_.progress->runs_total += static_cast<int64_t>(units.size());
  int queued = 0;
  for (RunUnit& u : units) {
    auto done = existing_.find({step.id, u.iteration});
    if (done != existing_.end() && done->second.status == store::kStepSucceeded) {
      slot.outputs[u.iteration] = json::parse(done->second.outputs_json, nullptr, false);
      if (opt_.progress) ++opt_.progress->runs_done;
      continue;  // committed before: reuse, never run twice
    }
    queue_.push_back(std::move(u));
    ++queued;
  }
  slot.runs_left = queued;
  if (queued == 0) {
    finish_step(index);
  } else {
    event("step " + step.id + " started: " + std::to_string(queued) + " run" + (queued == 1 ? "" : "s"));
  }
  cv_.notify_all();
  return {};
}

void JobRun::finish_step(size_t index) {
  const Step& step = wf_.steps[index];
  StepSlot& slot = slots_[index];
  if (slot.state == SlotState::kRunning) slot.state = SlotState::kDone;
  json outputs = json::object();
  if (!slot.foreach) {
    if (slot.outputs.count(-1) && slot.outputs[-1].is_object()) outputs = slot.outputs[-1];
  } else {
    std::set<std::string> names;
    for (const auto& [it, o] : slot.outputs) {
      if (o.is_object()) for (const auto& [k, v] : o.items()) names.insert(k);
    }
    for (const std::string& n : names) {
      json list = json::array();
      for (int i = 0; i < slot.iterations; ++i) {
        list.push_back(slot.outputs.count(i) && slot.outputs[i].is_object() ? slot.outputs[i].value(n, json()) : json());
      }
      outputs[n] = list;
    }
  }
  ctx_["steps"][step.id] = {{"status", slot.state == SlotState::kFailed ? "failed" : "succeeded"},
                            {"outputs", outputs}, {"findings", slot.findings}};
  if (opt_.progress) ++opt_.progress->steps_done;
  event("step " + step.id + (slot.state == SlotState::kFailed ? " finished with errors" : " succeeded"));
}

void JobRun::unit_done(const RunUnit& unit, bool ok, const json& outputs, int64_t findings,
                       const std::string& error) {
  const Step& step = wf_.steps[unit.step];
  StepSlot& slot = slots_[unit.step];
  if (opt_.progress) ++opt_.progress->runs_done;
  if (ok) {
    slot.outputs[unit.iteration] = outputs;
    slot.findings += findings;
  } else if (step.continue_on_error) {
    slot.state = SlotState::kFailed;
  } else if (!failed_ && !cancelled()) {
    // A run stopped by the job's cancellation does not fail the job: it ends
    // cancelled (or, for an interruption, resumable).
    failed_ = true;
    error_ = error;
  }
  if (--slot.runs_left == 0 && (ok || step.continue_on_error || slot.state == SlotState::kFailed)) {
    finish_step(unit.step);
  }
}

void JobRun::run_unit(const RunUnit& unit) {
  const Step& step = wf_.steps[unit.step];
  const std::string name = run_name(step, unit.iteration);
  AttemptEnv env;
  env.workflow = &wf_;
  env.plugin = plugins_.find(step.plugin);
  env.model = &model_;
  env.docs = &docs_;
  env.cancel = opt_.cancel;
  env.progress = opt_.progress;
  env.timeout_s = step.timeout_s;
  env.job_id = job_id_;
  env.tag = "job " + std::to_string(job_id_) + " step " + name;
  {
    std::lock_guard lock(mu_);
    env.context = ctx_;
  }
  env.context["item"] = unit.item;
  env.sampling = step_sampling(step, env.context);
  const std::string item_json = unit.item.is_null() ? "" : unit.item.dump();
  std::string error;
  for (int attempt = 1; attempt <= step.retry.attempts; ++attempt) {
    if (cancelled()) {
      error = "step '" + name + "': cancelled";
      break;
    }
    auto begun = store_.begin_step_run(job_id_, step.id, unit.iteration, item_json);
    if (!begun.ok()) {
      error = "step '" + name + "': " + begun.status().message();
      break;
    }
    store::StepRunRecord rec = std::move(begun).value();
    env.deadline = step.timeout_s > 0
                       ? std::chrono::steady_clock::now() +
                             std::chrono::milliseconds(static_cast<int64_t>(step.timeout_s * 1000))
                       : std::chrono::steady_clock::time_point::max();
    AttemptResult res;
    auto t0 = std::chrono::steady_clock::now();
    Status st = run_attempt(env, unit, &res);
    if (st.ok()) {
      rec.usage = res.usage;
      rec.outputs_json = res.outputs.dump();
      rec.warnings_json = json(res.warnings).dump();
      Status commit;
      {
        std::lock_guard commit_lock(commit_mu_);
        commit = store_.commit_step_run(rec, res.findings);
        if (commit.ok()) after_commit();
      }
      std::lock_guard lock(mu_);
      if (!commit.ok()) {
        unit_done(unit, false, json(), 0, "step '" + name + "': cannot commit: " + commit.message());
        return;
      }
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      event("step " + name + " succeeded: " + std::to_string(res.findings.size()) + " findings, " +
            std::to_string(res.warnings.size()) + " warnings, " + std::to_string(res.usage.prompts) +
            " prompts (" + std::to_string(static_cast<int>(secs * 1000)) + " ms)");
      for (const std::string& w : res.warnings) event("step " + name + " warning: " + w);
      unit_done(unit, true, res.outputs, static_cast<int64_t>(res.findings.size()), "");
      return;
    }
    error = "step '" + name + "' failed: " + st.message();
    bool retry = attempt < step.retry.attempts && st.code() != StatusCode::kCancelled && !cancelled();
    (void)store_.fail_step_run(rec.id, error, retry, res.usage);
    if (!retry) break;
    double wait = std::min(step.retry.max_backoff_s,
                           step.retry.backoff_s * std::pow(step.retry.factor, attempt - 1));
    event(error + " (attempt " + std::to_string(attempt) + " of " + std::to_string(step.retry.attempts) +
          "; retrying in " + std::to_string(static_cast<int>(wait * 1000)) + " ms)");
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(wait * 1000));
    while (std::chrono::steady_clock::now() < until && !cancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::lock_guard lock(mu_);
  event(error);
  unit_done(unit, false, json(), 0, error);
}

void JobRun::worker() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    // The first queued run whose step is under its `parallel` cap (0: the pool's size).
    auto next = std::find_if(queue_.begin(), queue_.end(), [&](const RunUnit& u) {
      const int cap = wf_.steps[u.step].parallel;
      return cap <= 0 || slots_[u.step].in_flight < cap;
    });
    if (next == queue_.end() || failed_ || cancelled()) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      continue;
    }
    RunUnit unit = std::move(*next);
    queue_.erase(next);
    ++running_;
    ++slots_[unit.step].in_flight;
    lock.unlock();
    run_unit(unit);
    lock.lock();
    --slots_[unit.step].in_flight;
    --running_;
    cv_.notify_all();
  }
}

Result<JobOutcome> JobRun::run() {
  REAM_RETURN_IF_ERROR(load());
  REAM_RETURN_IF_ERROR(store_.mark_job_running(job_id_));
  if (opt_.progress) opt_.progress->steps_total = static_cast<int>(wf_.steps.size());
  event("running workflow " + wf_.name + " (" + std::to_string(wf_.steps.size()) + " steps)");
  if (fresh_) plan_documents();
  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, opt_.max_parallel); ++i) workers.emplace_back([this] { worker(); });
  {
    std::unique_lock lock(mu_);
    for (;;) {
      if (!failed_ && !cancelled()) expand_ready();
      bool all_done = true;
      for (const StepSlot& s : slots_) {
        all_done = all_done && (s.state == SlotState::kDone || s.state == SlotState::kSkipped ||
                                s.state == SlotState::kFailed);
      }
      if (failed_ || cancelled()) queue_.clear();
      if ((all_done || failed_ || cancelled()) && running_ == 0 && queue_.empty()) break;
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
    stop_ = true;
    cv_.notify_all();
  }
  for (std::thread& t : workers) t.join();
  JobOutcome out;
  if (cancelled() && !failed_) {
    out.status = opt_.cancel_is_interrupt ? store::kJobFailed : store::kJobCancelled;
    out.error = opt_.cancel_is_interrupt ? "interrupted" : "cancelled";
  } else if (failed_ && cancelled() && opt_.cancel_is_interrupt) {
    out.status = store::kJobFailed;
    out.error = "interrupted";
  } else if (failed_) {
    out.status = store::kJobFailed;
    out.error = error_;
  } else {
    out.status = store::kJobSucceeded;
    for (const auto& [name, t] : wf_.outputs) out.outputs[name] = t.eval(ctx_);
  }
  if (opt_.progress) opt_.progress->finish();  // before the final event a stream may be waiting for
  REAM_RETURN_IF_ERROR(
      store_.finish_job(job_id_, out.status, out.outputs.dump(), out.error, opt_.lease_owner));
  event("job " + out.status + (out.error.empty() ? "" : ": " + out.error));
  return out;
}

}  // namespace

Result<JobOutcome> Executor::run(int64_t job_id, const RunOptions& options) {
  JobRun run(store_, plugins_, model_, job_id, options);
  return run.run();
}

}  // namespace ream::flow
