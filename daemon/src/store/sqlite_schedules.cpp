// SqliteStore: schedule state (file and API schedules) and API schedule definitions.
#include "store/row_mappers.h"
#include "store/sqlite_store.h"

namespace ream::store {

Result<std::vector<ScheduleState>> SqliteStore::schedules() {
  auto db = pool_->reader();
  std::vector<ScheduleState> out;
  Stmt q = db->prepare(std::string("SELECT ") + kScheduleColumns + "FROM schedule_state ORDER BY id");
  Status st;
  while (q.step(&st)) out.push_back(read_schedule(q));
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Status SqliteStore::put_schedule(const ScheduleState& s) {
  auto db = pool_->writer();
  Stmt q = db->prepare(
      "INSERT INTO schedule_state(id, spec_hash, next_run_ms, last_run_ms, last_job_id, "
      "updated_at, buffered_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET "
      "spec_hash = ?2, next_run_ms = ?3, last_run_ms = ?4, last_job_id = ?5, updated_at = ?6, "
      "buffered_ms = ?7");
  q.bind(1, s.id).bind(2, s.spec_hash).bind(3, s.next_run_ms).bind(4, s.last_run_ms);
  q.bind(5, s.last_job_id).bind(6, now_ms()).bind(7, s.buffered_ms);
  return q.run();
}

Result<bool> SqliteStore::advance_schedule(const std::string& id, int64_t expected_next_ms,
                                           int64_t fired_ms, int64_t next_ms, int64_t job_id) {
  auto db = pool_->writer();
  Stmt q = db->prepare(
      "UPDATE schedule_state SET next_run_ms = ?3, last_run_ms = ?4, "
      "last_job_id = CASE WHEN ?5 > 0 THEN ?5 ELSE last_job_id END, updated_at = ?6 "
      "WHERE id = ?1 AND next_run_ms = ?2");
  q.bind(1, id).bind(2, expected_next_ms).bind(3, next_ms).bind(4, fired_ms).bind(5, job_id);
  q.bind(6, now_ms());
  REAM_RETURN_IF_ERROR(q.run());
  return db->changes() > 0;
}

Status SqliteStore::set_schedule_buffer(const std::string& id, int64_t slot_ms) {
  auto db = pool_->writer();
  Stmt q = db->prepare("UPDATE schedule_state SET buffered_ms = ?2, updated_at = ?3 WHERE id = ?1");
  q.bind(1, id).bind(2, slot_ms).bind(3, now_ms());
  return q.run();
}

Result<std::vector<ApiScheduleRecord>> SqliteStore::api_schedules() {
  auto db = pool_->reader();
  std::vector<ApiScheduleRecord> out;
  Stmt q = db->prepare(std::string("SELECT ") + kApiScheduleColumns +
                       "FROM api_schedules ORDER BY created_at, id");
  Status st;
  while (q.step(&st)) out.push_back(read_api_schedule(q));
  REAM_RETURN_IF_ERROR(st);
  REAM_RETURN_IF_ERROR(q.mapping_status());
  return out;
}

Result<bool> SqliteStore::insert_api_schedule(const std::string& id,
                                              const std::string& definition_json) {
  auto db = pool_->writer();
  Stmt q = db->prepare(
      "INSERT OR IGNORE INTO api_schedules(id, definition_json, created_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?3)");
  q.bind(1, id).bind(2, definition_json).bind(3, now_ms());
  REAM_RETURN_IF_ERROR(q.run());
  return db->changes() > 0;
}

Result<bool> SqliteStore::update_api_schedule(const std::string& id,
                                              const std::string& definition_json) {
  auto db = pool_->writer();
  Stmt q = db->prepare("UPDATE api_schedules SET definition_json = ?2, updated_at = ?3 WHERE id = ?1");
  q.bind(1, id).bind(2, definition_json).bind(3, now_ms());
  REAM_RETURN_IF_ERROR(q.run());
  return db->changes() > 0;
}

Result<bool> SqliteStore::remove_api_schedule(const std::string& id) {
  Write db(*this);
  REAM_RETURN_IF_ERROR(db.begin_status());
  Stmt q = db->prepare("DELETE FROM api_schedules WHERE id = ?1");
  q.bind(1, id);
  REAM_RETURN_IF_ERROR(q.run());
  const bool removed = db->changes() > 0;
  Stmt s = db->prepare("DELETE FROM schedule_state WHERE id = ?1");
  s.bind(1, id);
  REAM_RETURN_IF_ERROR(s.run());
  REAM_RETURN_IF_ERROR(db.commit());
  return removed;
}

}  // namespace ream::store
