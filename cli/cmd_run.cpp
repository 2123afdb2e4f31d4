// `ream run`: runs a workflow locally, in-process with the engine, recording the
// job in SQLite; `ream run --resume JOB_ID` continues an interrupted job. The job goes
// the way reamd's do, through jobs::JobService: submit, then run here under a lease
// of this process (so a reamd on the same database leaves it alone while it runs).
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "args.h"
#include "commands.h"
#include "flow/engine_model_client.h"
#include "flow/executor.h"
#include "flow/job.h"
#include "flow/paths.h"
#include "flow/report.h"
#include "flow/sarif.h"
#include "flow/workflow.h"
#include "jobs/job_service.h"
#include "metrics/metrics.h"
#include "plugins/plugin_host.h"
#include "ream/engine/engine.h"
#include "store/store.h"

namespace ream::cli {
namespace {

// SIGINT reaches the run through a pipe: the handler writes a byte (all a handler may
// do), a thread reading the pipe cancels the run's token.
int g_sigint_pipe[2] = {-1, -1};
void on_sigint(int) {
  const char c = 'i';
  (void)!write(g_sigint_pipe[1], &c, 1);
}

// While alive, Ctrl-C interrupts `token` (the job ends failed "interrupted", resumable).
class SigintForwarder {
 public:
  explicit SigintForwarder(flow::CancelToken& token) {
    if (pipe(g_sigint_pipe) != 0) return;
    thread_ = std::thread([&token] {
      char c = 0;
      // 'i': Ctrl-C; 'q' (from the destructor) or EOF: the run is over.
      while (read(g_sigint_pipe[0], &c, 1) == 1) {
        if (c == 'q') break;
        token.cancel();
      }
    });
    std::signal(SIGINT, on_sigint);
  }
  ~SigintForwarder() {
    if (!thread_.joinable()) return;
    std::signal(SIGINT, SIG_DFL);
    const char c = 'q';
    (void)!write(g_sigint_pipe[1], &c, 1);
    thread_.join();
    close(g_sigint_pipe[0]);
    close(g_sigint_pipe[1]);
  }

 private:
  std::thread thread_;
};

// The shipped workflows, as `ream run NAME` finds them: "a, b, c".
std::string shipped_workflows() {
  std::string list;
  for (const std::string& n : flow::workflow_names(flow::default_workflow_dirs())) list += (list.empty() ? "" : ", ") + n;
  return list.empty() ? "none found: set REAM_WORKFLOW_PATH" : list;
}

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "ream run: %s\n", message.c_str());
  return code;
}

std::string default_db_path() {
  std::string base;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    base = std::string(h) + "/.local/share";
  } else {
    base = ".";
  }
  return base + "/ream/ream.db";
}

// "12,345"
std::string fmt_count(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// "42s", "3m05s", "2h07m"
std::string fmt_duration(double s) {
  const int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t < 60) std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(t));
  else if (t < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(t / 60), static_cast<long long>(t % 60));
  else std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(t / 3600), static_cast<long long>(t % 3600 / 60));
  return buf;
}

// The numbers: "12,345/27,000 prompt tok 812 tok/s | 120 tok generated 35.2 tok/s |
// prompts 1/4 runs 0/1 steps 0/1".
std::string progress_numbers(const flow::ProgressSnapshot& s) {
  char rate[48];
  std::snprintf(rate, sizeof rate, "%.0f tok/s", s.prefill_tokens_per_s);
  std::string out = fmt_count(s.prompt_tokens_prefilled) + "/" + fmt_count(s.prompt_tokens_total) +
                    " prompt tok " + rate;
  std::snprintf(rate, sizeof rate, "%.1f tok/s", s.decode_tokens_per_s);
  out += " | " + fmt_count(s.tokens_generated) + " tok generated " + rate;
  out += " | prompts " + fmt_count(s.prompts_done) + "/" + fmt_count(s.prompts_total) + " runs " +
         fmt_count(s.runs_done) + "/" + fmt_count(s.runs_total) + " steps " + std::to_string(s.steps_done) + "/" +
         std::to_string(s.steps_total);
  return out;
}

