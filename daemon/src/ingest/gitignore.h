// .gitignore rules with git's semantics: later rules win, deeper files override
// shallower ones, "!" re-includes, a trailing "/" matches directories only, a
// pattern with a "/" is anchored to its .gitignore's folder, "*", "?", "[a-z]",
// and "**" for any number of folders ("**/x", "a/**/b", "a/**").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ream::ingest {

// Matches `path` against one glob (git's wildmatch with "**"; "*" and "?" do not
// match "/"), in time O(pattern length x path length) however many '*' it holds.
bool glob_match(std::string_view pattern, std::string_view path);

class IgnoreRules {
 public:
  // Adds the lines of a .gitignore that lives in folder `base` (relative to the
  // tree root, "" for the root). Call for parents before their sub-folders.
  void add_file(const std::string& base, std::string_view content);
  // Adds one pattern line, as if it were in `base`/.gitignore.
  void add_line(const std::string& base, std::string_view line);

  // True when root-relative `path` is ignored. Callers do not descend into
  // ignored folders, so (as in git) nothing inside one can be re-included.
  bool ignored(std::string_view path, bool is_dir) const;

 private:
  struct Rule {
    std::string base;     // folder of the .gitignore, "" for the root
    std::string pattern;  // without "!", leading "/" and trailing "/"
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  // matched against the base-relative path, not the name
  };
  std::vector<Rule> rules_;
};

}  // namespace ream::ingest
