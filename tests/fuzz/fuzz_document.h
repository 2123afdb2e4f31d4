// What every ingested document must satisfy, whatever its format (fuzz_html, fuzz_pdf):
// the checks a job's later steps rely on when they locate quotes and report where a
// finding came from.
#pragma once

#include <algorithm>
#include <cctype>

#include "fuzz_util.h"
#include "ingest/document.h"
#include "ingest/layout.h"
#include "ingest/quotes.h"

namespace ream::fuzz {

inline bool char_boundary(const std::string& s, int64_t i) {
  return i <= 0 || i >= static_cast<int64_t>(s.size()) || (static_cast<unsigned char>(s[i]) >> 6) != 2;
}

inline void check_document(const ingest::Document& doc) {
  const std::string& text = doc.text;
  check(valid_utf8(text), "the document's text is not valid UTF-8");
  check(doc.map.text_size() == static_cast<int64_t>(text.size()), "the offset map's size is not the text's");
  for (const ingest::Part& p : doc.parts) {
    check(p.text_begin >= 0 && p.text_begin <= p.text_end && p.text_end <= static_cast<int64_t>(text.size()),
          "a part lies outside the text");
  }
  // The layout as the store keeps it must decode for this text and locate the same.
  ingest::Document copy;
  copy.text = text;
  Status st = ingest::decode_layout(ingest::encode_layout(doc), &copy);
  check(st.ok(), "decode_layout refused encode_layout's output: " + st.message());
  for (size_t at : {size_t{0}, text.size() / 3, text.size() / 2, text.size() ? text.size() - 1 : 0}) {
    ingest::Location a = doc.locate(at), b = copy.locate(at);
    check(a.source == b.source && a.byte_offset == b.byte_offset && a.line == b.line && a.page == b.page,
          "a decoded layout locates text byte " + std::to_string(at) + " elsewhere");
  }
  // A passage of the text, upper-cased, is found by the normalised search (case folding).
  int64_t begin = static_cast<int64_t>(text.size()) / 3, end = 2 * static_cast<int64_t>(text.size()) / 3;
  while (!char_boundary(text, begin)) ++begin;
  while (!char_boundary(text, end)) ++end;
  if (end <= begin) return;
  std::string quote = text.substr(begin, end - begin);
  const bool ascii = std::all_of(quote.begin(), quote.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  for (char& c : quote) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ingest::QuoteMatch m = ingest::locate_quote(doc, quote);
  if (m.found()) {
    check(m.text_begin >= 0 && m.text_begin <= m.text_end && m.text_end <= static_cast<int64_t>(text.size()),
          "a quote match lies outside the text");
    check(char_boundary(text, m.text_begin) && char_boundary(text, m.text_end),
          "a quote match splits a character");
  } else {
    const bool visible = std::any_of(quote.begin(), quote.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
    check(!(ascii && visible), "an upper-cased ASCII passage of the text was not found: '" + quote.substr(0, 80) + "'");
  }
}

}  // namespace ream::fuzz
