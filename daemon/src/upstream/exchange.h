// Exchange: one model request sent through the UpstreamPool, start to end.
//
// It takes a slot on the upstream the prompt's affinity key routes to, sets the body's
// "model" to the name that upstream serves, sends it and hands the answer over: a streamed
// 200 event by event (each SSE `data:`, "[DONE]" included), anything else as one body. A
// request that never reached its upstream (connection refused or reset before any response
// byte) marks that upstream down and is sent once more, to another upstream; nothing
// reached the caller yet, so the retry is invisible to it. A response cut after it began is
// not retried: the caller gets the outcome kBody and tells its own client.
//
// run() blocks; it is meant for a thread of its own (UpstreamPool::spawn). cancel() may be
// called from any thread, before or during run().
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "upstream/pool.h"

namespace ream::upstream {

struct ExchangeResult {
  HttpOutcome outcome;    // of the last try
  std::string upstream;   // the upstream's name ("" when none was reachable)
  std::string error;      // for the caller's client when not ok: what failed, and where
  int tries = 0;
};

class Exchange {
 public:
  struct Handlers {
    // The response head from upstream `name`: its status.
    std::function<void(unsigned status, const std::string& name)> on_head;
    // A streamed 200: each event's data. Return false to stop reading.
    std::function<bool(const std::string& data)> on_event;
    // Anything else (not streamed, or an error status): the whole body.
    std::function<void(unsigned status, std::string body)> on_body;
  };

  // `target`: "/v1/chat/completions". `body["stream"]` says whether the answer streams.
  Exchange(UpstreamPool& pool, std::string target, nlohmann::json body, uint64_t affinity, std::string tag);
  ExchangeResult run(const Handlers& handlers);
  void cancel();

 private:
  UpstreamPool& pool_;
  std::string target_;
  nlohmann::json body_;
  uint64_t affinity_;
  std::string tag_;
  std::mutex mu_;
  bool cancelled_ = false;
  std::shared_ptr<HttpCall> call_;  // the try in progress
};

// The usage object of an OpenAI response or final stream chunk ({} when absent).
UpstreamUsage usage_of(const nlohmann::json& response);

}  // namespace ream::upstream
