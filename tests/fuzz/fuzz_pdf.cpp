// PDF ingestion: a PDF as reamd ingests an upload or a named .pdf document, page by page
// through poppler (ingest/pdf_text.cpp).
//
// Each input is the bytes of a .pdf file, ingested with ingest_buffer as application/pdf.
// A refusal (not a PDF, encrypted, broken) is fine. An ingested document holds one part per
// page and passes the checks of every ingested document (fuzz_document.h). poppler itself is
// Debian's library, not instrumented: a crash inside it still stops the run (and would
// stop reamd), but its memory errors are seen only when they crash.
#include "fuzz_document.h"
#include "ingest/ingest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ream;
  auto doc = ingest::ingest_buffer("report.pdf", fuzz::bytes(data, size), "application/pdf");
  if (!doc.ok()) return 0;
  fuzz::check_document(doc.value());
  for (const ingest::Part& p : doc->parts) {
    ingest::Location loc = doc->locate(static_cast<size_t>(p.text_begin));
    fuzz::check(loc.page >= 1, "a page's text does not locate to a page");
  }
  return 0;
}
