// Plain-text documents.
#include "flow/documents.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "flow/sha256.h"

namespace ream::flow {

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

Result<store::DocumentRecord> read_text_document(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return not_found(path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string raw = ss.str();
  if (raw.empty()) return invalid_argument(path + ": the document is empty");
  if (raw.find('\0') != std::string::npos) return invalid_argument(path + ": binary file (NUL bytes), not text");
  if (!valid_utf8(raw)) return invalid_argument(path + ": not valid UTF-8 text");
  store::DocumentRecord d;
  d.size_bytes = static_cast<int64_t>(raw.size());
  d.text.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    d.text += raw[i];
  }
  if (d.text.size() >= 3 && d.text.compare(0, 3, "\xEF\xBB\xBF") == 0) d.text.erase(0, 3);  // BOM
  d.source_path = std::filesystem::absolute(path, ec).string();
  d.media_type = path.size() > 3 && path.substr(path.size() - 3) == ".md" ? "text/markdown" : "text/plain";
  d.content_hash = sha256_hex(d.text);
  return d;
}

}  // namespace ream::flow
