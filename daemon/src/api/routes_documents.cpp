// /v1/documents: upload (raw body or multipart/form-data), deduplicated by content hash;
// list, read and remove uploads; a job's documents as the store keeps them; the originals
// (a PDF's, an HTML filing's bytes) for the web app's viewer.
#include "api/document_views.h"
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
  auto d = app.documents().store_text(name, data);
  if (!d.ok()) return json_error(400, "invalid_request", d.status().message(), "file");
  // The name goes with the content hash, for the reports of jobs that use this upload.
  if (!name.empty()) {
    if (Status st = app.store().put_document_name(d->id, d->name); !st.ok()) {
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

// A job id from the path: a whole non-negative decimal integer.
std::optional<int64_t> job_id_from_path(const std::string& v, Response* error) {
  int64_t n = 0;
  bool ok = !v.empty() && v.size() <= 18 && v.find_first_not_of("0123456789") == std::string::npos;
  if (ok) n = std::stoll(v);
  if (!ok) *error = json_error(404, "not_found", "no job " + v);
  return ok ? std::optional<int64_t>(n) : std::nullopt;
}

Response json_or_error(const Result<json>& r) {
  return r.ok() ? http::json_response(200, r.value()) : http::error_from_status(r.status());
}

// A document's original bytes for the viewer (which fetches them with the key and shows
// them itself). Opened directly, the response is inert: a sandbox with no script, nothing
// fetched for it.
Response original_response(const Result<DocumentViews::Original>& r) {
  if (!r.ok()) return http::error_from_status(r.status());
  Response resp;
  resp.status = 200;
  const std::string& type = r->media_type;
  resp.content_type = type.rfind("text/", 0) == 0 ? type + "; charset=utf-8" : type;
  resp.body = r->bytes;
  resp.set_header("Content-Security-Policy",
                  "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'");
  resp.set_header("X-Content-Type-Options", "nosniff");
  resp.set_header("Cache-Control", "private, no-cache");
  return resp;
}

}  // namespace

void add_document_routes(http::Router& router, App& app) {
  auto views = std::make_shared<DocumentViews>(app);
  router.add("POST", "/v1/documents", "documents_upload", http::Access::kSubmit,
             [&app](Request& r) { return upload(app, r); });
  router.add("GET", "/v1/documents", "documents_list", http::Access::kRead,
             [views](Request&) { return json_or_error(views->list()); });
  router.add("GET", "/v1/documents/{id}", "documents_get", http::Access::kRead,
             [views](Request& r) { return json_or_error(views->get(r.params["id"])); });
  router.add("GET", "/v1/documents/{id}/original", "documents_original", http::Access::kRead,
             [views](Request& r) { return original_response(views->original(r.params["id"])); });
  router.add("DELETE", "/v1/documents/{id}", "documents_delete", http::Access::kSubmit, [views](Request& r) {
    Status st = views->remove(r.params["id"]);
    if (!st.ok()) return http::error_from_status(st);
    return http::json_response(200, {{"id", r.params["id"]}, {"deleted", true}});
  });
  router.add("GET", "/v1/jobs/{id}/documents/{key}", "jobs_document", http::Access::kRead, [views](Request& r) {
    Response error;
    auto id = job_id_from_path(r.params["id"], &error);
    if (!id) return error;
    return json_or_error(views->job_document(*id, r.params["key"]));
  });
  router.add("GET", "/v1/jobs/{id}/documents/{key}/original", "jobs_document_original", http::Access::kRead,
             [views](Request& r) {
               Response error;
               auto id = job_id_from_path(r.params["id"], &error);
               if (!id) return error;
               return original_response(views->job_original(*id, r.params["key"]));
             });
}

}  // namespace ream::api
