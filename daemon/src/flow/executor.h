// Executor: runs a job's workflow to its end, or resumes it.
//
// Steps run when all their `needs` have finished (skipped counts as finished, as
// in Argo); a step with `foreach` expands into iterations. Step iterations ("step
// runs") run on a pool of `max_parallel` workers, and each sends its prompts to
// the model all at once, so the engine batches them. Every step run commits its
// findings, outputs and state in one store transaction; on resume, committed runs
// are reused and everything else runs again, so no finding is written twice.
//
// Each attempt of a step run: resolve `with:` -> plugin.plan -> prompts to the
// model -> plugin.reduce (more rounds while reduce asks for more prompts) ->
// evidence located in the documents -> commit. A failed attempt is retried per the
// step's `retry`; `timeout` bounds one attempt (prompts in flight are cancelled).
//
// Documents are the job's ingested ones (ream_ingest), rebuilt from the store with
// their offset maps. A job created with its documents unread (reamd's submissions) has
// them read first, under RunOptions::paths, and attached in one transaction; when they
// stop the job (flow::ReadDocuments::stop) it ends `failed` with their reasons. At a job's first start each document's fit to the context is
// recorded (`document_plan` events); `foreach: chunks` cuts with ream_ingest's
// plan_chunks (`chunk_plan` events); every evidence quote is verified with the
// document's QuoteIndex and stored with its source location.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "flow/cancel.h"
#include "flow/model_client.h"
#include "flow/progress.h"
#include "ingest/path_policy.h"
#include "plugins/plugin_host.h"
#include "ream/engine/status.h"
#include "store/store.h"

namespace ream::flow {

struct RunOptions {
  int max_parallel = 4;                      // step runs in flight at once
  CancelToken* cancel = nullptr;             // cancelled to stop: the job ends `cancelled`
  // When set, a stop through `cancel` is an interruption instead: the job ends
  // `failed` with error "interrupted" and can be resumed (what Ctrl-C does in `ream run`).
  bool cancel_is_interrupt = false;
  Progress* progress = nullptr;             // live numbers (flow/progress.h); finished at the end
  // Set (reamd's runners): the final state is written only while this owner holds the job's
  // lease (store::Store::finish_job), so a runner that lost its lease to another cannot end
  // the job under it.
  std::string lease_owner;
  // Which paths a job created with unread documents (flow::prepare_unread_job) may read
  // when they are read at its first run; reamd passes documents.allowed_roots.
  ingest::PathPolicy paths = ingest::PathPolicy::unrestricted();
  // One human-readable line per event; the executor logs nothing itself, so the
  // caller decides where each line goes (written once).
  std::function<void(const std::string&)> on_event;
};

struct JobOutcome {
  std::string status;  // succeeded, failed or cancelled
  std::string error;
  nlohmann::json outputs = nlohmann::json::object();
};

class Executor {
 public:
  Executor(store::Store& store, const plugins::PluginHost& plugins, ModelClient& model)
      : store_(store), plugins_(plugins), model_(model) {}

  // Runs job `job_id` (queued, running after a crash, or failed) to its end and
  // records the final state. A non-OK status means the job could not be run at
  // all (unknown job, store error, workflow no longer valid).
  Result<JobOutcome> run(int64_t job_id, const RunOptions& options);

 private:
  store::Store& store_;
  const plugins::PluginHost& plugins_;
  ModelClient& model_;
};

}  // namespace ream::flow
