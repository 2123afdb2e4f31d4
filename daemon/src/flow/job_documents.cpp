// A running job's documents: rebuilt from the store, budgeted and planned.
#include "flow/job_documents.h"

#include <algorithm>

#include "ingest/layout.h"

namespace ream::flow {

namespace {

// "12,345"
std::string grouped(int64_t n) {
  std::string s = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return n < 0 ? "-" + s : s;
}

}  // namespace

std::shared_ptr<const ingest::Document> document_from_record(store::DocumentRecord&& d, std::string* warning) {
  auto doc = std::make_shared<ingest::Document>();
  doc->id = d.content_hash;
  doc->source = d.source_path;
  doc->media_type = d.media_type;
  doc->text = std::move(d.text);
  doc->source_bytes = d.size_bytes;
  doc->tokens = d.token_count;
  warning->clear();
  if (d.layout.empty()) {
    *warning = d.source_path + ": stored without an offset map; quotes get offsets but no source location";
  } else if (Status st = ingest::decode_layout(d.layout, doc.get()); !st.ok()) {
    *warning = st.message() + "; quotes get offsets but no source location";
  }
  return doc;
}

int64_t context_budget(const ModelClient& model, const SamplingParams& sampling) {
  int64_t budget = model.context_size() - sampling.max_tokens - model.prompt_overhead() - 512;
  return std::max<int64_t>(budget, 256);
}

int64_t effective_overlap(int64_t budget, int64_t overlap) {
  return overlap >= 0 ? overlap : std::min<int64_t>(budget / 16, 512);
}

Result<ingest::ChunkPlan> plan_document(const ModelClient& model, const JobDoc& jd, int64_t budget,
                                        int64_t overlap) {
  const ingest::Document& doc = *jd.doc;
  if (doc.tokens >= 0 && doc.tokens <= budget) {
    ingest::ChunkPlan plan;
    plan.chunks.push_back({0, static_cast<int64_t>(doc.text.size()), doc.tokens, ""});
    plan.total_tokens = doc.tokens;
    plan.fits = true;
    return plan;
  }
  auto count = [&model](std::string_view t) { return model.count_tokens(t); };
  auto plan = ingest::plan_chunks(doc, budget, effective_overlap(budget, overlap), count);
  if (!plan.ok()) return Status(plan.status().code(), jd.key + ": " + plan.status().message());
  return plan;
}

std::string plan_line(const std::string& key, const ingest::ChunkPlan& plan, int64_t budget) {
  std::string line = key + " (" + grouped(plan.total_tokens) + " tokens)";
  if (plan.fits) return line + " fits the budget of " + grouped(budget) + " tokens: one pass";
  line += " in " + std::to_string(plan.chunks.size()) + " chunks of at most " + grouped(budget) + " tokens:";
  for (size_t i = 0; i < plan.chunks.size(); ++i) line += (i ? " + " : " ") + grouped(plan.chunks[i].tokens);
  return line;
}

nlohmann::json plan_json(const std::string& key, const ingest::ChunkPlan& plan, int64_t budget,
                         int64_t overlap) {
  nlohmann::json chunks = nlohmann::json::array();
  for (const ingest::Chunk& c : plan.chunks) {
    chunks.push_back({{"start", c.text_begin}, {"end", c.text_end}, {"tokens", c.tokens}, {"heading", c.heading}});
  }
  return {{"document", key}, {"tokens", plan.total_tokens}, {"budget", budget},
          {"overlap", effective_overlap(budget, overlap)}, {"fits", plan.fits},
          {"count", plan.chunks.size()}, {"chunks", chunks}};
}

}  // namespace ream::flow
