// Document inputs: paths through the path policy, uploads and inline text.
#include "api/documents.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

#include "ingest/ingest.h"
#include "ream/common/sha256.h"
#include "ream/common/utf8.h"

namespace ream::api {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The extensions an upload is stored under (".pdf" for a PDF, else extension_for's).
constexpr const char* kStoredExtensions[] = {".txt", ".pdf", ".md", ".markdown", ".html", ".htm",
                                             ".csv", ".json", ".yaml", ".xml"};

std::string extension_for(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* known : kStoredExtensions) {
    if (ext == known && ext != ".pdf") return ext;
  }
  return ".txt";
}

// An object input may hold only `allowed` keys, so a misspelt "nmae" is not dropped.
Status check_object_keys(const json& v, const std::vector<std::string>& allowed, const std::string& where) {
  for (const auto& [k, _] : v.items()) {
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return invalid_argument(where + ": unknown field '" + k + "' (expected " + list + ")");
    }
  }
  return {};
}

}  // namespace

// {"document_id": "<sha256>"}: the stored upload's path; its upload name goes to `names`.
Result<std::string> Documents::resolve_upload(const json& v, const std::string& where, const std::string& item,
                                   std::string* field, flow::DocumentNames* names) {
  *field = item;
  REAM_RETURN_IF_ERROR(check_object_keys(v, {"document_id"}, where));
  if (!v["document_id"].is_string()) {
    *field = item + ".document_id";
    return invalid_argument(where + ".document_id: expected a string");
  }
  const std::string id = v["document_id"].get<std::string>();
  if (id.size() != 64 || id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    *field = item + ".document_id";
    return invalid_argument(where + ".document_id: expected the 64-hex-digit id from POST /v1/documents");
  }
  // An upload is stored as <id><extension> (store_text): try those names, in a fixed
  // order, rather than list a folder that may hold thousands.
  std::error_code ec;
  for (const char* ext : kStoredExtensions) {
    std::string path = dir_ + "/" + id + ext;
    if (!fs::is_regular_file(path, ec)) continue;
    REAM_ASSIGN_OR_RETURN(std::string name, store_.document_name(id));
    if (!name.empty()) (*names)[path] = name;
    return path;
  }
  return invalid_argument(where + ": no uploaded document " + id);
}

// `*field` names the input on entry ("inputs.docs"); an error in one member of the
// object at `item` ("inputs.docs[1]") sets it to that member ("inputs.docs[1].name").
// An upload's or inline document's name goes to `names` under its stored path.
Result<std::string> Documents::resolve_one(const json& v, const std::string& where, const std::string& item,
                                std::string* field, flow::DocumentNames* names) {
  if (v.is_string()) {
    // The path policy (ingest/path_policy.h) decides; ingestion checks again when it
    // opens the file, from the root and link-free.
    auto checked = paths_.check(v.get<std::string>());
    if (checked.ok()) return checked->path;
    const Status& st = checked.status();
    StatusCode code = st.code() == StatusCode::kFailedPrecondition ? st.code() : StatusCode::kInvalidArgument;
    return Status(code, where + ": " + st.message());
  }
  if (v.is_object() && v.contains("document_id")) return resolve_upload(v, where, item, field, names);
  if (v.is_object() && v.contains("text")) {
    *field = item;
    REAM_RETURN_IF_ERROR(check_object_keys(v, {"text", "name"}, where));
    if (!v["text"].is_string()) {
      *field = item + ".text";
      return invalid_argument(where + ".text: expected a string");
    }
    if (v.contains("name") && !v["name"].is_string()) {
      *field = item + ".name";
      return invalid_argument(where + ".name: expected a string (got " + v["name"].dump() + ")");
    }
    std::string name = v.value("name", std::string("inline.txt"));
    auto d = store_text(name, v["text"].get<std::string>());
    if (!d.ok()) {
      *field = item + ".text";
      return invalid_argument(where + ".text: " + d.status().message());
    }
    if (v.contains("name")) (*names)[d->path] = d->name;
    return d->path;
  }
  return invalid_argument(where + ": expected a path, {\"document_id\": ...} or {\"text\": ...}");
}

