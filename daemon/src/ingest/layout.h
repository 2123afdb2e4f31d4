// A document's layout (its OffsetMap and parts) as compact bytes, so a store can
// keep it beside the text and rebuild a Document that locates quotes (page, file
// and line) long after the source was ingested, without reading the source again.
//
// The encoding is versioned; decoding checks every count, offset and index against
// the text it is decoded for, so a corrupt or foreign blob fails with a Status and
// never yields a map that points outside the text or its units.
#pragma once

#include <string>
#include <string_view>

#include "ingest/document.h"
#include "ream/engine/status.h"

namespace ream::ingest {

// Encodes doc.map and doc.parts (not the text, nor `skipped`).
std::string encode_layout(const Document& doc);

// Restores doc->map and doc->parts from `bytes` as encode_layout wrote them for a
// document whose text is doc->text. Leaves *doc unchanged on failure.
Status decode_layout(std::string_view bytes, Document* doc);

}  // namespace ream::ingest
