// JSON responses and errors.
//
// Every error leaves reamd as `{"error": {"code": CODE, "message": TEXT, "field"?: NAME}}`
// with a matching HTTP status. The codes are stable strings a client may switch on:
//   400 invalid_json, invalid_request     401 unauthenticated    403 forbidden
//   404 not_found                          405 method_not_allowed 408 request_timeout
//   409 conflict                           413 payload_too_large  415 unsupported_media_type
//   429 queue_full (with Retry-After)      431 headers_too_large  500 internal
//   503 draining, not_ready, overloaded
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "http/message.h"
#include "ream/engine/status.h"

namespace ream::http {

Response json_response(unsigned status, const nlohmann::json& body);
Response json_error(unsigned status, const std::string& code, const std::string& message,
                    const std::string& field = "");
// Maps a Status to the HTTP status and error code that fit it.
Response error_from_status(const Status& status, const std::string& field = "");
// The body of json_error, for places that build the response themselves.
std::string error_body(const std::string& code, const std::string& message,
                       const std::string& field = "");

}  // namespace ream::http
