// Plain text and Markdown: the bytes as they are, apart from a dropped BOM,
// LF line ends and NFC. Legacy (non-UTF-8) bytes are read as Windows-1252.
#include "ingest/formats.h"
#include "ingest/text_builder.h"
#include "ingest/utf8.h"

namespace ream::ingest {

// Appends `bytes` (a whole unit) to `out` with CRLF/CR -> LF; `base` is the
// source offset of bytes[0].
void append_lines(TextBuilder& out, std::string_view bytes, int64_t base) {
  size_t i = 0;
  while (i < bytes.size()) {
    const size_t cr = bytes.find('\r', i);
    if (cr == std::string_view::npos) {
      out.copy(bytes.substr(i), base + static_cast<int64_t>(i));
      return;
    }
    out.copy(bytes.substr(i, cr - i), base + static_cast<int64_t>(i));
    const size_t n = cr + 1 < bytes.size() && bytes[cr + 1] == '\n' ? 2 : 1;
    out.emit("\n", base + static_cast<int64_t>(cr), static_cast<int64_t>(n));
    i = cr + n;
  }
}

Status convert_text(const std::string& name, std::string_view bytes, Document& doc) {
  const char* why = nullptr;
  if (looks_binary(bytes, &why)) return invalid_argument(name + ": " + why + ", not a text document");
  TextBuilder out;
  out.add_unit(name, 0, bytes);
  const size_t bom = bom_length(bytes);
  append_lines(out, bytes.substr(bom), static_cast<int64_t>(bom));
  out.finish(doc);
  return Status();
}

}  // namespace ream::ingest
