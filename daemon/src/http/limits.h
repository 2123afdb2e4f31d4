// Limits: the counters behind the HTTP server's connection and stream caps.
//
// Every accepted connection asks admit() for a place:
//   - a full place while fewer than max_connections are open in all and fewer than
//     max_per_client from its address (0 = no per-client cap);
//   - else a probe place, one of probe_connections more, on which only the health routes
//     (/healthz, /readyz) are answered; anything else gets 503 naming the limit. So the
//     health checks of an operator answer while drip sockets, idle keep-alive connections
//     or event streams hold every full place. When every probe place is taken, the oldest
//     one still waiting for its request head is evicted (its evict function runs) for the
//     new one: a probe sends its head at once, a drip socket never completes one, so a
//     flood of them cannot keep a real probe out. A probe gives its place back as soon as
//     its head has arrived (the session drops its ticket before answering, and closes the
//     connection after its one answer), so back-to-back probes never find the places
//     held by answers still being written;
//   - else (probe_connections is 0) the connection is refused outright.
// Streamed responses (event streams, streamed completions) each hold a stream slot; at
// most max_streams are open at once.
//
// Thread-safety: every method may be called from any thread. A Ticket and a StreamSlot
// release their place when destroyed, on whatever thread that happens, and may outlive
// the Limits that issued them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace ream::http {

struct LimitsState;  // limits.cpp

struct LimitOptions {
  int max_connections = 512;
  int max_per_client = 64;     // 0 = no per-client cap
  int probe_connections = 16;
  int max_streams = 256;
};

class Limits {
 public:
  explicit Limits(LimitOptions options);

  enum class Place { kFull, kProbe, kRefused };

  // A connection's place; gives it back when destroyed. Move-only.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();

   private:
    friend class Limits;
    std::shared_ptr<LimitsState> state_;
    Place place_ = Place::kRefused;
    std::string client_;
    uint64_t probe_id_ = 0;
    void release();
  };

  struct Admission {
    Place place = Place::kRefused;
    std::string limit;    // kProbe, kRefused: the setting that was reached ("http.max_connections")
    std::string message;  // kProbe, kRefused: says which limit, its value and the client
    Ticket ticket;
  };

  // `client` is the peer's address (no port). `evict` is run (once, on the caller's thread
  // of a later admit) if this connection is given a probe place and later evicted; it must
  // only post the close to the connection's own executor.
  Admission admit(const std::string& client, std::function<void()> evict);

  // One open stream; gives its slot back when destroyed.
  class StreamSlot {
   public:
    ~StreamSlot();
    StreamSlot(const StreamSlot&) = delete;
    StreamSlot& operator=(const StreamSlot&) = delete;

   private:
    friend class Limits;
    explicit StreamSlot(std::shared_ptr<LimitsState> s) : state_(std::move(s)) {}
    std::shared_ptr<LimitsState> state_;
  };
  // A slot, or null when max_streams streams are open.
  std::unique_ptr<StreamSlot> try_stream();

  int full_connections() const;
  int probe_connections() const;
  int streams() const;
  const LimitOptions& options() const { return options_; }

 private:
  LimitOptions options_;
  std::shared_ptr<LimitsState> state_;
};

}  // namespace ream::http
