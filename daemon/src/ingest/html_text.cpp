// HTML -> readable text. Blocks (p, div, headings, list items) become lines with
// a blank line between paragraphs; tables become rows of cells joined by " | "
// (currency and ")"/"%" cells glued to their numbers); scripts, styles, <head>,
// inline-XBRL headers and display:none/hidden elements are dropped; runs of white
// space collapse to one space; character references are decoded. Every byte of
// the text maps back to a byte offset in the HTML source.
#include <string>
#include <vector>

#include "ingest/formats.h"
#include "ingest/html_tokenizer.h"
#include "ingest/text_builder.h"

namespace ream::ingest {
namespace {

bool in(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names)
    if (n == name) return true;
  return false;
}

bool is_void(std::string_view n) {
  return in(n, {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "embed", "param",
                "source", "track", "wbr"});
}

// 2: paragraph-like (blank line around), 1: line, 0: inline.
int block_level(std::string_view n) {
  if (in(n, {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section", "article", "header",
             "footer", "blockquote", "pre", "ul", "ol", "dl", "center", "form", "address", "figure",
             "main", "nav", "aside", "hr", "body"}))
    return 2;
  if (in(n, {"li", "tr", "dt", "dd", "br", "caption", "figcaption", "title", "thead", "tbody", "tfoot"}))
    return 1;
  return 0;
}

bool hides(const HtmlToken& t) {
  if (in(t.name, {"script", "style", "head", "title", "template", "noscript", "ix:header", "object",
                  "iframe", "svg", "select"}))
    return true;
  if (t.attrs.empty()) return false;
  if (html_attr(t.attrs, "hidden")) return true;
  if (auto style = html_attr(t.attrs, "style")) {
    std::string s;
    for (char c : *style)
      if (c != ' ' && c != '\t') s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s.find("display:none") != std::string::npos) return true;
  }
  return false;
}

struct Element {
  std::string name;
  bool hides = false;
};

struct Cell {
  bool open = false;
  bool has_text = false;
  size_t sep_begin = 0;   // text offset of the " | " before this cell, when one was written
  bool sep_written = false;
  size_t text_begin = 0;  // text offset of the cell's first byte of content
};

struct Table {
  bool row_open = false;
  bool row_has_text = false;
  bool glue_next = false;  // previous cell was "$": no separator before the next
  Cell cell;
};

class Renderer {
 public:
  Renderer(std::string_view src, TextBuilder& out) : src_(src), out_(out) {}
  void run();

 private:
  void start_tag(const HtmlToken& t);
  void end_tag(const HtmlToken& t);
  void close_element(const Element& e);
  void text(size_t begin, size_t end);
  void put(std::string_view s, size_t src, size_t len, bool verbatim);
  void request_break(int level, size_t src);
  void whitespace(size_t src, size_t len);
  void start_cell(size_t src);
  void end_cell();
  void end_row();
  bool in_cell() const { return !tables_.empty() && tables_.back().cell.open; }

  std::string_view src_;
  TextBuilder& out_;
  std::vector<Element> stack_;
  std::vector<Table> tables_;
  size_t cur_ = 0;  // source offset of the token being handled
  int hidden_ = 0;
  int pre_ = 0;
  int pending_break_ = 0;
  size_t break_src_ = 0;
  bool pending_space_ = false;
  size_t space_src_ = 0, space_len_ = 0;
};

void Renderer::run() {
  HtmlTokenizer tok(src_);
  HtmlToken t;
  while (tok.next(t)) {
    cur_ = t.begin;
    switch (t.kind) {
      case HtmlTokenKind::kText:
        if (!t.raw && hidden_ == 0) text(t.begin, t.end);
        break;
      case HtmlTokenKind::kStartTag: start_tag(t); break;
      case HtmlTokenKind::kEndTag: end_tag(t); break;
      default: break;
    }
  }
  cur_ = src_.size();
  while (!stack_.empty()) {
    Element e = stack_.back();
    stack_.pop_back();
    close_element(e);
  }
}

void Renderer::request_break(int level, size_t src) {
  if (hidden_ > 0) return;
  if (in_cell()) {  // blocks inside a table cell only separate words
    whitespace(src, 0);
    return;
  }
  if (level > pending_break_) break_src_ = src;
  pending_break_ = std::max(pending_break_, level);
  pending_space_ = false;
}

void Renderer::whitespace(size_t src, size_t len) {
  if (!pending_space_) {
    pending_space_ = true;
    space_src_ = src;
    space_len_ = len;
  } else {
    space_len_ = src + len - space_src_;
  }
}

void Renderer::put(std::string_view s, size_t src, size_t len, bool verbatim) {
  if (pending_break_ > 0 && !out_.empty()) {
    out_.emit(pending_break_ == 2 ? "\n\n" : "\n", break_src_, 0);
    pending_space_ = false;
  }
  pending_break_ = 0;
  if (!tables_.empty() && tables_.back().cell.open && !tables_.back().cell.has_text) {
    Table& tb = tables_.back();
    if (tb.row_has_text && !tb.glue_next) {
      tb.cell.sep_begin = out_.size();
      tb.cell.sep_written = true;
      out_.emit(" | ", src, 0);
    }
    tb.glue_next = false;
    tb.cell.has_text = tb.row_has_text = true;
    tb.cell.text_begin = out_.size();
    pending_space_ = false;
  }
  if (pending_space_ && !out_.empty() && out_.back() != '\n') {
    if (space_len_ == 1 && src_[space_src_] == ' ') out_.copy(" ", static_cast<int64_t>(space_src_));
    else out_.emit(" ", space_src_, space_len_);
  }
  pending_space_ = false;
  if (verbatim) out_.copy(s, static_cast<int64_t>(src));
  else out_.emit(s, src, len);
}

