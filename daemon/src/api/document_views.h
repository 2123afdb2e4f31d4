// Documents as the web app reads them: the uploads kept in the documents folder (listed
// with their media type, pages and token count), one upload's normalised text with its
// parts, and a job's document as the store keeps it (the text findings' offsets index).
//
// Offsets in `parts` are in Unicode code points, as findings' evidence `start`/`end` are.
// Thread-safety: DocumentViews may be used from many handler threads at once.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "api/app.h"
#include "ingest/document.h"

namespace ream::api {

class DocumentViews {
 public:
  explicit DocumentViews(App& app) : app_(app) {}

  // {"documents": [{id, name, media_type, size_bytes, uploaded_at, pages, tokens}]}, newest first.
  Result<nlohmann::json> list();
  // One upload: the list's fields plus "text" and "parts". kNotFound for an unknown id.
  Result<nlohmann::json> get(const std::string& id);
  // Removes an upload's file. Jobs made from it keep their copy in the store.
  Status remove(const std::string& id);
  // A job's document `key` ("doc-1") from the store: {id, job, name, media_type, tokens, text, parts}.
  Result<nlohmann::json> job_document(int64_t job_id, const std::string& key);

  // A document's original bytes (the PDF, the HTML filing), for the viewer to show beside
  // its text.
  struct Original {
    std::string media_type;
    std::string bytes;
  };
  // An upload's stored file. kNotFound for an unknown id.
  Result<Original> original(const std::string& id);
  // The file a job's document was read from, read again through documents.allowed_roots:
  // kNotFound when the job or key is unknown or the file is gone, kFailedPrecondition when
  // it is a source tree (no single original), outside the roots now, or changed since
  // the job read it (its SHA-256 is not the stored one).
  Result<Original> job_original(int64_t job_id, const std::string& key);

 private:
  struct Info {
    std::string media_type;
    int64_t pages = 0;    // PDF pages; 0 for other formats
    int64_t tokens = -1;  // -1 while the model is not loaded
  };
  // The stored file of upload `id` ("" when none).
  std::string path_of(const std::string& id) const;
  // Reads an upload as jobs read it; `count_tokens` with the served model's tokenizer.
  Result<ingest::Document> read_upload(const std::string& path, bool count_tokens);
  Result<Info> info(const std::string& id, const std::string& path);
  Result<nlohmann::json> summary(const std::string& id, const std::string& path);

  App& app_;
  std::mutex mu_;
  std::map<std::string, Info> infos_;  // by id: uploads are content-addressed, so never stale
};

// The parts of a document ({name, start, end, language?}), offsets in code points of `text`.
nlohmann::json parts_json(const std::string& text, const std::vector<ingest::Part>& parts);

}  // namespace ream::api
