// Runners: the threads that lease queued jobs and run them through the flow
// executor, all feeding the one engine (whose scheduler batches their prompts).
//
// Each runner leases a job (Store::lease_next), runs it with the plugins of that
// moment (a reload never pulls a plugin out from under a run), and releases the lease
// at the end. One heartbeat
// thread renews the leases of every job running here, every heartbeat_s and at no
// other time (a submission wakes the runners, not it). A job whose lease lapses
// (this process died) is taken by the next runner anywhere and resumes at its
// first unfinished step. A heartbeat that finds the lease held by another owner (or
// by none) stops the job's run here: its engine requests are cancelled and it writes
// no final state (Store::finish_job checks the lease), so the job is left to its
// holder. An exception out of a job's run fails that job (when its lease is still
// held) and the runner goes on; it never ends the thread or the process.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "flow/executor.h"
#include "metrics/metrics.h"
#include "plugins/plugin_host.h"
#include "store/store.h"

namespace ream::jobs {

// Who holds the leases this process takes: "host:pid:start_ms", and the host (a lease
// whose owner is a process of this host that no longer exists is free to take).
struct ProcessOwner {
  std::string host;
  std::string owner;
};
ProcessOwner this_process_owner();

struct RunnerSettings {
  int count = 2;              // runner threads (jobs run at once here)
  double lease_s = 60;        // a lease's length
  double heartbeat_s = 10;    // how often leases are renewed
  int step_parallel = 4;      // step runs in flight per job (flow::RunOptions::max_parallel)
  // queue.poll_s: how often an idle runner looks at the queue when nothing woke it, with
  // a store that announces commits (Store::announces_commits; JobService wires the
  // notices to notify()): a job queued by any process wakes it, and this poll catches the
  // rest (a lost announcement, a lease that expired). A store that does not (SQLite, one
  // host) is looked at every kUnannouncedPollS: only this process's submissions wake.
  double fallback_poll_s = 5;
  std::string owner;          // "host:pid:start_ms": who holds the leases taken here
  std::string host;           // this host's name (ProcessOwner::host)
  int worker_nice = 0;        // nice steps the runner threads add to their own (http.worker_nice)
};

// What a run needs from the daemon, each asked for when a job is leased.
struct RunnerDeps {
  store::Store* store = nullptr;
  metrics::Registry* metrics = nullptr;
  // The plugins of the moment; the run holds them to its end.
  std::function<std::shared_ptr<const plugins::PluginHost>()> plugins;
  std::function<flow::ModelClient*()> model;  // null while the engine is not loaded
  // What a job's documents may name when they are read at its first run (documents.allowed_roots
  // and the uploads; JobService sets it to its own).
  ingest::PathPolicy paths = ingest::PathPolicy::unrestricted();
};

class Runners {
 public:
  static constexpr double kUnannouncedPollS = 0.5;

  Runners(RunnerSettings settings, RunnerDeps deps);
  ~Runners();
  Runners(const Runners&) = delete;
  Runners& operator=(const Runners&) = delete;

  void start();
  // Wakes the idle runners (a job was queued, here or, announced, elsewhere).
  void notify();
  // Runs job `job_id` in the calling thread as a runner thread would: leased to this
  // process (Store::lease_job), the lease renewed by the heartbeat while it runs and
  // released at the end, the final state written only while the lease is held. The
  // caller's options give the progress, cancel token and event lines (the lease owner
  // and, when unset, the token and progress are the runners'). kFailedPrecondition when
  // the job has ended or another live process holds it. `ream run` runs its job so; no
  // runner thread need be started.
  Result<flow::JobOutcome> run_here(int64_t job_id, flow::RunOptions options);
  // Requests cancellation of a job running here; false when it is not.
  bool cancel(int64_t job_id);
  // Live progress of a job running here, or of one of the last kRecent that ended here
  // (then finished: frozen at its end), or null.
  std::shared_ptr<const flow::Progress> progress(int64_t job_id);
  // Jobs running here whose run has not finished (one wrapping up is not counted).
  int running();

  // Stops leasing; running jobs carry on.
  void stop_taking();
  // Waits until no job runs here or `timeout_s` passes; true when idle.
  bool wait_idle(double timeout_s);
  // Gives up the leases of jobs still running (they resume at the next start) and
  // returns their ids.
  std::vector<int64_t> release_all();
  // Joins the threads (after wait_idle succeeded).
  void join();

 private:
  static constexpr size_t kRecent = 64;
  static constexpr int kMaxUnavailableRuns = 5;
  // After a requeued run, how long the runner waits before it leases again.
  static constexpr std::chrono::milliseconds kRequeueBackoff{1000};
  struct Active {
    int64_t job_id = 0;
    std::string workflow;
    flow::CancelToken cancel;
    std::atomic<bool> lease_lost{false};  // set by the heartbeat; cancel follows
    flow::Progress progress;
    // What the run uses: these two, or a run_here caller's own (which outlive the run).
    flow::CancelToken* stop = &cancel;
    flow::Progress* live = &progress;
    // What the token counters already hold of this job (under mu_).
    int64_t counted_prefilled = 0, counted_generated = 0;
  };
  void loop(int index);
  // Runs a leased job (execute) and lets its lease go; returns what execute returned.
  std::string run_job(int64_t job_id);
  // Runs the job to its end; returns its final status, or "skipped" (already final),
  // "abandoned" (lease lost) or "requeued" (the store could not be reached: the job goes
  // back to the queue and resumes from its last commit, up to kMaxUnavailableRuns runs in
  // a row here before it fails). May throw: run_job catches.
  std::string execute(Active& active, std::string* workflow);
  // Marks the job failed with `error` while this process holds its lease.
  std::string fail_job(int64_t job_id, const std::string& error);
  void heartbeat_loop();
  void renew(Active& active, int64_t lease_ms);
  void record_metrics(int64_t job_id, const std::string& workflow, const std::string& status,
                      double seconds);
  // Adds a job's token progress since the last call to the counters (under mu_).
  void count_tokens_locked(Active& a);
  // At scrape time: token counters of the running jobs, and their prompt tokens pending.
  void collect_metrics();

  const RunnerSettings settings_;
  const RunnerDeps deps_;
  std::vector<std::thread> threads_;
  std::thread heartbeat_;
  std::mutex mu_;
  std::condition_variable cv_;     // runners: a job was queued; drain: a job ended
  std::condition_variable hb_cv_;  // heartbeat: stopping, or the last job ended while stopping
  std::atomic<bool> stopping_{false};
  bool joined_ = false;
  int64_t wakeups_ = 0;
  std::map<int64_t, std::shared_ptr<Active>> active_;
  std::deque<std::shared_ptr<Active>> recent_;  // ended here, newest last
  std::map<int64_t, int> unavailable_runs_;     // job -> its runs requeued here in a row
  metrics::Family* jobs_finished_ = nullptr;
  metrics::Family* prefilled_ = nullptr;
  metrics::Family* generated_ = nullptr;
  metrics::Family* pending_ = nullptr;
  metrics::Family* job_seconds_ = nullptr;
  metrics::Family* step_seconds_ = nullptr;
};

}  // namespace ream::jobs
