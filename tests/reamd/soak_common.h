// What the crash soaks share (daemon_soak_test.cpp: one host on SQLite;
// daemon_pg_soak_test.cpp: three hosts on PostgreSQL): documents of random words whose
// keyword_spotting findings the test knows from the text alone, and the client's record of
// what it sent and what was acknowledged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace ream::testing::soak {

// The keyword the soaks' keyword_spotting jobs look for.
inline constexpr const char* kKeyword = "notice";

// n random words, ten to a sentence and a line. "notice" is in no other word, so its
// occurrences are the keyword's.
inline std::string words(std::mt19937& rng, int n) {
  static const char* kW[] = {"alpha", "beta", "gamma", "delta", "notice", "term", "fee", "party"};
  std::string s;
  for (int i = 0; i < n; ++i) s += std::string(kW[rng() % 8]) + (i % 10 == 9 ? ".\n" : " ");
  return s;
}

// What keyword_spotter finds in one document: each occurrence, and one note.
inline int64_t findings_for(const std::string& text) {
  int64_t n = 1;
  for (size_t at = text.find(kKeyword); at != std::string::npos; at = text.find(kKeyword, at + 1)) ++n;
  return n;
}

// What the client knows of one Idempotency-Key: the body sent, the findings it calls for
// and, once acknowledged, the job id.
struct Submission {
  std::string body;
  int64_t findings = 0;
  int64_t id = 0;  // 0 until acknowledged
};

// Four documents of random words, dir/d0.txt .. d3.txt, and the findings each calls for.
struct Documents {
  std::vector<std::string> paths;
  std::vector<int64_t> findings;
};
// `dir` is made; each document has min_words + [0, spread) words.
inline Documents write_documents(const std::string& dir, std::mt19937& rng, int min_words, int spread) {
  std::filesystem::create_directories(dir);
  Documents d;
  for (int i = 0; i < 4; ++i) {
    d.paths.push_back(dir + "/d" + std::to_string(i) + ".txt");
    const std::string text = words(rng, min_words + static_cast<int>(rng() % spread));
    std::ofstream(d.paths.back()) << text;
    d.findings.push_back(findings_for(text));
  }
  return d;
}

// A keyword_spotting job over two of `docs` drawn by `rng`: its body, and the findings it
// calls for (id 0: not acknowledged yet).
inline Submission draw_submission(const Documents& docs, std::mt19937& rng) {
  nlohmann::json in_docs = nlohmann::json::array();
  int64_t findings = 0;
  for (int k = 0; k < 2; ++k) {
    const size_t p = rng() % docs.paths.size();
    in_docs.push_back(docs.paths[p]);
    findings += docs.findings[p];
  }
  const nlohmann::json body = {{"workflow", "keyword_spotting"},
                               {"inputs", {{"documents", in_docs}, {"keyword", kKeyword}}}};
  return Submission{body.dump(), findings, 0};
}

// The acknowledged keys (key -> job id) of `subs`, and how many keys were sent.
inline std::pair<std::map<std::string, int64_t>, size_t> acknowledged(const std::map<std::string, Submission>& subs) {
  std::map<std::string, int64_t> out;
  for (const auto& [key, s] : subs) {
    if (s.id > 0) out[key] = s.id;
  }
  return {out, subs.size()};
}

// Broken invariants, one indented line each.
inline std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += "  " + l + "\n";
  return s;
}

}  // namespace ream::testing::soak
