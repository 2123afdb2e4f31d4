// Executor: job loading, the step DAG, the worker pool (a step's `parallel` caps its
// own runs in flight) and the job's final state. Foreach expansion is flow/foreach.h;
// a step run's attempts, retries and commits are flow/step_runner.h. Every wait is on
// cv_, woken by the event it waits for (a run queued or ended, a cancel).
#include "flow/executor.h"


#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "flow/foreach.h"
#include "flow/job.h"
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
  Status read_unread(const store::JobRecord& job);
  Result<JobOutcome> end_unread();
  bool cancelled() const { return opt_.cancel && opt_.cancel->cancelled(); }
  void event(const std::string& line);
  bool needs_met(const Step& step) const;
  void expand_ready();
  Status expand(size_t index);
  plugins::Document whole_document(const std::string& key) const;
  void plan_documents();
  Result<SamplingParams> step_sampling(const Step& step, const json& ctx) const {
    json merged = engine_;
    REAM_ASSIGN_OR_RETURN(json settings, resolve_value(step.engine, ctx));
    merged.update(settings);
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
  Status stopped_;  // a run could not reach the store: the job's run ends without a verdict
  bool fresh_ = false;  // the job had never started: show the documents' context plans
  std::string unread_error_;  // why the job's documents, read at this run, stop it
};

// The executor only reports; its caller logs (reamd) or shows (`ream run`) each line,
// so a line is written once, with the caller's context (reamd adds job_id=).
void JobRun::event(const std::string& line) {
  if (opt_.on_event) opt_.on_event(line);
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
  if (!job.pending_documents.empty()) {
    REAM_RETURN_IF_ERROR(read_unread(job));
    if (!unread_error_.empty()) return {};
    REAM_ASSIGN_OR_RETURN(job, store_.get_job(job_id_));  // its inputs now name the documents
  }
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
  auto engine = resolve_value(wf_.engine, ctx_);
  if (!engine.ok()) return invalid_argument("engine: " + engine.status().message());
  engine_ = std::move(engine).value();
  REAM_ASSIGN_OR_RETURN(std::vector<store::StepRunRecord> runs, store_.step_runs(job_id_));
  for (store::StepRunRecord& r : runs) existing_[{r.step_id, r.iteration}] = std::move(r);
  slots_.resize(wf_.steps.size());
  return {};
}

// The documents of a job created unread: read (ingested, each row stored) and attached
// to the job with their events, all or nothing; a lease lost meanwhile writes nothing.
Status JobRun::read_unread(const store::JobRecord& job) {
  REAM_ASSIGN_OR_RETURN(std::vector<UnreadDocument> unread, parse_unread(job.pending_documents));
  json inputs = json::parse(job.inputs_json, nullptr, false);
  if (!inputs.is_object()) return internal_error("job " + std::to_string(job_id_) + ": its inputs are not a JSON object");
  event("reading " + std::to_string(unread.size()) + " document" + (unread.size() == 1 ? "" : "s"));
  REAM_ASSIGN_OR_RETURN(ReadDocuments read,
                        read_documents(store_, wf_, std::move(inputs), unread, &model_, opt_.paths));
  REAM_RETURN_IF_ERROR(store_.attach_documents(job_id_, opt_.lease_owner, read.inputs.dump(), read.documents,
                                               read.events));
  if (!read.stop.ok()) unread_error_ = read.stop.message();
  return {};
}

