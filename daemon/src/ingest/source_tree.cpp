// Source trees: walk a folder in name order, honour .gitignore files, leave out
// vendored/generated folders, binaries and oversized files (each recorded in
// Document::skipped with its reason), and join the rest as
//   ==> path (language) <==
//   ...file text...
// with a blank line between files. Each file is an offset-map unit (file + line).
//
// The walk never reopens a path: every file and folder is opened from its parent
// folder's descriptor with O_NOFOLLOW, so nothing swapped in during the walk is
// followed. A symbolic link is resolved through the PathPolicy: followed (opened
// again from its root, link-free) when it leads under an allowed root, else
// recorded as skipped ("symbolic link out of documents.allowed_roots"). A link back
// to a folder being walked is recorded as a loop.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ingest/formats.h"
#include "ingest/gitignore.h"
#include "ingest/path_policy.h"
#include "ingest/text_builder.h"
#include "ingest/utf8.h"

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

// A folder's entry names but "." and "..", in name order.
Result<std::vector<std::string>> list_names(int dir_fd) {
  int fd = ::dup(dir_fd);
  if (fd < 0) return not_found(std::strerror(errno));
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return not_found(std::strerror(errno));
  }
  ::rewinddir(d);
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// A folder's identity, to stop at a link back to a folder being walked.
struct DirId {
  dev_t dev;
  ino_t ino;
  bool operator==(const DirId&) const = default;
};

class TreeWalker {
 public:
  TreeWalker(std::string root_path, const TreeOptions& o, const PathPolicy& policy, Document& doc)
      : root_path_(std::move(root_path)), opt_(o), policy_(policy), doc_(doc) {
    for (const std::string& pat : o.exclude) excludes_.add_line("", pat);
  }
  Status walk(UniqueFd dir, const std::string& rel);
  TextBuilder& out() { return out_; }

 private:
  void read_gitignore(int dir_fd, const std::string& rel);
  void visit(int dir_fd, const std::string& name, const std::string& path);
  void follow_link(const std::string& name, const std::string& path);
  bool filtered(const std::string& name, const std::string& path, bool is_dir);
  void enter(UniqueFd fd, bool want_dir, const std::string& path);
  void add_file(int fd, const std::string& rel);
  void skip(const std::string& rel, std::string reason) { doc_.skipped.push_back({rel, std::move(reason)}); }

  std::string root_path_;  // the tree's resolved path: links met below it are resolved from here
  const TreeOptions& opt_;
  const PathPolicy& policy_;
  Document& doc_;
  IgnoreRules rules_;     // from .gitignore files
  IgnoreRules excludes_;  // from TreeOptions::exclude
  TextBuilder out_;
  std::vector<DirId> open_dirs_;  // the folders from the root down to the one being walked
  int64_t total_ = 0;
};

Status TreeWalker::walk(UniqueFd dir, const std::string& rel) {
  auto names = list_names(dir.get());
  if (!names.ok()) {
    if (rel.empty()) return not_found(root_path_ + ": cannot list folder: " + names.status().message());
    skip(rel, "unreadable folder: " + names.status().message());
    return Status();
  }
  struct stat st{};
  if (::fstat(dir.get(), &st) != 0) st = {};
  open_dirs_.push_back({st.st_dev, st.st_ino});
  if (opt_.honour_gitignore) read_gitignore(dir.get(), rel);
  for (const std::string& name : names.value()) visit(dir.get(), name, rel.empty() ? name : rel + "/" + name);
  open_dirs_.pop_back();
  return Status();
}

