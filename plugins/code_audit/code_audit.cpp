// code_audit: security, reliability and performance review of a source tree.
//
// plan: the tree's files (headed "==> path (language) <==" by ingestion), kept
//   by language and exclude patterns, are packed whole into prompts that fit the
//   context (a file too long for one prompt is cut at line boundaries, and its
//   part says which lines it holds); each prompt is the code first and the rule
//   catalogue and reply schema last.
// reduce: each reported issue's quoted code is located in the source, which gives
//   the authoritative file:line (the model's own line is kept next to it); issues
//   below the severity floor or outside the chosen categories are dropped and
//   counted; duplicates are merged; unusable replies get one repair prompt, then
//   a warning. Each issue becomes a finding (kind "issue") whose details carry
//   what SARIF needs: rule_id, cwe, file, line, end_line, fix.
#include <algorithm>
#include <set>
#include <string>

#include "../domain_common/domain_util.h"
#include "audit_rules.h"
#include "ream/plugin_descriptor.h"
#include "source_files.h"

namespace {

using nlohmann::json;
using namespace plugin_util;
using namespace audit;

constexpr char kParams[] = R"json({
  "type": "object",
  "properties": {
    "languages": {"type": "array", "items": {"type": "string"}, "default": [],
                  "description": "Languages or extensions to review (\"Python\", \"cpp\", \"go\"); empty = every file"},
    "severity_floor": {"type": "string", "enum": ["info", "low", "medium", "high", "critical"], "default": "low",
                       "description": "Issues below this severity are dropped (and counted)"},
    "categories": {"type": "array", "items": {"type": "string", "enum": ["security", "reliability", "performance"]},
                   "default": [], "description": "Kinds of issue to look for; empty = all three"},
    "exclude": {"type": "array", "items": {"type": "string"}, "default": [],
                "description": "Files whose path contains any of these strings are not reviewed (\"tests/\", \"_pb2.py\")"},
    "max_findings": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20,
                     "description": "Issues asked for per prompt, most severe first"},
    "repair": {"type": "boolean", "default": true, "description": "Ask once more, for JSON only, when a reply cannot be used"},
    "max_tokens": {"type": "integer", "minimum": 0, "default": 0,
                   "description": "Reply length limit per prompt; 0 = the workflow's engine.max_tokens"}
  },
  "additionalProperties": false
})json";

constexpr char kOutputs[] = R"json({
  "counts": {"type": "object", "description": "Issues per severity (critical, high, medium, low, info)"},
  "files_reviewed": {"type": "integer", "description": "Files sent to the model"},
  "files_excluded": {"type": "integer", "description": "Files left out by languages / exclude"},
  "below_floor": {"type": "integer", "description": "Issues dropped for being below the severity floor or outside the categories"},
  "unlocated": {"type": "integer", "description": "Issues whose quoted code was not found in the source (their file:line is the model's)"},
  "unparsed": {"type": "integer", "description": "Replies given up on (see the step's warnings)"}
})json";

constexpr const char* kSystem =
    "You are a senior security and performance reviewer. You report only real, specific problems in the code "
    "you are shown, you copy code exactly as written, and you always reply with a single JSON object and nothing "
    "else.";

struct Settings {
  std::vector<std::string> languages, categories, exclude;
  int32_t floor = REAM_SEVERITY_LOW;
  int max_findings = 20;
  int32_t max_tokens = 0;
  int64_t reply_budget = 2048;
  bool repair = true;
};

struct Piece {
  size_t file = 0;            // index into Segment's document's files
  size_t start = 0, end = 0;  // bytes of the document's text
  bool partial = false;       // a part of a longer file
};
struct Segment {
  size_t doc = 0;
  std::vector<Piece> pieces;
};

struct Context {
  const ream_host* host;
  ream_call* call;
  const ream_document* docs;
  size_t doc_count;
  Settings s;
  std::vector<std::vector<SourceFile>> files;  // per document
  std::vector<Segment> segments;
  int64_t reviewed = 0, excluded = 0;
};

