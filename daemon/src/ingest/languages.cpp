// Language of a source file from its extension (or well-known file name).
#include <cctype>
#include <string>
#include <string_view>

#include "ingest/ingest.h"

namespace ream::ingest {
namespace {

struct Lang {
  std::string_view key;
  std::string_view name;
};

constexpr Lang kByExtension[] = {
    {"c", "C"}, {"h", "C/C++ header"}, {"cc", "C++"}, {"cpp", "C++"}, {"cxx", "C++"}, {"hpp", "C++"},
    {"hh", "C++"}, {"hxx", "C++"}, {"ipp", "C++"}, {"cu", "CUDA"}, {"cuh", "CUDA"}, {"py", "Python"},
    {"pyi", "Python"}, {"js", "JavaScript"}, {"mjs", "JavaScript"}, {"cjs", "JavaScript"},
    {"jsx", "JavaScript"}, {"ts", "TypeScript"}, {"tsx", "TypeScript"}, {"java", "Java"},
    {"kt", "Kotlin"}, {"kts", "Kotlin"}, {"scala", "Scala"}, {"go", "Go"}, {"rs", "Rust"},
    {"rb", "Ruby"}, {"php", "PHP"}, {"cs", "C#"}, {"fs", "F#"}, {"swift", "Swift"}, {"m", "Objective-C"},
    {"mm", "Objective-C++"}, {"sh", "Shell"}, {"bash", "Shell"}, {"zsh", "Shell"}, {"ps1", "PowerShell"},
    {"sql", "SQL"}, {"html", "HTML"}, {"htm", "HTML"}, {"css", "CSS"}, {"scss", "SCSS"},
    {"less", "Less"}, {"vue", "Vue"}, {"svelte", "Svelte"}, {"json", "JSON"}, {"yaml", "YAML"},
    {"yml", "YAML"}, {"toml", "TOML"}, {"xml", "XML"}, {"ini", "INI"}, {"cfg", "INI"},
    {"md", "Markdown"}, {"markdown", "Markdown"}, {"rst", "reStructuredText"}, {"txt", "Text"},
    {"cmake", "CMake"}, {"lua", "Lua"}, {"pl", "Perl"}, {"pm", "Perl"}, {"r", "R"}, {"jl", "Julia"},
    {"dart", "Dart"}, {"ex", "Elixir"}, {"exs", "Elixir"}, {"erl", "Erlang"}, {"hs", "Haskell"},
    {"ml", "OCaml"}, {"clj", "Clojure"}, {"zig", "Zig"}, {"nim", "Nim"}, {"proto", "Protocol Buffers"},
    {"graphql", "GraphQL"}, {"tf", "Terraform"}, {"gradle", "Gradle"}, {"groovy", "Groovy"},
    {"in", "Text"}, {"service", "INI"}, {"tex", "TeX"}, {"sol", "Solidity"}, {"v", "Verilog"},
    {"vhd", "VHDL"}, {"asm", "Assembly"}, {"s", "Assembly"}};

constexpr Lang kByName[] = {
    {"CMakeLists.txt", "CMake"}, {"Makefile", "Makefile"}, {"makefile", "Makefile"},
    {"GNUmakefile", "Makefile"}, {"Dockerfile", "Dockerfile"}, {"Containerfile", "Dockerfile"},
    {"Jenkinsfile", "Groovy"}, {"Rakefile", "Ruby"}, {"Gemfile", "Ruby"}, {".gitignore", "gitignore"},
    {"BUILD", "Bazel"}, {"WORKSPACE", "Bazel"}, {"meson.build", "Meson"}};

}  // namespace

std::string language_for(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (const Lang& l : kByName)
    if (name == l.key) return std::string(l.name);
  if (name.substr(0, 10) == "Dockerfile") return "Dockerfile";
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  std::string ext(name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const Lang& l : kByExtension)
    if (ext == l.key) return std::string(l.name);
  return "";
}

}  // namespace ream::ingest
