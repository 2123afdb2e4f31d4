// The files of a source-tree document. Ingestion joins a tree's files as
//   ==> path (language) <==
//   ...file text...
// with a blank line between files; a document without such headers is one file
// named by the document's path. Offsets here are byte offsets into the text given
// to the plugin, so file:line of a quote comes from where the quote was found.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace audit {

struct SourceFile {
  std::string path;          // path inside the tree (or the document's path)
  std::string language;      // from the header, else from the extension; "" unknown
  size_t header_begin = 0;   // where the "==> " line starts (== body_begin when none)
  size_t body_begin = 0;     // first byte of the file's text
  size_t body_end = 0;       // one past its last byte (the separating blank line excluded)
  int64_t first_line = 1;    // line number of body_begin in the file (> 1 for a chunk that starts mid-file)
};

// The files of `text`. Text before the first header (a chunk that starts inside a
// file) becomes a file named `fallback_path` with an unknown first line (0).
std::vector<SourceFile> source_files(std::string_view text, std::string_view fallback_path);

// The file holding byte `offset`, or nullptr.
const SourceFile* file_at(const std::vector<SourceFile>& files, size_t offset);

// 1-based line of byte `offset` within `f` (0 when the file's first line is unknown).
int64_t line_of(std::string_view text, const SourceFile& f, size_t offset);

// Language of a path from its extension ("C++", "Python", ...); "" when unknown.
std::string language_of(std::string_view path);

// True when `language` (or the path's extension) matches one of `wanted`
// (case-insensitive; "cpp"/"c++" also match C/C++ headers, "py" Python, ...).
bool language_matches(const SourceFile& f, const std::vector<std::string>& wanted);

}  // namespace audit