std::string schema_text(const Settings& s) {
  return "{\"findings\": [<at most " + std::to_string(s.max_findings) +
         " objects, most severe first: {\"rule\": \"<a rule id from the catalogue, or a short kebab-case id of your "
         "own>\", \"category\": \"<security|reliability|performance>\", \"cwe\": \"<CWE-<n> or empty>\", "
         "\"severity\": \"<low|medium|high|critical>\", \"file\": \"<the path exactly as in its ==> header>\", "
         "\"line\": <the 1-based line number in that file>, \"code\": \"<the offending line(s) copied exactly>\", "
         "\"title\": \"<one line>\", \"explanation\": \"<why it is a problem here>\", \"fix\": \"<how to fix it>\"}>]}";
}

bool wanted_category(const Settings& s, const std::string& category) {
  return s.categories.empty() || std::find(s.categories.begin(), s.categories.end(), category) != s.categories.end();
}

// The JSON Schema of a reply over `files` (the paths a prompt shows), attached to the
// prompt as its constraint: the wanted categories, the severities at or above the
// floor and the files in enums, at most max_findings issues. Every reply it allows
// also validates against workflows/schemas/code_audit.reply.json (the step's
// reply_schema). Properties keep their order (a constrained decoder writes them so).
std::string json_schema(const Settings& s, const std::vector<std::string>& files) {
  using ojson = nlohmann::ordered_json;
  ojson categories = ojson::array(), severities = ojson::array(), paths = ojson::array();
  for (const char* c : {"security", "reliability", "performance"}) {
    if (wanted_category(s, c)) categories.push_back(c);
  }
  for (int32_t v = std::max<int32_t>(s.floor, REAM_SEVERITY_LOW); v <= REAM_SEVERITY_CRITICAL; ++v) {
    severities.push_back(domain::severity_word(v));
  }
  for (const std::string& f : files) {
    if (std::find(paths.begin(), paths.end(), f) == paths.end()) paths.push_back(f);
  }
  auto str = [] { return ojson{{"type", "string"}}; };
  ojson issue = {{"type", "object"},
                 {"properties",
                  {{"rule", str()},
                   {"category", {{"type", "string"}, {"enum", categories}}},
                   {"cwe", {{"type", "string"}, {"pattern", "^(CWE-[0-9]+)?$"}}},
                   {"severity", {{"type", "string"}, {"enum", severities}}},
                   {"file", {{"type", "string"}, {"enum", paths}}},
                   {"line", {{"type", "integer"}, {"minimum", 1}}},
                   {"code", str()},
                   {"title", str()},
                   {"explanation", str()},
                   {"fix", str()}}},
                 {"required", {"rule", "category", "cwe", "severity", "file", "line", "code", "title", "explanation", "fix"}},
                 {"additionalProperties", false}};
  ojson findings = {{"type", "array"}, {"items", issue}, {"maxItems", s.max_findings}};
  return ojson{{"type", "object"}, {"properties", {{"findings", findings}}}, {"required", ojson::array({"findings"})},
               {"additionalProperties", false}}
      .dump();
}

std::string instructions(const Settings& s) {
  std::string out = "Audit the source files above. Look for " +
                    (s.categories.empty() ? std::string("security, reliability and performance") : [&] {
                      std::string c;
                      for (const std::string& x : s.categories) c += (c.empty() ? "" : ", ") + x;
                      return c;
                    }()) +
                    " problems. Report only problems of severity " + domain::severity_word(s.floor) +
                    " or higher, each at the line where it occurs. Rule catalogue (id: category, CWE: what):\n";
  for (const Rule& r : audit_rules()) {
    if (!wanted_category(s, r.category)) continue;
    out += std::string("- ") + r.id + ": " + r.category + (*r.cwe ? std::string(", ") + r.cwe : "") + ": " +
           r.description + "\n";
  }
  out += "\nIf there is no such problem, reply {\"findings\": []}. Do not report style issues.\n\n"
         "Reply with only this JSON object:\n" + schema_text(s);
  return out;
}

