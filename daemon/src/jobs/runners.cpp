// Runners: leasing, running, heartbeats, cancellation and draining.
#include "jobs/runners.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "ream/common/thread.h"

namespace ream::jobs {

ProcessOwner this_process_owner() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return {host, std::string(host) + ":" + std::to_string(getpid()) + ":" +
                    std::to_string(store::now_ms())};
}

Runners::Runners(RunnerSettings settings, RunnerDeps deps)
    : settings_(std::move(settings)), deps_(std::move(deps)) {
  auto& m = *deps_.metrics;
  jobs_finished_ = &m.counter("reamd_jobs_finished_total", "Jobs that reached a final state here.",
                              {"workflow", "status"});
  job_seconds_ = &m.histogram("reamd_job_duration_seconds", "Wall time of a job run, by workflow.",
                              {"workflow"}, metrics::latency_buckets());
  step_seconds_ = &m.histogram("reamd_step_duration_seconds",
                               "Wall time of committed step runs, by workflow and step.",
                               {"workflow", "step"}, metrics::latency_buckets());
  prefilled_ = &m.counter("reamd_job_prompt_tokens_prefilled_total",
                          "Prompt tokens of jobs' prompts prefilled (a cached prefix counts), by workflow.",
                          {"workflow"});
  generated_ = &m.counter("reamd_job_generated_tokens_total", "Tokens generated for jobs' prompts, by workflow.",
                          {"workflow"});
  pending_ = &m.gauge("reamd_jobs_prompt_tokens_pending",
                      "Prompt tokens that jobs running here have sent and the engine has not prefilled yet.");
  m.on_scrape([this] { collect_metrics(); });
}

Runners::~Runners() {
  stop_taking();
  if (joined_) return;
  // Jobs still running here (drain timed out, or no drain): their leases go first, so
  // their runs write no final state and the jobs resume at the next start; then their
  // runs are stopped (engine requests cancelled) and every thread is joined.
  release_all();
  {
    std::lock_guard lock(mu_);
    for (auto& [id, a] : active_) {
      a->lease_lost = true;
      a->stop->cancel();
    }
  }
  join();
}

void Runners::start() {
  for (int i = 0; i < settings_.count; ++i) threads_.emplace_back([this, i] { loop(i); });
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
}

void Runners::notify() {
  std::lock_guard lock(mu_);
  ++wakeups_;
  cv_.notify_all();
}

bool Runners::cancel(int64_t job_id) {
  std::lock_guard lock(mu_);
  auto it = active_.find(job_id);
  if (it == active_.end()) return false;
  it->second->stop->cancel();
  return true;
}

Result<flow::JobOutcome> Runners::run_here(int64_t job_id, flow::RunOptions options) {
  const int64_t lease_ms = static_cast<int64_t>(settings_.lease_s * 1000);
  REAM_ASSIGN_OR_RETURN(store::LeaseCheck lease,
                        (*deps_.store).lease_job(job_id, settings_.owner, lease_ms, settings_.host));
  const std::string job = "job " + std::to_string(job_id);
  if (lease.state == store::LeaseCheck::State::kEnded) {
    return failed_precondition(job + " has already ended (" + lease.status + ")");
  }
  if (lease.state == store::LeaseCheck::State::kLost) {
    return failed_precondition(job + " is running in another process (its lease is held by '" +
                               lease.owner + "')");
  }
  auto active = std::make_shared<Active>();
  active->job_id = job_id;
  if (options.cancel) active->stop = options.cancel;
  if (options.progress) active->live = options.progress;
  options.cancel = active->stop;
  options.progress = active->live;
  options.lease_owner = settings_.owner;
  options.paths = deps_.paths;
  if (auto record = (*deps_.store).get_job(job_id); record.ok()) active->workflow = record->workflow_name;
  {
    std::lock_guard lock(mu_);
    active_[job_id] = active;
    if (!heartbeat_.joinable()) heartbeat_ = std::thread([this] { heartbeat_loop(); });
  }
  std::shared_ptr<const plugins::PluginHost> plugins = deps_.plugins();
  flow::ModelClient* model = deps_.model();
  Result<flow::JobOutcome> outcome =
      plugins && model ? flow::Executor(*deps_.store, *plugins, *model).run(job_id, options)
                       : Result<flow::JobOutcome>(unavailable("the engine is not loaded"));
  (void)(*deps_.store).release(job_id, settings_.owner);
  {
    std::lock_guard lock(mu_);
    active_.erase(job_id);
  }
  cv_.notify_all();
  hb_cv_.notify_all();
  if (!outcome.ok() && active->lease_lost) {
    return failed_precondition(job + " stopped here: its lease was taken by another process (" +
                               outcome.status().message() + ")");
  }
  return outcome;
}