void Renderer::text(size_t begin, size_t end) {
  const std::string_view s = src_;
  size_t i = begin;
  while (i < end) {
    const char c = s[i];
    const bool nbsp = c == '\xC2' && i + 1 < end && s[i + 1] == '\xA0';
    if (pre_ > 0 && c == '\n') {
      pending_break_ = std::max(pending_break_, 1);
      break_src_ = i;
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || nbsp) {
      const size_t n = nbsp ? 2 : 1;
      whitespace(i, n);
      i += n;
      continue;
    }
    if (c == '&') {
      std::string dec;
      size_t len = 0;
      if (decode_entity(s.substr(0, end), i, dec, &len)) {
        if (dec == "\xC2\xA0" || dec == " " || dec == "\xE2\x80\x82" || dec == "\xE2\x80\x83" ||
            dec == "\xE2\x80\x89")
          whitespace(i, len);
        else if (dec != "\xC2\xAD" && dec != "\xE2\x80\x8B" && dec != "\xE2\x80\x8C" &&
                 dec != "\xE2\x80\x8D" && dec != "\xE2\x80\x8E" && dec != "\xE2\x80\x8F")
          put(dec, i, len, false);
        i += len;
        continue;
      }
    }
    // A word: up to the next white space or reference.
    size_t j = i + 1;
    while (j < end) {
      const char d = s[j];
      if (d == ' ' || d == '\t' || d == '\n' || d == '\r' || d == '\f' || d == '&') break;
      if (d == '\xC2' && j + 1 < end && s[j + 1] == '\xA0') break;
      ++j;
    }
    put(s.substr(i, j - i), i, j - i, true);
    i = j;
  }
}

void Renderer::start_cell(size_t src) {
  if (tables_.empty()) return;
  Table& tb = tables_.back();
  if (tb.cell.open) end_cell();
  if (!tb.row_open) {
    request_break(1, src);
    tb.row_open = true;
    tb.row_has_text = false;
  }
  tb.cell = Cell();
  tb.cell.open = true;
}

void Renderer::end_cell() {
  Table& tb = tables_.back();
  if (!tb.cell.open) return;
  tb.cell.open = false;
  if (!tb.cell.has_text) return;
  const std::string content = out_.text().substr(tb.cell.text_begin);
  if (content == "$" || content == "\xE2\x82\xAC" || content == "\xC2\xA3" || content == "\xC2\xA5") {
    tb.glue_next = true;
  } else if (tb.cell.sep_written && (content == ")" || content == "%" || content == ")%" || content == "%)")) {
    const int64_t src = out_.source_offset(tb.cell.text_begin);
    out_.truncate(tb.cell.sep_begin);
    out_.emit(content, static_cast<size_t>(src), content.size());
  }
  pending_space_ = false;
}

void Renderer::end_row() {
  Table& tb = tables_.back();
  if (tb.cell.open) end_cell();
  tb.row_open = false;
  tb.glue_next = false;
}

void Renderer::start_tag(const HtmlToken& t) {
  const bool leaf = is_void(t.name) || t.self_closing;
  if (!leaf) {
    const bool h = hidden_ == 0 && hides(t);
    stack_.push_back(Element{t.name, h});
    if (h) ++hidden_;
  }
  if (hidden_ > 0) return;
  if (t.name == "table") {
    request_break(2, t.begin);
    tables_.emplace_back();
  } else if (t.name == "tr" && !tables_.empty()) {
    if (tables_.back().row_open) end_row();
    request_break(1, t.begin);
  } else if ((t.name == "td" || t.name == "th") && !tables_.empty()) {
    start_cell(t.begin);
    if (leaf) end_cell();
  } else if (t.name == "pre") {
    request_break(2, t.begin);
    if (!leaf) ++pre_;
  } else if (int level = block_level(t.name); level > 0) {
    request_break(level, t.begin);
  }
}

void Renderer::close_element(const Element& e) {
  if (e.hides) {
    --hidden_;
    return;
  }
  if (hidden_ > 0) return;
  if (e.name == "table" && !tables_.empty()) {
    if (tables_.back().row_open) end_row();
    tables_.pop_back();
    request_break(2, cur_);
  } else if (e.name == "tr" && !tables_.empty()) {
    end_row();
  } else if ((e.name == "td" || e.name == "th") && !tables_.empty()) {
    end_cell();
  } else if (e.name == "pre") {
    --pre_;
    request_break(2, cur_);
  } else if (int level = block_level(e.name); level > 0) {
    request_break(level, cur_);
  }
}

void Renderer::end_tag(const HtmlToken& t) {
  // Close up to the innermost open element of that name; a stray end tag is ignored.
  for (size_t k = stack_.size(); k-- > 0;) {
    if (stack_[k].name != t.name) continue;
    while (stack_.size() > k) {
      Element e = std::move(stack_.back());
      stack_.pop_back();
      close_element(e);
    }
    return;
  }
}

}  // namespace

Status convert_html(const std::string& name, std::string_view bytes, Document& doc) {
  TextBuilder out;
  out.add_unit(name, 0, bytes);
  Renderer(bytes, out).run();
  out.finish(doc);
  return Status();
}

}  // namespace ream::ingest

