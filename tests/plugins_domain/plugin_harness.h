// A small host for testing one plugin .so on its own: it loads the built
// library, implements ream_host (a 4-bytes-a-token counter, a chosen context
// size), records every prompt, finding, output, warning and state the plugin
// emits, and runs plan and the reduce rounds with SCRIPTED model replies. The
// scripted replies test the plugins' planning and parsing only; runs with the
// real engine are the end-to-end tests.
#pragma once

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ream/plugin.h"

namespace ream::test {

struct HPrompt {
  std::string key;
  std::vector<std::pair<std::string, std::string>> messages;
  int32_t max_tokens = 0;
  int32_t constraint_kind = REAM_CONSTRAINT_NONE;  // as attached by the plugin
  std::string constraint;
  std::string user() const { return messages.size() > 1 ? messages[1].second : ""; }
  std::string last() const { return messages.empty() ? "" : messages.back().second; }
};
struct HEvidence {
  std::string document_id, quote;
  int64_t start = -1, end = -1;
};
struct HFinding {
  int32_t severity = 0;
  std::string kind, category, title, text;
  std::vector<HEvidence> evidence;
  nlohmann::json details;
};
struct HDoc {
  std::string id, path, text;
};

class PluginHarness {
 public:
  explicit PluginHarness(const std::string& name, int64_t context = 32768) : context_(context) {
    std::string path = std::string(REAM_BUILD_PLUGIN_DIR) + "/" + name + ".so";
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      ADD_FAILURE() << "dlopen " << path << ": " << dlerror();
      return;
    }
    auto entry = reinterpret_cast<ream_plugin_entry_fn>(dlsym(handle_, REAM_PLUGIN_ENTRY_NAME));
    plugin_ = entry ? entry(REAM_PLUGIN_ABI_VERSION) : nullptr;
    if (!plugin_) ADD_FAILURE() << name << ": no descriptor";
    host_.struct_size = sizeof(host_);
    host_.abi_version = REAM_PLUGIN_ABI_VERSION;
    host_.count_tokens = [](ream_call*, ream_str t) { return static_cast<int64_t>(t.len / 4 + 1); };
    host_.context_size = [](ream_call* c) { return self(c)->context_; };
    host_.prompt_overhead = [](ream_call*) -> int64_t { return 8; };
    host_.log = [](ream_call*, int32_t, ream_str) {};
    host_.emit_prompt = [](ream_call* c, const ream_prompt* p) { return self(c)->on_prompt(p); };
    host_.emit_finding = [](ream_call* c, const ream_finding* f) { return self(c)->on_finding(f); };
    host_.emit_output = [](ream_call* c, ream_str n, ream_str v) {
      self(c)->outputs[s(n)] = nlohmann::json::parse(s(v));
      return REAM_OK;
    };
    host_.emit_warning = [](ream_call* c, ream_str m) {
      self(c)->warnings.push_back(s(m));
      return REAM_OK;
    };
    host_.set_state = [](ream_call* c, ream_str v) {
      self(c)->state_ = s(v);
      return REAM_OK;
    };
    host_.set_error = [](ream_call* c, ream_str m) { self(c)->error = s(m); };
  }
  ~PluginHarness() {
    if (handle_) dlclose(handle_);
  }
  PluginHarness(const PluginHarness&) = delete;
  PluginHarness& operator=(const PluginHarness&) = delete;

  const ream_plugin* plugin() const { return plugin_; }

  using Script = std::function<std::string(const HPrompt&)>;

