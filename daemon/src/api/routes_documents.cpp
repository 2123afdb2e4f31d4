// /v1/documents: upload (raw body or multipart/form-data), deduplicated by content hash.
#include "api/documents.h"
#include "api/routes.h"
#include "http/multipart.h"

namespace ream::api {

namespace {

using nlohmann::json;
using http::json_error;
using http::Request;
using http::Response;

Response upload(App& app, Request& req) {
  if (app.draining()) return unavailable_response(app);
  std::string ct = req.header("content-type");
  std::string name = req.query_or("name");
  std::string data;
  if (ct.rfind("multipart/form-data", 0) == 0) {
    auto parts = http::parse_multipart(ct, req.body);
    if (!parts.ok()) return json_error(400, "invalid_request", parts.status().message());
    const http::FormPart* file = nullptr;
    for (const auto& p : parts.value()) {
      if (p.name == "file") file = &p;
    }
    if (file == nullptr) {
      return json_error(400, "invalid_request", "multipart upload without a 'file' part", "file");
    }
    data = file->data;
    if (name.empty()) name = file->filename;
  } else {
    data = std::move(req.body);
  }
  auto d = store_document_text(app, name, data);
  if (!d.ok()) return json_error(400, "invalid_request", d.status().message(), "file");
  // The name goes with the content hash, for the reports of jobs that use this upload.
  if (!name.empty()) {
    if (Status st = app.daemon_store().put_document_name(d->id, d->name); !st.ok()) {
      return http::error_from_status(st);
    }
  }
  Response r = http::json_response(d->deduplicated ? 200 : 201,
                                   {{"id", d->id},
                                    {"name", d->name},
                                    {"size_bytes", d->size_bytes},
                                    {"deduplicated", d->deduplicated},
                                    {"use_as", {{"document_id", d->id}}}});
  return r;
}

}  // namespace

void add_document_routes(http::Router& router, App& app) {
  router.add("POST", "/v1/documents", "documents_upload", http::Access::kSubmit,
             [&app](Request& r) { return upload(app, r); });
}

}  // namespace ream::api
