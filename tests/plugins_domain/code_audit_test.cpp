// code_audit through the plugin harness with SCRIPTED replies; the source-file
// map; and the SARIF 2.1.0 export of its findings, checked structurally against
// what GitHub code scanning requires.
#include <gtest/gtest.h>

#include "code_audit/source_files.h"
#include "ajv.h"
#include "flow/sarif.h"
#include "plugin_harness.h"

namespace ream::test {
namespace {

using nlohmann::json;

// A tree as ingestion presents it.
const char* kTree =
    "==> app/handlers.py (Python) <==\n"
    "import re\n"
    "import sqlite3\n"
    "\n"
    "def find_user(db, name):\n"
    "    return db.execute(\"SELECT * FROM users WHERE name = '\" + name + \"'\")\n"
    "\n"
    "def words(lines):\n"
    "    for line in lines:\n"
    "        yield re.compile(r\"\\w+\").findall(line)\n"
    "\n"
    "==> src/util.cpp (C++) <==\n"
    "#include <cstdio>\n"
    "void f(const char* s) { char b[8]; strcpy(b, s); }\n";

std::string handlers_reply() {
  return R"j({"findings": [
    {"rule": "sql-string-concatenation", "category": "security", "cwe": "CWE-89", "severity": "high", "file": "app/handlers.py", "line": 3,
     "code": "return db.execute(\"SELECT * FROM users WHERE name = '\" + name + \"'\")", "title": "SQL injection", "explanation": "name is concatenated.", "fix": "Use a bound parameter."},
    {"rule": "regex-recompiled-in-loop", "category": "performance", "severity": "low", "file": "app/handlers.py", "line": 9,
     "code": "yield re.compile(r\"\\w+\").findall(line)", "title": "Regex compiled per line", "explanation": "Compiled every iteration.", "fix": "Compile once."},
    {"rule": "hardcoded-secret", "severity": "critical", "file": "app/handlers.py", "line": 1,
     "code": "API_KEY = \"sk-123\"", "title": "Secret", "explanation": "A key in code.", "fix": "Use the environment."},
    {"rule": "sql-string-concatenation", "severity": "high", "file": "app/handlers.py", "line": 5,
     "code": "return db.execute(\"SELECT * FROM users WHERE name = '\" + name + \"'\")", "title": "dup", "explanation": "", "fix": ""}]})j";
}

TEST(CodeAuditScriptedReplies, LocatesQuotedCodeForFileAndLineAndFiltersByFloor) {
  PluginHarness h("code_audit");
  json params = {{"severity_floor", "medium"}, {"max_tokens", 800}};
  ASSERT_EQ(h.run({{"doc-1", "repo", kTree}}, params, [](const HPrompt& p) -> std::string {
              if (p.user().find("strcpy") != std::string::npos && p.user().find("find_user") == std::string::npos) {
                return R"j({"findings": []})j";
              }
              return "```json\n" + handlers_reply() + "\n```";
            }),
            REAM_OK)
      << h.error;
  ASSERT_EQ(h.prompts.size(), 1u) << "both small files fit one prompt";
  EXPECT_EQ(h.prompts[0].user().find("<source_files document=\"doc-1\">\n==> app/handlers.py (Python) <==\n"), 0u);
  EXPECT_LT(h.prompts[0].user().find("strcpy"), h.prompts[0].user().find("Rule catalogue"));

  auto issues = h.of_kind("issue");
  ASSERT_EQ(issues.size(), 2u) << "the low-severity regex issue is below the floor; the duplicate is merged";
  const HFinding& sql = *issues[1];
  const HFinding& secret = *issues[0];  // critical first
  EXPECT_EQ(sql.details["file"], "app/handlers.py");
  EXPECT_EQ(sql.details["line"], 5) << "from where the code is, not the model's line 3";
  EXPECT_EQ(sql.details["model_line"], 3);
  EXPECT_EQ(sql.details["cwe"], "CWE-89");
  EXPECT_EQ(sql.category, "CWE-89");
  EXPECT_EQ(sql.severity, REAM_SEVERITY_HIGH);
  ASSERT_EQ(sql.evidence.size(), 1u);
  EXPECT_EQ(std::string(kTree).substr(sql.evidence[0].start, sql.evidence[0].end - sql.evidence[0].start),
            sql.evidence[0].quote);
  EXPECT_FALSE(secret.details["located"].get<bool>());
  EXPECT_EQ(secret.evidence[0].start, -1);
  EXPECT_EQ(secret.details["cwe"], "CWE-798") << "from the rule catalogue";
  EXPECT_EQ(h.outputs["below_floor"], 1);
  EXPECT_EQ(h.outputs["unlocated"], 1);
  EXPECT_EQ(h.outputs["files_reviewed"], 2);
  EXPECT_EQ(h.outputs["counts"]["critical"], 1);
}