// A job whose documents, read at this run, cannot carry it: failed with their reasons.
Result<JobOutcome> JobRun::end_unread() {
  REAM_RETURN_IF_ERROR(store_.mark_job_running(job_id_));
  JobOutcome out{store::kJobFailed, unread_error_, json::object()};
  if (opt_.progress) opt_.progress->finish();
  REAM_RETURN_IF_ERROR(store_.finish_job(job_id_, out.status, out.outputs.dump(), out.error, opt_.lease_owner));
  event("job failed: " + out.error);
  return out;
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
  bool run = true;
  if (!skip && step.when) {
    auto when = step.when->eval(ctx_);
    if (!when.ok()) return invalid_argument("when: " + when.status().message());
    run = truthy(when.value());
  }
  if (!skip && !run) {
    REAM_RETURN_IF_ERROR(store_.skip_step(job_id_, step.id));
    skip = true;
  }
  if (skip) {
    slot.state = SlotState::kSkipped;
    ctx_["steps"][step.id] = {{"status", "skipped"}, {"outputs", json::object()}, {"findings", 0}};
    if (opt_.progress) ++opt_.progress->steps_done;
    event("step " + step.id + " skipped (when is false)");
    return {};
  }
  slot.foreach = step.foreach.kind != ForeachKind::kNone;
  ExpandEnv env;
  env.context = &ctx_;
  env.documents = doc_keys_;
  env.document = [this](const std::string& key) { return whole_document(key); };
  env.plan = [this](const std::string& key, int64_t budget, int64_t overlap) {
    return plan_document(model_, docs_.at(key), budget, overlap);
  };
  if (step.foreach.kind == ForeachKind::kChunks && step.foreach.chunk_tokens <= 0) {
    REAM_ASSIGN_OR_RETURN(SamplingParams sampling, step_sampling(step, ctx_));
    env.context_budget = context_budget(model_, sampling);
  }
  REAM_ASSIGN_OR_RETURN(Expansion expansion, expand_step(step, index, env));
  for (const ChunkPlanUsed& p : expansion.plans) {
    json plan_event = plan_json(p.document, p.plan, p.budget, p.overlap);
    plan_event["step"] = step.id;
    (void)store_.add_event(job_id_, "chunk_plan", plan_event.dump());
    event("step " + step.id + " chunk plan: " + plan_line(p.document, p.plan, p.budget));
  }
  std::vector<RunUnit>& units = expansion.units;
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
  AttemptEnv env;
  env.workflow = &wf_;
  env.plugin = plugins_.find(step.plugin);
  env.model = &model_;
  env.docs = &docs_;
  env.cancel = opt_.cancel;
  env.progress = opt_.progress;
  env.timeout_s = step.timeout_s;
  env.job_id = job_id_;
  env.tag = "job " + std::to_string(job_id_) + " step " + run_name(step, unit.iteration);
  {
    std::lock_guard lock(mu_);
    env.context = ctx_;
  }
  env.context["item"] = unit.item;
  if (auto sampling = step_sampling(step, env.context); sampling.ok()) {
    env.sampling = std::move(sampling).value();
  } else {
    env.setup = sampling.status();
  }
  RunOutcome out = run_step(std::move(env), unit, step, store_, [this](const std::string& line) {
    std::lock_guard lock(mu_);
    event(line);
  });
  std::lock_guard lock(mu_);
  if (!out.stopped.ok()) {
    // No verdict for this run: nothing more starts, and run() returns the status.
    if (stopped_.ok()) stopped_ = out.stopped;
    event(out.error);
    cv_.notify_all();
    return;
  }
  unit_done(unit, out.ok, out.outputs, out.findings, out.error);
}

void JobRun::worker() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    // The first queued run whose step is under its `parallel` cap (0: the pool's size).
    auto next = std::find_if(queue_.begin(), queue_.end(), [&](const RunUnit& u) {
      const int cap = wf_.steps[u.step].parallel;
      return cap <= 0 || slots_[u.step].in_flight < cap;
    });
    if (next == queue_.end() || failed_ || !stopped_.ok() || cancelled()) {
      cv_.wait(lock);  // woken by a queued run, a run's end, the stop or a cancel
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
  if (!unread_error_.empty()) return end_unread();
  CancelToken::Listener on_cancel;
  if (opt_.cancel) {
    on_cancel = opt_.cancel->on_cancel([this] {
      std::lock_guard lock(mu_);
      cv_.notify_all();
    });
  }
  REAM_RETURN_IF_ERROR(store_.mark_job_running(job_id_));
  if (opt_.progress) opt_.progress->steps_total = static_cast<int>(wf_.steps.size());
  event("running workflow " + wf_.name + " (" + std::to_string(wf_.steps.size()) + " steps)");
  if (fresh_) plan_documents();
  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, opt_.max_parallel); ++i) workers.emplace_back([this] { worker(); });
  {
    std::unique_lock lock(mu_);
    for (;;) {
      auto ending_now = [&] { return failed_ || !stopped_.ok() || cancelled(); };
      if (!ending_now()) expand_ready();
      const bool ending = ending_now();  // after the expansion, which may fail the job
      bool all_done = true;
      for (const StepSlot& s : slots_) {
        all_done = all_done && (s.state == SlotState::kDone || s.state == SlotState::kSkipped ||
                                s.state == SlotState::kFailed);
      }
      if (ending) queue_.clear();
      if ((all_done || ending) && running_ == 0 && queue_.empty()) break;
      cv_.wait(lock);  // woken by a run's end, an expansion or a cancel
    }
    stop_ = true;
    cv_.notify_all();
  }
  for (std::thread& t : workers) t.join();
  // A run that could not reach the store: no verdict (its caller puts the job back).
  if (!stopped_.ok()) return stopped_;
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
    for (const auto& [name, t] : wf_.outputs) {
      auto v = t.eval(ctx_);
      if (!v.ok()) {
        out.status = store::kJobFailed;
        out.error = "output '" + name + "': " + v.status().message();
        out.outputs = json::object();
        break;
      }
      out.outputs[name] = std::move(v).value();
    }
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