  // Runs plan, then reduce rounds until one emits no prompts. Returns the status
  // of the first callback that fails (error holds its message).
  ream_status run(const std::vector<HDoc>& docs, const nlohmann::json& params, const Script& script) {
    std::vector<ream_document> d;
    for (const HDoc& x : docs) {
      ream_document r{};
      r.struct_size = sizeof(r);
      r.id = rs(x.id);
      r.path = rs(x.path);
      r.text = rs(x.text);
      r.total_bytes = static_cast<int64_t>(x.text.size());
      r.chunk_index = -1;
      r.token_count = static_cast<int64_t>(x.text.size() / 4 + 1);
      d.push_back(r);
    }
    std::string p = params.dump();
    ream_plan_input in{sizeof(ream_plan_input), 0, d.data(), d.size(), rs(p), {nullptr, 0}};
    pending_.clear();
    if (ream_status rc = plugin_->plan(&host_, call(), &in); rc != REAM_OK) return rc;
    for (int round = 0; round < 16; ++round) {
      std::vector<HPrompt> asked = std::move(pending_);
      pending_.clear();
      for (const HPrompt& a : asked) prompts.push_back(a);
      std::vector<std::string> texts;
      for (const HPrompt& a : asked) texts.push_back(script(a));
      std::vector<ream_reply> replies;
      for (size_t i = 0; i < asked.size(); ++i) {
        ream_reply r{};
        r.struct_size = sizeof(r);
        r.key = rs(asked[i].key);
        r.text = rs(texts[i]);
        r.finish_reason = rs(finish_);
        r.completion_tokens = static_cast<int64_t>(texts[i].size() / 4 + 1);
        replies.push_back(r);
      }
      std::string state = std::move(state_);
      state_.clear();
      ream_reduce_input rin{sizeof(ream_reduce_input), round, d.data(), d.size(), rs(p), {nullptr, 0},
                            replies.data(), replies.size(), rs(state)};
      rounds = round + 1;
      if (ream_status rc = plugin_->reduce(&host_, call(), &rin); rc != REAM_OK) return rc;
      if (pending_.empty()) return REAM_OK;
    }
    ADD_FAILURE() << "more than 16 reduce rounds";
    return REAM_ERR_FAILED;
  }

  std::vector<HPrompt> prompts;  // every prompt, in the order emitted
  std::vector<HFinding> findings;
  nlohmann::json outputs = nlohmann::json::object();
  std::vector<std::string> warnings;
  std::string error;
  int rounds = 0;

  std::vector<const HFinding*> of_kind(const std::string& kind) const {
    std::vector<const HFinding*> out;
    for (const HFinding& f : findings) if (f.kind == kind) out.push_back(&f);
    return out;
  }

 private:
  static std::string s(ream_str x) { return x.len ? std::string(x.ptr, x.len) : std::string(); }
  static ream_str rs(const std::string& x) { return {x.data(), x.size()}; }
  static PluginHarness* self(ream_call* c) { return reinterpret_cast<PluginHarness*>(c); }
  ream_call* call() { return reinterpret_cast<ream_call*>(this); }

  ream_status on_prompt(const ream_prompt* p) {
    HPrompt h{s(p->key), {}, p->max_tokens};
    if (REAM_HAS_FIELD(p, ream_prompt, constraint)) {
      h.constraint_kind = p->constraint_kind;
      h.constraint = s(p->constraint);
    }
    for (size_t i = 0; i < p->message_count; ++i) h.messages.emplace_back(s(p->messages[i].role), s(p->messages[i].content));
    for (const HPrompt& q : pending_) EXPECT_NE(q.key, h.key) << "duplicate prompt key";
    // Every prompt must fit the context with room for its reply.
    int64_t tokens = 8;
    for (const auto& m : h.messages) tokens += static_cast<int64_t>(m.second.size() / 4 + 1);
    EXPECT_LE(tokens + std::max<int64_t>(h.max_tokens, 0), context_) << "prompt " << h.key << " exceeds the context";
    pending_.push_back(std::move(h));
    return REAM_OK;
  }
  ream_status on_finding(const ream_finding* f) {
    HFinding h{f->severity, s(f->kind), s(f->category), s(f->title), s(f->text), {}, nlohmann::json::object()};
    for (size_t i = 0; i < f->evidence_count; ++i) {
      const ream_evidence& e = f->evidence[i];
      h.evidence.push_back({s(e.document_id), s(e.quote), e.start, e.end});
    }
    if (f->details_json.len) h.details = nlohmann::json::parse(s(f->details_json));
    findings.push_back(std::move(h));
    return REAM_OK;
  }

  void* handle_ = nullptr;
  const ream_plugin* plugin_ = nullptr;
  ream_host host_{};
  int64_t context_;
  std::vector<HPrompt> pending_;
  std::string state_;
  std::string finish_ = "stop";
};

}  // namespace ream::test
