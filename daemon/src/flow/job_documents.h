// The documents of a running job: ingested documents rebuilt from their store
// rows (text, offset map, parts), what a prompt may spend on them, and their
// chunk plans (ream_ingest's plan_chunks with the model's token counter) with the
// progress line and event data that show a plan. Internal to the executor.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "flow/model_client.h"
#include "flow/step_runner.h"
#include "ingest/chunking.h"
#include "ingest/document.h"
#include "ream/engine/status.h"
#include "store/records.h"

namespace ream::flow {

// The ingested document of a stored row. A row without a usable layout still
// gives the text (quotes then get offsets but no source location); *warning says so.
std::shared_ptr<const ingest::Document> document_from_record(store::DocumentRecord&& record,
                                                             std::string* warning);

// Tokens of document text one prompt may hold: the context minus the reply's
// max_tokens, the chat template and a margin for the plugin's own words (at least 256).
int64_t context_budget(const ModelClient& model, const SamplingParams& sampling);

// The overlap a plan uses: `overlap` when >= 0, else automatic (1/16 of the
// budget, at most 512).
int64_t effective_overlap(int64_t budget, int64_t overlap);

// The chunk plan of `doc` for `budget` tokens a chunk. A document whose stored
// token count fits is one chunk without counting again. Errors name the document.
Result<ingest::ChunkPlan> plan_document(const ModelClient& model, const JobDoc& doc, int64_t budget,
                                        int64_t overlap);

// "doc-1 (91,234 tokens) in 4 chunks of at most 30,000 tokens: 29,874 + ..." or
// "doc-1 (1,234 tokens) fits the budget of 30,000 tokens: one pass".
std::string plan_line(const std::string& key, const ingest::ChunkPlan& plan, int64_t budget);

// {document, tokens, budget, overlap, fits, count, chunks: [{start, end, tokens, heading}]}
nlohmann::json plan_json(const std::string& key, const ingest::ChunkPlan& plan, int64_t budget,
                         int64_t overlap);

}  // namespace ream::flow
