// Limits: connection places (full, probe, refused) and stream slots.
#include "http/limits.h"

#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace ream::http {

struct LimitsState {
  std::mutex mu;
  int full = 0;
  std::unordered_map<std::string, int> per_client;
  struct Probe {
    uint64_t id = 0;
    std::function<void()> evict;
  };
  std::list<Probe> probes;  // oldest first
  uint64_t next_probe = 1;
  int streams = 0;
};

Limits::Limits(LimitOptions options)
    : options_(options), state_(std::make_shared<LimitsState>()) {}

Limits::Ticket::Ticket(Ticket&& o) noexcept
    : state_(std::move(o.state_)), place_(o.place_), client_(std::move(o.client_)),
      probe_id_(o.probe_id_) {
  o.place_ = Place::kRefused;
}

Limits::Ticket& Limits::Ticket::operator=(Ticket&& o) noexcept {
  if (this != &o) {
    release();
    state_ = std::move(o.state_);
    place_ = o.place_;
    client_ = std::move(o.client_);
    probe_id_ = o.probe_id_;
    o.place_ = Place::kRefused;
  }
  return *this;
}

Limits::Ticket::~Ticket() { release(); }

void Limits::Ticket::release() {
  if (!state_ || place_ == Place::kRefused) return;
  std::lock_guard lock(state_->mu);
  if (place_ == Place::kFull) {
    --state_->full;
    auto it = state_->per_client.find(client_);
    if (it != state_->per_client.end() && --it->second <= 0) state_->per_client.erase(it);
  } else {
    // An evicted probe is gone from the list already.
    state_->probes.remove_if([this](const LimitsState::Probe& p) { return p.id == probe_id_; });
  }
  place_ = Place::kRefused;
}

Limits::Admission Limits::admit(const std::string& client, std::function<void()> evict) {
  Admission a;
  std::function<void()> evicted;
  {
    std::lock_guard lock(state_->mu);
    const int from_client = [&] {
      auto it = state_->per_client.find(client);
      return it == state_->per_client.end() ? 0 : it->second;
    }();
    if (state_->full >= options_.max_connections) {
      a.limit = "http.max_connections";
      a.message = std::to_string(state_->full) + " connections are open (http.max_connections = " +
                  std::to_string(options_.max_connections) + ")";
    } else if (options_.max_per_client > 0 && from_client >= options_.max_per_client) {
      a.limit = "http.max_connections_per_client";
      a.message = std::to_string(from_client) + " connections are open from " + client +
                  " (http.max_connections_per_client = " + std::to_string(options_.max_per_client) +
                  ")";
    } else {
      ++state_->full;
      ++state_->per_client[client];
      a.place = Place::kFull;
      a.ticket.state_ = state_;
      a.ticket.place_ = Place::kFull;
      a.ticket.client_ = client;
      return a;
    }
    if (!state_->probes.empty() && static_cast<int>(state_->probes.size()) >= options_.probe_connections) {
      // Every place is held by a connection still waiting for its head: the oldest goes.
      evicted = std::move(state_->probes.front().evict);
      state_->probes.pop_front();
    }
    if (static_cast<int>(state_->probes.size()) < options_.probe_connections) {
      const uint64_t id = state_->next_probe++;
      state_->probes.push_back({id, std::move(evict)});
      a.place = Place::kProbe;
      a.ticket.state_ = state_;
      a.ticket.place_ = Place::kProbe;
      a.ticket.client_ = client;
      a.ticket.probe_id_ = id;
    }
  }
  if (evicted) evicted();
  return a;
}

Limits::StreamSlot::~StreamSlot() {
  std::lock_guard lock(state_->mu);
  --state_->streams;
}

std::unique_ptr<Limits::StreamSlot> Limits::try_stream() {
  std::lock_guard lock(state_->mu);
  if (state_->streams >= options_.max_streams) return nullptr;
  ++state_->streams;
  return std::unique_ptr<StreamSlot>(new StreamSlot(state_));
}

int Limits::full_connections() const {
  std::lock_guard lock(state_->mu);
  return state_->full;
}

int Limits::probe_connections() const {
  std::lock_guard lock(state_->mu);
  return static_cast<int>(state_->probes.size());
}

int Limits::streams() const {
  std::lock_guard lock(state_->mu);
  return state_->streams;
}

}  // namespace ream::http
