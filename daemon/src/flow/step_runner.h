// One step run: its attempts (retried per the step's `retry`, each begun, committed
// or failed in the store) and each attempt's parameters, plan, prompts, reduce rounds
// and evidence. Internal to the executor.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flow/executor.h"
#include "flow/model_client.h"
#include "flow/workflow.h"
#include "ingest/document.h"
#include "ingest/quotes.h"
#include "plugins/plugin_host.h"
#include "store/records.h"
#include "store/store.h"

namespace ream::flow {

// A whole document of the job as ingested (normalised text, offset map back to
// the source, parts), with the index its evidence quotes are verified against.
struct JobDoc {
  int64_t db_id = 0;
  std::string key;                                   // "doc-1"
  std::shared_ptr<const ingest::Document> doc;       // never null once loaded
  std::shared_ptr<const ingest::QuoteIndex> quotes;  // over *doc
  std::string name;  // the name it was uploaded or given under (plugins see it as its
                     // path); "" = its source path names it
};

// One step run to execute.
struct RunUnit {
  size_t step = 0;                           // index into Workflow::steps
  int iteration = -1;
  nlohmann::json item;                       // foreach item, null without foreach
  std::vector<plugins::Document> documents;  // what plan/reduce see
};

struct AttemptResult {
  std::vector<store::FindingRecord> findings;
  nlohmann::json outputs = nlohmann::json::object();
  std::vector<std::string> warnings;
  store::Usage usage;
};

struct AttemptEnv {
  const Workflow* workflow = nullptr;
  const plugins::Plugin* plugin = nullptr;
  ModelClient* model = nullptr;
  const std::map<std::string, JobDoc>* docs = nullptr;  // by key
  nlohmann::json context;                               // expression context (item set)
  SamplingParams sampling;                              // model defaults < workflow < step engine settings
  std::chrono::steady_clock::time_point deadline;       // max() = none
  double timeout_s = 0;
  CancelToken* cancel = nullptr;
  Progress* progress = nullptr;
  std::string tag;                                      // "job 3 step ask[2]"
  int64_t job_id = 0;
  Status setup;  // an error found while preparing it (an engine setting's expression): each attempt fails with it
};

// Runs one attempt. Usage is filled even when the attempt fails.
Status run_attempt(const AttemptEnv& env, const RunUnit& unit, AttemptResult* result);

// How a step run ended.
struct RunOutcome {
  bool ok = false;
  nlohmann::json outputs;   // ok: the committed outputs
  int64_t findings = 0;     // ok: how many were committed
  std::string error;        // not ok: "step 'x[2]' failed: ..."
  // Not ok: the store could not be reached (kUnavailable) to begin or commit the run, so
  // the run has no verdict: the job's run stops here and is resumed later (its commits
  // stand), instead of failing for what was not its doing.
  Status stopped;
};

// Runs step run `unit` of `step` to its end: each attempt begins its row in the store,
// runs (run_attempt) and commits its findings, outputs and state in one transaction, or
// records its failure; a failed attempt is retried after the step's backoff (a wait a
// cancel ends at once) while attempts remain. `event` gets one line per happening.
RunOutcome run_step(AttemptEnv env, const RunUnit& unit, const Step& step, store::Store& store,
                    const std::function<void(const std::string&)>& event);

// Resolves every ${{ }} inside a JSON value (strings, lists, objects); the first
// expression that fails to evaluate (kMaxExprValueBytes) is the error.
Result<nlohmann::json> resolve_value(const nlohmann::json& value, const nlohmann::json& context);

// Finds an evidence quote in its whole document: the plugin's own offsets when
// they hold the quote exactly, else the document's QuoteIndex (exact, then
// normalised) preferring the match nearest the text the plugin was given. A
// located quote gets byte and character offsets, how it matched and its source
// location (file, PDF page, line and column); an unlocated one stays unverified.
store::EvidenceRecord locate_evidence(const plugins::Evidence& evidence, const RunUnit& unit,
                                      const std::map<std::string, JobDoc>& docs);

// `base` (the model's defaults, ModelClient::default_sampling) with the keys of resolved
// engine JSON (the workflow's settings, then the step's) put over it.
SamplingParams sampling_from(const nlohmann::json& engine, SamplingParams base);

}  // namespace ream::flow
