// A small flag parser shared by the subcommands: `--name value`, `--name=value`,
// boolean `--flag`, repeated flags. Unknown flags are errors that name the flag.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "commands.h"

namespace ream::cli {

class Flags {
 public:
  // `valued` lists flags that take a value, `booleans` those that don't.
  Flags(std::set<std::string> valued, std::set<std::string> booleans)
      : valued_(std::move(valued)), booleans_(std::move(booleans)) {}

  // Returns "" on success, else a message.
  std::string parse(const Args& args);
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> all(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::set<std::string> valued_, booleans_;
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// Parses a number for `flag`, or returns nullopt after printing an error.
std::optional<double> parse_number(const std::string& flag, const std::string& text);
std::string read_file_or_empty(const std::string& path, bool* ok);

}  // namespace ream::cli
