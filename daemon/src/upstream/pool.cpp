// UpstreamPool: routing (rendezvous hashing on the prompt's prefix, least load otherwise),
// health checks and per-upstream metrics.
#include "upstream/pool.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace ream::upstream {

namespace {

uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

std::map<std::string, std::string> auth_headers(const UpstreamSpec& spec) {
  std::map<std::string, std::string> h;
  if (!spec.api_key.empty()) h["Authorization"] = "Bearer " + spec.api_key;
  return h;
}

}  // namespace

Slot::~Slot() {
  if (pool_) pool_->release(index_);
}

UpstreamPool::UpstreamPool(std::vector<UpstreamSpec> specs, metrics::Registry* m) {
  for (UpstreamSpec& s : specs) {
    UpstreamState st;
    st.spec = std::move(s);
    std::string err = parse_endpoint(st.spec.url, &st.endpoint);
    (void)err;  // the config was validated; a bad URL cannot reach here
    st.endpoint.ca_file = st.spec.ca_file;
    states_.push_back(std::move(st));
  }
  if (m) {
    const std::vector<std::string> by = {"upstream"};
    requests_ = &m->counter("reamd_upstream_requests_total", "Model requests sent to an upstream (each try).", by);
    errors_ = &m->counter("reamd_upstream_errors_total",
                          "Upstream requests that failed, by kind: connect (never reached it), status (it "
                          "answered an error), cut (the response broke off), cancelled.",
                          {"upstream", "kind"});
    latency_ = &m->histogram("reamd_upstream_request_seconds", "Upstream request time, first byte sent to last received.",
                             by, metrics::latency_buckets());
    prompt_tokens_ = &m->counter("reamd_upstream_prompt_tokens_total", "Prompt tokens upstreams reported.", by);
    completion_tokens_ =
        &m->counter("reamd_upstream_completion_tokens_total", "Completion tokens upstreams reported.", by);
    cached_tokens_ = &m->counter("reamd_upstream_cached_prompt_tokens_total",
                                 "Prompt tokens upstreams found in their prefix cache.", by);
    in_flight_ = &m->gauge("reamd_upstream_in_flight", "Requests in flight to an upstream.", by);
    healthy_ = &m->gauge("reamd_upstream_healthy", "1 when the upstream passed its last check, else 0.", by);
    for (const UpstreamState& s : states_) {
      for (metrics::Family* f : {requests_, prompt_tokens_, completion_tokens_, cached_tokens_, in_flight_}) {
        f->add({s.spec.name}, 0);
      }
      healthy_->set({s.spec.name}, 1);
    }
  }
}

UpstreamPool::~UpstreamPool() { stop(); }

void UpstreamPool::start() {
  check_all();
  health_ = std::thread([this] { health_loop(); });
}

void UpstreamPool::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  freed_.notify_all();
  if (health_.joinable()) health_.join();
  std::unique_lock lock(mu_);
  for (auto& [id, cancel] : tasks_) cancel();
  tasks_done_.wait(lock, [this] { return tasks_.empty(); });
}

void UpstreamPool::spawn(std::function<void()> fn, std::function<void()> cancel) {
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    id = next_task_++;
    tasks_[id] = std::move(cancel);
    if (stopping_) tasks_[id]();
  }
  std::thread([this, id, fn = std::move(fn)] {
    fn();
    std::lock_guard lock(mu_);
    tasks_.erase(id);
    tasks_done_.notify_all();
  }).detach();
}

uint64_t UpstreamPool::affinity(std::string_view leading_text) const { return fnv1a(leading_text); }

Result<Slot> UpstreamPool::acquire(uint64_t key, const std::vector<size_t>& exclude, double wait_s,
                                   const std::function<bool()>& cancelled) {
  // Rendezvous order for this key: the same for every process with the same upstream names.
  std::vector<std::pair<uint64_t, size_t>> order;
  for (size_t i = 0; i < states_.size(); ++i) {
    if (std::find(exclude.begin(), exclude.end(), i) != exclude.end()) continue;
    order.push_back({mix(key ^ fnv1a(states_[i].spec.name)), i});
  }
  std::sort(order.begin(), order.end(), std::greater<>());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  std::unique_lock lock(mu_);
  for (;;) {
    if (stopping_) return unavailable("reamd is stopping");
    if (cancelled && cancelled()) return Status(StatusCode::kCancelled, "cancelled while waiting for an upstream");
    std::optional<size_t> pick;
    bool any_healthy = false;
    for (const auto& [score, i] : order) {
      const UpstreamState& s = states_[i];
      if (!s.healthy) continue;
      any_healthy = true;
      if (s.in_flight < s.spec.max_concurrent) pick = i;
      break;  // the affinity target: taken if it has room
    }
    if (!pick) {
      double best = 2;
      for (const auto& [score, i] : order) {
        const UpstreamState& s = states_[i];
        if (!s.healthy || s.in_flight >= s.spec.max_concurrent) continue;
        double load = static_cast<double>(s.in_flight) / s.spec.max_concurrent;
        if (load < best) best = load, pick = i;
      }
    }
    if (pick) {
      ++states_[*pick].in_flight;
      if (in_flight_) in_flight_->add({states_[*pick].spec.name}, 1);
      return Slot(this, *pick);
    }
    if (!any_healthy) {
      std::string why;
      for (const auto& [score, i] : order) {
        why += (why.empty() ? "" : "; ") + states_[i].spec.name + ": " +
               (states_[i].health_error.empty() ? "unhealthy" : states_[i].health_error);
      }
      if (order.empty()) why = "every upstream was tried";
      return unavailable("no healthy upstream (" + why + ")");
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return Status(StatusCode::kResourceExhausted,
                    "every healthy upstream is at its max_concurrent; none freed within " +
                        std::to_string(static_cast<int>(wait_s)) + " s");
    }
  }
}

