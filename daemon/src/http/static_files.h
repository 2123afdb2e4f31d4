// Static files compiled into reamd: the web app (web/) that reamd serves at `/`.
//
// The files are embedded at build time (cmake/embed_web.cmake writes a table of
// StaticFile), so a running reamd reads nothing from disk and fetches nothing to serve
// the app. Responses carry the file's content type, a strong ETag (its SHA-256), caching
// that makes the browser revalidate (`no-cache`: a new reamd's app is seen at once, an
// unchanged one costs a 304), and a strict Content-Security-Policy: scripts, styles and
// connections only from reamd itself, no inline script or style, no framing.
//
// Thread-safety: the table is immutable; every function may be called from any thread.
#pragma once

#include <string_view>

#include "http/message.h"

namespace ream::http {

struct StaticFile {
  std::string_view name;          // "index.html", "app.js": the path under the app's root
  std::string_view sha256;        // hex digest of `data`: the ETag
  std::string_view data;
};

// The embedded web app (generated; empty when reamd was built without web/).
const StaticFile* web_files(size_t* count);
// The embedded file called `name`, or null.
const StaticFile* find_web_file(std::string_view name);

// The Content-Security-Policy every app response carries, but one:
extern const char* const kAppContentSecurityPolicy;
// the empty page the viewer shows an original HTML document in (framed by the app only,
// no script, the document's inline styles allowed) carries this one.
inline constexpr std::string_view kOriginalFrame = "original-frame.html";
extern const char* const kFrameContentSecurityPolicy;

// A GET (or HEAD) of `file`: 200 with the body, or 304 when the request's If-None-Match
// names its ETag; the headers above either way.
Response static_file_response(const StaticFile& file, const Request& request);

// The content type for a file name's extension ("application/octet-stream" if unknown).
std::string_view content_type_for(std::string_view name);

}  // namespace ream::http
