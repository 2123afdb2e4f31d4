// Schema migrations, oldest first.
#include "store/migrations.h"

#include <cstdlib>

#include "store/sqlite.h"

namespace ream::store {

namespace {

// Version 1: workflows, documents, jobs (with lease columns for the daemon's
// runners), job documents, step runs, findings, evidence and job events.
const char* kV1 = R"SQL(
CREATE TABLE workflows (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL,
  version       TEXT NOT NULL,
  content_hash  TEXT NOT NULL,
  source        TEXT NOT NULL,
  path          TEXT NOT NULL DEFAULT '',
  created_at    INTEGER NOT NULL,
  UNIQUE (name, version, content_hash)
);

CREATE TABLE documents (
  id            INTEGER PRIMARY KEY,
  content_hash  TEXT NOT NULL UNIQUE,
  source_path   TEXT NOT NULL DEFAULT '',
  media_type    TEXT NOT NULL DEFAULT 'text/plain',
  size_bytes    INTEGER NOT NULL,
  token_count   INTEGER NOT NULL DEFAULT -1,
  text          TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);

CREATE TABLE jobs (
  id                INTEGER PRIMARY KEY,
  workflow_id       INTEGER NOT NULL REFERENCES workflows(id),
  status            TEXT NOT NULL CHECK (status IN
                      ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  inputs_json       TEXT NOT NULL DEFAULT '{}',
  outputs_json      TEXT NOT NULL DEFAULT '{}',
  error             TEXT NOT NULL DEFAULT '',
  priority          INTEGER NOT NULL DEFAULT 0,
  created_at        INTEGER NOT NULL,
  started_at        INTEGER NOT NULL DEFAULT 0,
  finished_at       INTEGER NOT NULL DEFAULT 0,
  updated_at        INTEGER NOT NULL,
  lease_owner       TEXT NOT NULL DEFAULT '',
  lease_expires_at  INTEGER NOT NULL DEFAULT 0,
  idempotency_key   TEXT UNIQUE
);
CREATE INDEX jobs_by_status ON jobs(status, id);

CREATE TABLE job_documents (
  job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  ordinal      INTEGER NOT NULL,
  document_id  INTEGER NOT NULL REFERENCES documents(id),
  key          TEXT NOT NULL,
  input_name   TEXT NOT NULL,
  PRIMARY KEY (job_id, ordinal),
  UNIQUE (job_id, key)
);

CREATE TABLE step_runs (
  id                    INTEGER PRIMARY KEY,
  job_id                INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  step_id               TEXT NOT NULL,
  iteration             INTEGER NOT NULL,
  item_json             TEXT NOT NULL DEFAULT '',
  status                TEXT NOT NULL CHECK (status IN
                          ('running', 'retrying', 'succeeded', 'failed', 'skipped')),
  attempt               INTEGER NOT NULL DEFAULT 0,
  started_at            INTEGER NOT NULL DEFAULT 0,
  finished_at           INTEGER NOT NULL DEFAULT 0,
  prompts               INTEGER NOT NULL DEFAULT 0,
  prompt_tokens         INTEGER NOT NULL DEFAULT 0,
  completion_tokens     INTEGER NOT NULL DEFAULT 0,
  cached_prompt_tokens  INTEGER NOT NULL DEFAULT 0,
  outputs_json          TEXT NOT NULL DEFAULT '{}',
  warnings_json         TEXT NOT NULL DEFAULT '[]',
  error                 TEXT NOT NULL DEFAULT '',
  UNIQUE (job_id, step_id, iteration)
);

CREATE TABLE findings (
  id           INTEGER PRIMARY KEY,
  job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  step_run_id  INTEGER NOT NULL REFERENCES step_runs(id) ON DELETE CASCADE,
  step_id      TEXT NOT NULL,
  seq          INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  category     TEXT NOT NULL DEFAULT '',
  severity     INTEGER NOT NULL DEFAULT 0 CHECK (severity BETWEEN 0 AND 4),
  title        TEXT NOT NULL DEFAULT '',
  text         TEXT NOT NULL DEFAULT '',
  confidence   REAL NOT NULL DEFAULT -1,
  details_json TEXT NOT NULL DEFAULT '{}',
  created_at   INTEGER NOT NULL,
  UNIQUE (step_run_id, seq)
);
CREATE INDEX findings_by_job ON findings(job_id, step_run_id, seq);

CREATE TABLE evidence (
  id           INTEGER PRIMARY KEY,
  finding_id   INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
  ordinal      INTEGER NOT NULL,
  document_id  INTEGER REFERENCES documents(id),
  document_key TEXT NOT NULL DEFAULT '',
  quote        TEXT NOT NULL,
  start_byte   INTEGER NOT NULL DEFAULT -1,
  end_byte     INTEGER NOT NULL DEFAULT -1,
  start_char   INTEGER NOT NULL DEFAULT -1,
  end_char     INTEGER NOT NULL DEFAULT -1,
  verified     INTEGER NOT NULL DEFAULT 0,
  UNIQUE (finding_id, ordinal)
);

CREATE TABLE job_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  type        TEXT NOT NULL,
  data_json   TEXT NOT NULL DEFAULT '{}',
  created_at  INTEGER NOT NULL
);
CREATE INDEX job_events_by_job ON job_events(job_id, id);
)SQL";

// Version 2: documents keep their ingest layout (offset map and parts, see
// ingest/layout.h) so quotes can be located in the source long after ingest;
// evidence records how a quote matched and where it is in the source (the file
// inside a tree, the PDF page, the line and column).
const char* kV2 = R"SQL(
ALTER TABLE documents ADD COLUMN layout BLOB;
ALTER TABLE evidence ADD COLUMN match_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE evidence ADD COLUMN source_path TEXT NOT NULL DEFAULT '';
ALTER TABLE evidence ADD COLUMN source_page INTEGER NOT NULL DEFAULT 0;
ALTER TABLE evidence ADD COLUMN source_line INTEGER NOT NULL DEFAULT 0;
ALTER TABLE evidence ADD COLUMN source_column INTEGER NOT NULL DEFAULT 0;
ALTER TABLE evidence ADD COLUMN source_end_line INTEGER NOT NULL DEFAULT 0;
)SQL";

