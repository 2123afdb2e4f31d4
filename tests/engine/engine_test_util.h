// Helpers shared by the tests that drive the whole engine with the tiny random model.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "ream/engine/engine.h"
#include "test_util.h"

namespace ream::testing {

// An engine over the tiny model (2 CPU threads unless `o` says otherwise).
inline std::unique_ptr<Engine> make_tiny_engine(EngineOptions o = {}) {
  o.model = tiny_model_dir();
  if (o.num_threads == 0) o.num_threads = 2;
  auto e = Engine::create(o);
  if (!e.ok()) ADD_FAILURE() << e.status().to_string();
  return e.ok() ? std::move(e).value() : nullptr;
}

inline std::vector<int32_t> random_prompt(std::mt19937& rng, int n) {
  std::vector<int32_t> p(n);
  for (auto& t : p) t = static_cast<int32_t>(rng() % 150000);
  return p;
}

// Every request submitted at once from its own thread (continuous batching).
inline std::vector<Completion> run_concurrently(Engine& e, const std::vector<GenerationRequest>& reqs) {
  std::vector<Completion> out(reqs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < reqs.size(); ++i)
    threads.emplace_back([&, i] {
      auto c = e.generate(reqs[i]);
      ASSERT_TRUE(c.ok()) << c.status().to_string();
      out[i] = std::move(c).value();
    });
  for (auto& t : threads) t.join();
  return out;
}

}  // namespace ream::testing
