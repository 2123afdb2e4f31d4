// Documents as the API receives them, turned into files the flow layer reads.
//
// A document input may be given as
//   "/srv/contracts/a.md"                       a path: it must resolve (symlinks and
//                                               "..") to a file, or a folder (a source
//                                               tree), under documents.allowed_roots or
//                                               the documents folder (App::document_paths)
//   {"document_id": "<sha256>"}                 a document uploaded with POST /v1/documents
//   {"text": "...", "name": "notes.md"}         inline text (name optional)
// Uploaded and inline documents are kept as <data_dir>/documents/<sha256><ext>,
// so identical content is stored once; the name an upload carried is kept apart
// (Store::put_document_name) so that reports can show it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "flow/job.h"
#include "flow/workflow.h"
#include "ingest/path_policy.h"
#include "ream/engine/status.h"
#include "store/store.h"

namespace ream::api {

struct StoredDocument {
  std::string id;       // sha256 of the normalised text
  std::string path;     // where the text now lives
  std::string name;
  int64_t size_bytes = 0;
  bool deduplicated = false;  // the same content was stored before
};

// reamd's documents: the folder uploads and inline texts are kept in, and the path policy
// every document path passes. App owns one; the upload route and every way a job is made
// (REST, schedules) go through it. Thread-safe: it holds no mutable state of its own.
class Documents {
 public:
  Documents(store::Store& store, std::string dir, const ingest::PathPolicy& paths, int64_t max_bytes)
      : store_(store), dir_(std::move(dir)), paths_(paths), max_bytes_(max_bytes) {}

  // Validates UTF-8 text (or a PDF, kept as sent), normalises line ends and stores it
  // under dir(), once per content.
  Result<StoredDocument> store_text(const std::string& name, const std::string& data);

  // Rewrites the document inputs of `inputs` into server paths, and records in
  // `*names` the name of each upload (its latest upload's file name) and of each
  // named inline document, by that path. On error `*field` names the input
  // ("inputs.contract"); a path outside the allowed roots fails with
  // kFailedPrecondition, anything else wrong with kInvalidArgument.
  Status resolve_inputs(const flow::Workflow& workflow, nlohmann::json* inputs,
                        flow::DocumentNames* names, std::string* field);

  const std::string& dir() const { return dir_; }

 private:
  Result<std::string> resolve_one(const nlohmann::json& v, const std::string& where, const std::string& item,
                                  std::string* field, flow::DocumentNames* names);
  Result<std::string> resolve_upload(const nlohmann::json& v, const std::string& where, const std::string& item,
                                     std::string* field, flow::DocumentNames* names);

  store::Store& store_;
  std::string dir_;
  const ingest::PathPolicy& paths_;
  int64_t max_bytes_;
};

}  // namespace ream::api
