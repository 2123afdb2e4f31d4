// The document path policy on a real filesystem made per test: what check() lets
// through (links to files and folders out of the roots, ".." components, links
// that stay inside), the open that refuses a link swapped in after the check (for
// openat2, for the O_NOFOLLOW walk and through PathPolicy::open), and source trees
// ingested through a restricted policy (links out are left out and recorded, links
// inside are followed, a link loop stops).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "ingest/ingest.h"
#include "ingest/path_policy.h"
#include "ingest_test_util.h"

namespace ream::ingest {
namespace {

namespace fs = std::filesystem;

class PathPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("ream_paths_" + std::to_string(::getpid()) + "_" + std::to_string(rng_.seed));
    fs::remove_all(base_);
    root_ = (base_ / "root").string();
    outside_ = (base_ / "outside").string();
    fs::create_directories(root_ + "/tree/sub");
    fs::create_directories(outside_ + "/dir");
    secret_ = "secret-" + std::to_string(rng_.uniform(1, 1LL << 60));
    inside_ = "inside-" + std::to_string(rng_.uniform(1, 1LL << 60));
    testing::write_file(outside_ + "/secret.txt", secret_ + "\n");
    testing::write_file(outside_ + "/dir/secret.txt", secret_ + " in a folder\n");
    testing::write_file(root_ + "/tree/a.md", "# A\n" + inside_ + "\n");
    testing::write_file(root_ + "/tree/sub/b.txt", "b " + inside_ + "\n");
    testing::write_file(root_ + "/elsewhere.txt", "kept " + inside_ + "\n");
    policy_ = PathPolicy::beneath({root_}, "documents.allowed_roots");
  }
  void TearDown() override { fs::remove_all(base_); }
  void link(const std::string& target, const std::string& at) { fs::create_symlink(target, at); }
  // Whether the open file `fd` holds `text`.
  static bool holds(const UniqueFd& fd, const std::string& text) {
    auto bytes = read_all(fd.get(), 1 << 20, "fd");
    return bytes.ok() && bytes->find(text) != std::string::npos;
  }
  static void expect_outside(const Result<CheckedPath>& r, const std::string& path) {
    ASSERT_FALSE(r.ok()) << path << " passed the check as " << r->path;
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().message();
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("documents.allowed_roots"), std::string::npos) << r.status().message();
  }

  testing::Rng rng_;
  fs::path base_;
  std::string root_, outside_, secret_, inside_;
  PathPolicy policy_ = PathPolicy::unrestricted();
};

