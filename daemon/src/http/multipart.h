// multipart/form-data bodies (RFC 7578), as curl -F sends them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ream/engine/status.h"

namespace ream::http {

struct FormPart {
  std::string name;          // the form field name
  std::string filename;      // "" when the part is not a file
  std::string content_type;  // "" when not given
  std::string data;
};

// `content_type` is the request's Content-Type header (carrying the boundary).
Result<std::vector<FormPart>> parse_multipart(std::string_view content_type,
                                              std::string_view body);

}  // namespace ream::http
