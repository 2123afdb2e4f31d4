// HTML ingestion: HTML pages and SEC filings (inline XBRL included) as reamd ingests an
// uploaded or named .html document (ingest/html_text.cpp, html_tokenizer.cpp).
//
// Each input is the bytes of an .html file, ingested with ingest_buffer as text/html. A
// refusal is fine. An ingested document must hold valid UTF-8 text, an offset map of the
// text's size whose locations lie inside the source, a layout that survives the store's
// encoding, and quotes taken from its text must be found again (fuzz_document.h).
#include "fuzz_document.h"
#include "ingest/ingest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ream;
  auto doc = ingest::ingest_buffer("filing.html", fuzz::bytes(data, size), "text/html");
  if (!doc.ok()) return 0;
  fuzz::check_document(doc.value());
  for (size_t at : {size_t{0}, doc->text.size() / 2}) {
    ingest::Location loc = doc->locate(at);
    if (loc.byte_offset >= 0) {
      fuzz::check(loc.byte_offset <= static_cast<int64_t>(size), "a location past the end of the source");
    }
  }
  return 0;
}