bool parse_settings(const json& p, Settings* s, std::string* error) {
  s->languages = domain::string_list(p.value("languages", json::array()));
  for (const std::string& c : domain::string_list(p.value("categories", json::array()))) {
    std::string l = domain::lower(c);
    if (l != "security" && l != "reliability" && l != "performance") {
      *error = "unknown category '" + c + "' (security, reliability or performance)";
      return false;
    }
    s->categories.push_back(l);
  }
  s->exclude = domain::string_list(p.value("exclude", json::array()));
  s->floor = domain::parse_severity(p.value("severity_floor", json("low")), REAM_SEVERITY_LOW);
  s->max_findings = std::clamp(p.value("max_findings", 20), 1, 100);
  s->max_tokens = std::max(0, p.value("max_tokens", 0));
  s->reply_budget = s->max_tokens > 0 ? s->max_tokens : 2048;
  s->repair = p.value("repair", true);
  return true;
}

std::string piece_header(const SourceFile& f, std::string_view text, const Piece& pc) {
  std::string h = "==> " + f.path + " (" + (f.language.empty() ? "text" : f.language) + ")";
  if (pc.partial && f.first_line > 0) {
    h += " lines " + std::to_string(line_of(text, f, pc.start)) + "-" +
         std::to_string(line_of(text, f, pc.end > pc.start ? pc.end - 1 : pc.start));
  }
  return h + " <==\n";
}

// Packs the kept files of every document into segments of at most `budget` tokens.
void pack(Context* c, int64_t budget) {
  for (size_t d = 0; d < c->doc_count; ++d) {
    std::string_view text = sv(c->docs[d].text);
    const auto& files = c->files[d];
    Segment cur{d, {}};
    int64_t used = 0;
    auto add = [&](const Piece& pc, int64_t tokens) {
      if (!cur.pieces.empty() && used + tokens > budget) {
        c->segments.push_back(std::move(cur));
        cur = {d, {}};
        used = 0;
      }
      cur.pieces.push_back(pc);
      used += tokens;
    };
    for (size_t i = 0; i < files.size(); ++i) {
      const SourceFile& f = files[i];
      bool skip = !language_matches(f, c->s.languages) || f.body_end <= f.body_begin;
      for (const std::string& x : c->s.exclude) skip = skip || f.path.find(x) != std::string::npos;
      if (skip) {
        ++c->excluded;
        continue;
      }
      ++c->reviewed;
      std::string_view body = text.substr(f.body_begin, f.body_end - f.body_begin);
      int64_t header = c->host->count_tokens(c->call, rs(piece_header(f, text, {i, 0, 0, true}))) + 8;
      int64_t tokens = c->host->count_tokens(c->call, rs(body)) + header;
      if (tokens <= budget) {
        add({i, f.body_begin, f.body_end, false}, tokens);
        continue;
      }
      for (auto [s, e] : split_to_budget(c->host, c->call, body, budget - header)) {
        add({i, f.body_begin + s, f.body_begin + e, true}, budget);  // a part fills its prompt
      }
    }
    if (!cur.pieces.empty()) c->segments.push_back(std::move(cur));
  }
}

bool setup(const ream_host* host, ream_call* call, const ream_document* docs, size_t n, ream_str params,
           Context* c, std::string* error) {
  *c = {host, call, docs, n, {}, {}, {}, 0, 0};
  if (!parse_settings(parse_params(params), &c->s, error)) return false;
  int64_t budget = domain::text_budget(host, call, c->s.reply_budget, std::string(kSystem) + instructions(c->s));
  if (budget < 256) {
    *error = "the model's context is too small for the audit instructions and a " +
             std::to_string(c->s.reply_budget) + "-token reply";
    return false;
  }
  for (size_t d = 0; d < n; ++d) c->files.push_back(source_files(sv(docs[d].text), sv(docs[d].path)));
  pack(c, budget);
  return true;
}

