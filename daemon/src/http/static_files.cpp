// Static files: headers, ETags and content types for the embedded web app.
#include "http/static_files.h"

#include <string>

namespace ream::http {

// 'self' only: the app is modules and a stylesheet served by reamd; fetch() and the
// streams it reads go to reamd; images are the app's own or made in the page (data:,
// blob:, for screenshots of nothing but the app). No inline script or style anywhere.
// pdf.js runs its worker from /app/pdfjs/ (worker-src) and the original of an HTML
// document is shown in a frame of the app's own (frame-src; see kFrameContentSecurityPolicy).
const char* const kAppContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; worker-src 'self'; frame-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// The frame the viewer writes an original HTML document into (original-frame.html): no
// script at all (the frame is sandboxed without allow-scripts as well), the document's own
// inline styles, images only as data: URLs (nothing is fetched for it), framed only by
// the app.
const char* const kFrameContentSecurityPolicy =
    "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// If-None-Match: "*" or a list of entity tags (a weak W/"..." names the same file: the
// quotes are part of `etag`, so a longer tag never matches by prefix).
bool etag_matches(const std::string& header, const std::string& etag) {
  if (header.empty()) return false;
  return header.find('*') != std::string::npos || header.find(etag) != std::string::npos;
}

}  // namespace

std::string_view content_type_for(std::string_view name) {
  struct Type {
    const char* ext;
    const char* type;
  };
  static const Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},     {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},       {".svg", "image/svg+xml"},
      {".png", "image/png"},                     {".json", "application/json"},
      {".webmanifest", "application/manifest+json"}, {".txt", "text/plain; charset=utf-8"},
      {".ico", "image/x-icon"},
  };
  for (const Type& t : kTypes) {
    if (ends_with(name, t.ext)) return t.type;
  }
  return "application/octet-stream";
}

const StaticFile* find_web_file(std::string_view name) {
  size_t n = 0;
  const StaticFile* files = web_files(&n);
  for (size_t i = 0; i < n; ++i) {
    if (files[i].name == name) return &files[i];
  }
  return nullptr;
}

Response static_file_response(const StaticFile& file, const Request& request) {
  const std::string etag = "\"" + std::string(file.sha256) + "\"";
  Response r;
  r.content_type = std::string(content_type_for(file.name));
  r.set_header("ETag", etag);
  // Revalidate every time: the files are small, a 304 is cheap, and a reamd upgraded in
  // place serves its new app on the next load, never a stale mix of old and new modules.
  r.set_header("Cache-Control", "no-cache");
  const bool frame = file.name == kOriginalFrame;
  r.set_header("Content-Security-Policy", frame ? kFrameContentSecurityPolicy : kAppContentSecurityPolicy);
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Referrer-Policy", "no-referrer");
  r.set_header("Cross-Origin-Opener-Policy", "same-origin");
  r.set_header("X-Frame-Options", frame ? "SAMEORIGIN" : "DENY");
  if (etag_matches(request.header("if-none-match"), etag)) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  r.body = std::string(file.data);
  return r;
}

}  // namespace ream::http
