// A small, tolerant HTML/XHTML tokenizer: text runs, start and end tags (with
// their raw attribute text), comments and the rest (doctype, <?xml?>, CDATA).
// It never fails: a '<' that does not open a tag is text, an unterminated tag or
// comment runs to the end of input. <script> and <style> bodies come back as one
// raw text token. Names are lower-cased and keep namespace prefixes ("ix:header").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ream::ingest {

enum class HtmlTokenKind { kText, kStartTag, kEndTag, kComment, kOther };

struct HtmlToken {
  HtmlTokenKind kind = HtmlTokenKind::kText;
  size_t begin = 0;           // byte range of the token in the source
  size_t end = 0;
  std::string name;           // tags: lower-cased name
  std::string_view attrs;     // start tags: raw attribute text
  bool self_closing = false;  // start tags written <x ... />
  bool raw = false;           // text: body of <script>/<style> (not to be decoded)
};

class HtmlTokenizer {
 public:
  explicit HtmlTokenizer(std::string_view src) : src_(src) {}
  // Reads the next token into `tok`; false at the end of input.
  bool next(HtmlToken& tok);

 private:
  bool read_tag(HtmlToken& tok);
  std::string_view src_;
  size_t pos_ = 0;
  std::string raw_end_;  // "script" / "style" after such a start tag
};

// The value of attribute `name` (case-insensitive) in raw attribute text, entities
// not decoded; nullopt when absent, "" for a bare attribute.
std::optional<std::string> html_attr(std::string_view attrs, std::string_view name);

// Decodes the character reference at s[i] == '&' ("&amp;", "&#8217;", "&#x2019;",
// "&nbsp;"). On success appends the UTF-8 text to `out`, sets *len to the bytes
// consumed and returns true; returns false when s[i..] is not a reference.
bool decode_entity(std::string_view s, size_t i, std::string& out, size_t* len);

}  // namespace ream::ingest