void TreeWalker::read_gitignore(int dir_fd, const std::string& rel) {
  int fd = ::openat(dir_fd, ".gitignore", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  UniqueFd file(fd);
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
  auto content = read_all(fd, 1 << 20, ".gitignore");
  if (content.ok()) rules_.add_file(rel, content.value());
}

// Why an entry is left out by the default and configured filters (recorded), or false.
bool TreeWalker::filtered(const std::string& name, const std::string& path, bool is_dir) {
  const std::string shown = is_dir ? path + "/" : path;
  if (opt_.skip_vendored && vendored(name, is_dir)) { skip(shown, vendored(name, is_dir)); return true; }
  if (opt_.honour_gitignore && rules_.ignored(path, is_dir)) { skip(shown, "ignored by .gitignore"); return true; }
  if (excludes_.ignored(path, is_dir)) { skip(shown, "excluded"); return true; }
  return false;
}

// One folder entry, opened from its folder's descriptor without following a link:
// a link is resolved through the policy instead (follow_link).
void TreeWalker::visit(int dir_fd, const std::string& name, const std::string& path) {
  struct stat st{};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return skip(path, std::string("cannot stat: ") + std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode)) return follow_link(name, path);
  const bool is_dir = S_ISDIR(st.st_mode);
  if (!is_dir && !S_ISREG(st.st_mode)) return;  // sockets, pipes, devices
  if (filtered(name, path, is_dir)) return;
  const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (is_dir ? O_DIRECTORY : O_NONBLOCK);
  const int fd = ::openat(dir_fd, name.c_str(), flags);
  if (fd < 0) {
    return skip(path, errno == ELOOP ? std::string("became a symbolic link while the tree was read; refused")
                                     : std::string("cannot open: ") + std::strerror(errno));
  }
  enter(UniqueFd(fd), is_dir, path);
}

// A symbolic link is followed when what it resolves to lies under an allowed root
// (for an unrestricted policy: anywhere), and recorded as skipped otherwise.
void TreeWalker::follow_link(const std::string& name, const std::string& path) {
  auto checked = policy_.check(root_path_ + "/" + path);
  if (!checked.ok()) {
    if (checked.status().code() != StatusCode::kFailedPrecondition) return skip(path, "broken symbolic link");
    doc_.skipped.push_back({path, policy_.outside_reason(), true});
    return;
  }
  auto fd = policy_.open(checked.value());
  if (!fd.ok()) return skip(path, fd.status().message());
  struct stat st{};
  if (::fstat(fd->get(), &st) != 0) return skip(path, std::string("cannot stat: ") + std::strerror(errno));
  const bool is_dir = S_ISDIR(st.st_mode);
  if (!is_dir && !S_ISREG(st.st_mode)) return skip(path, "symbolic link to neither a file nor a folder");
  if (filtered(name, path, is_dir)) return;
  enter(std::move(fd).value(), is_dir, path);
}

void TreeWalker::enter(UniqueFd fd, bool want_dir, const std::string& path) {
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return skip(path, std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode) != want_dir || (!want_dir && !S_ISREG(st.st_mode))) {
    return skip(path, "changed type while the tree was read");
  }
  if (!want_dir) return add_file(fd.get(), path);
  const DirId id{st.st_dev, st.st_ino};
  if (std::find(open_dirs_.begin(), open_dirs_.end(), id) != open_dirs_.end()) {
    return skip(path + "/", "symbolic link loop (a folder that contains it)");
  }
  (void)walk(std::move(fd), path);  // below the root, walk() records failures as skips
}

void TreeWalker::add_file(int fd, const std::string& rel) {
  auto read = read_all(fd, opt_.max_file_bytes, rel);
  if (!read.ok()) {
    skip(rel, read.status().code() == StatusCode::kResourceExhausted ? "too large" : read.status().message());
    return;
  }
  const std::string& bytes = read.value();
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

Status convert_tree(UniqueFd root, const std::string& root_path, const std::string& shown,
                    const TreeOptions& options, const PathPolicy& policy, Document& doc) {
  TreeWalker w(root_path, options, policy, doc);
  REAM_RETURN_IF_ERROR(w.walk(std::move(root), ""));
  if (doc.parts.empty())
    return invalid_argument(shown + ": source tree has no text files to review (" +
                            std::to_string(doc.skipped.size()) + " skipped)");
  w.out().finish(doc);
  return Status();
}

}  // namespace ream::ingest
