// JSON responses and the mapping from ream::Status to HTTP errors.
#include "http/errors.h"

namespace ream::http {

Response json_response(unsigned status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.body += '\n';
  return r;
}

const char* error_type(unsigned status) {
  if (status == 401) return "authentication_error";
  if (status == 403) return "permission_error";
  if (status == 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

nlohmann::json error_object(unsigned status, const std::string& code, const std::string& message,
                            const std::string& field) {
  nlohmann::json e = {{"message", message},
                      {"type", error_type(status)},
                      {"param", field.empty() ? nlohmann::json(nullptr) : nlohmann::json(field)},
                      {"code", code}};
  if (!field.empty()) e["field"] = field;
  return e;
}

std::string error_body(unsigned status, const std::string& code, const std::string& message,
                       const std::string& field) {
  return nlohmann::json{{"error", error_object(status, code, message, field)}}.dump(
             -1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

Response json_error(unsigned status, const std::string& code, const std::string& message,
                    const std::string& field) {
  Response r;
  r.status = status;
  r.body = error_body(status, code, message, field);
  return r;
}

Response error_from_status(const Status& status, const std::string& field) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return json_error(400, "invalid_request", status.message(), field);
    case StatusCode::kNotFound:
      return json_error(404, "not_found", status.message(), field);
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return json_error(409, "conflict", status.message(), field);
    case StatusCode::kResourceExhausted:
      return json_error(429, "queue_full", status.message(), field);
    case StatusCode::kUnavailable:
      return json_error(503, "unavailable", status.message(), field);
    case StatusCode::kDeadlineExceeded:
      return json_error(504, "timeout", status.message(), field);
    case StatusCode::kUnimplemented:
      return json_error(501, "unimplemented", status.message(), field);
    default:
      return json_error(500, "internal", status.message(), field);
  }
}

}  // namespace ream::http
