// multipart/form-data parsing: boundary from the Content-Type, parts split on
// "--boundary", each with its own headers (Content-Disposition, Content-Type).
#include "http/multipart.h"

#include <strings.h>

namespace ream::http {

namespace {

// The value of `key=` in a header's parameters, unquoted; "" if absent.
std::string header_param(std::string_view header, std::string_view key) {
  size_t pos = 0;
  while ((pos = header.find(';', pos)) != std::string_view::npos) {
    ++pos;
    while (pos < header.size() && header[pos] == ' ') ++pos;
    if (header.size() - pos > key.size() &&
        strncasecmp(header.data() + pos, key.data(), key.size()) == 0 &&
        header[pos + key.size()] == '=') {
      size_t v = pos + key.size() + 1;
      if (v < header.size() && header[v] == '"') {
        size_t end = header.find('"', v + 1);
        return std::string(header.substr(v + 1, end == std::string_view::npos
                                                     ? std::string_view::npos
                                                     : end - v - 1));
      }
      size_t end = header.find(';', v);
      std::string out(header.substr(v, end == std::string_view::npos ? std::string_view::npos
                                                                     : end - v));
      while (!out.empty() && out.back() == ' ') out.pop_back();
      return out;
    }
  }
  return "";
}

Status parse_part_headers(std::string_view head, FormPart* part) {
  size_t start = 0;
  while (start < head.size()) {
    size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(start, end - start);
    start = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name.size() == 19 && strncasecmp(name.data(), "content-disposition", 19) == 0) {
      part->name = header_param(value, "name");
      part->filename = header_param(value, "filename");
    } else if (name.size() == 12 && strncasecmp(name.data(), "content-type", 12) == 0) {
      part->content_type = std::string(value);
    }
  }
  if (part->name.empty()) return invalid_argument("multipart: a part has no field name");
  return {};
}

}  // namespace

Result<std::vector<FormPart>> parse_multipart(std::string_view content_type,
                                              std::string_view body) {
  std::string boundary = header_param(content_type, "boundary");
  if (boundary.empty()) return invalid_argument("multipart: the Content-Type has no boundary");
  std::string delim = "--" + boundary;
  std::vector<FormPart> parts;
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos) return invalid_argument("multipart: no boundary in the body");
  for (;;) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") return invalid_argument("multipart: malformed boundary");
    pos += 2;
    size_t head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string_view::npos) return invalid_argument("multipart: truncated part");
    FormPart part;
    REAM_RETURN_IF_ERROR(parse_part_headers(body.substr(pos, head_end - pos), &part));
    size_t data_start = head_end + 4;
    size_t next = body.find("\r\n" + delim, data_start);
    if (next == std::string_view::npos) return invalid_argument("multipart: truncated part");
    part.data = std::string(body.substr(data_start, next - data_start));
    parts.push_back(std::move(part));
    pos = next + 2;
  }
}

}  // namespace ream::http