std::string progress_eta(const flow::ProgressSnapshot& s) {
  return "ETA " + (s.eta_s ? fmt_duration(*s.eta_s) : std::string("?"));
}

// What the bar measures: "prefill  45%" (the prompt tokens sent so far that are
// prefilled), once all are "replies 1/4" (prompts answered); "starting" before any prompt.
std::string progress_label(const flow::ProgressSnapshot& s, double* fraction) {
  *fraction = 0;
  if (s.prompts_total == 0) return "starting";
  if (s.prompt_tokens_prefilled < s.prompt_tokens_total) {
    *fraction = static_cast<double>(s.prompt_tokens_prefilled) / static_cast<double>(s.prompt_tokens_total);
    char buf[32];
    std::snprintf(buf, sizeof buf, "prefill %3d%%", static_cast<int>(*fraction * 100));
    return buf;
  }
  *fraction = static_cast<double>(s.prompts_done) / static_cast<double>(s.prompts_total);
  return "replies " + fmt_count(s.prompts_done) + "/" + fmt_count(s.prompts_total);
}

int terminal_columns() {
  winsize w{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col >= 20) return w.ws_col;
  return 100;
}

// Shows a job's progress on stderr until stopped: on a terminal a bar redrawn in place
// (cut to the terminal's width, so it never wraps); otherwise a plain line every
// kPlainEveryS seconds while something moves, no control characters. Event lines go
// above the bar.
class ProgressView {
 public:
  static constexpr double kPlainEveryS = 10.0;

  ProgressView(const flow::Progress& p, bool tty) : p_(p), tty_(tty) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ProgressView() { stop(); }
  // Stops drawing and writes the final numbers as a plain line.
  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::lock_guard lock(mu_);
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "ream: %s\n", plain_line(p_.snapshot()).c_str());
  }
  void line(const std::string& text) {
    std::lock_guard lock(mu_);
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "ream: %s\n", text.c_str());
    if (tty_) draw_locked();  // the bar comes back at once below the line
  }

 private:
  // "progress: prefill  45% | <numbers> | ETA 1m05s", or at the end "progress: done in 3m12s | <numbers>".
  static std::string plain_line(const flow::ProgressSnapshot& s) {
    double fraction = 0;
    if (s.finished) return "progress: done in " + fmt_duration(s.elapsed_s) + " | " + progress_numbers(s);
    return "progress: " + progress_label(s, &fraction) + " | " + progress_numbers(s) + " | " + progress_eta(s);
  }
  void loop() {
    std::unique_lock lock(mu_);
    auto last_plain = std::chrono::steady_clock::now();
    int64_t last_moved = -1;
    while (!stop_) {
      if (tty_) {
        draw_locked();
        cv_.wait_for(lock, std::chrono::milliseconds(200));
        continue;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(500));
      const auto now = std::chrono::steady_clock::now();
      if (stop_ || std::chrono::duration<double>(now - last_plain).count() < kPlainEveryS) continue;
      const flow::ProgressSnapshot s = p_.snapshot();
      const int64_t moved = s.prompt_tokens_prefilled + s.tokens_generated + s.runs_done;
      if (moved != last_moved) std::fprintf(stderr, "ream: %s\n", plain_line(s).c_str());
      last_moved = moved;
      last_plain = now;
    }
  }
  void draw_locked() {
    const flow::ProgressSnapshot s = p_.snapshot();
    double fraction = 0;
    const std::string label = progress_label(s, &fraction);
    const int width = 20, filled = static_cast<int>(width * std::clamp(fraction, 0.0, 1.0));
    std::string text = label + " [" + std::string(static_cast<size_t>(filled), '#') +
                       std::string(static_cast<size_t>(width - filled), '.') + "] " + progress_numbers(s) +
                       " | " + progress_eta(s);
    const size_t room = static_cast<size_t>(terminal_columns() - 1);
    if (text.size() > room) text.resize(room);
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
  }

  const flow::Progress& p_;
  bool tty_;
  bool stop_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

