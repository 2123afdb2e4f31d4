#!/usr/bin/env bash
# Load bench of reamd on loopback (issue 14): job submissions per second and their
# latency, then /healthz latency while the daemon is busy. A script that prints figures,
# never a test: nothing here asserts a time. Figures and the machine they came from go
# in bench/NOTES.md.
#
#   bench/load/load_bench.sh [BUILD_DIR]        (default build; needs wrk, curl, jq,
#                                                sqlite3, python3)
# Environment: REAM_LOAD_SECONDS (10) per measurement, REAM_LOAD_CONNECTIONS (32) and
# REAM_LOAD_THREADS (2) for the submissions, REAM_LOAD_LOG (info) reamd's log level,
# REAM_LOAD_JOBS (100000) jobs in the database for the second phase, REAM_LOAD_SUBMIT_ONLY=1
# to stop after the first (it also runs against an older build, for a side-by-side figure),
# REAM_LOAD_PERF=FILE records reamd's CPU profile during the first with perf (perf report -i FILE),
# REAM_LOAD_RUNNERS (1) reamd's queue.runners: 0 measures the submission path alone, as on a
# host that only takes submissions for other hosts' runners (this machine has no GPU, so
# with 1 the runner's CPU engine executes the jobs on the same two cores),
# REAM_LOAD_WORKER_NICE (10) reamd's http.worker_nice.
#
# Phase 1, submissions: reamd with the tiny random model (1 runner, engine on 1 thread,
# so jobs run beside the submissions), one uploaded document; wrk POSTs
# {"workflow": "summarize", "inputs": {"documents": [{"document_id": ...}]}} on
# REAM_LOAD_CONNECTIONS keep-alive connections. Every 202 is sent after the transaction
# holding its job committed; afterwards the jobs in the database are counted against
# the 202s wrk received.
# Phase 0 (REAM_LOAD_INLINE_MB=N, off by default; REAM_LOAD_INLINE_ONLY=1 stops after it):
# one POST /v1/jobs carrying N MB of inline text while wrk measures GET /healthz on one
# connection: the time to the 202, reamd's resident-memory high-water mark (VmHWM) before
# the request, after the 202 and once a runner has read the document (its
# document_ingested event; the job is then cancelled: reading, not summarising, is
# measured).
# Phase 2, health under load: the database is filled to REAM_LOAD_JOBS jobs (plain SQL,
# reamd stopped), reamd restarted, then at once: 10 non-streaming chats in a loop, 8
# loops walking the job list page by page (4 unfiltered, 1,000 a page; 4 by status and
# workflow, 100 a page), 1,000 SSE streams of queued jobs; wrk measures GET /healthz
# meanwhile, twice: flooding it on 4 connections for REAM_LOAD_SECONDS (as many answers
# as it can get: a fourth load on the two cores), then probing it on one connection, a
# request REAM_LOAD_PROBE_MS (10) ms after each answer, for REAM_LOAD_PROBE_SECONDS (30),
# as a load balancer's or systemd's health check asks.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=$(cd "${1:-build}" && pwd)
SECS=${REAM_LOAD_SECONDS:-10}
CONN=${REAM_LOAD_CONNECTIONS:-32}
THREADS=${REAM_LOAD_THREADS:-2}
LOG_LEVEL=${REAM_LOAD_LOG:-info}
JOBS=${REAM_LOAD_JOBS:-100000}
for tool in wrk curl jq sqlite3 python3; do
  command -v $tool >/dev/null || { echo "load_bench: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
reamd_pid=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$reamd_pid" ] && kill "$reamd_pid" 2>/dev/null && wait "$reamd_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
R=http://127.0.0.1:$port
"$BUILD/cli/ream" init-model --shape tiny --out "$work/model" >/dev/null
cat >"$work/reamd.yaml" <<EOF
listen: 127.0.0.1:$port
data_dir: $work/data
log:
  level: $LOG_LEVEL
engine:
  model: $work/model
  threads: 1
workflows: [$ROOT/workflows]
plugins: [$BUILD/plugins]
http:
  max_connections: 4096
  max_connections_per_client: 0
  max_streams: 2048
  worker_nice: ${REAM_LOAD_WORKER_NICE:-10}
queue:
  runners: ${REAM_LOAD_RUNNERS:-1}
  max_queued: 100000000
  drain_timeout_s: 1
EOF

# REAM_LOAD_RT=1 starts reamd with the real-time policy SCHED_RR 1 (chrt, as systemd's
# CPUSchedulingPolicy=rr does; needs CAP_SYS_NICE): its I/O threads keep it, its workers,
# loader and engine leave it (common/include/ream/common/thread.h).
start_reamd() {
  local rt=()
  [ "${REAM_LOAD_RT:-0}" = 1 ] && rt=(chrt -r 1)
  "${rt[@]}" "$BUILD/daemon/reamd" --config "$work/reamd.yaml" >>"$work/reamd.log" 2>&1 &
  reamd_pid=$!
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' $R/readyz)" = 200 ] && return 0
    sleep 0.2
  done
  echo "load_bench: reamd did not become ready; its log:" >&2
  tail -20 "$work/reamd.log" >&2
  exit 1
}
stop_reamd() {
  kill -TERM "$reamd_pid"
  wait "$reamd_pid" || true
  reamd_pid=""
}

echo "# machine: $(nproc) cores, $(uname -r); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# reamd log level $LOG_LEVEL; wrk $THREADS threads, $CONN connections, ${SECS}s"
start_reamd
printf 'The parties shall renew this agreement each year unless either gives notice.\n%.0s' $(seq 1 20) >"$work/doc.txt"
doc=$(curl -sS -X POST "$R/v1/documents?name=note.txt" -H 'Content-Type: text/plain' \
        --data-binary @"$work/doc.txt" | jq -r .id)
export REAM_BODY
REAM_BODY=$(jq -cn --arg d "$doc" '{workflow: "summarize", inputs: {documents: [{document_id: $d}], max_tokens: 4}}')

hwm() { awk '/^VmHWM/ {print $2 " kB"}' "/proc/$reamd_pid/status"; }
if [ "${REAM_LOAD_INLINE_MB:-0}" -gt 0 ]; then
  echo "## phase 0: one POST /v1/jobs with ${REAM_LOAD_INLINE_MB} MB of inline text"
  python3 - "$REAM_LOAD_INLINE_MB" "$work/inline.json" <<'PY'
import json, random, sys
words = "contract party shall terminate notice payment liability license clause term agreement renewal fee".split()
rng = random.Random(7)
target = int(sys.argv[1]) * 1000 * 1000
lines, size = [], 0
while size < target:
    line = " ".join(rng.choice(words) for _ in range(14)) + ".\n"
    lines.append(line)
    size += len(line)
body = {"workflow": "summarize", "inputs": {"documents": [{"text": "".join(lines), "name": "big.txt"}], "max_tokens": 4}}
open(sys.argv[2], "w").write(json.dumps(body))
PY
  echo "reamd_vmhwm_before $(hwm)"
  wrk -t1 -c1 -d"${SECS}s" -s bench/load/latency.lua "$R/healthz" >"$work/inline_health.txt" &
  wrk_pid=$!
  sleep 1
  curl -sS -o "$work/inline_reply.json" -w 'post_202_seconds %{time_total} (status %{http_code})\n' \
    -X POST "$R/v1/jobs" -H 'Content-Type: application/json' --data-binary @"$work/inline.json"
  echo "reamd_vmhwm_after_202 $(hwm)"
  job=$(jq -r .id "$work/inline_reply.json")
  t0=$(date +%s.%N)
  for _ in $(seq 1 1200); do
    sqlite3 "$work/data/ream.db" "SELECT COUNT(*) FROM job_events WHERE job_id = $job AND type IN ('document_ingested', 'document_failed')" \
      2>/dev/null | grep -q '^1$' && break
    sleep 0.1
  done
  echo "document_read_after_202_seconds $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')"
  echo "reamd_vmhwm_after_reading $(hwm)"
  curl -s -o /dev/null -X DELETE "$R/v1/jobs/$job"
  wait "$wrk_pid" || true
  echo "healthz_meanwhile:"
  grep -E '^(ok_200|other_status|p[0-9.]+_ms) ' "$work/inline_health.txt" | sed 's/^/  /'
  [ "${REAM_LOAD_INLINE_ONLY:-0}" = 1 ] && exit 0
fi

echo "## phase 1: POST /v1/jobs"
if [ -n "${REAM_LOAD_PERF:-}" ]; then  # a CPU profile of reamd during phase 1, for perf report
  perf record -F 999 -g -o "$REAM_LOAD_PERF" -p "$reamd_pid" -- sleep "$SECS" >/dev/null 2>&1 &
  pids+=($!)
fi
wrk -t"$THREADS" -c"$CONN" -d"${SECS}s" -s bench/load/submit.lua "$R/v1/jobs" | tee "$work/submit.txt" \
  | grep -E '^(accepted_202|other_status|rate_per_s|p[0-9.]+_ms) '
accepted=$(awk '/^accepted_202/ {print $2}' "$work/submit.txt")
in_db=$(sqlite3 "$work/data/ream.db" "SELECT COUNT(*) FROM jobs")
echo "jobs_in_database $in_db (202s received: $accepted)"
[ "${REAM_LOAD_SUBMIT_ONLY:-0}" = 1 ] && exit 0

echo "## phase 2: GET /healthz while chats, job lists over $JOBS jobs and 1,000 SSE streams run"
stop_reamd
sqlite3 "$work/data/ream.db" <<EOF
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $JOBS - (SELECT COUNT(*) FROM jobs))
INSERT INTO jobs(workflow_id, workflow_name, status, inputs_json, priority, created_at, updated_at, finished_at)
SELECT w.id, w.name,
       CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 7 = 0 THEN 'cancelled' ELSE 'succeeded' END,
       '{}', 0, t, t, t
