// PgStore: step runs, findings with evidence, and job events.
#include <map>

#include "store/pg_store.h"
#include "store/row_mappers.h"
#include "store/store_common.h"

namespace ream::store {

namespace {

const std::string kStepSelect = std::string("SELECT ") + kStepRunColumns + "FROM step_runs ";

Status insert_finding(const pg::Conn& db, const StepRunRecord& run, int seq, const FindingRecord& f,
                      int64_t now) {
  auto ins = db.exec(
      "INSERT INTO findings(job_id, step_run_id, step_id, seq, kind, category, severity, "
      "title, text, confidence, details_json, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
      pg::Params().add(run.job_id).add(run.id).add(run.step_id).add(seq).add(f.kind).add(f.category)
          .add(f.severity).add(f.title).add(f.text).add(f.confidence).add(f.details_json).add(now));
  REAM_RETURN_IF_ERROR(ins.status());
  const int64_t finding_id = ins.row(0).i64("id");
  REAM_RETURN_IF_ERROR(ins.mapping_status());
  int ordinal = 0;
  for (const EvidenceRecord& e : f.evidence) {
    pg::Params p;
    p.add(finding_id).add(ordinal++);
    if (e.document_id > 0) {
      p.add(e.document_id);
    } else {
      p.add_null();
    }
    p.add(e.document_key).add(e.quote).add(e.start_byte).add(e.end_byte).add(e.start_char);
    p.add(e.end_char).add(e.verified ? 1 : 0).add(e.match_kind).add(e.source_path);
    p.add(e.source_page).add(e.source_line).add(e.source_column).add(e.source_end_line);
    REAM_RETURN_IF_ERROR(
        db.exec("INSERT INTO evidence(finding_id, ordinal, document_id, document_key, quote, "
                "start_byte, end_byte, start_char, end_char, verified, match_kind, source_path, "
                "source_page, source_line, source_column, source_end_line) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                p)
            .status());
  }
  return {};
}

}  // namespace

Result<std::vector<StepRunRecord>> PgStore::step_runs(int64_t job_id) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(kStepSelect + "WHERE job_id = $1 ORDER BY id", pg::Params().add(job_id));
  REAM_RETURN_IF_ERROR(q.status());
  std::vector<StepRunRecord> out;
  for (int i = 0; i < q.rows(); ++i) out.push_back(read_step_run(q.row(i)));
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Result<StepRunRecord> PgStore::begin_step_run(int64_t job_id, const std::string& step_id,
                                              int iteration, const std::string& item_json) {
  Write db(*this, true);
  REAM_RETURN_IF_ERROR(db.begin_status());
  auto q = db->exec(
      "INSERT INTO step_runs AS s (job_id, step_id, iteration, item_json, status, attempt, started_at) "
      "VALUES ($1, $2, $3, $4, 'running', 1, $5) "
      "ON CONFLICT (job_id, step_id, iteration) DO UPDATE SET status = 'running', "
      "attempt = s.attempt + 1, started_at = $5, finished_at = 0, error = '' "
      "WHERE s.status NOT IN ('succeeded', 'skipped') RETURNING " + std::string(kStepRunColumns),
      pg::Params().add(job_id).add(step_id).add(iteration).add(item_json).add(now_ms()));
  REAM_RETURN_IF_ERROR(q.status());
  if (q.rows() == 0) {
    return Status(StatusCode::kAlreadyExists,
                  "step run " + step_id + "[" + std::to_string(iteration) + "] already finished");
  }
  StepRunRecord run = read_step_run(q.row(0));
  REAM_RETURN_IF_ERROR(q.mapping_status());
  REAM_RETURN_IF_ERROR(db.event(
      job_id, "step_started",
      step_event_json(step_id, iteration, "\"attempt\":" + std::to_string(run.attempt))));
  REAM_RETURN_IF_ERROR(db.commit());
  return run;
}

Status PgStore::commit_step_run(const StepRunRecord& run, const std::vector<FindingRecord>& findings) {
  Write db(*this, true);
  REAM_RETURN_IF_ERROR(db.begin_status());
  const int64_t now = now_ms();
  // The state change goes first and locks the row: a second commit of the run (another
  // host's, after a lease takeover) waits for this one, then finds it succeeded and
  // writes nothing.
  auto up = db->exec(
      "UPDATE step_runs SET status = 'succeeded', finished_at = $2, prompts = $3, "
      "prompt_tokens = $4, completion_tokens = $5, cached_prompt_tokens = $6, "
      "outputs_json = $7, warnings_json = $8, error = '' "
      "WHERE id = $1 AND status NOT IN ('succeeded', 'skipped')",
      pg::Params().add(run.id).add(now).add(run.usage.prompts).add(run.usage.prompt_tokens)
          .add(run.usage.completion_tokens).add(run.usage.cached_prompt_tokens)
          .add(run.outputs_json).add(run.warnings_json));
  REAM_RETURN_IF_ERROR(up.status());
  if (up.affected() == 0) {
    return Status(StatusCode::kAlreadyExists, "step run " + std::to_string(run.id) + " was already committed");
  }
  int seq = 0;
  for (const FindingRecord& f : findings) REAM_RETURN_IF_ERROR(insert_finding(*db, run, seq++, f, now));
  REAM_RETURN_IF_ERROR(db.event(
      run.job_id, "step_succeeded",
      step_event_json(run.step_id, run.iteration, "\"findings\":" + std::to_string(findings.size()))));
  return db.commit();
}

Status PgStore::fail_step_run(int64_t step_run_id, const std::string& error, bool will_retry,
                              const Usage& usage) {
  Write db(*this, true);
  REAM_RETURN_IF_ERROR(db.begin_status());
  auto up = db->exec(
      "UPDATE step_runs SET status = $2, error = $3, finished_at = $4, prompts = $5, "
      "prompt_tokens = $6, completion_tokens = $7, cached_prompt_tokens = $8 "
      "WHERE id = $1 AND status NOT IN ('succeeded', 'skipped') "
      "RETURNING job_id, step_id, iteration",
      pg::Params().add(step_run_id).add(will_retry ? kStepRetrying : kStepFailed).add(error)
          .add(now_ms()).add(usage.prompts).add(usage.prompt_tokens).add(usage.completion_tokens)
          .add(usage.cached_prompt_tokens));
  REAM_RETURN_IF_ERROR(up.status());
  if (up.rows() == 0) return failed_precondition("step run " + std::to_string(step_run_id) + " is not running");
  const int64_t job_id = up.row(0).i64("job_id");
  const std::string step_id = up.row(0).text("step_id");
  const int iteration = up.row(0).i32("iteration");
  REAM_RETURN_IF_ERROR(up.mapping_status());
  REAM_RETURN_IF_ERROR(db.event(job_id, will_retry ? "step_retrying" : "step_failed",
                                step_event_json(step_id, iteration, "")));
  return db.commit();
}

Status PgStore::skip_step(int64_t job_id, const std::string& step_id) {
  Write db(*this, true);
  REAM_RETURN_IF_ERROR(db.begin_status());
  REAM_RETURN_IF_ERROR(
      db->exec("INSERT INTO step_runs AS s (job_id, step_id, iteration, status, started_at, finished_at) "
               "VALUES ($1, $2, -1, 'skipped', $3, $3) "
               "ON CONFLICT (job_id, step_id, iteration) DO UPDATE SET status = 'skipped', "
               "finished_at = $3 WHERE s.status NOT IN ('succeeded', 'skipped')",
               pg::Params().add(job_id).add(step_id).add(now_ms()))
          .status());
  REAM_RETURN_IF_ERROR(db.event(job_id, "step_skipped", step_event_json(step_id, -1, "")));
  return db.commit();
}

Result<std::vector<FindingRecord>> PgStore::findings(int64_t job_id) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(std::string("SELECT ") + kFindingColumns +
                        "FROM findings WHERE job_id = $1 ORDER BY step_run_id, seq",
                    pg::Params().add(job_id));
  REAM_RETURN_IF_ERROR(q.status());
  std::vector<FindingRecord> out;
  std::map<int64_t, size_t> index;
  for (int i = 0; i < q.rows(); ++i) {
    index[q.row(i).i64("id")] = out.size();
    out.push_back(read_finding(q.row(i)));
  }
  REAM_RETURN_IF_ERROR(q.mapping_status());
  auto ev = db->exec(std::string("SELECT ") + kEvidenceColumns +
                         "FROM evidence e JOIN findings f ON f.id = e.finding_id "
                         "WHERE f.job_id = $1 ORDER BY e.finding_id, e.ordinal",
                     pg::Params().add(job_id));
  REAM_RETURN_IF_ERROR(ev.status());
  for (int i = 0; i < ev.rows(); ++i) {
    auto it = index.find(ev.row(i).i64("finding_id"));
    if (it != index.end()) out[it->second].evidence.push_back(read_evidence(ev.row(i)));
  }
  REAM_RETURN_IF_ERROR(ev.mapping_status());
  return out;
}

Status PgStore::add_event(int64_t job_id, const std::string& type, const std::string& data_json) {
  Write db(*this, true);
  REAM_RETURN_IF_ERROR(db.begin_status());
  REAM_RETURN_IF_ERROR(db.event(job_id, type, data_json));
  return db.commit();
}

Result<std::vector<EventRecord>> PgStore::events(int64_t job_id, int64_t after_id) {
  REAM_ASSIGN_OR_RETURN(auto db, conn());
  auto q = db->exec(std::string("SELECT ") + kEventColumns +
                        "FROM job_events WHERE job_id = $1 AND id > $2 ORDER BY id",
                    pg::Params().add(job_id).add(after_id));
  REAM_RETURN_IF_ERROR(q.status());
  std::vector<EventRecord> out;
  for (int i = 0; i < q.rows(); ++i) out.push_back(read_event(q.row(i)));
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

}  // namespace ream::store
