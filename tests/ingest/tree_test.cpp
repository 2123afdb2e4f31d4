// Source trees: .gitignore semantics, default skips (vendored folders, lock and
// minified files, binaries), the "==> path (language) <==" layout and file:line
// mapping, on a tree made here and on this repository's engine/ folder.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string_view>
#include <vector>

#include "ingest/gitignore.h"
#include "ingest/ingest.h"
#include "ingest_test_util.h"
#include "ream/common/sha256.h"

namespace ream::ingest {
namespace {

namespace fs = std::filesystem;

TEST(Glob, GitWildmatch) {
  EXPECT_TRUE(glob_match("*.log", "debug.log"));
  EXPECT_FALSE(glob_match("*.log", "a/debug.log"));
  EXPECT_TRUE(glob_match("**/foo", "foo"));
  EXPECT_TRUE(glob_match("**/foo", "a/b/foo"));
  EXPECT_TRUE(glob_match("a/**/b", "a/b"));
  EXPECT_TRUE(glob_match("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(glob_match("a/**/b", "a/x/y/c"));
  EXPECT_TRUE(glob_match("a/**", "a/x/y"));
  EXPECT_FALSE(glob_match("a/**", "a"));
  EXPECT_TRUE(glob_match("doc/*.txt", "doc/n.txt"));
  EXPECT_FALSE(glob_match("doc/*.txt", "doc/sub/n.txt"));
  EXPECT_TRUE(glob_match("file?.[ch]", "file1.c"));
  EXPECT_FALSE(glob_match("file?.[!ch]", "file1.c"));
  EXPECT_TRUE(glob_match("[a-c]x", "bx"));
  EXPECT_TRUE(glob_match("\\#lit", "#lit"));
  EXPECT_TRUE(glob_match("foo**bar", "fooxbar"));  // not a "**" segment: like '*'
  EXPECT_FALSE(glob_match("foo**bar", "foo/bar"));
}

std::string repeat(const std::string& piece, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += piece;
  return out;
}

// Patterns whose '*' or "**/" can each stop at many places. A backtracking matcher tries
// every combination: C(256, 32) for the first, C(128, 32) for the second, and it took
// fuzz_gitignore past its 15 s timeout with a few dozen of them; these return at once.
TEST(Glob, ManyStarsInLinearTime) {
  const std::string stars = repeat("*a", 32) + "*b";
  EXPECT_FALSE(glob_match(stars, repeat("a", 256)));
  EXPECT_TRUE(glob_match(stars, repeat("a", 256) + "b"));
  EXPECT_FALSE(glob_match(stars, repeat("a", 128) + "/" + repeat("a", 127) + "b"));  // '*' stops at '/'
  const std::string folders = repeat("**/a/", 32) + "b";
  EXPECT_FALSE(glob_match(folders, repeat("a/", 128) + "c"));
  EXPECT_TRUE(glob_match(folders, repeat("a/", 128) + "b"));
  EXPECT_FALSE(glob_match(folders, repeat("a/", 31) + "b"));
  EXPECT_TRUE(glob_match(folders, repeat("a/", 32) + "b"));
  const std::string mixed = repeat("**/*a*a?/", 16) + "*.log";
  EXPECT_FALSE(glob_match(mixed, repeat("xaaaax/", 160) + "a.txt"));
  EXPECT_TRUE(glob_match(mixed, repeat("xaaaax/", 160) + "a.log"));
  IgnoreRules r;
  r.add_line("", repeat("**/", 40) + "*x*x*x*x*x*x*x*x*x*y");
  EXPECT_FALSE(r.ignored(repeat("d/", 200) + repeat("x", 200), false));
  EXPECT_TRUE(r.ignored(repeat("d/", 200) + repeat("x", 200) + "y", false));
}

// The end of the pattern consumes nothing, and nothing past it is read (under ASan a
// read past this exact-size buffer is an error).
TEST(Glob, ReadsNothingPastThePattern) {
  const std::vector<char> pattern = {'a', '*'};
  const std::string_view glob(pattern.data(), pattern.size());
  EXPECT_TRUE(glob_match(glob, "ab"));
  EXPECT_FALSE(glob_match(glob.substr(0, 1), "ab"));
  EXPECT_FALSE(glob_match(glob, "ab/c"));
}

TEST(Glob, IgnoreRulesPrecedence) {
  IgnoreRules r;
  r.add_file("", "# comment\n*.log\n!keep.log\nbuild/\n/only_root.txt\n\\!bang\ntrailing   \n");
  r.add_file("sub", "!*.log\n*.tmp\n");
  EXPECT_TRUE(r.ignored("x.log", false));
  EXPECT_FALSE(r.ignored("keep.log", false));
  EXPECT_FALSE(r.ignored("sub/y.log", false));  // deeper file re-includes
  EXPECT_TRUE(r.ignored("sub/z.tmp", false));
  EXPECT_FALSE(r.ignored("z.tmp", false));      // sub's rules stay in sub
  EXPECT_TRUE(r.ignored("a/build", true));
  EXPECT_FALSE(r.ignored("a/build", false));    // directory-only pattern
  EXPECT_TRUE(r.ignored("only_root.txt", false));
  EXPECT_FALSE(r.ignored("sub/only_root.txt", false));
  EXPECT_TRUE(r.ignored("!bang", false));
  EXPECT_TRUE(r.ignored("trailing", false));
}

class TempTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ream_tree_" + std::to_string(::getpid()));
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void put(const std::string& rel, std::string_view bytes) {
    fs::create_directories((root_ / rel).parent_path());
    testing::write_file((root_ / rel).string(), bytes);
  }
  fs::path root_;
};

TEST_F(TempTree, KeepsAndSkipsLikeGit) {
  put(".gitignore", "*.log\n!keep.log\n/secret.txt\ndocs/**/draft*.md\ngen/\n");
  put("app.py", "import os\n\ndef main():\n    return os.getcwd()\n");
  put("debug.log", "noise\n");
  put("keep.log", "kept log\n");
  put("secret.txt", "password\n");
  put("sub/secret.txt", "not a secret: the rule is anchored to the root\n");
  put("sub/.gitignore", "*.tmp\n!important.tmp\n");
  put("sub/x.tmp", "tmp\n");
  put("sub/important.tmp", "important\n");
  put("x.tmp", "root tmp is not covered by sub/.gitignore\n");
  put("docs/draft0.md", "draft\n");
  put("docs/a/b/draft1.md", "draft\n");
  put("docs/final.md", "# Final\n");
  put("gen/out.c", "int x;\n");
  put("node_modules/lib/index.js", "module.exports = 1;\n");
  put("build-release/main.o.txt", "object\n");
  put("src/vendor/dep.c", "int dep;\n");
  put("package-lock.json", "{}\n");
  put("web/app.min.js", "var a=1;\n");
  put("image.bin", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  put("latin.txt", std::string(300, '\xE9'));
  put("empty.txt", "");
  put("crlf.c", "int a;\r\nint b;\r\n");
  IngestOptions opt;
  opt.count_tokens = testing::bytes_over_4;
  auto r = ingest_path(root_.string(), opt);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Document& d = *r;
  EXPECT_EQ(d.media_type, "inode/directory");
  std::vector<std::string> kept;
  for (const Part& p : d.parts) kept.push_back(p.name);
  const std::vector<std::string> expect_kept = {".gitignore", "app.py", "crlf.c", "docs/final.md", "keep.log",
                                                "sub/.gitignore", "sub/important.tmp", "sub/secret.txt", "x.tmp"};
  EXPECT_EQ(kept, expect_kept);
  std::map<std::string, std::string> skipped;
  for (const SkippedFile& s : d.skipped) skipped[s.path] = s.reason;
  const std::map<std::string, std::string> expect_skipped = {
      {"build-release/", "vendored or generated folder"}, {"debug.log", "ignored by .gitignore"},
      {"docs/a/b/draft1.md", "ignored by .gitignore"},     {"docs/draft0.md", "ignored by .gitignore"},
      {"empty.txt", "empty"},                              {"gen/", "ignored by .gitignore"},
      {"image.bin", "binary (NUL bytes)"},                 {"latin.txt", "binary (not UTF-8 text)"},
      {"node_modules/", "vendored or generated folder"},   {"package-lock.json", "lock file"},
      {"secret.txt", "ignored by .gitignore"},             {"src/vendor/", "vendored or generated folder"},
      {"sub/x.tmp", "ignored by .gitignore"},              {"web/app.min.js", "minified or generated file"}};
  EXPECT_EQ(skipped, expect_skipped);
  EXPECT_NE(d.text.find("==> app.py (Python) <==\nimport os\n"), std::string::npos);
  EXPECT_NE(d.text.find("==> crlf.c (C) <==\nint a;\nint b;\n"), std::string::npos);
  EXPECT_NE(d.text.find("==> keep.log (text) <=="), std::string::npos);
  // file:line mapping.
  const Location loc = d.locate(d.text.find("return os.getcwd()"));
  EXPECT_EQ(loc.source, "app.py");
  EXPECT_EQ(loc.line, 4);
  EXPECT_EQ(loc.column, 5);
  EXPECT_EQ(loc.to_string(), "app.py:4:5");
  const Location b = d.locate(d.text.find("int b;"));
  EXPECT_EQ(b.source, "crlf.c");
  EXPECT_EQ(b.line, 2);
  // The header line maps to the file's first line.
  const Location h = d.locate(d.text.find("==> sub/secret.txt"));
  EXPECT_EQ(h.source, "sub/secret.txt");
  EXPECT_EQ(h.line, 1);
  EXPECT_EQ(d.id, sha256_hex(d.text));
  EXPECT_EQ(d.tokens, testing::bytes_over_4(d.text));

  // Switches: everything readable comes in without .gitignore and default skips.
  IngestOptions all;
  all.tree.honour_gitignore = false;
  all.tree.skip_vendored = false;
  all.tree.exclude = {"*.md"};
  auto everything = ingest_path(root_.string(), all);
  ASSERT_TRUE(everything.ok());
  std::vector<std::string> names;
  for (const Part& p : everything->parts) names.push_back(p.name);
  for (std::string_view n : {"debug.log", "gen/out.c", "node_modules/lib/index.js", "package-lock.json"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(std::find(names.begin(), names.end(), "docs/final.md"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "image.bin"), names.end());
}

TEST_F(TempTree, EmptyTreeIsAnError) {
  put("blob.bin", std::string("\0\0\0", 3));
  auto r = ingest_path(root_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(root_.string()), std::string::npos);
  EXPECT_NE(r.status().message().find("no text files"), std::string::npos);
}

TEST(RepositoryTree, EngineFolderMapsFileAndLine) {
  const fs::path engine = fs::path(REAM_TEST_DATA_DIR).parent_path().parent_path() / "engine";
  auto r = ingest_path(engine.string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Document& d = *r;
  size_t cpp = 0;
  for (const Part& p : d.parts) {
    EXPECT_EQ(p.name.find("build"), std::string::npos) << p.name;
    if (p.language == "C++") ++cpp;
  }
  EXPECT_GT(cpp, 10u);
  const auto header = std::find_if(d.parts.begin(), d.parts.end(),
                                   [](const Part& p) { return p.name == "include/ream/engine/sampling.h"; });
  ASSERT_NE(header, d.parts.end());
  EXPECT_EQ(header->language, "C/C++ header");
  const std::string heading = "==> include/ream/engine/sampling.h (C/C++ header) <==\n";
  EXPECT_EQ(d.text.compare(static_cast<size_t>(header->text_begin), heading.size(), heading), 0);
  // Random lines of random files: the text at line k of a part is line k of the file.
  testing::Rng rng;
  for (int k = 0; k < 200; ++k) {
    const Part& p = d.parts[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(d.parts.size()) - 1))];
    SCOPED_TRACE(p.name + " seed " + std::to_string(rng.seed));
    const std::string file = testing::read_file((engine / p.name).string());
    std::vector<std::string> lines;
    for (size_t i = 0; i <= file.size();) {
      size_t e = file.find('\n', i);
      if (e == std::string::npos) e = file.size();
      lines.push_back(file.substr(i, e - i));
      i = e + 1;
    }
    if (lines.size() < 2) continue;
    const auto want = static_cast<size_t>(rng.uniform(1, static_cast<int64_t>(lines.size()) - 1));
    size_t at = d.text.find('\n', static_cast<size_t>(p.text_begin)) + 1;  // after the header
    for (size_t line = 1; line < want; ++line) at = d.text.find('\n', at) + 1;
    const Location loc = d.locate(at);
    EXPECT_EQ(loc.source, p.name);
    EXPECT_EQ(loc.line, static_cast<int64_t>(want));
    EXPECT_EQ(d.text.substr(at, lines[want - 1].size()), lines[want - 1]);
  }
}

}  // namespace
}  // namespace ream::ingest
