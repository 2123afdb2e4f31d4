// Reading documents for a job. This is the plain-text path (UTF-8 text and
// Markdown); richer formats come through daemon/src/ingest, which produces the
// same DocumentRecord.
#pragma once

#include <string>

#include "ream/engine/status.h"
#include "store/records.h"

namespace ream::flow {

// Reads a UTF-8 text file. Fails, naming the path, on an unreadable, empty,
// binary (NUL bytes) or non-UTF-8 file. CRLF line ends become LF.
Result<store::DocumentRecord> read_text_document(const std::string& path);

// True when `s` is well-formed UTF-8.
bool valid_utf8(const std::string& s);

}  // namespace ream::flow