// Version 3: a job's document keeps the name it was given for that job (an
// upload's file name, an inline document's "name"); documents rows are shared by
// content hash, so the name cannot live there. '' means "named by its path".
const char* kV3 = R"SQL(
ALTER TABLE job_documents ADD COLUMN name TEXT NOT NULL DEFAULT '';
)SQL";

// Version 4: the digest of the request that created a job under an idempotency key,
// kept in the job's row so that key and digest are committed with the job itself (a
// crash or a concurrent retry can never see the job without them). reamd wrote them to
// reamd_idempotency after the job before; it still reads that table for older jobs.
const char* kV4 = R"SQL(
ALTER TABLE jobs ADD COLUMN idempotency_hash TEXT NOT NULL DEFAULT '';
)SQL";

// Before version 5, reamd kept its own tables beside these, created and versioned by a
// second scheme (reamd_meta.schema_version 1..3). These are its three steps, verbatim:
// fold_reamd_tables() brings a database of any of those versions, or one reamd never
// opened (written by `ream run`), to its version 3 before version 5 takes them over.
const char* kReamdV1 = R"SQL(
CREATE TABLE IF NOT EXISTS reamd_idempotency (
  key           TEXT PRIMARY KEY,
  request_hash  TEXT NOT NULL,
  job_id        INTEGER NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reamd_schedules (
  id            TEXT PRIMARY KEY,
  spec_hash     TEXT NOT NULL,
  next_run_ms   INTEGER NOT NULL DEFAULT 0,
  last_run_ms   INTEGER NOT NULL DEFAULT 0,
  last_job_id   INTEGER NOT NULL DEFAULT 0,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_lease ON jobs(status, lease_expires_at);
)SQL";
const char* kReamdV2 = R"SQL(
CREATE TABLE IF NOT EXISTS reamd_document_names (
  content_hash  TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  updated_at    INTEGER NOT NULL
);
)SQL";
const char* kReamdV3 = R"SQL(
CREATE TABLE IF NOT EXISTS reamd_api_schedules (
  id               TEXT PRIMARY KEY,
  definition_json  TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
ALTER TABLE reamd_schedules ADD COLUMN buffered_ms INTEGER NOT NULL DEFAULT 0;
)SQL";

