// StoreWriteProbe: whether the database answers a write, known without waiting for one.
//
// /readyz runs on the I/O thread (it must answer while every handler thread is busy),
// so it cannot write to the database itself: a write waits for the writer connection
// and SQLite's busy timeout behind whatever else writes. A thread of its own writes the
// probe row every `interval_s` and keeps the outcome; /readyz reads it. The store counts
// as writable while the last probe succeeded and it answered within `stale_after_s`
// (a probe stuck behind a lock for longer makes it not writable, saying for how long).
//
// Thread-safety: state() from any thread; the constructor and destructor from one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "store/store.h"

namespace ream::api {

class StoreWriteProbe {
 public:
  struct State {
    bool writable = false;
    std::string message;  // "writable", or why not
  };

  // Probes once before returning (so the first /readyz knows), then every interval_s.
  StoreWriteProbe(store::Store& store, double interval_s, double stale_after_s);
  ~StoreWriteProbe();  // stops and joins the thread
  StoreWriteProbe(const StoreWriteProbe&) = delete;
  StoreWriteProbe& operator=(const StoreWriteProbe&) = delete;

  State state() const;

 private:
  void probe_once();
  void loop();

  store::Store& store_;
  const double interval_s_, stale_after_s_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  Status last_;                 // the last probe's outcome
  int64_t last_answer_ms_ = 0;  // when the last probe (ok or not) returned
  std::thread thread_;
};

}  // namespace ream::api