void UpstreamPool::release(size_t index) {
  {
    std::lock_guard lock(mu_);
    --states_[index].in_flight;
  }
  if (in_flight_) in_flight_->add({states_[index].spec.name}, -1);
  freed_.notify_all();
}

void UpstreamPool::mark_down(size_t index, const std::string& why) {
  std::lock_guard lock(mu_);
  UpstreamState& s = states_[index];
  if (s.healthy) spdlog::warn("upstream {}: marked down until its health check passes: {}", s.spec.name, why);
  s.healthy = false;
  ++s.marked_down;
  s.health_error = why;
  if (healthy_) healthy_->set({s.spec.name}, 0);
}

void UpstreamPool::record(size_t index, const std::string& error, double latency_s, const UpstreamUsage& usage) {
  if (!requests_) return;
  const std::string& name = states_[index].spec.name;
  requests_->add({name});
  if (!error.empty()) errors_->add({name, error});
  latency_->observe({name}, latency_s);
  prompt_tokens_->add({name}, static_cast<double>(usage.prompt_tokens));
  completion_tokens_->add({name}, static_cast<double>(usage.completion_tokens));
  cached_tokens_->add({name}, static_cast<double>(usage.cached_prompt_tokens));
}

UpstreamState UpstreamPool::state(size_t index) const {
  std::lock_guard lock(mu_);
  return states_[index];
}

int64_t UpstreamPool::min_model_len() const {
  std::lock_guard lock(mu_);
  int64_t m = 0;
  for (const UpstreamState& s : states_) {
    if (s.healthy && s.max_model_len > 0) m = m == 0 ? s.max_model_len : std::min(m, s.max_model_len);
  }
  return m;
}

bool UpstreamPool::any_healthy() const {
  std::lock_guard lock(mu_);
  for (const UpstreamState& s : states_) {
    if (s.healthy) return true;
  }
  return false;
}

void UpstreamPool::check_one(size_t index) {
  UpstreamSpec spec;
  Endpoint endpoint;
  uint64_t marked_down = 0;
  {
    std::lock_guard lock(mu_);
    spec = states_[index].spec;
    endpoint = states_[index].endpoint;
    marked_down = states_[index].marked_down;
  }
  HttpCallOptions opt;
  opt.connect_timeout_s = spec.connect_timeout_s;
  opt.io_timeout_s = std::max(1.0, std::min(spec.timeout_s, spec.health_interval_s * 2));
  std::string body;
  HttpOutcome out = http_fetch(endpoint, "GET", spec.health_path, "", auth_headers(spec), opt, &body);
  bool ok = out.stage == HttpOutcome::Stage::kOk && out.status == 200;
  std::string why = out.stage != HttpOutcome::Stage::kOk
                        ? out.error
                        : "GET " + spec.health_path + " answered " + std::to_string(out.status);
  std::string model;
  int64_t max_len = 0;
  if (ok && spec.health_path == "/v1/models") {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("data") && j["data"].is_array() && !j["data"].empty() &&
        j["data"][0].is_object()) {
      const auto& card = j["data"][0];
      if (card.contains("id") && card["id"].is_string()) model = card["id"].get<std::string>();
      if (card.contains("max_model_len") && card["max_model_len"].is_number_integer()) {
        max_len = card["max_model_len"].get<int64_t>();
      }
    }
  }
  bool came_back = false;
  {
    std::lock_guard lock(mu_);
    UpstreamState& s = states_[index];
    if (ok && s.marked_down != marked_down) {
      // A request failed on it while this check was under way: the check's answer may be
      // older than that failure, so it stays down until the next check.
      return;
    }
    if (ok && !s.healthy) {
      spdlog::info("upstream {}: healthy again", s.spec.name);
      came_back = true;
    } else if (!ok && s.healthy) {
      spdlog::warn("upstream {}: unhealthy: {}", s.spec.name, why);
    }
    s.healthy = ok;
    s.health_error = ok ? "" : why;
    if (!model.empty()) s.discovered_model = model;
    if (max_len > 0) s.max_model_len = max_len;
    if (healthy_) healthy_->set({s.spec.name}, ok ? 1 : 0);
  }
  if (came_back) freed_.notify_all();
}

void UpstreamPool::check_all() {
  // Concurrently, so one silent upstream does not hold the others' checks back.
  std::vector<std::thread> checks;
  for (size_t i = 0; i < states_.size(); ++i) checks.emplace_back([this, i] { check_one(i); });
  for (std::thread& t : checks) t.join();
}

void UpstreamPool::health_loop() {
  double interval = 3600;
  for (const UpstreamState& s : states_) interval = std::min(interval, s.spec.health_interval_s);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::duration<double>(interval), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    check_all();
    lock.lock();
  }
}

}  // namespace ream::upstream