int print_result(store::Store& store, int64_t job_id, const std::string& format) {
  if (format == "json" || format == "sarif") {
    auto r = format == "json" ? flow::job_result_json(store, job_id) : flow::job_result_sarif(store, job_id);
    if (!r.ok()) return fail(r.status().message());
    std::cout << r->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    auto r = flow::job_result_markdown(store, job_id);
    if (!r.ok()) return fail(r.status().message());
    std::cout << *r;
  }
  return 0;
}

}  // namespace

std::string usage_run() {
  return "usage: ream run WORKFLOW --model DIR [--input NAME=VALUE ...] [--doc PATH ...]\n"
         "                [--device cpu|cuda] [--db PATH] [--format md|json|sarif] [--plugins DIR ...]\n"
         "                [--max-parallel N] [--max-model-len N] [--priority N] [--quiet]\n"
         "       ream run --resume JOB_ID --model DIR [--db PATH] [--format md|json|sarif]\n"
         "\n"
         "WORKFLOW is a file or the name of a shipped workflow (" + shipped_workflows() + ").\n"
         "--input NAME=VALUE   a workflow input; lists: repeat it, give JSON ([...]) or @FILE (YAML/JSON list)\n"
         "--doc PATH           a document for the workflow's first document input (repeatable)\n"
         "--db PATH            the store: a SQLite file (default: $XDG_DATA_HOME/ream/ream.db)\n"
         "                     or a PostgreSQL URL (postgresql://...) that reamd hosts share\n"
         "--plugins DIR        plugin directory (repeatable; default: $REAM_PLUGIN_PATH or the built/installed ones)\n"
         "--format md|json|sarif  the result on stdout (default md; sarif: SARIF 2.1.0 for code audits)\n"
         "--max-parallel N     step runs in flight (default 4)\n"
         "--max-model-len N    the context in tokens (default: the model's); documents that do not fit\n"
         "                     with the reply are split (the plan shows in the progress)\n"
         "--priority N         the priority recorded with the job (default 0)\n"
         "--quiet              no progress on stderr\n"
         "Progress goes to stderr: a bar on a terminal (prefill %, prompt tokens and rate, tokens\n"
         "generated and rate, prompts, ETA), else a plain line every 10 s; the final numbers at the end.\n"
         "Ctrl-C interrupts the job; `--resume JOB_ID` continues it.\n";
}

