// PDF -> text through poppler-cpp, page by page: pages are separated by a blank
// line, and each page is its own offset-map unit (page number + offset in the
// page's text). Encrypted (locked), broken and text-less PDFs are errors.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <memory>
#include <mutex>

#include "ingest/formats.h"
#include "ingest/text_builder.h"

namespace ream::ingest {
namespace {

// poppler reports syntax errors on stderr by default; ingest reports per-document
// Status instead, so its messages are dropped.
void quiet(const std::string&, void*) {}

void silence_poppler() {
  static std::once_flag once;
  std::call_once(once, [] { poppler::set_debug_error_function(quiet, nullptr); });
}

bool has_text(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != '\f') return true;
  return false;
}

}  // namespace

Status convert_pdf(const std::string& name, std::string_view bytes, Document& doc) {
  silence_poppler();
  if (bytes.substr(0, 5) != "%PDF-") return invalid_argument(name + ": not a PDF (no %PDF- header)");
  std::unique_ptr<poppler::document> pdf(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!pdf) {
    // poppler refuses both broken files and ones it cannot decrypt; tell them apart
    // by the trailer's /Encrypt entry.
    if (bytes.find("/Encrypt") != std::string_view::npos)
      return failed_precondition(name + ": encrypted PDF (password required); not ingested");
    return data_loss(name + ": broken PDF (poppler could not parse it)");
  }
  if (pdf->is_locked()) return failed_precondition(name + ": encrypted PDF (password required); not ingested");
  const int pages = pdf->pages();
  if (pages <= 0) return data_loss(name + ": broken PDF (no pages)");
  TextBuilder out;
  bool any = false;
  for (int i = 0; i < pages; ++i) {
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    if (!page) return data_loss(name + ": broken PDF (page " + std::to_string(i + 1) + " unreadable)");
    const poppler::byte_array utf8 = page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout).to_utf8();
    std::string_view text(utf8.data(), utf8.size());
    out.add_unit(name, i + 1, text);
    if (!has_text(text)) continue;
    any = true;
    if (!out.empty()) out.emit("\n\n", 0, 0);
    // Trim trailing white space of the page; form feeds become line ends.
    size_t end = text.size();
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == ' ' || text[end - 1] == '\f' ||
                       text[end - 1] == '\r'))
      --end;
    size_t begin = 0;
    while (begin < end && (text[begin] == '\n' || text[begin] == '\r' || text[begin] == '\f')) ++begin;
    std::string page_text(text.substr(begin, end - begin));
    for (char& c : page_text)
      if (c == '\f') c = '\n';
    const auto part_begin = static_cast<int64_t>(out.size());
    append_lines(out, page_text, static_cast<int64_t>(begin));
    doc.parts.push_back(Part{"page " + std::to_string(i + 1), "", part_begin, static_cast<int64_t>(out.size())});
  }
  if (!any) return invalid_argument(name + ": PDF has no text layer (scanned images?); OCR is not supported");
  out.finish(doc);
  return Status();
}

}  // namespace ream::ingest