TEST(CodeAuditScriptedReplies, LanguagesFilterAndBrokenReplyWarns) {
  PluginHarness h("code_audit");
  ASSERT_EQ(h.run({{"doc-1", "repo", kTree}}, {{"languages", {"cpp"}}},
                  [](const HPrompt&) -> std::string { return "no issues found, the code looks fine"; }),
            REAM_OK)
      << h.error;
  ASSERT_EQ(h.prompts.size(), 2u);  // the prompt and its repair
  EXPECT_EQ(h.prompts[0].user().find("handlers.py"), std::string::npos);
  EXPECT_NE(h.prompts[0].user().find("==> src/util.cpp (C++) <=="), std::string::npos);
  EXPECT_EQ(h.outputs["files_excluded"], 1);
  ASSERT_EQ(h.warnings.size(), 1u);
  EXPECT_NE(h.warnings[0].find("files src/util.cpp .. src/util.cpp: reply unusable after a repair prompt"),
            std::string::npos) << h.warnings[0];
  EXPECT_TRUE(h.findings.empty());
}

TEST(CodeAuditScriptedReplies, AFileLongerThanThePromptIsSplitWithItsLines) {
  std::string body;
  for (int i = 1; i <= 1500; ++i) body += "x_" + std::to_string(i) + " = compute(" + std::to_string(i) + ")\n";
  std::string tree = "==> big.py (Python) <==\n" + body;
  PluginHarness h("code_audit", 5000);
  ASSERT_EQ(h.run({{"doc-1", "repo", tree}}, {{"max_tokens", 256}}, [](const HPrompt& p) -> std::string {
              if (p.user().find("x_555 = compute(555)") == std::string::npos) return R"j({"findings": []})j";
              return R"j({"findings": [{"rule": "unchecked-error", "severity": "medium", "file": "big.py", "line": 2, "code": "x_555 = compute(555)", "title": "t", "explanation": "e", "fix": "f"}]})j";
            }),
            REAM_OK)
      << h.error;
  ASSERT_GT(h.prompts.size(), 1u);
  EXPECT_NE(h.prompts[1].user().find("==> big.py (Python) lines "), std::string::npos);
  ASSERT_EQ(h.findings.size(), 1u);
  EXPECT_EQ(h.findings[0].details["line"], 555);
}

TEST(CodeAuditSourceFiles, HeadersGiveFilesAndLines) {
  auto files = audit::source_files(kTree, "repo");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "app/handlers.py");
  EXPECT_EQ(files[0].language, "Python");
  EXPECT_EQ(files[1].path, "src/util.cpp");
  std::string_view t(kTree);
  EXPECT_EQ(audit::line_of(t, files[1], t.find("void f")), 2);
  EXPECT_EQ(audit::file_at(files, t.find("strcpy")), &files[1]);
  EXPECT_EQ(t.substr(files[0].body_end - 1, 1), "\n");
  EXPECT_EQ(t.substr(files[0].body_end, 1), "\n") << "the separating blank line belongs to neither file";
  auto single = audit::source_files("int main() {}\n", "main.cpp");
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].language, "C++");
  EXPECT_TRUE(audit::language_matches(files[0], {"py"}));
  EXPECT_FALSE(audit::language_matches(files[0], {"cpp"}));
}

// The code_audit findings above, as job_result_json() would present them.
json job_result_of(const PluginHarness& h) {
  json findings = json::array();
  int id = 0;
  for (const HFinding& f : h.findings) {
    json ev = json::array();
    for (const HEvidence& e : f.evidence) ev.push_back({{"document", e.document_id}, {"quote", e.quote}, {"verified", e.start >= 0}});
    const char* sev[] = {"info", "low", "medium", "high", "critical"};
    findings.push_back({{"id", ++id}, {"kind", f.kind}, {"category", f.category}, {"severity", sev[f.severity]},
                        {"title", f.title}, {"text", f.text}, {"evidence", ev}, {"details", f.details}});
  }
  findings.push_back({{"id", 99}, {"kind", "note"}, {"category", ""}, {"severity", "info"}, {"title", "no location"},
                      {"text", ""}, {"evidence", json::array()}, {"details", json::object()}});
  return {{"job", {{"id", 7}, {"workflow", "code_audit"}, {"status", "succeeded"}}}, {"findings", findings},
          {"warnings", json::array({{{"step", "audit"}, {"iteration", 0}, {"message", "a warning"}}})}};
}