std::shared_ptr<const flow::Progress> Runners::progress(int64_t job_id) {
  std::lock_guard lock(mu_);
  std::shared_ptr<Active> a;
  if (auto it = active_.find(job_id); it != active_.end()) a = it->second;
  for (auto r = recent_.rbegin(); !a && r != recent_.rend(); ++r) {
    if ((*r)->job_id == job_id) a = *r;
  }
  // A run_here caller's progress is its own (and may not outlive the run).
  if (!a || a->live != &a->progress) return nullptr;
  return std::shared_ptr<const flow::Progress>(a, &a->progress);
}

void Runners::count_tokens_locked(Active& a) {
  const flow::ProgressSnapshot s = a.live->snapshot();
  if (s.prompt_tokens_prefilled > a.counted_prefilled)
    prefilled_->add({a.workflow}, static_cast<double>(s.prompt_tokens_prefilled - a.counted_prefilled));
  if (s.tokens_generated > a.counted_generated)
    generated_->add({a.workflow}, static_cast<double>(s.tokens_generated - a.counted_generated));
  a.counted_prefilled = s.prompt_tokens_prefilled;
  a.counted_generated = s.tokens_generated;
}

void Runners::collect_metrics() {
  std::lock_guard lock(mu_);
  int64_t pending = 0;
  for (auto& [id, a] : active_) {
    count_tokens_locked(*a);
    const flow::ProgressSnapshot s = a->live->snapshot();
    pending += std::max<int64_t>(0, s.prompt_tokens_total - s.prompt_tokens_prefilled);
  }
  pending_->set({}, static_cast<double>(pending));
}

int Runners::running() {
  std::lock_guard lock(mu_);
  // A run's progress finishes before its final state is committed, so a job that anyone
  // has seen end is not counted while its runner wraps up (lease, metrics).
  int n = 0;
  for (const auto& [id, a] : active_) n += a->live->snapshot().finished ? 0 : 1;
  return n;
}

void Runners::stop_taking() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  hb_cv_.notify_all();
}

bool Runners::wait_idle(double timeout_s) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                      [this] { return active_.empty(); });
}

std::vector<int64_t> Runners::release_all() {
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, a] : active_) ids.push_back(id);
  }
  for (int64_t id : ids) (void)(*deps_.store).release(id, settings_.owner);
  return ids;
}

void Runners::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  if (heartbeat_.joinable()) heartbeat_.join();
  joined_ = true;
}

void Runners::loop(int index) {
  set_thread_name("reamd-runner");
  // Below the HTTP I/O threads, as the handlers are (http.worker_nice); the executor's
  // workers this thread starts inherit it.
  if (!lower_thread_priority(settings_.worker_nice)) {
    spdlog::warn("runner {}: could not lower its priority (http.worker_nice {})", index, settings_.worker_nice);
  }
  const int64_t lease_ms = static_cast<int64_t>(settings_.lease_s * 1000);
  const std::chrono::duration<double> poll(
      (*deps_.store).announces_commits() ? settings_.fallback_poll_s : kUnannouncedPollS);
  while (!stopping_) {
    // Counted before looking: a wake-up that comes while the lease query runs (a job
    // committed after its snapshot) ends the wait below at once instead of being lost.
    int64_t seen = 0;
    {
      std::lock_guard lock(mu_);
      seen = wakeups_;
    }
    auto leased = (*deps_.store).lease_next(settings_.owner, lease_ms);
    if (!leased.ok()) {
      spdlog::error("runner {}: lease failed: {}", index, leased.status().message());
    }
    if (!leased.ok() || leased.value() == 0) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, poll,
                   [&] { return stopping_ || wakeups_ != seen; });
      continue;
    }
    if (run_job(leased.value()) == "requeued") {
      // The store was out of reach: give it a moment before leasing again.
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kRequeueBackoff, [&] { return stopping_.load(); });
    }
  }
}

