// Metrics registry and the Prometheus text format.
#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ream::metrics {

namespace {

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Label values escape backslash, double quote and newline.
std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string label_text(const std::vector<std::string>& names, const Labels& values,
                       const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!out.empty()) out += ',';
    out += names[i] + "=\"" + escape_label(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!out.empty()) out += ',';
    out += extra;
  }
  return out.empty() ? "" : "{" + out + "}";
}

}  // namespace

Family::Family(std::string name, std::string help, Type type,
               std::vector<std::string> label_names, std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {
  std::sort(buckets_.begin(), buckets_.end());
}

Family::Series& Family::series_locked(const Labels& labels) {
  auto [it, inserted] = series_.try_emplace(labels);
  if (inserted && type_ == Type::kHistogram) it->second.bucket_counts.assign(buckets_.size(), 0);
  return it->second;
}

void Family::add(const Labels& labels, double v) {
  std::lock_guard lock(mu_);
  series_locked(labels).value += v;
}

void Family::set(const Labels& labels, double v) {
  std::lock_guard lock(mu_);
  series_locked(labels).value = v;
}

void Family::observe(const Labels& labels, double v) {
  std::lock_guard lock(mu_);
  Series& s = series_locked(labels);
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), v);
  if (it != buckets_.end()) ++s.bucket_counts[static_cast<size_t>(it - buckets_.begin())];
  ++s.count;
  s.sum += v;
}

void Family::clear() {
  std::lock_guard lock(mu_);
  series_.clear();
}

double Family::value(const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  if (it == series_.end()) return 0;
  return type_ == Type::kHistogram ? static_cast<double>(it->second.count) : it->second.value;
}

void Family::render(std::string* out) const {
  static const char* kTypes[] = {"counter", "gauge", "histogram"};
  *out += "# HELP " + name_ + " " + help_ + "\n";
  *out += "# TYPE " + name_ + " " + kTypes[static_cast<int>(type_)] + "\n";
  std::lock_guard lock(mu_);
  if (series_.empty() && label_names_.empty() && type_ != Type::kHistogram) {
    *out += name_ + " 0\n";
    return;
  }
  for (const auto& [labels, s] : series_) {
    if (type_ != Type::kHistogram) {
      *out += name_ + label_text(label_names_, labels) + " " + format_value(s.value) + "\n";
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      cumulative += s.bucket_counts[i];
      *out += name_ + "_bucket" +
              label_text(label_names_, labels, "le=\"" + format_value(buckets_[i]) + "\"") + " " +
              std::to_string(cumulative) + "\n";
    }
    *out += name_ + "_bucket" + label_text(label_names_, labels, "le=\"+Inf\"") + " " +
            std::to_string(s.count) + "\n";
    *out += name_ + "_sum" + label_text(label_names_, labels) + " " + format_value(s.sum) + "\n";
    *out += name_ + "_count" + label_text(label_names_, labels) + " " + std::to_string(s.count) +
            "\n";
  }
}

Family& Registry::add(const std::string& name, const std::string& help, Family::Type type,
                      std::vector<std::string> label_names, std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  families_.push_back(std::make_unique<Family>(name, help, type, std::move(label_names),
                                               std::move(buckets)));
  return *families_.back();
}

Family& Registry::counter(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names) {
  return add(name, help, Family::Type::kCounter, std::move(label_names), {});
}

Family& Registry::gauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names) {
  return add(name, help, Family::Type::kGauge, std::move(label_names), {});
}

Family& Registry::histogram(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names, std::vector<double> buckets) {
  return add(name, help, Family::Type::kHistogram, std::move(label_names), std::move(buckets));
}

void Registry::on_scrape(std::function<void()> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::render() {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c();
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& f : families_) f->render(&out);
  return out;
}

std::vector<double> latency_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
}

}  // namespace ream::metrics