std::vector<std::pair<std::string, std::string>> messages(const Context& c, size_t seg) {
  const Segment& sg = c.segments[seg];
  const ream_document& doc = c.docs[sg.doc];
  std::string_view text = sv(doc.text);
  std::string user = "<source_files document=\"" + std::string(sv(doc.id)) + "\">\n";
  for (const Piece& pc : sg.pieces) {
    const SourceFile& f = c.files[sg.doc][pc.file];
    user += piece_header(f, text, pc);
    user.append(text.substr(pc.start, pc.end - pc.start));
    if (user.back() != '\n') user += '\n';
    user += '\n';
  }
  return {{"system", kSystem}, {"user", user + "</source_files>\n\n" + instructions(c.s)}};
}

std::string segment_schema(const Context& c, size_t seg) {
  std::vector<std::string> files;
  for (const Piece& pc : c.segments[seg].pieces) files.push_back(c.files[c.segments[seg].doc][pc.file].path);
  return json_schema(c.s, files);
}

std::string key_of(size_t seg) { return "s" + std::to_string(seg); }
bool parse_key(const std::string& key, size_t* seg) { return std::sscanf(key.c_str(), "s%zu", seg) == 1; }

ream_status plan(const ream_host* host, ream_call* call, const ream_plan_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    if (in->document_count == 0) return fail(host, call, REAM_ERR_INVALID_ARGUMENT, "code_audit needs a source tree");
    Context c;
    std::string error;
    if (!setup(host, call, in->documents, in->document_count, in->params_json, &c, &error)) {
      return fail(host, call, REAM_ERR_INVALID_ARGUMENT, error);
    }
    if (c.segments.empty()) warn(host, call, "no file matches the chosen languages and exclusions; nothing to audit");
    for (size_t seg = 0; seg < c.segments.size(); ++seg) {
      ChatPrompt p{key_of(seg), messages(c, seg), c.s.max_tokens, segment_schema(c, seg)};
      if (ream_status rc = emit_prompt(host, call, p); rc != REAM_OK) return rc;
    }
    return REAM_OK;
  })
}

// Where `code` is: in the named file's piece of this segment, else anywhere in
// the segment, else anywhere in the document. Returns false when nowhere.
bool locate_code(const Context& c, const Segment& sg, const std::string& file, const std::string& code,
                 Quote* q) {
  const ream_document& doc = c.docs[sg.doc];
  std::vector<const Piece*> order;
  for (const Piece& pc : sg.pieces) {
    if (c.files[sg.doc][pc.file].path == file) order.insert(order.begin(), &pc);
    else order.push_back(&pc);
  }
  for (const Piece* pc : order) {
    *q = domain::locate_in(doc, pc->start, pc->end, code);
    if (q->start >= static_cast<int64_t>(pc->start) && q->end <= static_cast<int64_t>(pc->end)) return true;
  }
  *q = domain::locate_in(doc, 0, 0, code);
  return q->start >= 0;
}

struct Tally {
  int64_t below_floor = 0, unlocated = 0;
};