std::string Runners::run_job(int64_t job_id) {
  auto active = std::make_shared<Active>();
  active->job_id = job_id;
  {
    std::lock_guard lock(mu_);
    active_[job_id] = active;
  }
  std::string workflow = "?";
  std::string status;
  auto t0 = std::chrono::steady_clock::now();
  // Nothing thrown while a job runs may end the runner thread (std::terminate would take
  // the daemon and every other job with it): the job fails, the runner goes on.
  try {
    status = execute(*active, &workflow);
  } catch (const std::exception& e) {
    active->progress.finish();  // before the final event a stream may be waiting for
    status = fail_job(job_id, std::string("internal error: ") + e.what());
  } catch (...) {
    active->progress.finish();
    status = fail_job(job_id, "internal error: an unknown exception");
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  (void)(*deps_.store).release(job_id, settings_.owner);
  if (status != "skipped" && status != "abandoned" && status != "requeued") {
    try {
      record_metrics(job_id, workflow, status, secs);
    } catch (const std::exception& e) {
      spdlog::error("job {}: metrics: {} job_id={}", job_id, e.what(), job_id);
    }
  }
  active->progress.finish();  // already, unless the job could not run at all
  {
    std::lock_guard lock(mu_);
    count_tokens_locked(*active);
    active_.erase(job_id);
    if (status != "requeued") {
      unavailable_runs_.erase(job_id);
      recent_.push_back(active);  // a requeued job's progress is its next run's to tell
      if (recent_.size() > kRecent) recent_.pop_front();
    }
  }
  cv_.notify_all();
  if (stopping_) hb_cv_.notify_all();
  return status;
}

std::string Runners::execute(Active& active, std::string* workflow) {
  const int64_t job_id = active.job_id;
  // Held for the whole run: the plugins stay loaded whatever a reload does.
  std::shared_ptr<const plugins::PluginHost> plugins = deps_.plugins();
  flow::ModelClient* model = deps_.model();
  if (!plugins || !model) return fail_job(job_id, "the engine is not loaded");
  if (auto job = (*deps_.store).get_job(job_id); job.ok()) *workflow = job->workflow_name;
  {
    std::lock_guard lock(mu_);
    active.workflow = *workflow;  // before the executor starts: no token counted without it
  }
  spdlog::info("job {} leased by {} (workflow {}) job_id={}", job_id, settings_.owner, *workflow,
               job_id);
  flow::RunOptions opt;
  opt.max_parallel = settings_.step_parallel;
  opt.cancel = &active.cancel;
  opt.progress = &active.progress;
  opt.lease_owner = settings_.owner;
  opt.paths = deps_.paths;
  opt.on_event = [job_id](const std::string& line) {
    spdlog::info("job {}: {} job_id={}", job_id, line, job_id);
  };
  flow::Executor executor(*deps_.store, *plugins, *model);
  auto outcome = executor.run(job_id, opt);
  if (outcome.ok()) return outcome->status;
  if (active.lease_lost) {
    spdlog::warn("job {}: abandoned here, its lease is held elsewhere: {} job_id={}", job_id,
                 outcome.status().message(), job_id);
    return "abandoned";
  }
  if (outcome.status().code() == StatusCode::kFailedPrecondition) {
    // Already final (a race with cancel, or a replay).
    spdlog::warn("job {}: {} job_id={}", job_id, outcome.status().message(), job_id);
    return "skipped";
  }
  std::string error = outcome.status().message();
  if (outcome.status().code() == StatusCode::kUnavailable) {
    // The store could not be reached (a PostgreSQL server restarting, a network cut): not
    // the job's doing. Its commits stand, so it goes back to the queue and whichever runner
    // leases it next resumes from the last one; only a job stopped so again and again here
    // fails. (A step's own errors, an upstream's included, are its attempts' and never
    // come here.)
    int runs = 0;
    {
      std::lock_guard lock(mu_);
      runs = ++unavailable_runs_[job_id];
    }
    if (runs < kMaxUnavailableRuns) {
      spdlog::warn("job {}: stopped ({}); back to the queue, to resume from its last commit (run {} of at most "
                   "{}) job_id={}",
                   job_id, error, runs, kMaxUnavailableRuns, job_id);
      return "requeued";
    }
    error += " (the job's last " + std::to_string(runs) + " runs here were each stopped so)";
  }
  spdlog::error("job {} could not run: {} job_id={}", job_id, error, job_id);
  active.progress.finish();  // before the final event a stream may be waiting for
  return fail_job(job_id, error);
}

std::string Runners::fail_job(int64_t job_id, const std::string& error) {
  spdlog::error("job {} failed: {} job_id={}", job_id, error, job_id);
  Status st = (*deps_.store).finish_job(job_id, store::kJobFailed, "{}", error, settings_.owner);
  if (st.ok()) return "failed";
  spdlog::warn("job {}: {} job_id={}", job_id, st.message(), job_id);
  return st.code() == StatusCode::kFailedPrecondition ? "skipped" : "failed";
}

void Runners::record_metrics(int64_t job_id, const std::string& workflow,
                             const std::string& status, double seconds) {
  jobs_finished_->add({workflow, status});
  job_seconds_->observe({workflow}, seconds);
  auto runs = (*deps_.store).step_runs(job_id);
  if (!runs.ok()) return;
  for (const auto& r : runs.value()) {
    if (r.status == "succeeded" && r.finished_at > r.started_at && r.started_at > 0) {
      step_seconds_->observe({workflow, r.step_id},
                             static_cast<double>(r.finished_at - r.started_at) / 1000.0);
    }
  }
}

void Runners::heartbeat_loop() {
  set_thread_name("reamd-heartbeat");
  const int64_t lease_ms = static_cast<int64_t>(settings_.lease_s * 1000);
  const auto every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(settings_.heartbeat_s));
  auto done = [this] { return stopping_ && active_.empty(); };
  std::unique_lock lock(mu_);
  auto next = std::chrono::steady_clock::now() + every;
  while (!done()) {
    // Its own condition variable: only the clock, or the end of the last job while
    // stopping, wakes this thread.
    if (hb_cv_.wait_until(lock, next, done)) break;
    next = std::chrono::steady_clock::now() + every;
    std::vector<std::shared_ptr<Active>> jobs;
    for (auto& [id, a] : active_) jobs.push_back(a);
    lock.unlock();
    for (const auto& a : jobs) renew(*a, lease_ms);
    lock.lock();
  }
}

void Runners::renew(Active& a, int64_t lease_ms) {
  auto check = (*deps_.store).heartbeat(a.job_id, settings_.owner, lease_ms);
  if (!check.ok()) {  // the database did not answer: the lease runs on; try again next beat
    spdlog::warn("job {}: heartbeat failed: {} job_id={}", a.job_id, check.status().message(),
                 a.job_id);
    return;
  }
  // kEnded: the run wrote its final state and is being wrapped up.
  if (check->state != store::LeaseCheck::State::kLost || a.lease_lost.exchange(true)) return;
  spdlog::error("job {}: lease lost ({}; status {}): stopping its run here job_id={}", a.job_id,
                check->owner.empty() ? std::string("held by no one")
                                     : "now held by " + check->owner,
                check->status.empty() ? "gone" : check->status, a.job_id);
  a.stop->cancel();
}

}  // namespace ream::jobs
