// multipart/form-data: the body of POST /v1/documents as curl -F sends it.
//
// Input: the request's Content-Type header value, a newline, then the body. Calls
// http::parse_multipart as the upload route does; a refusal is fine. Each part's data
// must be bytes of the body, in order and without overlap.
#include "fuzz_util.h"
#include "http/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ream;
  auto [content_type, body] = fuzz::split_once(fuzz::bytes(data, size), "\n");
  auto parts = http::parse_multipart(content_type, body);
  if (!parts.ok()) {
    fuzz::check(!parts.status().message().empty(), "a refusal without a message");
    return 0;
  }
  size_t from = 0;
  for (const http::FormPart& p : parts.value()) {
    fuzz::check(!p.name.empty(), "a part without a field name was accepted");
    size_t at = body.find(p.data, from);
    fuzz::check(at != std::string_view::npos, "a part's data is not in the body after the previous part");
    from = at + p.data.size();
  }
  return 0;
}
