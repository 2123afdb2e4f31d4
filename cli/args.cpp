// Flag parsing for `ream` subcommands.
#include "args.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace ream::cli {

std::string Flags::parse(const Args& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (booleans_.count(name)) {
      if (inline_value) return "--" + name + " takes no value";
      values_.emplace(name, "1");
    } else if (valued_.count(name)) {
      if (!inline_value) {
        if (i + 1 >= args.size()) return "--" + name + " needs a value";
        value = args[++i];
      }
      values_.emplace(name, value);
    } else {
      return "unknown option --" + name;
    }
  }
  return "";
}

std::string Flags::get(const std::string& name, const std::string& fallback) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return fallback;
  return std::prev(range.second)->second;  // the last one wins
}

std::vector<std::string> Flags::all(const std::string& name) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

std::optional<double> parse_number(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (...) {
  }
  std::fprintf(stderr, "ream: --%s expects a number, got '%s'\n", flag.c_str(), text.c_str());
  return std::nullopt;
}

std::string read_file_or_empty(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ream::cli
