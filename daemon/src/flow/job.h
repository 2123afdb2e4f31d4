// Creating a job: checking inputs against the workflow, reading and storing the
// documents, and recording the workflow and the job (status queued).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flow/model_client.h"
#include "flow/workflow.h"
#include "ingest/document.h"
#include "ingest/path_policy.h"
#include "ream/engine/status.h"
#include "store/store.h"

namespace ream::flow {

// The names documents were sent under (an upload's file name, an inline document's
// "name"), by the server path given in the inputs. A document with no entry is
// named by its path.
using DocumentNames = std::map<std::string, std::string>;

struct JobRequest {
  // Input values by name. Document inputs hold a path (document) or a list of
  // paths (documents).
  nlohmann::json inputs = nlohmann::json::object();
  int priority = 0;
  std::string idempotency_key;
  std::string idempotency_hash;  // stored with the key (store::JobRecord::idempotency_hash)
  // Which document paths the job may read (ingest/path_policy.h). The `ream`
  // command reads as its user (unrestricted); reamd passes documents.allowed_roots.
  ingest::PathPolicy paths = ingest::PathPolicy::unrestricted();
  // Recorded with each job document (store::JobDocument::name) for reports.
  DocumentNames names;
};

// Turns `--input name=value` arguments and `--doc PATH` arguments into typed
// input values. A value starting with '[' or '{' is parsed as JSON; "@FILE" reads
// a JSON or YAML list from FILE; a list input given several times collects the
// values. --doc paths go to the workflow's first document(s) input.
Result<nlohmann::json> inputs_from_args(const Workflow& workflow,
                                        const std::vector<std::string>& name_values,
                                        const std::vector<std::string>& doc_paths);

// Validates the inputs (unknown, missing, wrong type, out of range: errors name the
// input), applies defaults, ingests the documents with ream_ingest (files of any
// supported type or folders as source trees; token counts from `model` when given)
// and records everything: each document row with its content hash, source path,
// media type, size, token count and layout, and the job with a `document_ingested`
// event per document and each document's name from request.names. A document that cannot be ingested is recorded as a
// `document_failed` event (path and message) and the others go on; only when a
// `document` input, or every document of a `documents` input, fails is no job
// created (kInvalidArgument listing every document's message; kFailedPrecondition
// when one of them lies outside request.paths' roots).
//
// prepare_job does all of that but the job itself: documents and the workflow are
// stored (both deduplicated, so a job never created leaves only rows another may
// share), and the job row, its documents and events come back to be created with
// Store::create_jobs, alone or with others in one transaction. create_job creates it
// and returns the new job's id; a job holding request.idempotency_key already is
// kAlreadyExists (reamd's job service replays it instead: jobs/job_service.h).
// On an error about the inputs, `field` (when given) names the one at fault
// ("inputs.max_words"), or "inputs" when no single input is.
Result<store::NewJob> prepare_job(store::Store& store, const Workflow& workflow,
                                  const JobRequest& request, const ModelClient* model,
                                  std::string* field = nullptr);
Result<int64_t> create_job(store::Store& store, const Workflow& workflow, const JobRequest& request,
                           const ModelClient* model);

// A document a job has still to read: the input it was given for, its absolute path, the
// name it was sent under ("" = its path names it).
struct UnreadDocument {
  std::string input;
  std::string path;
  std::string name;
};

// What prepare_job does but reading the documents (reamd's submissions: reading a large
// document must not hold the request): the inputs are checked and the workflow stored;
// the job's document inputs keep their absolute paths and the documents wait in
// store::JobRecord::pending_documents until the executor reads them (read_documents,
// Store::attach_documents) when the job first runs.
Result<store::NewJob> prepare_unread_job(store::Store& store, const Workflow& workflow, const JobRequest& request,
                                         std::string* field = nullptr);

// Reading documents for a job of `workflow` whose checked inputs are `inputs`: each one
// ingested (one result per document, in order; a failure does not stop the others),
// each good one's row stored (deduplicated) and given its key ("doc-1", ...).
struct ReadDocuments {
  nlohmann::json inputs;  // document inputs now name the keys of the documents read
  std::vector<store::JobDocument> documents;
  std::vector<store::EventRecord> events;  // document_ingested / document_failed, in order
  // Not OK when the job cannot run: a `document` input, or every document of a
  // `documents` input, failed (as prepare_job says); `field` then names the input.
  Status stop;
  std::string field;
};
// A non-OK result only when the store failed.
Result<ReadDocuments> read_documents(store::Store& store, const Workflow& workflow, nlohmann::json inputs,
                                     const std::vector<UnreadDocument>& unread, const ModelClient* model,
                                     const ingest::PathPolicy& policy);
// store::JobRecord::pending_documents to and from UnreadDocuments ("" = none).
std::string unread_json(const std::vector<UnreadDocument>& unread);
Result<std::vector<UnreadDocument>> parse_unread(const std::string& text);

// Ingests documents as create_job does: one result per path, in order.
std::vector<Result<ingest::Document>> ingest_documents(const std::vector<std::string>& paths,
                                                       const ModelClient* model,
                                                       const ingest::PathPolicy& policy);

// Checks and completes inputs (defaults applied); document inputs stay paths. On an
// error `field` (when given) names the input at fault, as prepare_job's does.
Result<nlohmann::json> check_inputs(const Workflow& workflow, const nlohmann::json& inputs,
                                    std::string* field = nullptr);

}  // namespace ream::flow
