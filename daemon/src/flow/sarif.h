// Job results as SARIF 2.1.0, the format GitHub code scanning (and most static
// analysis viewers) accept: one run whose tool.driver lists the rules that fired
// and whose results carry ruleId, level, message, a physical location (file and
// startLine) and partialFingerprints.
//
// A finding becomes a result when its details name a file and a line >= 1 (the
// code_audit plugin's details: rule_id, cwe, category, file, line, end_line,
// code, fix, severity). Findings without a location are left out and counted in
// the run's invocation notifications, as GitHub rejects results without one.
#pragma once

#include <nlohmann/json.hpp>

#include "ream/engine/status.h"
#include "store/store.h"

namespace ream::flow {

// SARIF from a job result as job_result_json() builds it. Pure: no I/O.
nlohmann::json sarif_from_result(const nlohmann::json& job_result);

// The SARIF log of a stored job.
Result<nlohmann::json> job_result_sarif(store::Store& store, int64_t job_id);

}  // namespace ream::flow
