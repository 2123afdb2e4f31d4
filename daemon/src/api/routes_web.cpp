// The web app: `/` serves web/index.html, `/app/{file}` the app's other files and
// `/app/pdfjs/{file}` pdf.js, all compiled into reamd (http/static_files.h). They need no key: the page itself asks for
// one when the API answers 401 (docs/web.md), and holds nothing secret.
#include "api/routes.h"
#include "http/static_files.h"

namespace ream::api {

void add_web_routes(http::Router& router) {
  router.add("GET", "/", "web_app", http::Access::kPublic, [](http::Request& r) {
    const http::StaticFile* f = http::find_web_file("index.html");
    if (f == nullptr) return http::json_error(404, "not_found", "this reamd was built without its web app");
    return http::static_file_response(*f, r);
  });
  router.add("GET", "/app/{file}", "web_app", http::Access::kPublic, [](http::Request& r) {
    const http::StaticFile* f = http::find_web_file(r.params["file"]);
    if (f == nullptr) return http::json_error(404, "not_found", "the web app has no file " + r.path);
    return http::static_file_response(*f, r);
  });
  // pdf.js (npm pdfjs-dist, fetched and checksummed by scripts/setup.sh), compiled in too.
  router.add("GET", "/app/pdfjs/{file}", "web_app", http::Access::kPublic, [](http::Request& r) {
    const http::StaticFile* f = http::find_web_file("pdfjs/" + r.params["file"]);
    if (f == nullptr) return http::json_error(404, "not_found", "this reamd was built without pdf.js (" + r.path + ")");
    return http::static_file_response(*f, r);
  });
}

}  // namespace ream::api
