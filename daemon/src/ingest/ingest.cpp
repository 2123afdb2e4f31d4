// The ingest entry points: media-type detection, dispatch to a converter, the
// per-document checks (unreadable, too large, unsupported, empty), content hash
// and token count.
#include "ingest/ingest.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "ingest/formats.h"
#include "ream/common/sha256.h"

namespace fs = std::filesystem;

namespace ream::ingest {
namespace {

std::string lower_ext(std::string_view name) {
  const size_t slash = name.find_last_of("/\\");
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  const size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  std::string e(base.substr(dot + 1));
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

bool sniff_html(std::string_view bytes) {
  std::string head(bytes.substr(0, 1024));
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return head.find("<!doctype html") != std::string::npos || head.find("<html") != std::string::npos;
}

bool has_visible_text(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return !std::isspace(static_cast<unsigned char>(c)); });
}

}  // namespace

std::string detect_media_type(std::string_view name, std::string_view bytes) {
  if (bytes.substr(0, 5) == "%PDF-") return "application/pdf";
  const std::string ext = lower_ext(name);
  if (ext == "pdf") return "application/pdf";
  if (ext == "html" || ext == "htm" || ext == "xhtml") return "text/html";
  if (ext == "md" || ext == "markdown") return "text/markdown";
  static constexpr std::string_view kUnsupported[] = {
      "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "rtf", "zip", "gz", "tar", "7z", "png",
      "jpg", "jpeg", "gif", "tif", "tiff", "bmp", "webp", "mp3", "mp4", "exe", "dll", "so", "epub"};
  for (std::string_view u : kUnsupported)
    if (ext == u) return "";
  if (sniff_html(bytes)) return "text/html";
  return "text/plain";
}

Result<Document> ingest_buffer(const std::string& name, std::string_view bytes, std::string_view media_type,
                               const IngestOptions& options) {
  if (static_cast<int64_t>(bytes.size()) > options.max_file_bytes)
    return resource_exhausted(name + ": too large (" + std::to_string(bytes.size()) + " bytes, limit " +
                              std::to_string(options.max_file_bytes) + ")");
  if (!has_visible_text(bytes)) return invalid_argument(name + ": empty document");
  Document doc;
  doc.source = name;
  doc.media_type = media_type.empty() ? detect_media_type(name, bytes) : std::string(media_type);
  doc.source_bytes = static_cast<int64_t>(bytes.size());
  Status st;
  if (doc.media_type == "text/plain" || doc.media_type == "text/markdown") st = convert_text(name, bytes, doc);
  else if (doc.media_type == "text/html") st = convert_html(name, bytes, doc);
  else if (doc.media_type == "application/pdf") st = convert_pdf(name, bytes, doc);
  else
    return unimplemented(name + ": unsupported document type" +
                         (doc.media_type.empty() ? std::string(" (extension ." + lower_ext(name) + ")")
                                                 : " " + doc.media_type));
  if (!st.ok()) return st;
  if (!has_visible_text(doc.text)) return invalid_argument(name + ": no text in document (empty after conversion)");
  doc.id = sha256_hex(bytes);
  if (options.count_tokens) doc.tokens = options.count_tokens(doc.text);
  return doc;
}

Result<Document> ingest_path(const std::string& path, const IngestOptions& options) {
  std::error_code ec;
  const std::string absolute = path.empty() || path[0] == '/' ? path : fs::absolute(path, ec).string();
  CheckedPath checked;
  REAM_ASSIGN_OR_RETURN(UniqueFd fd, options.paths.open_path(absolute, &checked));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return not_found(path + ": unreadable (cannot stat)");
  if (S_ISDIR(st.st_mode)) {
    Document doc;
    doc.source = path;
    doc.media_type = "inode/directory";
    REAM_RETURN_IF_ERROR(convert_tree(std::move(fd), checked.path, path, options.tree, options.paths, doc));
    doc.id = sha256_hex(doc.text);
    if (options.count_tokens) doc.tokens = options.count_tokens(doc.text);
    return doc;
  }
  if (!S_ISREG(st.st_mode)) return invalid_argument(path + ": not a regular file");
  REAM_ASSIGN_OR_RETURN(std::string bytes, read_all(fd.get(), options.max_file_bytes, path));
  return ingest_buffer(path, bytes, {}, options);
}

std::vector<Result<Document>> ingest_paths(const std::vector<std::string>& paths, const IngestOptions& options) {
  std::vector<Result<Document>> out;
  out.reserve(paths.size());
  for (const std::string& p : paths) out.push_back(ingest_path(p, options));
  return out;
}

}  // namespace ream::ingest
