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

#include <nlohmann/json.hpp>
#include <string>

#include "api/app.h"
#include "ream/engine/status.h"

namespace ream::api {

struct StoredDocument {
  std::string id;       // sha256 of the normalised text
  std::string path;     // where the text now lives
  std::string name;
  int64_t size_bytes = 0;
  bool deduplicated = false;  // the same content was stored before
};

// Validates UTF-8 text, normalises line ends and stores it under documents_dir.
Result<StoredDocument> store_document_text(App& app, const std::string& name,
                                           const std::string& data);

// Rewrites the document inputs of `inputs` into server paths, and records in
// `*names` the name of each upload (its latest upload's file name) and of each
// named inline document, by that path. On error `*field`
// names the input ("inputs.contract"); a path outside the allowed roots fails
// with kFailedPrecondition, anything else wrong with kInvalidArgument. Every way a
// job is made in reamd (REST, schedules) passes its inputs through here.
Status resolve_document_inputs(App& app, const flow::Workflow& workflow, nlohmann::json* inputs,
                               flow::DocumentNames* names, std::string* field);

}  // namespace ream::api
