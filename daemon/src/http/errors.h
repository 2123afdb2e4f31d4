// JSON responses and errors.
//
// Every error leaves reamd in OpenAI's error shape, with reamd's stable `code` and, when one
// input is to blame, its name in both `param` (OpenAI's key) and `field` (reamd's):
//   {"error": {"message": TEXT, "type": TYPE, "param": NAME|null, "code": CODE, "field"?: NAME}}
// The codes are stable strings a client may switch on, each with a matching HTTP status:
//   400 invalid_json, invalid_request, unsupported   401 unauthenticated    403 forbidden
//   404 not_found, model_not_found       405 method_not_allowed 408 request_timeout
//   409 conflict                           413 payload_too_large  415 unsupported_media_type
//   429 queue_full (with Retry-After)      431 headers_too_large  500 internal
//   503 draining, not_ready, overloaded
// `type` is OpenAI's error class for the status: invalid_request_error (4xx but those below),
// authentication_error (401), permission_error (403), rate_limit_error (429), server_error (5xx).
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
std::string error_body(unsigned status, const std::string& code, const std::string& message,
                       const std::string& field = "");
// The `error` object of that body (for an error sent inside an event stream).
nlohmann::json error_object(unsigned status, const std::string& code, const std::string& message,
                            const std::string& field = "");
// OpenAI's error type for an HTTP status.
const char* error_type(unsigned status);

}  // namespace ream::http
