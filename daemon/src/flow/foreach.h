// Foreach expansion: a ready step and the job's context -> the step's run units (one
// without `foreach`; one per item, document or chunk with it). A pure function: it
// reads no store and calls no model. Documents come from the caller by key, chunk
// plans from the planner the caller passes (the executor's counts tokens with the
// model), and the plans it used come back so the caller can record them.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flow/step_runner.h"
#include "flow/workflow.h"
#include "ingest/chunking.h"
#include "ream/engine/status.h"

namespace ream::flow {

struct ExpandEnv {
  const nlohmann::json* context = nullptr;  // {inputs, steps, job}
  std::vector<std::string> documents;       // the job's document keys, in job order
  // The whole document under `key` as a plugin sees it.
  std::function<plugins::Document(const std::string& key)> document;
  // foreach: chunks — the plan of document `key` in chunks of `budget` tokens with
  // `overlap` (-1 automatic).
  std::function<Result<ingest::ChunkPlan>(const std::string& key, int64_t budget, int64_t overlap)> plan;
  // foreach: chunks without chunk_tokens — what fits the context with the step's reply.
  int64_t context_budget = 0;
};

struct ChunkPlanUsed {
  std::string document;
  ingest::ChunkPlan plan;
  int64_t budget = 0;
  int64_t overlap = -1;
};

struct Expansion {
  std::vector<RunUnit> units;         // iteration -1 without foreach, else 0..n-1
  std::vector<ChunkPlanUsed> plans;   // foreach: chunks, one per document
};

// Expands step `index` of a workflow. Errors: a `foreach: {items}` expression that is
// not a list, an expression that fails to evaluate, a plan the planner could not make.
Result<Expansion> expand_step(const Step& step, size_t index, const ExpandEnv& env);

// The document keys a `documents:` (or foreach documents/chunks) expression selects
// (objects with an "id"); all of the job's documents when `source` is null.
Result<std::vector<std::string>> select_documents(const Template* source, const ExpandEnv& env);

}  // namespace ream::flow