FROM n, (SELECT id, name FROM workflows WHERE name = 'summarize' LIMIT 1) w,
     (SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000 AS t);
EOF
echo "jobs_in_database $(sqlite3 "$work/data/ream.db" "SELECT COUNT(*) FROM jobs")"
# The phase-1 jobs still queued get the streams (they stay open while their job waits).
sqlite3 "$work/data/ream.db" "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id DESC LIMIT 1000" >"$work/queued.txt"
start_reamd

# REAM_LOAD_CLIENT_NICE (0): the nice value of phase 2's load generators (the chat and
# job-list loops, each request its own curl and jq process, and the SSE clients), which
# share the machine's cores with reamd here as they would not in a deployment; wrk, which
# measures /healthz, keeps the default priority.
CLIENT_NICE=${REAM_LOAD_CLIENT_NICE:-0}
for _ in $(seq 1 10); do
  (renice -n "$CLIENT_NICE" -p $BASHPID >/dev/null
   while :; do
     curl -s -o /dev/null -w '%{http_code}\n' -X POST "$R/v1/chat/completions" -H 'Content-Type: application/json' \
       -d '{"messages": [{"role": "user", "content": "Write a long story about a contract."}], "max_tokens": 256, "ignore_eos": true}' \
       >>"$work/chats" 2>/dev/null || sleep 0.2
   done) &
  pids+=($!)