TEST(CodeAuditSarif, ExportHasWhatGitHubCodeScanningRequires) {
  PluginHarness h("code_audit");
  ASSERT_EQ(h.run({{"doc-1", "repo", kTree}}, {{"severity_floor", "low"}},
                  [](const HPrompt&) { return handlers_reply(); }),
            REAM_OK);
  json sarif = flow::sarif_from_result(job_result_of(h));
  EXPECT_EQ(sarif["version"], "2.1.0");
  EXPECT_EQ(sarif["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
  ASSERT_EQ(sarif["runs"].size(), 1u);
  const json& run = sarif["runs"][0];
  const json& driver = run["tool"]["driver"];
  EXPECT_EQ(driver["name"], "ream");
  ASSERT_TRUE(driver["rules"].is_array());
  std::set<std::string> rule_ids;
  for (const json& r : driver["rules"]) {
    ASSERT_TRUE(r["id"].is_string());
    EXPECT_TRUE(rule_ids.insert(r["id"].get<std::string>()).second) << "rule ids are unique";
    EXPECT_TRUE(r["shortDescription"]["text"].is_string());
    EXPECT_TRUE(r["defaultConfiguration"]["level"].is_string());
  }
  EXPECT_TRUE(rule_ids.count("sql-string-concatenation"));
  ASSERT_EQ(run["results"].size(), 3u) << "the finding without a location is left out";
  std::set<std::string> levels = {"none", "note", "warning", "error"};
  std::set<std::string> prints;
  for (const json& r : run["results"]) {
    ASSERT_TRUE(rule_ids.count(r["ruleId"].get<std::string>()));
    EXPECT_EQ(driver["rules"][r["ruleIndex"].get<size_t>()]["id"], r["ruleId"]);
    EXPECT_TRUE(levels.count(r["level"].get<std::string>()));
    EXPECT_FALSE(r["message"]["text"].get<std::string>().empty());
    const json& loc = r["locations"].at(0)["physicalLocation"];
    std::string uri = loc["artifactLocation"]["uri"];
    EXPECT_TRUE(uri == "app/handlers.py") << uri;
    EXPECT_GE(loc["region"]["startLine"].get<int>(), 1);
    EXPECT_TRUE(prints.insert(r["partialFingerprints"]["primaryLocationLineHash"].get<std::string>()).second);
  }
  const json& sql = run["results"][1];
  EXPECT_EQ(sql["ruleId"], "sql-string-concatenation");
  EXPECT_EQ(sql["level"], "error");
  EXPECT_EQ(sql["locations"][0]["physicalLocation"]["region"]["startLine"], 5);
  const json& rule = driver["rules"][sql["ruleIndex"].get<size_t>()];
  EXPECT_EQ(rule["helpUri"], "https://cwe.mitre.org/data/definitions/89.html");
  EXPECT_EQ(rule["properties"]["tags"][1], "external/cwe/cwe-89");
  EXPECT_EQ(rule["properties"]["security-severity"], "8.0");
  const json& inv = run["invocations"][0];
  EXPECT_TRUE(inv["executionSuccessful"].get<bool>());
  EXPECT_EQ(inv["toolExecutionNotifications"].size(), 2u);
}

// The same export held against the SARIF 2.1.0 JSON schema by a validator nobody here
// wrote (ajv, npm); a copy broken where the schema forbids it is refused, so the check bites.
TEST(CodeAuditSarif, ExportIsValidAgainstTheSarif210Schema) {
  PluginHarness h("code_audit");
  ASSERT_EQ(h.run({{"doc-1", "repo", kTree}}, {{"severity_floor", "low"}},
                  [](const HPrompt&) { return handlers_reply(); }),
            REAM_OK);
  json sarif = flow::sarif_from_result(job_result_of(h));
  ASSERT_EQ(sarif["runs"][0]["results"].size(), 3u);
  EXPECT_EQ(sarif_schema_errors(sarif), "");
  json broken = sarif;
  broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0;
  broken["runs"][0]["results"][1]["level"] = "fatal";
  const std::string errors = sarif_schema_errors(broken);
  EXPECT_NE(errors.find("startLine must be >= 1"), std::string::npos) << errors;
  EXPECT_NE(errors.find("level must be equal to one of the allowed values"), std::string::npos) << errors;
}

}  // namespace
}  // namespace ream::test