// One reported issue -> its record for the state, or null when it is dropped.
json issue_record(const Context& c, size_t seg, const json& r, Tally* t) {
  const Segment& sg = c.segments[seg];
  std::string_view text = sv(c.docs[sg.doc].text);
  const Rule* rule = find_rule(domain::str_field(r, "rule"));
  std::string category = domain::lower(domain::str_field(r, "category"));
  if (rule) category = rule->category;
  if (category != "security" && category != "reliability" && category != "performance") category = "reliability";
  int32_t severity = domain::parse_severity(r.contains("severity") ? r["severity"] : json(),
                                            rule ? rule->default_severity : REAM_SEVERITY_MEDIUM);
  if (severity < c.s.floor || !wanted_category(c.s, category)) {
    ++t->below_floor;
    return nullptr;
  }
  std::string cwe = normalise_cwe(domain::str_field(r, "cwe"));
  if (rule && *rule->cwe) cwe = rule->cwe;
  std::string rule_id = rule ? rule->id : "other/" + (slug(domain::str_field(r, "rule")).empty()
                                                          ? slug(domain::str_field(r, "title"))
                                                          : slug(domain::str_field(r, "rule")));
  if (rule_id == "other/") rule_id = "other/unnamed";
  std::string file = domain::str_field(r, "file"), code = domain::str_field(r, "code");
  int64_t model_line = r.contains("line") && r["line"].is_number_integer() ? r["line"].get<int64_t>() : 0;
  json rec = {{"rule_id", rule_id}, {"category", category}, {"cwe", cwe}, {"severity", severity},
              {"title", domain::str_field(r, "title")}, {"explanation", domain::str_field(r, "explanation")},
              {"fix", domain::str_field(r, "fix")}, {"code", code}, {"model_line", model_line},
              {"document", std::string(sv(c.docs[sg.doc].id))}, {"start", -1}, {"end", -1}};
  Quote q;
  if (!code.empty() && locate_code(c, sg, file, code, &q)) {
    const SourceFile* f = file_at(c.files[sg.doc], static_cast<size_t>(q.start));
    rec["start"] = q.start;
    rec["end"] = q.end;
    rec["located"] = true;
    if (f) {
      rec["file"] = f->path;
      rec["language"] = f->language;
      rec["line"] = line_of(text, *f, static_cast<size_t>(q.start));
      rec["end_line"] = line_of(text, *f, static_cast<size_t>(std::max(q.start, q.end - 1)));
      return rec;
    }
  }
  ++t->unlocated;
  rec["located"] = false;
  rec["file"] = file;
  rec["line"] = model_line;
  rec["end_line"] = model_line;
  rec["language"] = language_of(file);
  return rec;
}

ream_status emit_issue(const Context& c, const json& rec) {
  FindingOut f;
  f.kind = "issue";
  f.category = rec["cwe"].get<std::string>().empty() ? rec["category"].get<std::string>() : rec["cwe"].get<std::string>();
  f.severity = rec["severity"].get<int32_t>();
  std::string where = rec["file"].get<std::string>() + (rec["line"].get<int64_t>() > 0 ? ":" + rec["line"].dump() : "");
  std::string title = rec["title"].get<std::string>().empty() ? rec["rule_id"].get<std::string>() : rec["title"].get<std::string>();
  f.title = title + " (" + where + ")";
  f.text = rec["explanation"].get<std::string>();
  if (!rec["fix"].get<std::string>().empty()) f.text += "\n\n**Fix:** " + rec["fix"].get<std::string>();
  if (!rec["located"].get<bool>()) f.text += "\n\n*The quoted code was not found in the source; the location is the model's.*";
  if (!rec["code"].get<std::string>().empty()) {
    f.quotes.push_back({rec["document"].get<std::string>(), rec["code"].get<std::string>(), rec["start"].get<int64_t>(),
                        rec["end"].get<int64_t>()});
  }
  f.details = rec;
  f.details["severity"] = domain::severity_word(f.severity);
  const Rule* rule = find_rule(rec["rule_id"].get<std::string>());
  if (rule) f.details["rule_description"] = rule->description;
  return emit_finding(c.host, c.call, f);
}

std::string validate(const json& v) {
  std::string e = domain::require_array(v, "findings");
  if (!e.empty()) return e;
  for (const json& x : v["findings"]) {
    if (!x.is_object()) return "a findings entry is not an object";
  }
  return "";
}

