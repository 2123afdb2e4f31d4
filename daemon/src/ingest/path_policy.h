// The document path policy: which files a document path may name, and how they
// are opened so that a link swapped in after the check cannot lead anywhere else.
//
// Every file ream ingests from disk goes through one PathPolicy: a file named by a
// job input, a folder (source tree), each file and folder inside that tree, and
// each symbolic link met on the way. The policy
//   1. checks a path: it must be absolute; symbolic links and ".." are resolved
//      (weakly: a missing tail is normalised lexically) and the result must lie
//      under one of the allowed roots, else kFailedPrecondition naming the path,
//      what it resolved to and the setting the roots come from;
//   2. opens the checked path again from its root's directory descriptor with no
//      symbolic link and no ".." allowed on the way (openat2 with RESOLVE_BENEATH |
//      RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS where the kernel has it, else
//      openat with O_NOFOLLOW one component at a time). A component that became a
//      link after step 1 makes the open fail (kFailedPrecondition); callers read
//      from the descriptor, never from the path again.
//
// An unrestricted policy (the `ream` command, run by a user on their own files) has
// the single root "/": links are resolved and followed wherever they lead, and the
// open is still done from the resolved path, link-free.
//
// Thread-safety: immutable after construction; use from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ream/engine/status.h"

namespace ream::ingest {

// An owned file descriptor, closed on destruction. Move only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A path that passed PathPolicy::check.
struct CheckedPath {
  std::string path;      // absolute, links and ".." resolved
  std::string root;      // the allowed root it lies under (canonical)
  std::string relative;  // `path` below `root`; "" for the root itself
};

class PathPolicy {
 public:
  // Any path the process can read.
  static PathPolicy unrestricted();
  // Paths must resolve under one of `roots`; `setting` names the configuration the
  // roots come from in every error ("documents.allowed_roots"). Roots are resolved
  // here; a root that does not exist is left out and listed by missing_roots().
  static PathPolicy beneath(const std::vector<std::string>& roots, std::string setting);

  bool restricted() const { return !setting_.empty(); }
  const std::string& setting() const { return setting_; }
  const std::vector<std::string>& roots() const { return roots_; }
  const std::vector<std::string>& missing_roots() const { return missing_; }

  // Step 1 above. kInvalidArgument: `path` is not absolute; kFailedPrecondition: it
  // resolves outside the roots; kNotFound: it is inside but does not exist.
  Result<CheckedPath> check(const std::string& path) const;

  // Step 2 above: opens a checked file or folder for reading (non-blocking, close-on-
  // exec). kFailedPrecondition when a symbolic link is now on the way; kNotFound
  // when the path is gone or unreadable. The caller fstat()s the descriptor.
  Result<UniqueFd> open(const CheckedPath& path) const;

  // check() then open(); *checked receives the checked path.
  Result<UniqueFd> open_path(const std::string& path, CheckedPath* checked) const;

  // The reason a tree records for a link it leaves out: "symbolic link out of <setting>".
  std::string outside_reason() const;

 private:
  std::vector<std::string> roots_;
  std::vector<std::string> missing_;
  std::string setting_;
};

// Reads what is left of the open file `fd`. kResourceExhausted ("<shown>: too large
// (N bytes, limit L)") when it holds more than `limit` bytes; kDataLoss on a read error.
Result<std::string> read_all(int fd, int64_t limit, const std::string& shown);

// Opens `relative` ("a/b.txt", no leading '/', no "..") below the open directory
// `root_fd` with `flags` (O_RDONLY, O_NONBLOCK, ...), following no symbolic link.
// Uses open_beneath_openat2 and falls back to open_beneath_walk when the kernel (or
// a seccomp filter) refuses openat2. Errors as PathPolicy::open; `shown` names the
// path in messages.
Result<UniqueFd> open_beneath(int root_fd, const std::string& relative, int flags,
                              const std::string& shown);
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
// kUnimplemented when the system call is unavailable (ENOSYS, or EPERM from seccomp).
Result<UniqueFd> open_beneath_openat2(int root_fd, const std::string& relative, int flags,
                                      const std::string& shown);
// openat(O_NOFOLLOW) for each component, folders with O_DIRECTORY.
Result<UniqueFd> open_beneath_walk(int root_fd, const std::string& relative, int flags,
                                   const std::string& shown);

}  // namespace ream::ingest
