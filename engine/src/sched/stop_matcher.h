// StopMatcher: finds stop strings in streamed text. Text that might be the start of
// a stop string is held back until it is known not to be; a matched stop string and
// everything after it is never emitted.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace ream {

class StopMatcher {
 public:
  StopMatcher() = default;
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Adds text; returns what can be emitted now.
  std::string push(const std::string& text) {
    if (stopped_) return "";
    held_ += text;
    if (stops_.empty()) return std::exchange(held_, std::string());
    size_t cut = std::string::npos;
    for (const auto& s : stops_) cut = std::min(cut, held_.find(s));
    if (cut != std::string::npos) {
      stopped_ = true;
      std::string out = held_.substr(0, cut);
      held_.clear();
      return out;
    }
    // Keep the longest suffix of held_ that is a proper prefix of some stop string.
    size_t keep = 0;
    for (const auto& s : stops_)
      for (size_t n = std::min(s.size() - 1, held_.size()); n > keep; --n)
        if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
          keep = n;
          break;
        }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
  }
  // End of stream: whatever is held is not a stop string.
  std::string flush() { return std::exchange(held_, std::string()); }
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace ream