done
walk() {  # $1: query without cursor; counts pages in $2
  renice -n "$CLIENT_NICE" -p $BASHPID >/dev/null
  while :; do
    cursor=""
    while :; do
      next=$(curl -s "$R/v1/jobs?$1${cursor:+&cursor=$cursor}" 2>/dev/null | jq -r .next_cursor 2>/dev/null) || break
      echo >>"$2"
      [ "$next" = null ] && break
      cursor=$next
    done
  done
}
for i in 1 2 3 4; do walk "limit=1000" "$work/pages_all_$i" & pids+=($!); done
for i in 1 2 3 4; do walk "status=failed&workflow=summarize&limit=100" "$work/pages_failed_$i" & pids+=($!); done
nice -n "$CLIENT_NICE" python3 bench/load/sse_clients.py "$port" 3600 1000 $(cat "$work/queued.txt") >"$work/sse.txt" &
pids+=($!)
for _ in $(seq 1 300); do grep -q sse_streams_open "$work/sse.txt" && break; sleep 0.2; done
cat "$work/sse.txt"
sleep 2  # let the chats and walks get going
rm -f "$work"/pages_* "$work/chats"  # count what happens during the measurement only
echo "reamd_threads (count, name, policy, rt priority, nice):"
ps -L -o comm=,cls=,rtprio=,ni= -p "$reamd_pid" | sort | uniq -c
echo "healthz_flood: wrk 1 thread x 4 connections, ${SECS} s"
wrk -t1 -c4 -d"${SECS}s" -s bench/load/latency.lua "$R/healthz" | grep -E '^(ok_200|other_status|rate_per_s|p[0-9.]+_ms) '
PROBE_MS=${REAM_LOAD_PROBE_MS:-10}
PROBE_SECS=${REAM_LOAD_PROBE_SECONDS:-30}
echo "healthz_probe: wrk 1 connection, a request ${PROBE_MS} ms after each answer, ${PROBE_SECS} s"
REAM_WRK_PAUSE_MS=$PROBE_MS wrk -t1 -c1 -d"${PROBE_SECS}s" -s bench/load/latency.lua "$R/healthz" |
  grep -E '^(ok_200|other_status|rate_per_s|p[0-9.]+_ms) '
pages_all=$(cat "$work"/pages_all_* 2>/dev/null | wc -l)
pages_failed=$(cat "$work"/pages_failed_* 2>/dev/null | wc -l)
echo "job_list_pages_meanwhile unfiltered(1000/page) $pages_all, status+workflow(100/page) $pages_failed"
echo "chats_answered_meanwhile $(cat "$work/chats" 2>/dev/null | grep -c '^200' || true) (10 in flight at all times, 256 tokens each)"
