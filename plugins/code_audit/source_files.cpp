// Splitting a source-tree document into its files and mapping offsets to lines.
#include "source_files.h"

#include <algorithm>
#include <cctype>

namespace audit {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string extension(std::string_view path) {
  size_t slash = path.find_last_of('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  return dot == std::string_view::npos || dot == 0 ? "" : lower(name.substr(dot + 1));
}

// Parses "==> path (language) <==" (the line without its '\n').
bool parse_header(std::string_view line, std::string* path, std::string* language) {
  constexpr std::string_view kOpen = "==> ", kClose = " <==";
  if (line.size() < kOpen.size() + kClose.size() + 1 || line.substr(0, kOpen.size()) != kOpen ||
      line.substr(line.size() - kClose.size()) != kClose) {
    return false;
  }
  std::string_view inner = line.substr(kOpen.size(), line.size() - kOpen.size() - kClose.size());
  size_t paren = inner.rfind(" (");
  if (paren != std::string_view::npos && inner.back() == ')') {
    *path = std::string(inner.substr(0, paren));
    *language = std::string(inner.substr(paren + 2, inner.size() - paren - 3));
  } else {
    *path = std::string(inner);
    *language = language_of(inner);
  }
  return !path->empty();
}

}  // namespace

std::string language_of(std::string_view path) {
  static const std::pair<const char*, const char*> kExt[] = {
      {"c", "C"}, {"h", "C/C++ header"}, {"cc", "C++"}, {"cpp", "C++"}, {"cxx", "C++"}, {"hpp", "C++"},
      {"cu", "CUDA"}, {"cuh", "CUDA"}, {"py", "Python"}, {"js", "JavaScript"}, {"mjs", "JavaScript"},
      {"ts", "TypeScript"}, {"tsx", "TypeScript"}, {"java", "Java"}, {"kt", "Kotlin"}, {"go", "Go"},
      {"rs", "Rust"}, {"rb", "Ruby"}, {"php", "PHP"}, {"cs", "C#"}, {"swift", "Swift"}, {"sh", "Shell"},
      {"sql", "SQL"}, {"yaml", "YAML"}, {"yml", "YAML"}, {"json", "JSON"}, {"cmake", "CMake"}};
  std::string ext = extension(path);
  for (const auto& [e, lang] : kExt) {
    if (ext == e) return lang;
  }
  return "";
}

std::vector<SourceFile> source_files(std::string_view text, std::string_view fallback_path) {
  std::vector<SourceFile> files;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t line_end = nl == std::string_view::npos ? text.size() : nl;
    std::string path, language;
    if (parse_header(text.substr(pos, line_end - pos), &path, &language)) {
      if (!files.empty()) files.back().body_end = pos;
      else if (pos > 0) files.push_back({std::string(fallback_path), language_of(fallback_path), 0, 0, pos, 0});
      size_t body = std::min(text.size(), line_end + 1);
      files.push_back({std::move(path), std::move(language), pos, body, text.size(), 1});
    }
    pos = line_end + 1;
  }
  if (files.empty()) files.push_back({std::string(fallback_path), language_of(fallback_path), 0, 0, text.size(), 1});
  // Ingestion puts one blank line between files: it belongs to neither.
  for (size_t i = 0; i + 1 < files.size(); ++i) {
    SourceFile& f = files[i];
    if (f.body_end > f.body_begin + 1 && text[f.body_end - 1] == '\n' && text[f.body_end - 2] == '\n') --f.body_end;
  }
  return files;
}

const SourceFile* file_at(const std::vector<SourceFile>& files, size_t offset) {
  for (const SourceFile& f : files) {
    if (offset >= f.header_begin && offset < std::max(f.body_end, f.body_begin + 1)) return &f;
  }
  return nullptr;
}

int64_t line_of(std::string_view text, const SourceFile& f, size_t offset) {
  if (f.first_line <= 0) return 0;
  if (offset < f.body_begin) return f.first_line;
  offset = std::min(offset, text.size());
  return f.first_line + std::count(text.begin() + static_cast<std::ptrdiff_t>(f.body_begin),
                                   text.begin() + static_cast<std::ptrdiff_t>(offset), '\n');
}

bool language_matches(const SourceFile& f, const std::vector<std::string>& wanted) {
  if (wanted.empty()) return true;
  std::string lang = lower(f.language), ext = extension(f.path);
  for (const std::string& w0 : wanted) {
    std::string w = lower(w0);
    if (w == "all" || w == lang || w == ext) return true;
    bool c_family = w == "c" || w == "c++" || w == "cpp" || w == "cxx";
    if (c_family && (lang == "c/c++ header" || lang == "c" || lang == "c++")) return w == "c" ? lang != "c++" : lang != "c";
    if ((w == "py" && lang == "python") || (w == "js" && lang == "javascript") || (w == "ts" && lang == "typescript") ||
        (w == "golang" && lang == "go") || (w == "shell" && lang == "shell") || (w == "cuda" && lang == "cuda")) {
      return true;
    }
  }
  return false;
}

}  // namespace audit
