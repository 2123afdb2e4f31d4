// Document views for the web app: listing, reading and removing uploads; a job's documents.
#include "api/document_views.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "ingest/ingest.h"
#include "ingest/layout.h"
#include "ream/common/sha256.h"

namespace ream::api {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool is_document_id(const std::string& id) {
  return id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Code points in text[from, to): the bytes that do not continue a UTF-8 sequence.
int64_t code_points(const std::string& text, size_t from, size_t to) {
  int64_t n = 0;
  for (size_t i = from; i < to && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++n;
  }
  return n;
}

int64_t mtime_ms(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

// All of an open file.
Result<std::string> read_all(int fd, const std::string& path) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return out;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return internal_error("cannot read " + path + ": " + std::strerror(errno));
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

json parts_json(const std::string& text, const std::vector<ingest::Part>& parts) {
  json out = json::array();
  size_t at = 0;
  int64_t chars = 0;
  for (const ingest::Part& p : parts) {  // in text order: count each stretch once
    const auto begin = static_cast<size_t>(std::max<int64_t>(p.text_begin, 0));
    const auto end = static_cast<size_t>(std::max<int64_t>(p.text_end, p.text_begin));
    if (begin < at) {
      at = 0;
      chars = 0;
    }
    chars += code_points(text, at, begin);
    const int64_t start = chars;
    chars += code_points(text, begin, end);
    at = std::min(end, text.size());
    json j = {{"name", p.name}, {"start", start}, {"end", chars}};
    if (!p.language.empty()) j["language"] = p.language;
    out.push_back(j);
  }
  return out;
}

std::string DocumentViews::path_of(const std::string& id) const {
  if (!is_document_id(id)) return "";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(app_.documents_dir(), ec)) {
    const std::string file = entry.path().filename().string();
    // <sha256><ext>; a temporary file being written is <sha256><ext>.tmp<pid>-<n>.
    if (file.rfind(id, 0) == 0 && file.find(".tmp") == std::string::npos && entry.is_regular_file()) {
      return entry.path().string();
    }
  }
  return "";
}

Result<ingest::Document> DocumentViews::read_upload(const std::string& path, bool count_tokens) {
  ingest::IngestOptions opt;
  opt.paths = app_.document_paths();
  flow::ModelClient* model = count_tokens ? app_.model() : nullptr;
  if (model != nullptr) {
    opt.count_tokens = [model](std::string_view t) { return model->count_tokens(t); };
  }
  return ingest::ingest_path(path, opt);
}

Result<DocumentViews::Info> DocumentViews::info(const std::string& id, const std::string& path) {
  {
    std::lock_guard lock(mu_);
    auto it = infos_.find(id);
    if (it != infos_.end()) return it->second;
  }
  REAM_ASSIGN_OR_RETURN(ingest::Document doc, read_upload(path, true));
  Info info{doc.media_type, doc.media_type == "application/pdf" ? static_cast<int64_t>(doc.parts.size()) : 0,
            doc.tokens};
  // Counted without a model, the count is unknown: ask again once the model is loaded.
  if (info.tokens >= 0) {
    std::lock_guard lock(mu_);
    infos_[id] = info;
  }
  return info;
}

Result<json> DocumentViews::summary(const std::string& id, const std::string& path) {
  REAM_ASSIGN_OR_RETURN(std::string name, app_.store().document_name(id));
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  json j = {{"id", id}, {"name", name.empty() ? fs::path(path).filename().string() : name},
            {"size_bytes", ec ? 0 : static_cast<int64_t>(size)}, {"uploaded_at", mtime_ms(path)},
            {"use_as", {{"document_id", id}}}};
  auto in = info(id, path);
  if (in.ok()) {
    j["media_type"] = in->media_type;
    j["pages"] = in->pages;
    j["tokens"] = in->tokens < 0 ? json() : json(in->tokens);
  } else {
    j["media_type"] = nullptr;
    j["error"] = in.status().message();
  }
  return j;
}

Result<json> DocumentViews::list() {
  std::vector<std::pair<int64_t, std::string>> files;  // (mtime, path)
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(app_.documents_dir(), ec)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || file.find(".tmp") != std::string::npos) continue;
    if (!is_document_id(file.substr(0, 64))) continue;
    files.emplace_back(mtime_ms(entry.path().string()), entry.path().string());
  }
  if (ec) return internal_error("cannot list " + app_.documents_dir() + ": " + ec.message());
  std::sort(files.begin(), files.end(), std::greater<>());
  json out = json::array();
  for (const auto& [_, path] : files) {
    REAM_ASSIGN_OR_RETURN(json j, summary(fs::path(path).filename().string().substr(0, 64), path));
    out.push_back(std::move(j));
  }
  return json{{"documents", out}};
}

