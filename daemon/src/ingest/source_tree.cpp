// Source trees: walk a folder in name order, honour .gitignore files, leave out
// vendored/generated folders, binaries and oversized files (each recorded in
// Document::skipped with its reason), and join the rest as
//   ==> path (language) <==
//   ...file text...
// with a blank line between files. Each file is an offset-map unit (file + line).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ingest/formats.h"
#include "ingest/gitignore.h"
#include "ingest/text_builder.h"
#include "ingest/utf8.h"

namespace fs = std::filesystem;

namespace ream::ingest {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Why a folder or file is left out by default, or nullptr.
const char* vendored(std::string_view name, bool is_dir) {
  if (is_dir) {
    static constexpr std::string_view kDirs[] = {
        ".git", ".hg", ".svn", "node_modules", "vendor", "third_party", "thirdparty", "__pycache__",
        ".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "dist", "target",
        ".gradle", ".next", ".nuxt", "bower_components", ".eggs", ".deps", ".cache"};
    for (std::string_view d : kDirs)
      if (name == d) return "vendored or generated folder";
    if (starts_with(name, "build") || starts_with(name, "cmake-build-") || ends_with(name, ".egg-info"))
      return "vendored or generated folder";
    return nullptr;
  }
  static constexpr std::string_view kLocks[] = {
      "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock",
      "poetry.lock", "Pipfile.lock", "Gemfile.lock", "composer.lock", "go.sum", "uv.lock", "bun.lockb"};
  for (std::string_view l : kLocks)
    if (name == l) return "lock file";
  if (ends_with(name, ".lock")) return "lock file";
  if (ends_with(name, ".min.js") || ends_with(name, ".min.css") || ends_with(name, ".map"))
    return "minified or generated file";
  return nullptr;
}

Status read_file(const fs::path& p, int64_t limit, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return not_found(p.string() + ": cannot open for reading");
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (!ec && static_cast<int64_t>(size) > limit) return resource_exhausted("too large");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return data_loss(p.string() + ": read error");
  out = std::move(ss).str();
  return Status();
}

class TreeWalker {
 public:
  TreeWalker(const fs::path& root, const TreeOptions& o, Document& doc) : root_(root), opt_(o), doc_(doc) {
    for (const std::string& pat : o.exclude) excludes_.add_line("", pat);
  }
  Status walk(const fs::path& dir, const std::string& rel);
  TextBuilder& out() { return out_; }

 private:
  void add_file(const fs::path& p, const std::string& rel);
  void skip(const std::string& rel, std::string reason) { doc_.skipped.push_back({rel, std::move(reason)}); }

  fs::path root_;
  const TreeOptions& opt_;
  Document& doc_;
  IgnoreRules rules_;     // from .gitignore files
  IgnoreRules excludes_;  // from TreeOptions::exclude
  TextBuilder out_;
  int64_t total_ = 0;
};

Status TreeWalker::walk(const fs::path& dir, const std::string& rel) {
  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
  if (ec) {
    if (rel.empty()) return not_found(dir.string() + ": cannot list folder: " + ec.message());
    skip(rel, "unreadable folder: " + ec.message());
    return Status();
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
  if (opt_.honour_gitignore) {
    for (const auto& e : entries) {
      if (e.path().filename() != ".gitignore") continue;
      std::string content;
      if (read_file(e.path(), 1 << 20, content).ok()) rules_.add_file(rel, content);
    }
  }
  for (const auto& e : entries) {
    const std::string name = e.path().filename().string();
    const std::string path = rel.empty() ? name : rel + "/" + name;
    const bool is_link = e.is_symlink(ec);
    const bool is_dir = e.is_directory(ec);
    if (is_dir) {
      if (is_link) { skip(path + "/", "symbolic link to a folder"); continue; }
      if (opt_.skip_vendored && vendored(name, true)) { skip(path + "/", vendored(name, true)); continue; }
      if (opt_.honour_gitignore && rules_.ignored(path, true)) { skip(path + "/", "ignored by .gitignore"); continue; }
      if (excludes_.ignored(path, true)) { skip(path + "/", "excluded"); continue; }
      REAM_RETURN_IF_ERROR(walk(e.path(), path));
      continue;
    }
    if (!e.is_regular_file(ec)) continue;
    if (opt_.skip_vendored && vendored(name, false)) { skip(path, vendored(name, false)); continue; }
    if (opt_.honour_gitignore && rules_.ignored(path, false)) { skip(path, "ignored by .gitignore"); continue; }
    if (excludes_.ignored(path, false)) { skip(path, "excluded"); continue; }
    add_file(e.path(), path);
  }
  return Status();
}

void TreeWalker::add_file(const fs::path& p, const std::string& rel) {
  std::string bytes;
  const Status st = read_file(p, opt_.max_file_bytes, bytes);
  if (!st.ok()) {
    skip(rel, st.code() == StatusCode::kResourceExhausted ? "too large" : st.message());
    return;
  }
  const char* why = nullptr;
  if (bytes.empty()) return skip(rel, "empty");
  if (looks_binary(bytes, &why)) return skip(rel, why);
  if (total_ + static_cast<int64_t>(bytes.size()) > opt_.max_total_bytes) return skip(rel, "tree size limit reached");
  total_ += static_cast<int64_t>(bytes.size());
  std::string language = language_for(rel);
  out_.add_unit(rel, 0, bytes);
  const auto begin = static_cast<int64_t>(out_.size());
  out_.emit("==> " + rel + " (" + (language.empty() ? "text" : language) + ") <==\n", 0, 0);
  const size_t bom = bom_length(bytes);
  append_lines(out_, std::string_view(bytes).substr(bom), static_cast<int64_t>(bom));
  if (out_.back() != '\n') out_.emit("\n", static_cast<int64_t>(bytes.size()), 0);
  doc_.parts.push_back(Part{rel, std::move(language), begin, static_cast<int64_t>(out_.size())});
  out_.emit("\n", static_cast<int64_t>(bytes.size()), 0);
  doc_.source_bytes += static_cast<int64_t>(bytes.size());
}

}  // namespace

Status convert_tree(const std::string& root, const TreeOptions& options, Document& doc) {
  TreeWalker w(root, options, doc);
  REAM_RETURN_IF_ERROR(w.walk(root, ""));
  if (doc.parts.empty())
    return invalid_argument(root + ": source tree has no text files to review (" +
                            std::to_string(doc.skipped.size()) + " skipped)");
  w.out().finish(doc);
  return Status();
}

}  // namespace ream::ingest
