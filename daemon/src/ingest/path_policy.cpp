// The document path policy: checking a path against the allowed roots, and opening
// it again from the root with no symbolic link on the way (openat2, else openat
// with O_NOFOLLOW component by component).
#include "ingest/path_policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif

namespace fs = std::filesystem;

namespace ream::ingest {

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

namespace {

// The Status for a failed open of `shown`: a link (or an escape) on the way is the
// policy refusing; anything else means the file is gone or unreadable.
Status open_error(int err, const std::string& shown) {
  if (err == ELOOP || err == EXDEV) {
    return failed_precondition(shown + ": a symbolic link is on the way (it appeared after the "
                               "path was checked, or leads elsewhere); refused");
  }
  return not_found(shown + ": cannot open for reading: " + std::strerror(err));
}

// "a/b/c" -> {"a", "b", "c"}; empty and "." components dropped; false on "..".
bool split_components(const std::string& relative, std::vector<std::string>* out) {
  size_t start = 0;
  while (start <= relative.size()) {
    size_t slash = relative.find('/', start);
    if (slash == std::string::npos) slash = relative.size();
    std::string part = relative.substr(start, slash - start);
    if (part == "..") return false;
    if (!part.empty() && part != ".") out->push_back(std::move(part));
    start = slash + 1;
  }
  return true;
}

// `root` joined with the roots list, for messages: "/a, /b".
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none configured" : s;
}

}  // namespace

Result<std::string> read_all(int fd, int64_t limit, const std::string& shown) {
  auto too_large = [&](int64_t n) {
    return resource_exhausted(shown + ": too large (" + std::to_string(n) + " bytes, limit " +
                              std::to_string(limit) + ")");
  };
  struct stat st{};
  if (::fstat(fd, &st) == 0 && static_cast<int64_t>(st.st_size) > limit) return too_large(st.st_size);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return data_loss(shown + ": unreadable (read error: " + std::strerror(errno) + ")");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    // The file may grow after fstat: never hold more than the limit.
    if (static_cast<int64_t>(out.size()) > limit) return too_large(static_cast<int64_t>(out.size()));
  }
  return out;
}

Result<UniqueFd> open_beneath_openat2(int root_fd, const std::string& relative, int flags,
                                      const std::string& shown) {
#if defined(SYS_openat2) && defined(RESOLVE_BENEATH)
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const std::string path = relative.empty() ? "." : relative;
  long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  if (errno == ENOSYS || errno == EPERM) return unimplemented("openat2 is not available");
  return open_error(errno, shown);
#else
  (void)root_fd, (void)relative, (void)flags, (void)shown;
  return unimplemented("openat2 is not available");
#endif
}

Result<UniqueFd> open_beneath_walk(int root_fd, const std::string& relative, int flags,
                                   const std::string& shown) {
  std::vector<std::string> parts;
  if (!split_components(relative, &parts)) {
    return failed_precondition(shown + ": '..' is not allowed below a root; refused");
  }
  if (parts.empty()) {
    int fd = ::openat(root_fd, ".", flags | O_CLOEXEC);
    if (fd < 0) return open_error(errno, shown);
    return UniqueFd(fd);
  }
  UniqueFd dir;  // invalid: root_fd itself
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int at = dir.valid() ? dir.get() : root_fd;
    int fd = ::openat(at, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      // O_DIRECTORY | O_NOFOLLOW on a link fails with ENOTDIR: say it was a link.
      int err = errno;
      struct stat st{};
      if (err == ENOTDIR && ::fstatat(at, parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode)) {
        err = ELOOP;
      }
      return open_error(err, shown);
    }
    dir = UniqueFd(fd);
  }
  int at = dir.valid() ? dir.get() : root_fd;
  int fd = ::openat(at, parts.back().c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return open_error(errno, shown);
  return UniqueFd(fd);
}

Result<UniqueFd> open_beneath(int root_fd, const std::string& relative, int flags,
                              const std::string& shown) {
  auto fd = open_beneath_openat2(root_fd, relative, flags, shown);
  if (fd.ok() || fd.status().code() != StatusCode::kUnimplemented) return fd;
  return open_beneath_walk(root_fd, relative, flags, shown);
}

PathPolicy PathPolicy::unrestricted() {
  PathPolicy p;
  p.roots_.push_back("/");
  return p;
}

PathPolicy PathPolicy::beneath(const std::vector<std::string>& roots, std::string setting) {
  PathPolicy p;
  p.setting_ = setting.empty() ? "allowed roots" : std::move(setting);
  for (const std::string& r : roots) {
    std::error_code ec;
    fs::path canon = fs::canonical(r, ec);
    if (ec || !fs::is_directory(canon, ec)) {
      p.missing_.push_back(r);
      continue;
    }
    p.roots_.push_back(canon.string());
  }
  return p;
}

std::string PathPolicy::outside_reason() const {
  return "symbolic link out of " + (restricted() ? setting_ : std::string("the allowed roots"));
}

Result<CheckedPath> PathPolicy::check(const std::string& path) const {
  if (path.empty() || path[0] != '/') {
    return invalid_argument("'" + path + "': document paths must be absolute");
  }
  std::error_code ec;
  const fs::path canon = fs::weakly_canonical(path, ec);
  if (ec) return not_found(path + ": cannot resolve: " + ec.message());
  for (const std::string& root : roots_) {
    fs::path rel = canon.lexically_relative(root);
    if (rel.empty() || *rel.begin() == "..") continue;
    if (!fs::exists(canon, ec)) return not_found(path + ": no such file or folder");
    CheckedPath c{canon.string(), root, rel == "." ? std::string() : rel.string()};
    return c;
  }
  // Outside every root. Whether the target exists is not said: no probing outside.
  std::string what = "'" + path + "'";
  if (canon.string() != fs::path(path).lexically_normal().string()) {
    what += " resolves to '" + canon.string() + "', which";
  }
  return failed_precondition(what + " is outside the allowed document roots (" + setting_ + ": " +
                             join(roots_) + ")");
}

Result<UniqueFd> PathPolicy::open(const CheckedPath& p) const {
  int root = ::open(p.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return not_found(p.root + ": cannot open the root folder: " + std::strerror(errno));
  UniqueFd root_fd(root);
  auto fd = open_beneath(root_fd.get(), p.relative, O_RDONLY | O_NONBLOCK, p.path);
  if (!fd.ok() && fd.status().code() == StatusCode::kFailedPrecondition && restricted()) {
    return failed_precondition(fd.status().message() + " (" + setting_ + ")");
  }
  return fd;
}

Result<UniqueFd> PathPolicy::open_path(const std::string& path, CheckedPath* checked) const {
  REAM_ASSIGN_OR_RETURN(CheckedPath c, check(path));
  auto fd = open(c);
  if (checked != nullptr) *checked = std::move(c);
  return fd;
}

}  // namespace ream::ingest
