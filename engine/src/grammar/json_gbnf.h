// Pieces of JSON grammar shared by the JSON Schema compiler (json_schema.cpp): GBNF
// literals, canonical JSON text of values, integer ranges, string formats.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace ream::grammar {

// A GBNF string literal matching exactly `bytes` (UTF-8 text).
std::string gbnf_literal(std::string_view bytes);
// How ream writes a JSON number: integers without a fraction, others in the shortest
// form that reads back to the same double.
std::string json_number_text(const nlohmann::ordered_json& v);
// GBNF matching exactly the JSON text of `v` (compact, or with whitespace between tokens).
std::string json_literal_gbnf(const nlohmann::ordered_json& v);
// The most digits a schema "integer" is written with when no bound limits it (json-int,
// an open integer_range_gbnf): 18, so every value the grammar admits fits an int64 and a
// model that keeps writing digits cannot make a reply no consumer can read (llama.cpp's
// json-schema-to-grammar caps them likewise, at 16). Bounded ranges are exact.
constexpr size_t kMaxIntDigits = 18;
// GBNF for the decimal integers in [lo, hi]; nullopt bounds are open (see kMaxIntDigits).
// No leading zeros, no "-0". Bounds must be within +-1e18.
std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi);
// GBNF of the inside of a JSON string in `format` (date, time, date-time, email,
// hostname, ipv4, ipv6, uuid, uri), or "" when the format is not supported.
std::string string_format_gbnf(const std::string& format);
// The common JSON rules (json-value, json-object, json-array, json-string, json-char,
// json-number, json-int, ws), one per line. json-int is a schema "integer" without
// bounds (at most kMaxIntDigits digits); numbers of json-value keep any length.
std::string json_common_rules();

}  // namespace ream::grammar