Result<json> DocumentViews::get(const std::string& id) {
  const std::string path = path_of(id);
  if (path.empty()) return not_found("no uploaded document " + id);
  REAM_ASSIGN_OR_RETURN(json j, summary(id, path));  // tokens counted once, then cached
  REAM_ASSIGN_OR_RETURN(ingest::Document doc, read_upload(path, false));
  j["text"] = doc.text;
  j["parts"] = parts_json(doc.text, doc.parts);
  return j;
}

Status DocumentViews::remove(const std::string& id) {
  const std::string path = path_of(id);
  if (path.empty()) return not_found("no uploaded document " + id);
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) return internal_error("cannot remove " + path + ": " + ec.message());
  std::lock_guard lock(mu_);
  infos_.erase(id);
  return {};
}

Result<json> DocumentViews::job_document(int64_t job_id, const std::string& key) {
  REAM_ASSIGN_OR_RETURN(store::JobRecord job, app_.store().get_job(job_id));
  REAM_ASSIGN_OR_RETURN(std::vector<store::JobDocument> docs, app_.store().job_documents(job.id));
  for (const store::JobDocument& d : docs) {
    if (d.key != key) continue;
    REAM_ASSIGN_OR_RETURN(store::DocumentRecord rec, app_.store().get_document(d.document_id));
    ingest::Document doc;
    doc.text = rec.text;
    // A document stored without a layout (or with one this build cannot read) still shows
    // its text; only the parts (pages, files) are missing.
    if (!rec.layout.empty()) (void)ingest::decode_layout(rec.layout, &doc);
    return json{{"id", d.key}, {"job", job.id}, {"input", d.input_name},
                {"name", d.name.empty() ? rec.source_path : d.name}, {"path", rec.source_path},
                {"media_type", rec.media_type}, {"size_bytes", rec.size_bytes},
                {"tokens", rec.token_count < 0 ? json() : json(rec.token_count)},
                {"text", doc.text}, {"parts", parts_json(doc.text, doc.parts)}};
  }
  return not_found("job " + std::to_string(job_id) + " has no document " + key);
}

Result<DocumentViews::Original> DocumentViews::original(const std::string& id) {
  const std::string path = path_of(id);
  if (path.empty()) return not_found("no uploaded document " + id);
  REAM_ASSIGN_OR_RETURN(Info in, info(id, path));
  ingest::CheckedPath checked;
  REAM_ASSIGN_OR_RETURN(ingest::UniqueFd fd, app_.document_paths().open_path(path, &checked));
  REAM_ASSIGN_OR_RETURN(std::string bytes, read_all(fd.get(), path));
  return Original{in.media_type, std::move(bytes)};
}

Result<DocumentViews::Original> DocumentViews::job_original(int64_t job_id, const std::string& key) {
  REAM_ASSIGN_OR_RETURN(store::JobRecord job, app_.store().get_job(job_id));
  REAM_ASSIGN_OR_RETURN(std::vector<store::JobDocument> docs, app_.store().job_documents(job.id));
  const std::string what = "job " + std::to_string(job_id) + "'s " + key;
  for (const store::JobDocument& d : docs) {
    if (d.key != key) continue;
    REAM_ASSIGN_OR_RETURN(store::DocumentRecord rec, app_.store().get_document(d.document_id));
    if (rec.media_type == "inode/directory") {
      return failed_precondition(what + " is a source tree: its files are in its text, there is no one original");
    }
    ingest::CheckedPath checked;
    auto fd = app_.document_paths().open_path(rec.source_path, &checked);
    if (!fd.ok()) return Status(fd.status().code(), what + ": " + fd.status().message());
    REAM_ASSIGN_OR_RETURN(std::string bytes, read_all(fd->get(), rec.source_path));
    if (sha256_hex(bytes) != rec.content_hash) {
      return failed_precondition(what + ": " + rec.source_path + " changed since the job read it");
    }
    return Original{rec.media_type, std::move(bytes)};
  }
  return not_found("job " + std::to_string(job_id) + " has no document " + key);
}

}  // namespace ream::api