ream_status finish(const Context& c, const json& state) {
  json counts = {{"critical", 0}, {"high", 0}, {"medium", 0}, {"low", 0}, {"info", 0}};
  std::vector<json> issues(state["issues"].begin(), state["issues"].end());
  std::stable_sort(issues.begin(), issues.end(), [](const json& a, const json& b) {
    if (a["severity"] != b["severity"]) return a["severity"].get<int>() > b["severity"].get<int>();
    return std::tie(a["file"], a["line"]) < std::tie(b["file"], b["line"]);
  });
  for (const json& rec : issues) {
    if (ream_status rc = emit_issue(c, rec); rc != REAM_OK) return rc;
    const char* w = domain::severity_word(rec["severity"].get<int32_t>());
    counts[w] = counts[w].get<int>() + 1;
  }
  for (const auto& [name, value] : std::initializer_list<std::pair<const char*, json>>{
           {"counts", counts}, {"files_reviewed", c.reviewed}, {"files_excluded", c.excluded},
           {"below_floor", state["below_floor"]}, {"unlocated", state["unlocated"]}, {"unparsed", state["unparsed"]}}) {
    if (ream_status rc = emit_output(c.host, c.call, name, value); rc != REAM_OK) return rc;
  }
  return REAM_OK;
}

ream_status reduce(const ream_host* host, ream_call* call, const ream_reduce_input* in) {
  REAM_PLUGIN_GUARD(host, call, {
    Context c;
    std::string error;
    if (!setup(host, call, in->documents, in->document_count, in->params_json, &c, &error)) {
      return fail(host, call, REAM_ERR_INVALID_ARGUMENT, error);
    }
    json state = json::parse(sv(in->state_json), nullptr, false);
    if (!state.is_object()) {
      state = {{"issues", json::array()}, {"seen", json::array()}, {"below_floor", 0}, {"unlocated", 0}, {"unparsed", 0}};
    }
    auto rebuild = [&](const std::string& key) {
      size_t seg = 0;
      if (!parse_key(key, &seg) || seg >= c.segments.size()) throw std::runtime_error("reply with unknown key '" + key + "'");
      return messages(c, seg);
    };
    auto describe = [&](const std::string& key) {
      size_t seg = 0;
      if (!parse_key(key, &seg) || seg >= c.segments.size()) return key;
      const Segment& sg = c.segments[seg];
      const auto& files = c.files[sg.doc];
      return "files " + files[sg.pieces.front().file].path + " .. " + files[sg.pieces.back().file].path;
    };
    domain::SortedReplies got;
    if (ream_status rc = domain::sort_replies(host, call, in->replies, in->reply_count, rebuild, validate, describe,
                                              {c.s.repair, schema_text(c.s), c.s.max_tokens, [&](const std::string& key) {
                                                size_t seg = 0;
                                                return parse_key(key, &seg) && seg < c.segments.size()
                                                           ? segment_schema(c, seg) : std::string();
                                              }}, &got);
        rc != REAM_OK) {
      return rc;
    }
    Tally t;
    std::set<std::string> seen(state["seen"].begin(), state["seen"].end());
    for (const domain::ParsedReply& r : got.parsed) {
      size_t seg = 0;
      if (!parse_key(r.key, &seg) || seg >= c.segments.size()) return fail(host, call, REAM_ERR_FAILED, "reply with unknown key '" + r.key + "'");
      for (const json& issue : r.value["findings"]) {
        json rec = issue_record(c, seg, issue, &t);
        if (rec.is_null()) continue;
        std::string id = rec["file"].get<std::string>() + ":" + rec["line"].dump() + ":" + rec["rule_id"].get<std::string>();
        if (!seen.insert(id).second) continue;
        state["issues"].push_back(std::move(rec));
      }
    }
    state["seen"] = seen;
    state["below_floor"] = state["below_floor"].get<int64_t>() + t.below_floor;
    state["unlocated"] = state["unlocated"].get<int64_t>() + t.unlocated;
    state["unparsed"] = state["unparsed"].get<int64_t>() + static_cast<int64_t>(got.failed.size());
    if (got.repairs_emitted > 0) return host->set_state(call, rs(state.dump()));
    return finish(c, state);
  })
}

}  // namespace

REAM_DEFINE_PLUGIN("code_audit", "1.0.0",
                   "Audits a source tree for security, reliability and performance problems: CWE, severity, file:line "
                   "located from the quoted code, explanation and fix; results export as SARIF 2.1.0.",
                   kParams, kOutputs, plan, reduce)
