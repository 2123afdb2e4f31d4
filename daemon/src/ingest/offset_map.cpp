// OffsetMap lookups and the TextBuilder that produces text and map together.
#include <algorithm>

#include "ingest/text_builder.h"
#include "ingest/utf8.h"

namespace ream::ingest {

std::string Location::to_string() const {
  std::string s = source;
  if (page > 0) {
    s += " page " + std::to_string(page);
    if (line > 0) s += " line " + std::to_string(line);
    return s;
  }
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  return s;
}

OffsetMap OffsetMap::from_parts(std::vector<SourceUnit> units, std::vector<MapPiece> pieces,
                                int64_t text_size) {
  OffsetMap m;
  m.units_ = std::move(units);
  m.pieces_ = std::move(pieces);
  m.text_size_ = text_size;
  return m;
}

size_t OffsetMap::piece_index(size_t text_offset) const {
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), static_cast<int64_t>(text_offset),
                             [](int64_t off, const MapPiece& p) { return off < p.text_begin; });
  return it == pieces_.begin() ? 0 : static_cast<size_t>(it - pieces_.begin() - 1);
}

int64_t OffsetMap::source_offset(size_t text_offset, uint32_t* unit) const {
  if (pieces_.empty()) return -1;
  if (text_size_ > 0) text_offset = std::min<size_t>(text_offset, text_size_ - 1);
  const MapPiece& p = pieces_[piece_index(text_offset)];
  if (unit) *unit = p.unit;
  if (!p.linear) return p.source_begin;
  return p.source_begin + (static_cast<int64_t>(text_offset) - p.text_begin);
}

Location OffsetMap::locate(size_t text_offset) const {
  Location loc;
  uint32_t u = 0;
  const int64_t src = source_offset(text_offset, &u);
  if (src < 0 || u >= units_.size()) return loc;
  const SourceUnit& unit = units_[u];
  loc.source = unit.path;
  loc.byte_offset = src;
  loc.page = unit.page;
  if (!unit.line_starts.empty()) {
    auto it = std::upper_bound(unit.line_starts.begin(), unit.line_starts.end(), src);
    const size_t line = static_cast<size_t>(it - unit.line_starts.begin());  // 1-based
    loc.line = static_cast<int64_t>(line);
    loc.column = src - unit.line_starts[line - 1] + 1;
  }
  return loc;
}

uint32_t TextBuilder::add_unit(std::string path, int64_t page, std::string_view unit_bytes) {
  SourceUnit u;
  u.path = std::move(path);
  u.page = page;
  u.line_starts.push_back(0);
  // Lines end at LF, CRLF or a lone CR.
  for (size_t i = unit_bytes.find_first_of("\r\n"); i != std::string_view::npos;
       i = unit_bytes.find_first_of("\r\n", i + 1)) {
    if (unit_bytes[i] == '\r' && i + 1 < unit_bytes.size() && unit_bytes[i + 1] == '\n') continue;
    u.line_starts.push_back(static_cast<int64_t>(i + 1));
  }
  map_.units_.push_back(std::move(u));
  unit_ = static_cast<uint32_t>(map_.units_.size() - 1);
  return unit_;
}

void TextBuilder::append_linear(std::string_view s, int64_t src) {
  if (s.empty()) return;
  const int64_t at = static_cast<int64_t>(text_.size());
  bool extend = false;
  if (!map_.pieces_.empty()) {
    const MapPiece& last = map_.pieces_.back();
    extend = last.linear && last.unit == unit_ && last.source_begin + (at - last.text_begin) == src;
  }
  if (!extend) map_.pieces_.push_back(MapPiece{at, src, 0, unit_, true});
  text_.append(s);
}

void TextBuilder::emit(std::string_view out, int64_t src, int64_t len) {
  if (out.empty()) return;
  map_.pieces_.push_back(MapPiece{static_cast<int64_t>(text_.size()), src, len, unit_, false});
  text_.append(out);
}

void TextBuilder::copy(std::string_view s, int64_t src) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && static_cast<unsigned char>(s[j]) < 0x80) ++j;
    if (j == s.size()) {
      append_linear(s.substr(i), src + static_cast<int64_t>(i));
      return;
    }
    // A non-ASCII run [j, k); the ASCII character before it joins it, since a
    // combining mark composes with its base.
    size_t k = j;
    while (k < s.size() && static_cast<unsigned char>(s[k]) >= 0x80) ++k;
    const size_t seg = j > i ? j - 1 : j;
    append_linear(s.substr(i, seg - i), src + static_cast<int64_t>(i));
    copy_segment(s.substr(seg, k - seg), src + static_cast<int64_t>(seg));
    i = k;
  }
}

void TextBuilder::copy_segment(std::string_view s, int64_t src) {
  if (utf8::is_valid(s)) {
    const std::string n = utf8::nfc(s);
    if (n == s) append_linear(s, src);
    else emit(n, src, static_cast<int64_t>(s.size()));
    return;
  }
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8::sequence_length(s, i);
    if (n > 0) {
      append_linear(s.substr(i, n), src + static_cast<int64_t>(i));
      i += n;
      continue;
    }
    std::string out;
    utf8::append(out, cp1252_to_unicode(static_cast<unsigned char>(s[i])));
    emit(out, src + static_cast<int64_t>(i), 1);
    ++i;
  }
}

void TextBuilder::truncate(size_t size) {
  if (size >= text_.size()) return;
  text_.resize(size);
  while (!map_.pieces_.empty() && map_.pieces_.back().text_begin >= static_cast<int64_t>(size))
    map_.pieces_.pop_back();
}

int64_t TextBuilder::source_offset(size_t offset) const {
  if (map_.pieces_.empty()) return -1;
  auto it = std::upper_bound(map_.pieces_.begin(), map_.pieces_.end(), static_cast<int64_t>(offset),
                             [](int64_t off, const MapPiece& p) { return off < p.text_begin; });
  const MapPiece& p = it == map_.pieces_.begin() ? *it : *(it - 1);
  return p.linear ? p.source_begin + (static_cast<int64_t>(offset) - p.text_begin) : p.source_begin;
}

void TextBuilder::finish(Document& doc) {
  map_.text_size_ = static_cast<int64_t>(text_.size());
  doc.text = std::move(text_);
  doc.map = std::move(map_);
  text_.clear();
  map_ = OffsetMap();
}

}  // namespace ream::ingest