TEST_F(PathPolicyTest, LinksAndDotDotOutOfTheRootsAreRefused) {
  link(outside_ + "/secret.txt", root_ + "/tree/p.txt");
  link(outside_ + "/dir", root_ + "/tree/out");
  expect_outside(policy_.check(root_ + "/tree/p.txt"), root_ + "/tree/p.txt");
  expect_outside(policy_.check(root_ + "/tree/out"), root_ + "/tree/out");
  expect_outside(policy_.check(root_ + "/tree/out/secret.txt"), root_ + "/tree/out/secret.txt");
  expect_outside(policy_.check(root_ + "/tree/../../outside/secret.txt"), "/tree/../../outside/secret.txt");
  expect_outside(policy_.check(outside_ + "/secret.txt"), outside_ + "/secret.txt");
  // A path outside is refused whether or not it exists: no probing outside the roots.
  expect_outside(policy_.check(outside_ + "/missing.txt"), outside_ + "/missing.txt");
  // The link's own text names where it leads.
  auto r = policy_.check(root_ + "/tree/p.txt");
  EXPECT_NE(r.status().message().find("resolves to '" + outside_ + "/secret.txt'"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(policy_.check("tree/a.md").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(policy_.check(root_ + "/tree/missing.md").status().code(), StatusCode::kNotFound);
}

TEST_F(PathPolicyTest, PathsThatStayInsideTheRootsPassResolved) {
  link(root_ + "/elsewhere.txt", root_ + "/tree/alias.txt");
  link("sub", root_ + "/tree/subalias");
  auto via_dots = policy_.check(root_ + "/tree/sub/../a.md");
  ASSERT_TRUE(via_dots.ok()) << via_dots.status().message();
  EXPECT_EQ(via_dots->path, fs::canonical(root_ + "/tree/a.md").string());
  EXPECT_EQ(via_dots->relative, "tree/a.md");
  auto alias = policy_.check(root_ + "/tree/alias.txt");
  ASSERT_TRUE(alias.ok()) << alias.status().message();
  EXPECT_EQ(alias->relative, "elsewhere.txt");
  auto fd = policy_.open(alias.value());
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  EXPECT_TRUE(holds(fd.value(), "kept " + inside_));
  auto in_dir = policy_.open_path(root_ + "/tree/subalias/b.txt", nullptr);
  ASSERT_TRUE(in_dir.ok()) << in_dir.status().message();
  EXPECT_TRUE(holds(in_dir.value(), "b " + inside_));
  auto root_itself = policy_.check(root_);
  ASSERT_TRUE(root_itself.ok());
  EXPECT_EQ(root_itself->relative, "");
}

// Between check() and the open, the checked file is replaced (atomically, by
// rename) with a link to a file outside the roots, and in a second round a folder
// on the way is replaced with a link to a folder outside. Each open must refuse.
TEST_F(PathPolicyTest, LinkSwappedInAfterTheCheckIsNotFollowed) {
  using Opener = Result<UniqueFd> (*)(int, const std::string&, int, const std::string&);
  const std::pair<const char*, Opener> openers[] = {{"openat2", &open_beneath_openat2},
                                                    {"walk", &open_beneath_walk},
                                                    {"open_beneath", &open_beneath}};
  for (const auto& [name, opener] : openers) {
    SCOPED_TRACE(name);
    testing::write_file(root_ + "/tree/f.txt", "regular " + inside_ + "\n");
    auto file = policy_.check(root_ + "/tree/f.txt");
    ASSERT_TRUE(file.ok()) << file.status().message();
    link(outside_ + "/secret.txt", root_ + "/tree/f.tmp");
    fs::rename(root_ + "/tree/f.tmp", root_ + "/tree/f.txt");  // the swap
    UniqueFd root_fd(::open(file->root.c_str(), O_RDONLY | O_DIRECTORY));
    auto fd = opener(root_fd.get(), file->relative, O_RDONLY | O_NONBLOCK, file->path);
    if (!fd.ok() && fd.status().code() == StatusCode::kUnimplemented) continue;  // no openat2 here
    ASSERT_FALSE(fd.ok()) << "the swapped-in link was followed; read: " << (holds(fd.value(), secret_) ? "the secret" : "?");
    EXPECT_EQ(fd.status().code(), StatusCode::kFailedPrecondition) << fd.status().message();
    EXPECT_NE(fd.status().message().find("symbolic link"), std::string::npos) << fd.status().message();

    fs::create_directories(root_ + "/tree/d");
    testing::write_file(root_ + "/tree/d/secret.txt", "harmless\n");
    auto in_dir = policy_.check(root_ + "/tree/d/secret.txt");
    ASSERT_TRUE(in_dir.ok());
    fs::rename(root_ + "/tree/d", root_ + "/tree/d.old");
    link(outside_ + "/dir", root_ + "/tree/d");
    auto fd2 = opener(root_fd.get(), in_dir->relative, O_RDONLY | O_NONBLOCK, in_dir->path);
    ASSERT_FALSE(fd2.ok()) << "a folder swapped for a link was followed";
    EXPECT_EQ(fd2.status().code(), StatusCode::kFailedPrecondition) << fd2.status().message();
    fs::remove(root_ + "/tree/f.txt");
    fs::remove(root_ + "/tree/d");
    fs::remove_all(root_ + "/tree/d.old");
  }
  // The same through the policy, whose message also names the setting.
  testing::write_file(root_ + "/tree/g.txt", "regular\n");
  auto g = policy_.check(root_ + "/tree/g.txt");
  ASSERT_TRUE(g.ok());
  fs::remove(root_ + "/tree/g.txt");
  link(outside_ + "/secret.txt", root_ + "/tree/g.txt");
  auto fd = policy_.open(g.value());
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(fd.status().message().find("documents.allowed_roots"), std::string::npos) << fd.status().message();
}

TEST_F(PathPolicyTest, TreeLeavesOutLinksOutOfTheRootsAndFollowsLinksInside) {
  link(outside_ + "/secret.txt", root_ + "/tree/p.txt");
  link(outside_ + "/dir", root_ + "/tree/outdir");
  link(root_ + "/elsewhere.txt", root_ + "/tree/alias.txt");
  link("..", root_ + "/tree/sub/loop");
  link(root_ + "/tree/nowhere.txt", root_ + "/tree/broken.txt");
  IngestOptions opt;
  opt.paths = policy_;
  auto r = ingest_path(root_ + "/tree", opt);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->text.find(secret_), std::string::npos) << "a link out of the roots was read:\n" << r->text;
  EXPECT_NE(r->text.find("==> alias.txt (Text) <==\nkept " + inside_), std::string::npos) << r->text;
  EXPECT_NE(r->text.find("b " + inside_), std::string::npos);
  auto skipped = [&](const std::string& path) -> const SkippedFile* {
    for (const SkippedFile& f : r->skipped)
      if (f.path == path) return &f;
    return nullptr;
  };
  for (const char* p : {"p.txt", "outdir"}) {
    const SkippedFile* f = skipped(p);
    ASSERT_NE(f, nullptr) << p << " not recorded as skipped";
    EXPECT_TRUE(f->outside_roots) << p;
    EXPECT_EQ(f->reason, "symbolic link out of documents.allowed_roots");
  }
  ASSERT_NE(skipped("sub/loop/"), nullptr);
  EXPECT_FALSE(skipped("sub/loop/")->outside_roots);
  ASSERT_NE(skipped("broken.txt"), nullptr);
  // Named directly, the same link is an error naming the path and the setting.
  auto direct = ingest_path(root_ + "/tree/p.txt", opt);
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(direct.status().message().find("documents.allowed_roots"), std::string::npos);
}

TEST_F(PathPolicyTest, UnrestrictedPolicyFollowsLinksAnywhere) {
  // The `ream` command reads as its user: links are followed wherever they lead.
  link(outside_ + "/secret.txt", root_ + "/tree/p.txt");
  auto r = ingest_path(root_ + "/tree");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->text.find("==> p.txt (Text) <==\n" + secret_), std::string::npos) << r->text;
  EXPECT_TRUE(PathPolicy::unrestricted().check(outside_ + "/secret.txt").ok());
}

TEST_F(PathPolicyTest, MissingRootIsListed) {
  auto p = PathPolicy::beneath({root_, outside_ + "/nope"}, "documents.allowed_roots");
  ASSERT_EQ(p.missing_roots().size(), 1u);
  EXPECT_EQ(p.missing_roots()[0], outside_ + "/nope");
  EXPECT_EQ(p.roots().size(), 1u);
}

}  // namespace
}  // namespace ream::ingest
