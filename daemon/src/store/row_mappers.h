// The one mapping from result columns to record fields, shared by both backends: each
// read_<record> reads one row by column name through either row type (the SQLite
// `Stmt` on its current row, or a `pg::Row`), and each k<Record>Columns is the column
// list its queries select. A new column is added here once, not per database.
//
// Only daemon/src/store includes this header. The mappers report nothing themselves:
// a column the query does not return reads as 0 / "" and makes the statement's or
// result's mapping_status() an error naming it, which the caller returns.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/records.h"

namespace ream::store {

// A result row read by column name, as `Stmt` and `pg::Row` offer it: a NULL reads
// as 0 / 0.0 / "", a column the query does not return as the same (and is reported
// through mapping_status()); bytes() is a BLOB / bytea column's raw bytes.
template <typename R>
concept RowByName = requires(const R& r, std::string_view column) {
  { r.i64(column) } -> std::same_as<int64_t>;
  { r.i32(column) } -> std::same_as<int>;
  { r.real(column) } -> std::same_as<double>;
  { r.text(column) } -> std::same_as<std::string>;
  { r.bytes(column) } -> std::same_as<std::string>;
};

// Job rows: `jobs j JOIN workflows w`; the store adds the usage columns below, summed
// over the job's succeeded step runs (each database its own way).
inline constexpr const char* kJobColumns =
    "j.id AS id, j.workflow_id AS workflow_id, w.name AS workflow_name, "
    "j.status AS status, j.inputs_json AS inputs_json, j.outputs_json AS outputs_json, "
    "j.error AS error, j.priority AS priority, j.created_at AS created_at, "
    "j.started_at AS started_at, j.finished_at AS finished_at, j.updated_at AS updated_at, "
    "j.lease_owner AS lease_owner, j.lease_expires_at AS lease_expires_at, "
    "COALESCE(j.idempotency_key, '') AS idempotency_key, j.idempotency_hash AS idempotency_hash, "
    "j.pending_documents AS pending_documents ";

inline constexpr const char* kJobDocumentColumns = "document_id, key, input_name, ordinal, name ";

// A step run's columns, for SELECT and RETURNING alike.
inline constexpr const char* kStepRunColumns =
    "id, job_id, step_id, iteration, item_json, status, attempt, started_at, "
    "finished_at, prompts, prompt_tokens, completion_tokens, cached_prompt_tokens, "
    "outputs_json, warnings_json, error ";

inline constexpr const char* kFindingColumns =
    "id, job_id, step_run_id, step_id, seq, kind, category, severity, title, text, "
    "confidence, details_json ";

// Evidence rows: `evidence e` (finding_id tells which finding each belongs to).
inline constexpr const char* kEvidenceColumns =
    "e.finding_id AS finding_id, COALESCE(e.document_id, 0) AS document_id, "
    "e.document_key AS document_key, e.quote AS quote, e.start_byte AS start_byte, "
    "e.end_byte AS end_byte, e.start_char AS start_char, e.end_char AS end_char, "
    "e.verified AS verified, e.match_kind AS match_kind, e.source_path AS source_path, "
    "e.source_page AS source_page, e.source_line AS source_line, "
    "e.source_column AS source_column, e.source_end_line AS source_end_line ";

inline constexpr const char* kEventColumns = "id, job_id, type, data_json, created_at ";

inline constexpr const char* kWorkflowColumns =
    "id, name, version, content_hash, source, path, created_at ";

inline constexpr const char* kDocumentColumns =
    "id, content_hash, source_path, media_type, size_bytes, token_count, text, created_at, "
    "layout ";

inline constexpr const char* kScheduleColumns =
    "id, spec_hash, next_run_ms, last_run_ms, last_job_id, updated_at, buffered_ms ";

inline constexpr const char* kApiScheduleColumns = "id, definition_json, created_at, updated_at ";

// prompts, prompt_tokens, completion_tokens, cached_prompt_tokens.
template <RowByName R>
Usage read_usage(const R& q) {
  Usage u;
  u.prompts = q.i64("prompts");
  u.prompt_tokens = q.i64("prompt_tokens");
  u.completion_tokens = q.i64("completion_tokens");
  u.cached_prompt_tokens = q.i64("cached_prompt_tokens");
  return u;
}

// kJobColumns and the usage columns.
template <RowByName R>
JobRecord read_job(const R& q) {
  JobRecord j;
  j.id = q.i64("id");
  j.workflow_id = q.i64("workflow_id");
  j.workflow_name = q.text("workflow_name");
  j.status = q.text("status");
  j.inputs_json = q.text("inputs_json");
  j.outputs_json = q.text("outputs_json");
  j.error = q.text("error");
  j.priority = q.i32("priority");
  j.created_at = q.i64("created_at");
  j.started_at = q.i64("started_at");
  j.finished_at = q.i64("finished_at");
  j.updated_at = q.i64("updated_at");
  j.lease_owner = q.text("lease_owner");
  j.lease_expires_at = q.i64("lease_expires_at");
  j.idempotency_key = q.text("idempotency_key");
  j.idempotency_hash = q.text("idempotency_hash");
  j.pending_documents = q.text("pending_documents");
  j.usage = read_usage(q);
  return j;
}

// kJobDocumentColumns.
template <RowByName R>
JobDocument read_job_document(const R& q) {
  JobDocument d;
  d.document_id = q.i64("document_id");
  d.key = q.text("key");
  d.input_name = q.text("input_name");
  d.ordinal = q.i32("ordinal");
  d.name = q.text("name");
  return d;
}

// kStepRunColumns.
template <RowByName R>
StepRunRecord read_step_run(const R& q) {
  StepRunRecord r;
  r.id = q.i64("id");
  r.job_id = q.i64("job_id");
  r.step_id = q.text("step_id");
  r.iteration = q.i32("iteration");
  r.item_json = q.text("item_json");
  r.status = q.text("status");
  r.attempt = q.i32("attempt");
  r.started_at = q.i64("started_at");
  r.finished_at = q.i64("finished_at");
  r.usage = read_usage(q);
  r.outputs_json = q.text("outputs_json");
  r.warnings_json = q.text("warnings_json");
  r.error = q.text("error");
  return r;
}

// kFindingColumns; the evidence is read apart (read_evidence).
template <RowByName R>
FindingRecord read_finding(const R& q) {
  FindingRecord f;
  f.id = q.i64("id");
  f.job_id = q.i64("job_id");
  f.step_run_id = q.i64("step_run_id");
  f.step_id = q.text("step_id");
  f.seq = q.i32("seq");
  f.kind = q.text("kind");
  f.category = q.text("category");
  f.severity = q.i32("severity");
  f.title = q.text("title");
  f.text = q.text("text");
  f.confidence = q.real("confidence");
  f.details_json = q.text("details_json");
  return f;
}

// kEvidenceColumns but finding_id (the caller reads that to place the record).
template <RowByName R>
EvidenceRecord read_evidence(const R& q) {
  EvidenceRecord e;
  e.document_id = q.i64("document_id");
  e.document_key = q.text("document_key");
  e.quote = q.text("quote");
  e.start_byte = q.i64("start_byte");
  e.end_byte = q.i64("end_byte");
  e.start_char = q.i64("start_char");
  e.end_char = q.i64("end_char");
  e.verified = q.i64("verified") != 0;
  e.match_kind = q.text("match_kind");
  e.source_path = q.text("source_path");
  e.source_page = q.i64("source_page");
  e.source_line = q.i64("source_line");
  e.source_column = q.i64("source_column");
  e.source_end_line = q.i64("source_end_line");
  return e;
}

// kEventColumns.
template <RowByName R>
EventRecord read_event(const R& q) {
  return {q.i64("id"), q.i64("job_id"), q.text("type"), q.text("data_json"), q.i64("created_at")};
}

// kWorkflowColumns.
template <RowByName R>
WorkflowRecord read_workflow(const R& q) {
  WorkflowRecord w;
  w.id = q.i64("id");
  w.name = q.text("name");
  w.version = q.text("version");
  w.content_hash = q.text("content_hash");
  w.source = q.text("source");
  w.path = q.text("path");
  w.created_at = q.i64("created_at");
  return w;
}

// kDocumentColumns; a NULL layout (a row from before layouts were kept) reads as "".
template <RowByName R>
DocumentRecord read_document(const R& q) {
  DocumentRecord d;
  d.id = q.i64("id");
  d.content_hash = q.text("content_hash");
  d.source_path = q.text("source_path");
  d.media_type = q.text("media_type");
  d.size_bytes = q.i64("size_bytes");
  d.token_count = q.i64("token_count");
  d.text = q.text("text");
  d.created_at = q.i64("created_at");
  d.layout = q.bytes("layout");
  return d;
}

// kScheduleColumns.
template <RowByName R>
ScheduleState read_schedule(const R& q) {
  ScheduleState s;
  s.id = q.text("id");
  s.spec_hash = q.text("spec_hash");
  s.next_run_ms = q.i64("next_run_ms");
  s.last_run_ms = q.i64("last_run_ms");
  s.last_job_id = q.i64("last_job_id");
  s.updated_at = q.i64("updated_at");
  s.buffered_ms = q.i64("buffered_ms");
  return s;
}

// kApiScheduleColumns.
template <RowByName R>
ApiScheduleRecord read_api_schedule(const R& q) {
  return {q.text("id"), q.text("definition_json"), q.i64("created_at"), q.i64("updated_at")};
}

}  // namespace ream::store
