// SARIF 2.1.0 export of job results.
#include "flow/sarif.h"

#include <cctype>
#include <map>

#include "flow/report.h"
#include "ream/common/sha256.h"

namespace ream::flow {

using nlohmann::json;

namespace {

constexpr const char* kSchema = "https://json.schemastore.org/sarif-2.1.0.json";

std::string text_of(const json& obj, const char* key) {
  return obj.is_object() && obj.contains(key) && obj[key].is_string() ? obj[key].get<std::string>() : "";
}

// critical/high -> error, medium -> warning, low/info -> note.
const char* level_of(const std::string& severity) {
  if (severity == "critical" || severity == "high") return "error";
  if (severity == "medium") return "warning";
  return "note";
}

// GitHub's security-severity (CVSS-like 0.0-10.0) drives its alert severity.
const char* security_severity(const std::string& severity) {
  if (severity == "critical") return "9.5";
  if (severity == "high") return "8.0";
  if (severity == "medium") return "5.5";
  if (severity == "low") return "3.0";
  return "1.0";
}

// A relative URI: forward slashes, no leading "./" or "/", reserved bytes escaped.
std::string uri_of(std::string path) {
  for (char& c : path) c = c == '\\' ? '/' : c;
  while (path.rfind("./", 0) == 0) path.erase(0, 2);
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  std::string out;
  static const char* kHex = "0123456789ABCDEF";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// "sql-string-concatenation" -> "SqlStringConcatenation".
std::string rule_name(const std::string& id) {
  std::string out;
  bool up = true;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out.empty() ? "Finding" : out;
}

// Whitespace-insensitive text of the flagged code, so a fingerprint survives re-indentation.
std::string squeeze(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  }
  return out;
}

json rule_of(const std::string& id, const json& f, const json& d) {
  std::string cwe = text_of(d, "cwe"), category = text_of(d, "category"), severity = text_of(f, "severity");
  std::string desc = text_of(d, "rule_description");
  if (desc.empty()) desc = text_of(f, "title");
  json tags = json::array();
  if (!category.empty()) tags.push_back(category);
  json rule = {{"id", id}, {"name", rule_name(id)}, {"shortDescription", {{"text", desc}}},
               {"fullDescription", {{"text", desc}}},
               {"defaultConfiguration", {{"level", level_of(severity)}}}};
  if (!cwe.empty() && cwe.rfind("CWE-", 0) == 0) {
    std::string num = cwe.substr(4);
    tags.push_back("external/cwe/cwe-" + num);
    rule["helpUri"] = "https://cwe.mitre.org/data/definitions/" + num + ".html";
  }
  std::string fix = text_of(d, "fix");
  rule["help"] = {{"text", desc + (fix.empty() ? "" : "\nFix: " + fix)}};
  rule["properties"] = {{"tags", tags}, {"precision", "medium"}, {"problem.severity", level_of(severity)}};
  if (category == "security") rule["properties"]["security-severity"] = security_severity(severity);
  return rule;
}

}  // namespace

json sarif_from_result(const json& r) {
  json rules = json::array(), results = json::array(), notes = json::array();
  std::map<std::string, size_t> rule_index;
  std::map<std::string, int> occurrences;
  int skipped = 0;
  for (const json& f : r.value("findings", json::array())) {
    const json d = f.contains("details") && f["details"].is_object() ? f["details"] : json::object();
    std::string file = text_of(d, "file");
    int64_t line = d.contains("line") && d["line"].is_number_integer() ? d["line"].get<int64_t>() : 0;
    if (file.empty() || line < 1) {
      ++skipped;
      continue;
    }
    std::string id = text_of(d, "rule_id");
    if (id.empty()) id = text_of(f, "category").empty() ? text_of(f, "kind") : text_of(f, "category");
    if (!rule_index.count(id)) {
      rule_index[id] = rules.size();
      rules.push_back(rule_of(id, f, d));
    }
    json region = {{"startLine", line}};
    int64_t end_line = d.contains("end_line") && d["end_line"].is_number_integer() ? d["end_line"].get<int64_t>() : 0;
    if (end_line >= line) region["endLine"] = end_line;
    std::string code = text_of(d, "code");
    if (!code.empty()) region["snippet"] = {{"text", code}};
    bool verified = false;
    for (const json& e : f.value("evidence", json::array())) verified = verified || e.value("verified", false);
    std::string message = text_of(f, "title");
    std::string body = text_of(f, "text");
    if (!body.empty()) message += "\n\n" + body;
    std::string key = sha256_hex(id + '\0' + uri_of(file) + '\0' + squeeze(code.empty() ? std::to_string(line) : code))
                          .substr(0, 32);
    int occurrence = ++occurrences[key];
    results.push_back(
        {{"ruleId", id}, {"ruleIndex", rule_index[id]}, {"level", level_of(text_of(f, "severity"))},
         {"message", {{"text", message}}},
         {"locations", json::array({{{"physicalLocation",
                                      {{"artifactLocation", {{"uri", uri_of(file)}}}, {"region", region}}}}})},
         {"partialFingerprints", {{"primaryLocationLineHash", key + ":" + std::to_string(occurrence)}}},
         {"properties", {{"severity", text_of(f, "severity")}, {"quoteVerified", verified},
                         {"cwe", text_of(d, "cwe")}, {"findingId", f.value("id", 0)}}}});
  }
  const json job = r.value("job", json::object());
  if (skipped > 0) {
    notes.push_back({{"level", "note"},
                     {"message", {{"text", std::to_string(skipped) + " finding(s) without a file and line were left out"}}}});
  }
  for (const json& w : r.value("warnings", json::array())) {
    notes.push_back({{"level", "warning"}, {"message", {{"text", w.value("step", "") + ": " + text_of(w, "message")}}}});
  }
  json invocation = {{"executionSuccessful", text_of(job, "status") == "succeeded"}};
  if (!notes.empty()) invocation["toolExecutionNotifications"] = notes;
  json run = {{"tool", {{"driver", {{"name", "ream"}, {"rules", rules}}}}},
              {"automationDetails", {{"id", text_of(job, "workflow") + "/" + std::to_string(job.value("id", 0))}}},
              {"columnKind", "unicodeCodePoints"},
              {"invocations", json::array({invocation})},
              {"results", results}};
  return {{"$schema", kSchema}, {"version", "2.1.0"}, {"runs", json::array({run})}};
}

Result<json> job_result_sarif(store::Store& store, int64_t job_id) {
  REAM_ASSIGN_OR_RETURN(json r, job_result_json(store, job_id));
  return sarif_from_result(r);
}

}  // namespace ream::flow