Result<StoredDocument> Documents::store_text(const std::string& name, const std::string& data) {
  if (data.empty()) return invalid_argument("the document is empty");
  if (static_cast<int64_t>(data.size()) > max_bytes_) {
    return invalid_argument("the document exceeds documents.max_bytes (" +
                            std::to_string(max_bytes_) + ")");
  }
  // A PDF is kept as uploaded (ingestion reads it page by page when a job uses it); it
  // is opened once here so that a broken or encrypted file is refused at the upload.
  const bool pdf = ingest::detect_media_type(name.empty() ? "upload" : name, data) == "application/pdf";
  std::string text;
  if (pdf) {
    auto checked = ingest::ingest_buffer(name.empty() ? "upload.pdf" : name, data, "application/pdf");
    if (!checked.ok()) return invalid_argument(checked.status().message());
    text = data;
  } else {
    if (data.find('\0') != std::string::npos || !utf8::is_valid(data)) {
      return invalid_argument("the document is neither UTF-8 text nor a PDF");
    }
    text.reserve(data.size());
    for (size_t i = 0; i < data.size(); ++i) {
      if (data[i] == '\r' && i + 1 < data.size() && data[i + 1] == '\n') continue;
      text.push_back(data[i]);
    }
    // A document of only whitespace (after an optional byte-order mark) has nothing to
    // review: refuse it here rather than store it and fail the job that uses it.
    const size_t body = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
    if (text.find_first_not_of(" \t\n\r\f\v", body) == std::string::npos) {
      return invalid_argument("the document is empty: its " + std::to_string(data.size()) +
                              " bytes are all whitespace");
    }
  }
  StoredDocument d;
  d.id = sha256_hex(text);
  d.name = name.empty() ? d.id : fs::path(name).filename().string();
  d.size_bytes = static_cast<int64_t>(data.size());
  d.path = dir_ + "/" + d.id + (pdf ? std::string(".pdf") : extension_for(name));
  std::error_code ec;
  if (fs::exists(d.path, ec)) {
    d.deduplicated = true;
    return d;
  }
  // Write to a temporary name and rename, so a crash never leaves half a document. The
  // name is this call's own (process, counter): two requests storing the same text at once
  // (same target) each rename a whole file of it, and the second rename replaces the first's.
  static std::atomic<uint64_t> next_tmp{0};
  std::string tmp = d.path + ".tmp" + std::to_string(::getpid()) + "-" +
                    std::to_string(next_tmp.fetch_add(1));
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) return internal_error("cannot write " + tmp);
  }
  fs::rename(tmp, d.path, ec);
  if (ec) return internal_error("cannot store " + d.path + ": " + ec.message());
  return d;
}

Status Documents::resolve_inputs(const flow::Workflow& wf, json* inputs, flow::DocumentNames* names,
                                 std::string* field) {
  // kFailedPrecondition marks a path outside the roots (the route answers 403).
  for (const flow::InputSpec& in : wf.inputs) {
    if (!inputs->contains(in.name)) continue;
    json& v = (*inputs)[in.name];
    const std::string where = "input '" + in.name + "'";
    *field = "inputs." + in.name;
    if (in.type == flow::InputType::kDocument) {
      REAM_ASSIGN_OR_RETURN(std::string p, resolve_one(v, where, std::string(*field), field, names));
      v = p;
    } else if (in.type == flow::InputType::kDocuments) {
      json list = v.is_array() ? v : json::array({v});
      json out = json::array();
      for (size_t i = 0; i < list.size(); ++i) {
        const std::string at = v.is_array() ? "[" + std::to_string(i) + "]" : "";
        *field = "inputs." + in.name;
        REAM_ASSIGN_OR_RETURN(std::string p, resolve_one(list[i], where + at, *field + at, field, names));
        out.push_back(p);
      }
      v = out;
    }
  }
  field->clear();
  return {};
}

}  // namespace ream::api
