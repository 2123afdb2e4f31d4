// The converters behind ingest.h, one per format. Each fills doc.text, doc.map
// (and doc.parts where it has them) from the input and returns a Status whose
// message names the document. Internal to ream_ingest.
#pragma once

#include <string>
#include <string_view>

#include "ingest/document.h"
#include "ingest/ingest.h"
#include "ingest/path_policy.h"
#include "ream/engine/status.h"

namespace ream::ingest {

class TextBuilder;

// Appends `bytes` to `out` verbatim but for CRLF/CR -> LF; `base` is the unit
// offset of bytes[0].
void append_lines(TextBuilder& out, std::string_view bytes, int64_t base);

// Plain text and Markdown: BOM dropped, CRLF/CR -> LF, NFC.
Status convert_text(const std::string& name, std::string_view bytes, Document& doc);
// HTML (SEC filings with inline XBRL included).
Status convert_html(const std::string& name, std::string_view bytes, Document& doc);
// PDF through poppler, page by page.
Status convert_pdf(const std::string& name, std::string_view bytes, Document& doc);
// A directory: the files of a source tree, each headed "==> path (language) <==".
// `root` is the folder opened through `policy`, `root_path` its resolved path (links
// inside the tree are checked from there), `shown` its name in errors.
Status convert_tree(UniqueFd root, const std::string& root_path, const std::string& shown,
                    const TreeOptions& options, const PathPolicy& policy, Document& doc);

}  // namespace ream::ingest
