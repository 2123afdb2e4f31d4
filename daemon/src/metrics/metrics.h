// Metrics: counters, gauges and histograms with labels, rendered in the
// Prometheus text exposition format (version 0.0.4).
//
// Families are created once (at startup) and live as long as the Registry; a
// family hands out one series per label-value tuple. Values that are cheaper to
// read at scrape time than to keep current (queue depth, engine KV usage) are
// filled in by collectors registered with on_scrape().
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ream::metrics {

using Labels = std::vector<std::string>;  // values, in the family's label order

class Family {
 public:
  enum class Type { kCounter, kGauge, kHistogram };
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
         std::vector<double> buckets);

  // Counter: adds `v` (>= 0). Gauge: adds `v` (any sign).
  void add(const Labels& labels, double v = 1);
  // Gauge only: sets the value.
  void set(const Labels& labels, double v);
  // Histogram only: records one observation.
  void observe(const Labels& labels, double v);
  // Gauge only: drops every series (before a collector refills them).
  void clear();
  // Appends the family in text format.
  void render(std::string* out) const;
  // The current value of a counter or gauge series (0 if absent); for tests.
  double value(const Labels& labels) const;

 private:
  struct Series {
    double value = 0;
    std::vector<uint64_t> bucket_counts;  // histogram: per bucket, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  Series& series_locked(const Labels& labels);

  std::string name_, help_;
  Type type_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;  // upper bounds, ascending, without +Inf
  mutable std::mutex mu_;
  std::map<Labels, Series> series_;
};

class Registry {
 public:
  Family& counter(const std::string& name, const std::string& help,
                  std::vector<std::string> label_names = {});
  Family& gauge(const std::string& name, const std::string& help,
                std::vector<std::string> label_names = {});
  Family& histogram(const std::string& name, const std::string& help,
                    std::vector<std::string> label_names, std::vector<double> buckets);
  // Runs before every render(), in registration order.
  void on_scrape(std::function<void()> collector);
  std::string render();

 private:
  Family& add(const std::string& name, const std::string& help, Family::Type type,
              std::vector<std::string> label_names, std::vector<double> buckets);
  std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<std::function<void()>> collectors_;
};

// Default latency buckets in seconds (5 ms .. 10 min).
std::vector<double> latency_buckets();

}  // namespace ream::metrics
