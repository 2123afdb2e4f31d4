// Logging for reamd: spdlog to stderr, human-readable text or one JSON object per
// line ({"ts","level","msg", "job_id"?, "request_id"?}). Job and request ids that a
// message carries as `job_id=N` / `request_id=X` become fields of the JSON object.
// Under systemd (JOURNAL_STREAM set) text lines drop the timestamp the journal
// already records.
#pragma once

#include <string>

#include "ream/engine/status.h"

namespace ream::config {

Status setup_logging(const std::string& format, const std::string& level);

}  // namespace ream::config
