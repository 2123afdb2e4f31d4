// SqliteStore: step runs, findings with evidence, and job events.
#include <map>

#include "store/row_mappers.h"
#include "store/sqlite_store.h"
#include "store/store_common.h"

namespace ream::store {

namespace {

const std::string kStepSelect = std::string("SELECT ") + kStepRunColumns + "FROM step_runs ";

}  // namespace

Result<std::vector<StepRunRecord>> SqliteStore::step_runs(int64_t job_id) {
  auto db = pool_->reader();
  Stmt q = db->prepare(kStepSelect + "WHERE job_id = ?1 ORDER BY id");
  q.bind(1, job_id);
  std::vector<StepRunRecord> out;
  Status st;
  while (q.step(&st)) out.push_back(read_step_run(q));
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Result<StepRunRecord> SqliteStore::begin_step_run(int64_t job_id, const std::string& step_id,
                                            int iteration, const std::string& item_json) {
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  int64_t now = now_ms();
  Stmt up = db->prepare(
      "INSERT INTO step_runs(job_id, step_id, iteration, item_json, status, attempt, started_at) "
      "VALUES (?1, ?2, ?3, ?4, 'running', 1, ?5) "
      "ON CONFLICT(job_id, step_id, iteration) DO UPDATE SET status = 'running', "
      "attempt = attempt + 1, started_at = ?5, finished_at = 0, error = '' "
      "WHERE status NOT IN ('succeeded', 'skipped')");
  up.bind(1, job_id).bind(2, step_id).bind(3, iteration).bind(4, item_json).bind(5, now);
  REAM_RETURN_IF_ERROR(up.run());
  if (db->changes() == 0) {
    return Status(StatusCode::kAlreadyExists,
                  "step run " + step_id + "[" + std::to_string(iteration) + "] already finished");
  }
  Stmt q = db->prepare(kStepSelect + "WHERE job_id = ?1 AND step_id = ?2 AND iteration = ?3");
  q.bind(1, job_id).bind(2, step_id).bind(3, iteration);
  Status st;
  if (!q.step(&st)) return st.ok() ? internal_error("step run vanished") : st;
  StepRunRecord run = read_step_run(q);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  REAM_RETURN_IF_ERROR(db.event(
      job_id, "step_started",
      step_event_json(step_id, iteration, "\"attempt\":" + std::to_string(run.attempt))));
  REAM_RETURN_IF_ERROR(db.commit());
  return run;
}

Status SqliteStore::commit_step_run(const StepRunRecord& run,
                              const std::vector<FindingRecord>& findings) {
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  int64_t now = now_ms();
  // The state change goes first: if the run already committed, nothing is written.
  Stmt up = db->prepare(
      "UPDATE step_runs SET status = 'succeeded', finished_at = ?2, prompts = ?3, "
      "prompt_tokens = ?4, completion_tokens = ?5, cached_prompt_tokens = ?6, "
      "outputs_json = ?7, warnings_json = ?8, error = '' "
      "WHERE id = ?1 AND status NOT IN ('succeeded', 'skipped')");
  up.bind(1, run.id).bind(2, now).bind(3, run.usage.prompts).bind(4, run.usage.prompt_tokens);
  up.bind(5, run.usage.completion_tokens).bind(6, run.usage.cached_prompt_tokens);
  up.bind(7, run.outputs_json).bind(8, run.warnings_json);
  REAM_RETURN_IF_ERROR(up.run());
  if (db->changes() == 0) {
    return Status(StatusCode::kAlreadyExists,
                  "step run " + std::to_string(run.id) + " was already committed");
  }
  int seq = 0;
  for (const FindingRecord& f : findings) {
    Stmt ins = db->prepare(
        "INSERT INTO findings(job_id, step_run_id, step_id, seq, kind, category, severity, "
        "title, text, confidence, details_json, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    ins.bind(1, run.job_id).bind(2, run.id).bind(3, run.step_id).bind(4, seq++);
    ins.bind(5, f.kind).bind(6, f.category).bind(7, f.severity).bind(8, f.title);
    ins.bind(9, f.text).bind(10, f.confidence).bind(11, f.details_json).bind(12, now);
    REAM_RETURN_IF_ERROR(ins.run());
    int64_t finding_id = db->last_insert_id();
    int ordinal = 0;
    for (const EvidenceRecord& e : f.evidence) {
      Stmt ev = db->prepare(
          "INSERT INTO evidence(finding_id, ordinal, document_id, document_key, quote, "
          "start_byte, end_byte, start_char, end_char, verified, match_kind, source_path, "
          "source_page, source_line, source_column, source_end_line) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
      ev.bind(1, finding_id).bind(2, ordinal++);
      if (e.document_id > 0) {
        ev.bind(3, e.document_id);
      } else {
        ev.bind_null(3);
      }
      ev.bind(4, e.document_key).bind(5, e.quote).bind(6, e.start_byte).bind(7, e.end_byte);
      ev.bind(8, e.start_char).bind(9, e.end_char).bind(10, e.verified ? 1 : 0);
      ev.bind(11, e.match_kind).bind(12, e.source_path).bind(13, e.source_page);
      ev.bind(14, e.source_line).bind(15, e.source_column).bind(16, e.source_end_line);
      REAM_RETURN_IF_ERROR(ev.run());
    }
  }
  REAM_RETURN_IF_ERROR(db.event(
      run.job_id, "step_succeeded",
      step_event_json(run.step_id, run.iteration,
                      "\"findings\":" + std::to_string(findings.size()))));
  return db.commit();
}

Status SqliteStore::fail_step_run(int64_t step_run_id, const std::string& error, bool will_retry,
                            const Usage& usage) {
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  Stmt up = db->prepare(
      "UPDATE step_runs SET status = ?2, error = ?3, finished_at = ?4, prompts = ?5, "
      "prompt_tokens = ?6, completion_tokens = ?7, cached_prompt_tokens = ?8 "
      "WHERE id = ?1 AND status NOT IN ('succeeded', 'skipped') "
      "RETURNING job_id, step_id, iteration");
  up.bind(1, step_run_id).bind(2, will_retry ? kStepRetrying : kStepFailed).bind(3, error);
  up.bind(4, now_ms()).bind(5, usage.prompts).bind(6, usage.prompt_tokens);
  up.bind(7, usage.completion_tokens).bind(8, usage.cached_prompt_tokens);
  Status st;
  if (!up.step(&st)) {
    return st.ok() ? failed_precondition("step run " + std::to_string(step_run_id) +
                                         " is not running")
                   : st;
  }
  int64_t job_id = up.i64("job_id");
  std::string step_id = up.text("step_id");
  int iteration = up.i32("iteration");
  REAM_RETURN_IF_ERROR(up.mapping_status());
  REAM_RETURN_IF_ERROR(up.run());
  REAM_RETURN_IF_ERROR(db.event(job_id, will_retry ? "step_retrying" : "step_failed",
                                        step_event_json(step_id, iteration, "")));
  return db.commit();
}

Status SqliteStore::skip_step(int64_t job_id, const std::string& step_id) {
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  int64_t now = now_ms();
  Stmt ins = db->prepare(
      "INSERT INTO step_runs(job_id, step_id, iteration, status, started_at, finished_at) "
      "VALUES (?1, ?2, -1, 'skipped', ?3, ?3) "
      "ON CONFLICT(job_id, step_id, iteration) DO UPDATE SET status = 'skipped', "
      "finished_at = ?3 WHERE status NOT IN ('succeeded', 'skipped')");
  ins.bind(1, job_id).bind(2, step_id).bind(3, now);
  REAM_RETURN_IF_ERROR(ins.run());
  REAM_RETURN_IF_ERROR(db.event(job_id, "step_skipped", step_event_json(step_id, -1, "")));
  return db.commit();
}

Result<std::vector<FindingRecord>> SqliteStore::findings(int64_t job_id) {
  auto db = pool_->reader();
  Stmt q = db->prepare(std::string("SELECT ") + kFindingColumns +
                       "FROM findings WHERE job_id = ?1 ORDER BY step_run_id, seq");
  q.bind(1, job_id);
  std::vector<FindingRecord> out;
  std::map<int64_t, size_t> index;
  Status st;
  while (q.step(&st)) {
    index[q.i64("id")] = out.size();
    out.push_back(read_finding(q));
  }
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  Stmt ev = db->prepare(std::string("SELECT ") + kEvidenceColumns +
                        "FROM evidence e JOIN findings f ON f.id = e.finding_id "
                        "WHERE f.job_id = ?1 ORDER BY e.finding_id, e.ordinal");
  ev.bind(1, job_id);
  while (ev.step(&st)) {
    auto it = index.find(ev.i64("finding_id"));
    if (it != index.end()) out[it->second].evidence.push_back(read_evidence(ev));
  }
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(ev.mapping_status());
  return out;
}

Status SqliteStore::Write::event(int64_t job_id, const std::string& type,
                                 const std::string& data_json) {
  const int64_t now = now_ms();
  Stmt ins = db_->prepare(
      "INSERT INTO job_events(job_id, type, data_json, created_at) VALUES (?1, ?2, ?3, ?4)");
  ins.bind(1, job_id).bind(2, type).bind(3, data_json).bind(4, now);
  REAM_RETURN_IF_ERROR(ins.run());
  store_.pending_events_.push_back({db_->last_insert_id(), job_id, type, data_json, now});
  return {};
}

Status SqliteStore::add_event(int64_t job_id, const std::string& type, const std::string& data_json) {
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  REAM_RETURN_IF_ERROR(db.event(job_id, type, data_json));
  return db.commit();
}

Result<std::vector<EventRecord>> SqliteStore::events(int64_t job_id, int64_t after_id) {
  auto db = pool_->reader();
  Stmt q = db->prepare(std::string("SELECT ") + kEventColumns +
                       "FROM job_events WHERE job_id = ?1 AND id > ?2 ORDER BY id");
  q.bind(1, job_id).bind(2, after_id);
  std::vector<EventRecord> out;
  Status st;
  while (q.step(&st)) out.push_back(read_event(q));
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

}  // namespace ream::store