Status fold_reamd_tables(const Db& db) {
  Status st;
  bool meta = false;
  int version = 0;
  {  // both statements finish before the tables change
    Stmt has_meta = db.prepare(
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'reamd_meta'");
    meta = has_meta.step(&st) && has_meta.i64("n") > 0;
    REAM_RETURN_IF_ERROR(st);
  }
  if (meta) {
    Stmt q = db.prepare("SELECT value FROM reamd_meta WHERE key = 'schema_version'");
    if (q.step(&st)) version = std::atoi(q.text("value").c_str());
    REAM_RETURN_IF_ERROR(st);
    REAM_RETURN_IF_ERROR(q.mapping_status());
  }
  if (version > 3) {
    return failed_precondition("reamd schema version " + std::to_string(version) +
                               " is newer than this ream supports (3)");
  }
  if (version < 1) REAM_RETURN_IF_ERROR(db.exec(kReamdV1));
  if (version < 2) REAM_RETURN_IF_ERROR(db.exec(kReamdV2));
  if (version < 3) REAM_RETURN_IF_ERROR(db.exec(kReamdV3));
  return {};
}

// Version 5: one store, one scheme. reamd's tables join this schema under plain names
// (schedule_state, api_schedules, upload_names); a request digest reamd kept in
// reamd_idempotency for a job from before version 4 moves into the job's row, so
// idempotency is only the jobs row's two columns; reamd_meta and its version go.
const char* kV5 = R"SQL(
UPDATE jobs SET idempotency_hash =
    (SELECT r.request_hash FROM reamd_idempotency r WHERE r.key = jobs.idempotency_key)
  WHERE idempotency_hash = '' AND idempotency_key IN (SELECT key FROM reamd_idempotency);
DROP TABLE reamd_idempotency;
DROP TABLE IF EXISTS reamd_meta;
ALTER TABLE reamd_schedules RENAME TO schedule_state;
ALTER TABLE reamd_api_schedules RENAME TO api_schedules;
ALTER TABLE reamd_document_names RENAME TO upload_names;
CREATE TABLE write_probe (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  at  INTEGER NOT NULL
);
)SQL";

// Version 6: job lists over many jobs read an index, never a scan. A job keeps its
// workflow's name in its row (workflow rows are per version, so filtering by the name
// through the join could not walk one index in id order), and the list's three filter
// shapes each have an index ending in id, the keyset the pages walk (newest first,
// `id < cursor`): by status (jobs_by_status, since version 1), by workflow, by both.
const char* kV6 = R"SQL(
ALTER TABLE jobs ADD COLUMN workflow_name TEXT NOT NULL DEFAULT '';
UPDATE jobs SET workflow_name = COALESCE((SELECT w.name FROM workflows w WHERE w.id = jobs.workflow_id), '');
CREATE INDEX jobs_by_workflow ON jobs(workflow_name, id);
CREATE INDEX jobs_by_workflow_status ON jobs(workflow_name, status, id);
)SQL";

// Version 7: a job may be created before its documents are read: the documents still
// to read wait in its row (JobRecord::pending_documents) until a runner reads them.
// And a claim (lease_next: the runnable job of highest priority, then lowest id) walks
// an index in that order and stops at the first job it may take, instead of sorting
// every queued job (bench/NOTES.md, "Queue claims per second": 50 ms a claim with
// 100,000 queued before this index).
const char* kV7 = R"SQL(
ALTER TABLE jobs ADD COLUMN pending_documents TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_runnable ON jobs(priority DESC, id) WHERE status IN ('queued', 'running');
)SQL";

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {kV1}, {kV2}, {kV3}, {kV4}, {kV5, fold_reamd_tables}, {kV6}, {kV7}};
  return kMigrations;
}

}  // namespace ream::store