int cmd_run(const Args& args) {
  Flags f({"input", "doc", "model", "device", "db", "format", "resume", "plugins", "max-parallel", "priority",
           "max-model-len"},
          {"help", "quiet"});
  if (std::string err = f.parse(args); !err.empty()) return fail(err + "\n" + usage_run(), 2);
  if (f.has("help")) {
    std::fputs(usage_run().c_str(), stdout);
    return 0;
  }
  const bool resume = f.has("resume");
  if ((resume ? !f.positional().empty() : f.positional().size() != 1) || !f.has("model")) {
    return fail(std::string(resume ? "--resume takes no WORKFLOW" : "give one WORKFLOW") +
                    (f.has("model") ? "" : " and --model DIR") + "\n" + usage_run(), 2);
  }
  const std::string format = f.get("format", "md");
  if (format != "md" && format != "json" && format != "sarif") return fail("--format must be md, json or sarif", 2);
  const int max_parallel = std::atoi(f.get("max-parallel", "4").c_str());
  if (max_parallel < 1) return fail("--max-parallel must be at least 1", 2);

  auto host = std::make_shared<plugins::PluginHost>();
  std::vector<std::string> plugin_dirs = f.has("plugins") ? f.all("plugins") : flow::default_plugin_dirs();
  host->load_dirs(plugin_dirs);
  for (const auto& e : host->errors()) std::fprintf(stderr, "ream run: warning: plugin not loaded: %s\n", e.message.c_str());

  const std::string db_path = f.get("db", default_db_path());
  std::error_code ec;
  if (auto parent = std::filesystem::path(db_path).parent_path();
      !parent.empty() && !store::names_postgresql(db_path)) {
    std::filesystem::create_directories(parent, ec);
  }
  auto store = store::Store::open(db_path);
  if (!store.ok()) return fail(store.status().message());

  // Check the workflow and inputs before the (slow) model load.
  std::shared_ptr<const flow::Workflow> workflow;
  nlohmann::json inputs;
  int64_t job_id = 0;
  if (resume) {
    job_id = std::atoll(f.get("resume").c_str());
    auto job = (*store)->get_job(job_id);
    if (!job.ok()) return fail(job.status().message(), 2);
  } else {
    auto path = flow::resolve_workflow(f.positional()[0], flow::default_workflow_dirs());
    if (!path.ok()) return fail(path.status().message(), 2);
    auto wf = flow::load_workflow(*path, flow::catalog_of(*host));
    if (!wf.ok()) return fail(wf.status().message());
    workflow = std::make_shared<const flow::Workflow>(std::move(wf).value());
    auto in = flow::inputs_from_args(*workflow, f.all("input"), f.all("doc"));
    if (!in.ok()) return fail(in.status().message(), 2);
    auto checked = flow::check_inputs(*workflow, *in);
    if (!checked.ok()) return fail(checked.status().message(), 2);
    inputs = std::move(in).value();
  }

  EngineOptions eo;
  eo.model = f.get("model");
  eo.device = f.get("device", "cpu");
  eo.max_model_len = std::atoll(f.get("max-model-len", "0").c_str());
  if (eo.max_model_len < 0) return fail("--max-model-len must be positive", 2);
  auto engine = Engine::create(eo);
  if (!engine.ok()) return fail("cannot load the model: " + engine.status().message());
  flow::EngineModelClient model(**engine);

  // No runner threads: this process runs its one job, in this thread (run_here).
  const jobs::ProcessOwner me = jobs::this_process_owner();
  jobs::RunnerSettings settings;
  settings.owner = me.owner;
  settings.host = me.host;
  settings.step_parallel = max_parallel;
  metrics::Registry metrics;  // counted into, never served
  jobs::RunnerDeps deps;
  deps.metrics = &metrics;
  deps.plugins = [host]() -> std::shared_ptr<const plugins::PluginHost> { return host; };
  deps.model = [&model]() -> flow::ModelClient* { return &model; };
  // `ream run` reads documents as its user: any path.
  jobs::JobService service(**store, settings, deps, ingest::PathPolicy::unrestricted());
  if (!resume) {
    jobs::JobSpec spec;
    spec.workflow = workflow;
    spec.inputs = inputs;
    spec.priority = std::atoi(f.get("priority", "0").c_str());
    spec.read_documents_now = true;  // a document that cannot be read: no job, the reason at once
    auto submitted = service.submit(spec);
    if (!submitted.ok()) return fail(submitted.status().message());
    job_id = submitted->id;
  }
  const bool quiet = f.has("quiet");
  if (!quiet) std::fprintf(stderr, "ream: job %lld in %s\n", static_cast<long long>(job_id), db_path.c_str());

  flow::Progress progress;
  std::optional<ProgressView> view;
  if (!quiet) view.emplace(progress, isatty(STDERR_FILENO) == 1);
  flow::RunOptions opt;
  opt.max_parallel = max_parallel;
  opt.progress = &progress;
  flow::CancelToken interrupted;
  opt.cancel = &interrupted;
  opt.cancel_is_interrupt = true;
  if (!quiet) opt.on_event = [&view](const std::string& line) { view->line(line); };
  Result<flow::JobOutcome> outcome = [&] {
    SigintForwarder forward(interrupted);
    return service.run_here(job_id, opt);
  }();
  if (view) view->stop();
  if (!outcome.ok()) return fail(outcome.status().message());
  if (int rc = print_result(**store, job_id, format); rc != 0) return rc;
  if (outcome->status != store::kJobSucceeded) {
    std::fprintf(stderr, "ream: job %lld %s: %s\n", static_cast<long long>(job_id), outcome->status.c_str(),
                 outcome->error.c_str());
    if (outcome->status == store::kJobFailed) {
      std::fprintf(stderr, "ream: continue it with: ream run --resume %lld --db %s --model %s\n",
                   static_cast<long long>(job_id), db_path.c_str(), f.get("model").c_str());
    }
    return 1;
  }
  return 0;
}

}  // namespace ream::cli
