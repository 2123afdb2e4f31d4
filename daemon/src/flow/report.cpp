// Job results as JSON and Markdown.
#include "flow/report.h"

#include <map>
#include <sstream>

#include "ingest/document.h"

namespace ream::flow {

using nlohmann::json;

namespace {

// The evidence's place in the source, or null when the quote was not located.
json location_json(const store::EvidenceRecord& e) {
  if (!e.verified) return json();
  ingest::Location l;
  l.source = e.source_path;
  l.page = e.source_page;
  l.line = e.source_line;
  l.column = e.source_column;
  json out = {{"source", e.source_path}, {"text", l.to_string()}};
  if (e.source_page > 0) out["page"] = e.source_page;
  if (e.source_line > 0) {
    out["line"] = e.source_line;
    out["column"] = e.source_column;
    out["end_line"] = e.source_end_line;
  }
  return out;
}

// The "- Documents:" line (each by the name it was sent under) and one line per
// document that could not be ingested.
void documents_markdown(const json& r, std::ostringstream& md) {
  md << "\n- Documents: ";
  for (size_t i = 0; i < r["documents"].size(); ++i) {
    const json& d = r["documents"][i];
    md << (i ? ", " : "") << "`" << d["name"].get<std::string>() << "` (";
    if (d.contains("media_type")) md << d["media_type"].get<std::string>() << ", ";
    md << d.value("tokens", -1) << " tokens";
    if (d.contains("plan") && !d["plan"].value("fits", true)) md << ", " << d["plan"]["chunk_tokens"].size() << " chunks";
    md << ")";
  }
  for (const json& e : r["document_errors"]) {
    md << "\n- Not ingested: `" << e.value("name", e.value("path", "")) << "` — " << e.value("error", "");
  }
}

// A verified quote's place as text, its file named as the document was sent
// ("master-services-agreement.txt:12:3") rather than by the stored path.
std::string location_markdown(const json& r, const json& evidence) {
  const json& loc = evidence["location"];
  if (!loc.is_object()) return "";
  std::string text = loc.value("text", "");
  const std::string source = loc.value("source", "");
  for (const json& d : r["documents"]) {
    if (d["id"] != evidence["document"] || d.value("path", "") != source || source.empty()) continue;
    if (text.rfind(source, 0) == 0) text = d["name"].get<std::string>() + text.substr(source.size());
  }
  return text;
}

// One line per step run: status, prompts and the replies its plugin could not use.
void steps_markdown(const json& r, std::ostringstream& md) {
  for (const json& st : r["steps"]) {
    md << "- Step `" << st["step"].get<std::string>();
    if (st["iteration"].get<int>() >= 0) md << "[" << st["iteration"] << "]";
    md << "`: " << st["status"].get<std::string>() << ", " << st["prompts"] << " prompts";
    if (!st["unusable_replies"].is_null()) md << ", " << st["unusable_replies"] << " unusable replies";
    md << "\n";
  }
}

}  // namespace

const char* severity_name(int severity) {
  static const char* kNames[] = {"info", "low", "medium", "high", "critical"};
  return severity >= 0 && severity <= 4 ? kNames[severity] : "unknown";
}

Result<json> job_result_json(store::Store& store, int64_t job_id) {
  REAM_ASSIGN_OR_RETURN(store::JobRecord job, store.get_job(job_id));
  REAM_ASSIGN_OR_RETURN(std::vector<store::StepRunRecord> runs, store.step_runs(job_id));
  REAM_ASSIGN_OR_RETURN(std::vector<store::FindingRecord> findings, store.findings(job_id));
  REAM_ASSIGN_OR_RETURN(std::vector<store::JobDocument> docs, store.job_documents(job_id));
  REAM_ASSIGN_OR_RETURN(std::vector<store::EventRecord> events, store.events(job_id, 0));
  json out;
  out["job"] = {{"id", job.id}, {"workflow", job.workflow_name}, {"status", job.status},
                {"error", job.error}, {"created_at", job.created_at}, {"started_at", job.started_at},
                {"finished_at", job.finished_at}, {"inputs", json::parse(job.inputs_json, nullptr, false)},
                {"usage", {{"prompts", job.usage.prompts}, {"prompt_tokens", job.usage.prompt_tokens},
                           {"completion_tokens", job.usage.completion_tokens},
                           {"cached_prompt_tokens", job.usage.cached_prompt_tokens}}}};
  out["outputs"] = json::parse(job.outputs_json, nullptr, false);
  out["documents"] = json::array();
  for (const store::JobDocument& d : docs) {
    auto rec = store.get_document(d.document_id);
    json doc = {{"id", d.key}, {"input", d.input_name}, {"name", d.name.empty() ? d.key : d.name}};
    if (rec.ok()) {
      if (d.name.empty()) doc["name"] = rec->source_path;
      doc["path"] = rec->source_path;
      doc["media_type"] = rec->media_type;
      doc["source_bytes"] = rec->size_bytes;
      doc["bytes"] = rec->text.size();
      doc["tokens"] = rec->token_count;
      doc["sha256"] = rec->content_hash;
    }
    out["documents"].push_back(doc);
  }
  // Documents that could not be ingested (the job went on without them), and how
  // each document fitted the context.
  out["document_errors"] = json::array();
  for (const store::EventRecord& ev : events) {
    json data = json::parse(ev.data_json, nullptr, false);
    if (ev.type == "document_failed" && data.is_object()) out["document_errors"].push_back(data);
    if (ev.type == "document_plan" && data.is_object()) {
      for (json& d : out["documents"]) {
        if (d["id"] == data.value("document", "")) {
          json sizes = json::array();
          for (const json& c : data.value("chunks", json::array())) sizes.push_back(c.value("tokens", 0));
          d["plan"] = {{"budget", data.value("budget", 0)}, {"fits", data.value("fits", false)}, {"chunk_tokens", sizes}};
        }
      }
    }
  }
  out["steps"] = json::array();
  out["warnings"] = json::array();
  int64_t unusable = 0;
  for (const store::StepRunRecord& r : runs) {
    json w = json::parse(r.warnings_json, nullptr, false);
    // Replies the plugin gave up on, as it reports them in its integer output
    // `unparsed` (docs/plugins.md); null for a plugin that does not.
    json outputs = json::parse(r.outputs_json, nullptr, false);
    json unparsed = outputs.is_object() && outputs.contains("unparsed") && outputs["unparsed"].is_number_integer()
                        ? outputs["unparsed"] : json();
    if (!unparsed.is_null()) unusable += unparsed.get<int64_t>();
    out["steps"].push_back({{"step", r.step_id}, {"iteration", r.iteration}, {"status", r.status},
                            {"attempt", r.attempt}, {"error", r.error},
                            {"duration_ms", r.finished_at > r.started_at ? r.finished_at - r.started_at : 0},
                            {"prompts", r.usage.prompts}, {"prompt_tokens", r.usage.prompt_tokens},
                            {"completion_tokens", r.usage.completion_tokens},
                            {"cached_prompt_tokens", r.usage.cached_prompt_tokens},
                            {"unusable_replies", unparsed}});
    if (w.is_array()) {
      for (const json& msg : w) out["warnings"].push_back({{"step", r.step_id}, {"iteration", r.iteration}, {"message", msg}});
    }
  }
  out["findings"] = json::array();
  int unverified = 0, verified = 0;
  for (const store::FindingRecord& f : findings) {
    json ev = json::array();
    for (const store::EvidenceRecord& e : f.evidence) {
      (e.verified ? verified : unverified) += 1;
      ev.push_back({{"document", e.document_key}, {"quote", e.quote}, {"verified", e.verified},
                    {"match", e.match_kind.empty() ? json() : json(e.match_kind)},
                    {"start", e.start_char}, {"end", e.end_char},
                    {"start_byte", e.start_byte}, {"end_byte", e.end_byte}, {"location", location_json(e)}});
    }
    out["findings"].push_back({{"id", f.id}, {"step", f.step_id}, {"kind", f.kind}, {"category", f.category},
                               {"severity", severity_name(f.severity)}, {"title", f.title}, {"text", f.text},
                               {"confidence", f.confidence < 0 ? json() : json(f.confidence)},
                               {"evidence", ev}, {"details", json::parse(f.details_json, nullptr, false)}});
  }
  out["summary"] = {{"findings", findings.size()}, {"verified_quotes", verified},
                    {"unverified_quotes", unverified}, {"unusable_replies", unusable},
                    {"warnings", out["warnings"].size()},
                    {"document_errors", out["document_errors"].size()}};
  return out;
}

Result<std::string> job_result_markdown(store::Store& store, int64_t job_id) {
  REAM_ASSIGN_OR_RETURN(json r, job_result_json(store, job_id));
  std::ostringstream md;
  const json& job = r["job"];
  md << "# " << job["workflow"].get<std::string>() << " — job " << job["id"] << "\n\n";
  md << "- Status: **" << job["status"].get<std::string>() << "**";
  if (!job["error"].get<std::string>().empty()) md << " — " << job["error"].get<std::string>();
  documents_markdown(r, md);
  const json& u = job["usage"];
  md << "\n- Model: " << u["prompts"] << " prompts, " << u["prompt_tokens"] << " prompt tokens ("
     << u["cached_prompt_tokens"] << " from the prefix cache), " << u["completion_tokens"] << " generated\n";
  md << "- Findings: " << r["summary"]["findings"] << "; unverified quotes: " << r["summary"]["unverified_quotes"]
     << "; warnings: " << r["summary"]["warnings"] << "\n";
  steps_markdown(r, md);
  md << "\n";
  if (!r["outputs"].empty()) {
    md << "## Outputs\n\n";
    for (const auto& [k, v] : r["outputs"].items()) {
      md << "### " << k << "\n\n" << (v.is_string() ? v.get<std::string>() : "```json\n" + v.dump(2) + "\n```") << "\n\n";
    }
  }
  std::map<std::string, std::vector<const json*>> by_kind;
  for (const json& f : r["findings"]) by_kind[f["kind"].get<std::string>()].push_back(&f);
  for (const auto& [kind, list] : by_kind) {
    md << "## Findings: " << kind << "\n\n";
    for (int sev = 4; sev >= 0; --sev) {
      for (const json* f : list) {
        if ((*f)["severity"] != severity_name(sev)) continue;
        md << "### [" << severity_name(sev) << "] " << (*f)["title"].get<std::string>() << "\n\n";
        if (!(*f)["category"].get<std::string>().empty()) md << "*" << (*f)["category"].get<std::string>() << "*\n\n";
        md << (*f)["text"].get<std::string>() << "\n\n";
        for (const json& e : (*f)["evidence"]) {
          md << "> " << e["quote"].get<std::string>() << "\n\n— " << e["document"].get<std::string>();
          if (e["verified"].get<bool>()) {
            const std::string where = location_markdown(r, e);
            if (!where.empty()) md << ", `" << where << "`";
            md << ", characters " << e["start"] << "–" << e["end"];
            if (e.value("match", "") != "exact" && e["match"].is_string()) md << " (" << e["match"].get<std::string>() << " match)";
            md << "\n\n";
          } else {
            md << " (quote not found in the document: unverified)\n\n";
          }
        }
      }
    }
  }
  if (!r["warnings"].empty()) {
    md << "## Warnings\n\n";
    for (const json& w : r["warnings"]) {
      md << "- " << w["step"].get<std::string>();
      if (w["iteration"].get<int>() >= 0) md << "[" << w["iteration"] << "]";
      md << ": " << w["message"].get<std::string>() << "\n";
    }
  }
  return md.str();
}

}  // namespace ream::flow
