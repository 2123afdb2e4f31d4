// TextBuilder: how every converter writes normalised text and its OffsetMap at
// the same time. Internal to ream_ingest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ingest/document.h"

namespace ream::ingest {

class TextBuilder {
 public:
  // Registers a source unit (a file, a tree file, a PDF page) whose bytes are
  // `unit_bytes` (used for line numbers) and makes it current. Returns its index.
  uint32_t add_unit(std::string path, int64_t page, std::string_view unit_bytes);
  void set_unit(uint32_t unit) { unit_ = unit; }

  // Appends source bytes `s` that sit at offset `src` of the current unit, keeping
  // them verbatim except: non-ASCII runs become NFC, and bytes that are not UTF-8
  // are read as Windows-1252.
  void copy(std::string_view s, int64_t src);
  // Appends `out`, which stands for source bytes [src, src + len) of the current unit.
  void emit(std::string_view out, int64_t src, int64_t len);
  // Drops text from byte `size` on (and the map pieces that start there).
  void truncate(size_t size);

  const std::string& text() const { return text_; }
  size_t size() const { return text_.size(); }
  bool empty() const { return text_.empty(); }
  char back() const { return text_.empty() ? '\0' : text_.back(); }
  // Source offset (in the current piece's unit) of text byte `offset`.
  int64_t source_offset(size_t offset) const;

  // Moves the text and the map into `doc`.
  void finish(Document& doc);

 private:
  void append_linear(std::string_view s, int64_t src);
  void copy_segment(std::string_view s, int64_t src);

  std::string text_;
  OffsetMap map_;
  uint32_t unit_ = 0;
};

}  // namespace ream::ingest
