#!/usr/bin/env bash
# Writes tests/data/store/reamd-schema4.sqlite: a database as reamd of 2026-12-06 (store
# schema 4, reamd_meta version 3, before issue 15 merged the two stores) left it, for the
# test that opens an old database and finds every job, step and finding
# (tests/daemon/store_migration_test.cpp).
#   tools/make_store_fixture.sh BUILD_DIR OUT.sqlite
# BUILD_DIR is a build of that main (daemon/reamd, cli/ream, plugins/, the testkit plugin).
set -euo pipefail
build=$(realpath "$1"); out=$(realpath -m "$2")
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$build/cli/ream" init-model --shape tiny --out "$tmp/model" --seed 7 >/dev/null
mkdir -p "$tmp/wf" "$tmp/docs"
cat > "$tmp/wf/fixture.yaml" <<'YAML'
name: fixture
inputs:
  doc: {type: document}
steps:
  - {id: a, plugin: testkit, with: {findings: 2}}
  - id: each
    plugin: testkit
    needs: a
    foreach: {items: [x, y]}
    with: {tag: "${{ item }}"}
  - {id: b, plugin: testkit, needs: each, with: {findings: 3}}
YAML
cat > "$tmp/wf/fixture_fail.yaml" <<'YAML'
name: fixture_fail
inputs:
  doc: {type: document}
steps:
  - {id: a, plugin: testkit, with: {findings: 1}}
  - {id: boom, plugin: testkit, needs: a, with: {mode: fail_plan, message: "planned failure"}}
YAML
printf 'The supplier shall deliver the goods within thirty days.\nPayment is due on receipt.\n' > "$tmp/docs/contract.txt"
port=$((20000 + RANDOM % 20000))
cat > "$tmp/reamd.yaml" <<YAML
data_dir: $tmp/data
engine:
  model: $tmp/model
  threads: 1
workflows: [$src/workflows, $tmp/wf]
plugins: [$build/plugins, $build/tests/daemon/test_plugins/good]
documents:
  allowed_roots: [$tmp/docs]
YAML
"$build/daemon/reamd" --config "$tmp/reamd.yaml" --listen 127.0.0.1:$port 2>"$tmp/reamd.log" &
pid=$!
R=http://127.0.0.1:$port
for _ in $(seq 1 120); do curl -sf $R/readyz >/dev/null && break; sleep 0.5; done
post() { curl -sS -H 'Content-Type: application/json' "$@"; echo; }
post $R/v1/jobs -H 'Idempotency-Key: fixture-key-1' \
  -d "{\"workflow\":\"fixture\",\"inputs\":{\"doc\":\"$tmp/docs/contract.txt\"}}"
post $R/v1/jobs -d "{\"workflow\":\"fixture_fail\",\"inputs\":{\"doc\":\"$tmp/docs/contract.txt\"},\"priority\":5}"
doc=$(curl -sS -H 'Content-Type: text/plain' --data-binary @"$tmp/docs/contract.txt" "$R/v1/documents?name=notes.txt" | jq -r .id)
post $R/v1/jobs -d "{\"workflow\":\"summarize\",\"inputs\":{\"documents\":[{\"document_id\":\"$doc\"}],\"max_words\":20}}"
post $R/v1/schedules -d '{"id":"nightly-fixture","workflow":"fixture","cron":"0 3 * * *","inputs":{"doc":"'$tmp/docs/contract.txt'"},"overlap":"buffer_one"}'
for _ in $(seq 1 240); do
  n=$(curl -sS "$R/v1/jobs?status=queued" | jq '.jobs|length'); m=$(curl -sS "$R/v1/jobs?status=running" | jq '.jobs|length')
  [ "$n" = 0 ] && [ "$m" = 0 ] && break; sleep 0.5
done
curl -sS "$R/v1/jobs" | jq -c '.jobs[] | {id, workflow, status}'
kill -TERM $pid; wait $pid || true
sqlite3 "$tmp/data/ream.db" 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;' >/dev/null
sqlite3 "$tmp/data/ream.db" 'VACUUM'
mkdir -p "$(dirname "$out")"; cp "$tmp/data/ream.db" "$out"
sqlite3 "$out" 'PRAGMA user_version; SELECT * FROM reamd_meta; SELECT status, COUNT(*) FROM jobs GROUP BY status; SELECT COUNT(*) FROM step_runs; SELECT COUNT(*) FROM findings; SELECT COUNT(*) FROM evidence;'
