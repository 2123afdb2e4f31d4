// The ingested document: normalised UTF-8 text plus an OffsetMap that maps every
// byte range of that text back to where it came from (a file and its bytes/lines,
// an HTML source offset, a PDF page, a file inside a source tree).
//
// Documents are plain values: copyable, movable, immutable once built, and safe to
// read from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ream::ingest {

// Counts the tokens of a piece of text. The real one is the engine's tokenizer,
// passed in by the caller; ingest itself knows nothing of the engine.
using TokenCounter = std::function<int64_t(std::string_view)>;

// Where a byte of the normalised text came from.
struct Location {
  std::string source;       // file path; for a tree, the file's path inside the tree
  int64_t byte_offset = -1; // byte offset in that source file (in the page text for PDF)
  int64_t line = 0;         // 1-based line in the source file (in the page text for PDF)
  int64_t column = 0;       // 1-based byte column within that line
  int64_t page = 0;         // 1-based PDF page; 0 for other formats

  // "path:12:5", "file.pdf page 3", ...
  std::string to_string() const;
};

// One source unit: a whole file, one file of a tree, or one PDF page. Offsets in
// pieces are relative to the unit's own bytes.
struct SourceUnit {
  std::string path;                 // file path (tree: relative path inside the tree)
  int64_t page = 0;                 // 1-based PDF page, else 0
  std::vector<int64_t> line_starts; // byte offsets where each line of the unit begins
};

// A run of normalised text [text_begin, next piece's text_begin) that came from
// unit bytes starting at source_begin. When `linear`, text byte i of the run is
// source byte source_begin + i (text copied verbatim); otherwise the whole run
// stands for source bytes [source_begin, source_begin + source_len) (an entity,
// a normalised character, an inserted separator or header).
struct MapPiece {
  int64_t text_begin = 0;
  int64_t source_begin = 0;
  int64_t source_len = 0;  // used when !linear
  uint32_t unit = 0;
  bool linear = true;
};

class OffsetMap {
 public:
  // Rebuilds a map from its parts (see ingest/layout.h): `pieces` sorted by
  // text_begin, each piece's unit an index into `units`.
  static OffsetMap from_parts(std::vector<SourceUnit> units, std::vector<MapPiece> pieces,
                              int64_t text_size);

  // Location of text byte `text_offset` (clamped into the text). An empty map
  // gives a Location with only `source` empty and offsets -1.
  Location locate(size_t text_offset) const;

  // Source byte offset (within its unit) of text byte `text_offset`, and the unit.
  int64_t source_offset(size_t text_offset, uint32_t* unit = nullptr) const;

  const std::vector<SourceUnit>& units() const { return units_; }
  const std::vector<MapPiece>& pieces() const { return pieces_; }
  int64_t text_size() const { return text_size_; }

 private:
  friend class TextBuilder;
  size_t piece_index(size_t text_offset) const;

  std::vector<SourceUnit> units_;
  std::vector<MapPiece> pieces_;  // sorted by text_begin, non-empty runs
  int64_t text_size_ = 0;
};

// A file of a source tree, a page of a PDF: a named part of the text.
struct Part {
  std::string name;       // tree: relative path; PDF: "page 3"
  std::string language;   // tree: language from the extension ("C++", "Python"), else ""
  int64_t text_begin = 0; // byte range in Document::text (header line included for trees)
  int64_t text_end = 0;
};

// A file of a source tree that was left out, and why.
struct SkippedFile {
  std::string path;   // relative path inside the tree
  std::string reason; // "binary (NUL bytes)", "ignored by .gitignore", "vendored folder", ...
  bool outside_roots = false;  // a symbolic link leading out of the path policy's roots
};

struct Document {
  std::string id;          // sha256 hex of the source bytes (of the produced text for a tree)
  std::string source;      // path or name as given
  std::string media_type;  // "text/plain", "text/markdown", "text/html", "application/pdf",
                           // "inode/directory" (source tree)
  std::string text;        // normalised UTF-8 (LF line ends, NFC)
  OffsetMap map;           // text byte -> source location
  int64_t source_bytes = 0;// size of the input (sum of kept files for a tree)
  int64_t tokens = -1;     // token count of `text` when a counter was given, else -1
  std::vector<Part> parts; // files of a tree, pages of a PDF; empty otherwise
  std::vector<SkippedFile> skipped;  // tree only: files left out

  Location locate(size_t text_offset) const { return map.locate(text_offset); }
};

}  // namespace ream::ingest
