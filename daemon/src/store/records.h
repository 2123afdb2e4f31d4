// Plain records the store reads and writes: workflows, documents, jobs, step runs,
// findings with their evidence, job events, leases and schedules. Times are
// milliseconds since the Unix epoch (UTC); 0 means "not yet".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ream::store {

struct WorkflowRecord {
  int64_t id = 0;
  std::string name;
  std::string version;
  std::string content_hash;  // sha256 of `source`, hex
  std::string source;        // the YAML text as loaded
  std::string path;          // where it was loaded from
  int64_t created_at = 0;
};

struct DocumentRecord {
  int64_t id = 0;
  std::string content_hash;  // sha256 hex of the source bytes (of `text` for a source tree);
                             // documents are deduplicated by it
  std::string source_path;
  std::string media_type;    // "text/plain", "text/markdown", "text/html", "application/pdf",
                             // "inode/directory" (a source tree)
  int64_t size_bytes = 0;    // of the source (sum of the kept files for a tree)
  int64_t token_count = -1;  // of `text`, -1 if unknown
  std::string text;          // normalised UTF-8 text
  std::string layout;        // ingest's encoded offset map and parts (ingest/layout.h); "" if none
  int64_t created_at = 0;
};

// A document attached to a job: under which input, in what order, with which key.
struct JobDocument {
  int64_t document_id = 0;
  std::string key;         // "doc-1": the id plugins and findings use
  std::string input_name;  // the workflow input it was given for
  int ordinal = 0;
  std::string name;        // the name it was uploaded or given under; "" = its path names it
};

// Job states: queued -> running -> succeeded | failed | cancelled.
inline constexpr const char* kJobQueued = "queued";
inline constexpr const char* kJobRunning = "running";
inline constexpr const char* kJobSucceeded = "succeeded";
inline constexpr const char* kJobFailed = "failed";
inline constexpr const char* kJobCancelled = "cancelled";

struct Usage {
  int64_t prompts = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;
};

struct JobRecord {
  int64_t id = 0;
  int64_t workflow_id = 0;
  std::string workflow_name;
  std::string status;
  std::string inputs_json = "{}";
  std::string outputs_json = "{}";
  std::string error;
  int priority = 0;
  int64_t created_at = 0, started_at = 0, finished_at = 0, updated_at = 0;
  std::string lease_owner;
  int64_t lease_expires_at = 0;
  std::string idempotency_key;
  // A digest of the request that created the job under idempotency_key (reamd compares
  // a retry's with it); written with the job, in its transaction.
  std::string idempotency_hash;
  // Documents still to read: a JSON list of {"input", "path", "name"} in input order, or
  // "" when none. reamd creates a job with its document inputs as checked paths and
  // reads them when a runner takes the job (Store::attach_documents), so a submission
  // never waits for ingestion; `ream run` reads them before creating the job.
  std::string pending_documents;
  Usage usage;  // summed over the job's committed step runs
};

// Step-run states: running -> succeeded | failed | skipped; `retrying` between
// attempts. A run found `running` after a crash is simply run again.
inline constexpr const char* kStepRunning = "running";
inline constexpr const char* kStepRetrying = "retrying";
inline constexpr const char* kStepSucceeded = "succeeded";
inline constexpr const char* kStepFailed = "failed";
inline constexpr const char* kStepSkipped = "skipped";

// One execution unit: a step, or one iteration of a `foreach` step.
struct StepRunRecord {
  int64_t id = 0;
  int64_t job_id = 0;
  std::string step_id;
  int iteration = -1;          // foreach index, -1 for a step without foreach
  std::string item_json;       // the foreach item, "" without foreach
  std::string status;
  int attempt = 0;             // attempts started so far (across restarts)
  int64_t started_at = 0, finished_at = 0;
  Usage usage;
  std::string outputs_json = "{}";
  std::string warnings_json = "[]";
  std::string error;
};

struct EvidenceRecord {
  int64_t document_id = 0;     // documents.id, 0 when the quote names no known document
  std::string document_key;    // "doc-1"
  std::string quote;
  int64_t start_byte = -1, end_byte = -1;  // in the whole document's text
  int64_t start_char = -1, end_char = -1;  // the same, in Unicode code points
  bool verified = false;       // the quote was found in the document at these offsets
  std::string match_kind;      // "exact", "normalized", "ignoring_space"; "" when not found
  // Where the quote is in the source (when verified and the document has a layout):
  std::string source_path;     // the file (for a source tree, the file inside the tree)
  int64_t source_page = 0;     // 1-based PDF page, 0 for other formats
  int64_t source_line = 0;     // 1-based line of the first byte (in the page text for PDF); 0 unknown
  int64_t source_column = 0;   // 1-based byte column of the first byte
  int64_t source_end_line = 0; // line of the last byte
};

struct FindingRecord {
  int64_t id = 0;
  int64_t job_id = 0;
  int64_t step_run_id = 0;
  std::string step_id;
  int seq = 0;                 // order within its step run
  std::string kind, category;
  int severity = 0;            // 0 info .. 4 critical
  std::string title, text;
  double confidence = -1;
  std::string details_json = "{}";
  std::vector<EvidenceRecord> evidence;
};

struct EventRecord {
  int64_t id = 0;
  int64_t job_id = 0;
  std::string type;  // "job_started", "step_succeeded", ...
  std::string data_json;
  int64_t created_at = 0;
};

// A job to create: its row (workflow_id, inputs_json, priority, idempotency key and
// digest used), its documents, and events recorded after `job_queued`.
struct NewJob {
  JobRecord job;
  std::vector<JobDocument> documents;
  std::vector<EventRecord> events;
};

// What creating a job did. With an idempotency key that a job already holds, nothing
// is written: `id` is that job, `replayed` is set, and `same_request` says whether
// its stored request digest equals the new one.
struct CreatedJob {
  int64_t id = 0;
  bool replayed = false;
  bool same_request = true;
};

// What a heartbeat found.
struct LeaseCheck {
  enum class State {
    kHeld,   // renewed
    kEnded,  // the job reached a final state (its run is being wrapped up)
    kLost,   // another owner holds it, or nobody (released, or the job is gone)
  };
  State state = State::kHeld;
  std::string owner;   // kLost: who holds it now ("" = nobody)
  std::string status;  // the job's status ("" when it is gone)
};

// A schedule's firing state (file and API schedules alike).
struct ScheduleState {
  std::string id;            // "<workflow>#<index>" or the entry's `name`
  std::string spec_hash;     // of the schedule entry; a changed entry restarts its clock
  int64_t next_run_ms = 0;   // UTC; 0 = not planned yet
  int64_t last_run_ms = 0;   // the slot last fired (its scheduled time)
  int64_t last_job_id = 0;
  int64_t updated_at = 0;
  int64_t buffered_ms = 0;   // overlap buffer_one: a slot waiting for the last job to end
};

// A schedule created over the API: its definition as the API took it (JSON text).
struct ApiScheduleRecord {
  std::string id;
  std::string definition_json;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

}  // namespace ream::store
