// Foreach expansion: items, documents and chunks into run units.
#include "flow/foreach.h"

namespace ream::flow {

using nlohmann::json;

Result<std::vector<std::string>> select_documents(const Template* source, const ExpandEnv& env) {
  if (!source) return env.documents;
  REAM_ASSIGN_OR_RETURN(json v, source->eval(*env.context));
  std::vector<std::string> keys;
  auto add = [&](const json& d) {
    if (d.is_object() && d.contains("id") && d["id"].is_string()) keys.push_back(d["id"].get<std::string>());
  };
  if (v.is_array()) {
    for (const json& d : v) add(d);
  } else {
    add(v);
  }
  return keys;
}

namespace {

// foreach: chunks of one document: a unit per chunk (the whole document when it fits).
Status expand_chunks(const Step& step, size_t index, const ExpandEnv& env, const std::string& key,
                     Expansion* out) {
  const plugins::Document whole = env.document(key);
  const int64_t budget = step.foreach.chunk_tokens > 0 ? step.foreach.chunk_tokens : env.context_budget;
  REAM_ASSIGN_OR_RETURN(ingest::ChunkPlan plan, env.plan(key, budget, step.foreach.overlap_tokens));
  const size_t n = plan.chunks.size();
  for (size_t c = 0; c < n; ++c) {
    const ingest::Chunk& ch = plan.chunks[c];
    plugins::Document d = whole;
    if (n > 1) {
      d.text = whole.text.substr(static_cast<size_t>(ch.text_begin),
                                 static_cast<size_t>(ch.text_end - ch.text_begin));
      d.base_offset = ch.text_begin;
      d.chunk_index = static_cast<int>(c);
      d.chunk_count = static_cast<int>(n);
      d.token_count = ch.tokens;
    }
    const int it = static_cast<int>(out->units.size());
    json item = {{"document", key}, {"chunk", c}, {"chunks", n}, {"start", ch.text_begin},
                 {"end", ch.text_end}, {"tokens", ch.tokens}, {"heading", ch.heading}};
    out->units.push_back({index, it, std::move(item), {std::move(d)}});
  }
  out->plans.push_back({key, std::move(plan), budget, step.foreach.overlap_tokens});
  return {};
}

}  // namespace

Result<Expansion> expand_step(const Step& step, size_t index, const ExpandEnv& env) {
  Expansion out;
  const Template* documents = step.documents ? &*step.documents : nullptr;
  switch (step.foreach.kind) {
    case ForeachKind::kNone: {
      RunUnit u{index, -1, json(), {}};
      REAM_ASSIGN_OR_RETURN(const std::vector<std::string> keys, select_documents(documents, env));
      for (const std::string& k : keys) u.documents.push_back(env.document(k));
      out.units.push_back(std::move(u));
      break;
    }
    case ForeachKind::kItems: {
      json items;
      if (step.foreach.literal_items) {
        items = *step.foreach.literal_items;
      } else {
        REAM_ASSIGN_OR_RETURN(items, step.foreach.source.eval(*env.context));
      }
      if (!items.is_array()) {
        return invalid_argument("foreach items is not a list (got " +
                                excerpt(items.dump(-1, ' ', false, json::error_handler_t::replace)) + ")");
      }
      REAM_ASSIGN_OR_RETURN(const std::vector<std::string> keys, select_documents(documents, env));
      for (size_t i = 0; i < items.size(); ++i) {
        RunUnit u{index, static_cast<int>(i), items[i], {}};
        for (const std::string& k : keys) u.documents.push_back(env.document(k));
        out.units.push_back(std::move(u));
      }
      break;
    }
    case ForeachKind::kDocuments: {
      REAM_ASSIGN_OR_RETURN(const std::vector<std::string> keys, select_documents(&step.foreach.source, env));
      for (const std::string& key : keys) {
        const int it = static_cast<int>(out.units.size());
        out.units.push_back({index, it, {{"document", key}, {"index", it}}, {env.document(key)}});
      }
      break;
    }
    case ForeachKind::kChunks: {
      REAM_ASSIGN_OR_RETURN(const std::vector<std::string> keys, select_documents(&step.foreach.source, env));
      for (const std::string& key : keys) REAM_RETURN_IF_ERROR(expand_chunks(step, index, env, key, &out));
      break;
    }
  }
  return out;
}

}  // namespace ream::flow
