// Helpers shared by the route files.
#include <charconv>
#include <ctime>

#include "api/routes.h"

namespace ream::api {

using nlohmann::json;

namespace {

template <class Json>
std::optional<Json> parse_body(const http::Request& req, http::Response* error) {
  std::string ct = req.header("content-type");
  // curl -d sends application/x-www-form-urlencoded by default; accept it as JSON.
  if (!ct.empty() && ct.find("json") == std::string::npos &&
      ct.rfind("application/x-www-form-urlencoded", 0) != 0) {
    *error = http::json_error(415, "unsupported_media_type",
                              "expected Content-Type: application/json, got " + ct);
    return std::nullopt;
  }
  Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    // Re-parse for the position of the error (the happy path above throws nothing).
    std::string detail = "the body is not valid JSON";
    try {
      Json again = Json::parse(req.body);
      (void)again;
    } catch (const typename Json::parse_error& e) {
      detail += " (at byte " + std::to_string(e.byte) + ")";
    } catch (const typename Json::exception& e) {
      // A number past a double's range ("1e999") is out_of_range, not parse_error: it
      // escaped this catch and ended the process (found by fuzz_job_body).
      const std::string what = e.what();
      const size_t tag = what.find("] ");
      detail += " (" + (tag == std::string::npos ? what : what.substr(tag + 2)) + ")";
    }
    *error = http::json_error(400, "invalid_json", detail);
    return std::nullopt;
  }
  if (!body.is_object()) {
    *error = http::json_error(400, "invalid_request", "the body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

}  // namespace

std::optional<json> parse_json_body(const http::Request& req, http::Response* error) {
  return parse_body<json>(req, error);
}

std::optional<nlohmann::ordered_json> parse_ordered_json_body(const http::Request& req, http::Response* error) {
  return parse_body<nlohmann::ordered_json>(req, error);
}

std::optional<int64_t> query_int(const http::Request& req, const std::string& key, int64_t fallback,
                                 int64_t lo, int64_t hi, http::Response* error) {
  const std::string s = req.query_or(key, std::to_string(fallback));
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  // from_chars takes no '+', spaces or trailing text; all of s must be the number.
  if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi) {
    *error = http::json_error(400, "invalid_request",
                              "query parameter '" + key + "' must be an integer in " + std::to_string(lo) +
                                  ".." + std::to_string(hi) + " (got '" + s + "')",
                              key);
    return std::nullopt;
  }
  return v;
}

json iso_time(int64_t ms) {
  if (ms <= 0) return nullptr;
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

http::Response unavailable_response(const App& app) {
  if (app.draining()) {
    http::Response r = http::json_error(503, "draining", "reamd is shutting down; retry elsewhere");
    r.set_header("Retry-After", "30");
    return r;
  }
  http::Response r = http::json_error(503, "not_ready", "reamd is still loading the model");
  r.set_header("Retry-After", "5");
  return r;
}

}  // namespace ream::api
