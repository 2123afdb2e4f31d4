// Ingestion: documents (plain text, Markdown, HTML incl. SEC inline-XBRL filings,
// PDF, source trees) -> normalised text with an offset map back to the source,
// a content hash and, given a counter, a token count.
//
// Contract: every function here is thread-safe (no shared state) and returns
// errors as Status whose message names the document; nothing throws. A batch
// ingest returns one result per input, so one bad file does not stop the rest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/document.h"
#include "ingest/path_policy.h"
#include "ream/engine/status.h"

namespace ream::ingest {

struct TreeOptions {
  bool honour_gitignore = true;  // .gitignore files at every level (git's glob rules)
  bool skip_vendored = true;     // .git, node_modules, vendor, third_party, build*, dist,
                                 // target, __pycache__, *.min.js, lock files, ...
  int64_t max_file_bytes = 1 << 20;         // larger files are skipped ("too large")
  int64_t max_total_bytes = 64LL << 20;     // stop adding files past this much text
  std::vector<std::string> exclude;         // extra patterns, .gitignore syntax, root-relative
};

struct IngestOptions {
  TokenCounter count_tokens;            // optional: fills Document::tokens
  int64_t max_file_bytes = 256LL << 20; // a single file larger than this is refused
  TreeOptions tree;
  // Which paths ingest_path may read (see path_policy.h); reamd passes its
  // documents.allowed_roots. Files are opened through it, link-free, and read from
  // the descriptor.
  PathPolicy paths = PathPolicy::unrestricted();
};

// Media type from the name's extension and the first bytes: "text/plain",
// "text/markdown", "text/html", "application/pdf", or "" when unsupported.
std::string detect_media_type(std::string_view name, std::string_view bytes);

// Ingests a file (format from detect_media_type) or a directory (a source tree),
// checked and opened through options.paths. A relative path is taken from the
// working directory. A path outside the policy's roots is kFailedPrecondition.
Result<Document> ingest_path(const std::string& path, const IngestOptions& options = {});

// Ingests bytes already in memory, e.g. an upload. `media_type` "" means detect.
Result<Document> ingest_buffer(const std::string& name, std::string_view bytes,
                               std::string_view media_type = {}, const IngestOptions& options = {});

// One result per path, in order; failures do not stop the others.
std::vector<Result<Document>> ingest_paths(const std::vector<std::string>& paths,
                                           const IngestOptions& options = {});

// Language of a source file from its name ("C++", "Python", "Markdown"), "" if unknown.
std::string language_for(std::string_view path);

}  // namespace ream::ingest
