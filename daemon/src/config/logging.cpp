// spdlog set-up and the JSON-lines formatter.
#include "config/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

namespace ream::config {

namespace {

// The value after ` key=` in `msg`, up to the next space; "" if absent.
std::string field(std::string_view msg, std::string_view key) {
  std::string needle = std::string(key) + "=";
  size_t at = 0;
  while ((at = msg.find(needle, at)) != std::string_view::npos) {
    if (at == 0 || msg[at - 1] == ' ') {
      size_t start = at + needle.size();
      size_t end = msg.find(' ', start);
      return std::string(msg.substr(start, end == std::string_view::npos ? end : end - start));
    }
    at += needle.size();
  }
  return "";
}

class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto t = msg.time;
    auto secs = time_point_cast<seconds>(t);
    int ms = static_cast<int>(duration_cast<milliseconds>(t - secs).count());
    std::time_t tt = system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char ts[40];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    char full[48];
    std::snprintf(full, sizeof full, "%s.%03dZ", ts, ms);
    std::string_view text(msg.payload.data(), msg.payload.size());
    nlohmann::json j = {{"ts", full},
                        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                              spdlog::level::to_string_view(msg.level).size())},
                        {"msg", std::string(text)}};
    std::string job = field(text, "job_id");
    if (!job.empty() && job.find_first_not_of("0123456789") == std::string::npos) {
      j["job_id"] = std::stoll(job);
    }
    std::string rid = field(text, "request_id");
    if (!rid.empty()) j["request_id"] = rid;
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Status setup_logging(const std::string& format, const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return invalid_argument("log level '" + level + "' (expected trace, debug, info, warn, error)");
  }
  auto logger = spdlog::stderr_color_mt("reamd");
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else if (std::getenv("JOURNAL_STREAM") != nullptr) {
    logger->set_pattern("[%l] %v");
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e [%^%l%$] %v");
  }
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace ream::config
