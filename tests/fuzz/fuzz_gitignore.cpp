// .gitignore rules: the files of a source tree's .gitignore (ingest/gitignore.cpp), as a
// source-tree ingestion reads them, and the paths they are matched against.
//
// Input: .gitignore text, a line "\0", then paths, one per line (a trailing '/' marks a
// folder). The rules are added at the root and again for a sub-folder, then every path is
// matched with its folder flag, and each rule line is also used as a glob on each path.
// Matching must terminate quickly however many '*' and "**" a pattern holds.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "ingest/gitignore.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ream;
  auto [rules_text, paths_text] = fuzz::split_once(fuzz::bytes(data, size), std::string_view("\n\0\n", 3));
  ingest::IgnoreRules rules;
  rules.add_file("", rules_text);
  rules.add_file("sub/dir", rules_text);
  std::vector<std::string_view> lines, paths;
  for (auto rest = rules_text; !rest.empty();) {
    auto [line, after] = fuzz::split_once(rest, "\n");
    lines.push_back(line);
    rest = after;
  }
  for (auto rest = paths_text; !rest.empty();) {
    auto [line, after] = fuzz::split_once(rest, "\n");
    paths.push_back(line);
    rest = after;
  }
  if (paths.empty()) paths = {"a.log", "build/out.o", "sub/dir/x/y.c", "docs/", "node_modules/", ".env"};
  // At most 64 paths and 64 globs each: the cost per input stays linear in its size.
  if (paths.size() > 64) paths.resize(64);
  if (lines.size() > 64) lines.resize(64);
  for (std::string_view p : paths) {
    const bool dir = !p.empty() && p.back() == '/';
    if (dir) p.remove_suffix(1);
    (void)rules.ignored(p, dir);
    for (std::string_view l : lines) (void)ingest::glob_match(l, p);
  }
  return 0;
}
