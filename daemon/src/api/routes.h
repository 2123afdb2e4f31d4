// The REST API's routes, one file per resource family. docs/api.md documents
// each route with curl examples; the error codes are those of http/errors.h.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/app.h"
#include "http/errors.h"
#include "http/router.h"

namespace ream::api {

void add_job_routes(http::Router& router, App& app);       // routes_jobs.cpp
void add_document_routes(http::Router& router, App& app);  // routes_documents.cpp
void add_meta_routes(http::Router& router, App& app);      // routes_meta.cpp
void add_openai_routes(http::Router& router, App& app);    // routes_openai.cpp
// The web app's static files (routes_web.cpp).
void add_web_routes(http::Router& router);
void add_schedule_routes(http::Router& router, App& app);  // routes_schedules.cpp

// Shared helpers (routes_util.cpp).
// Parses a JSON object body; on failure fills *error with a 400 (or 415).
std::optional<nlohmann::json> parse_json_body(const http::Request& req, http::Response* error);
// The same, keeping the keys of objects in the order sent.
std::optional<nlohmann::ordered_json> parse_ordered_json_body(const http::Request& req, http::Response* error);
// Integer query parameter `key` (`fallback` when absent), parsed strictly: the whole
// value is one decimal integer in lo..hi, else nullopt and *error is a 400 naming `key`.
std::optional<int64_t> query_int(const http::Request& req, const std::string& key, int64_t fallback,
                                 int64_t lo, int64_t hi, http::Response* error);
// "2025-01-06T09:00:00.123Z", or null for 0.
nlohmann::json iso_time(int64_t ms);
// A 503 for a draining or not-yet-ready daemon.
http::Response unavailable_response(const App& app);

}  // namespace ream::api
