// Job results as JSON (for machines) and Markdown (for people), read from the store.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ream/engine/status.h"
#include "store/store.h"

namespace ream::flow {

// {"job": {...}, "outputs": {...}, "steps": [...], "findings": [...], "warnings": [...]}
Result<nlohmann::json> job_result_json(store::Store& store, int64_t job_id);
// A Markdown report: summary, outputs, findings grouped by kind and severity with
// their quotes and locations, warnings.
Result<std::string> job_result_markdown(store::Store& store, int64_t job_id);

const char* severity_name(int severity);

}  // namespace ream::flow
