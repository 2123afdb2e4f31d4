#!/usr/bin/env bash
# The daemon demo: set up, start reamd on its embedded defaults, submit a workflow
# over REST on a document from this repository, and show its progress and result.
# Uses the real model when one is configured or in the Hugging Face cache; else
# reamd makes a random-weight demo model (the text is then meaningless) and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${REAM_BUILD_DIR:-$ROOT/build}
PORT=${REAMD_PORT:-8080}
R=http://127.0.0.1:$PORT
DATA=${REAMD_DATA_DIR:-$ROOT/reamd-data}

[ -x "$BUILD/daemon/reamd" ] || scripts/setup.sh
command -v curl >/dev/null || { echo "demo-daemon: needs curl" >&2; exit 1; }
JQ=cat; command -v jq >/dev/null && JQ="jq ."

echo "== starting reamd on $R (data in $DATA)"
REAM_WORKFLOW_PATH=$ROOT/workflows REAM_PLUGIN_PATH=$BUILD/plugins \
  "$BUILD/daemon/reamd" --listen 127.0.0.1:$PORT --data-dir "$DATA" > "$DATA.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -fsS $R/readyz >/dev/null 2>&1 && break
  kill -0 $PID 2>/dev/null || { cat "$DATA.log"; exit 1; }
  sleep 0.5
done
grep -m1 "engine:" "$DATA.log" || true
echo "== the web app: open $R/ in a browser (documents, workflows, findings, chat)"

echo "== uploading docs/operations.md"
DOC=$(curl -fsS "$R/v1/documents?name=operations.md" -H 'Content-Type: text/markdown' \
  --data-binary @docs/operations.md | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
echo "document id: $DOC"

echo "== submitting workflow long_qa"
JOB=$(curl -fsS $R/v1/jobs -H 'Content-Type: application/json' -d "{
  \"workflow\": \"long_qa\",
  \"inputs\": {\"document\": {\"document_id\": \"$DOC\"},
             \"questions\": [\"What does SIGHUP do?\", \"How do I back up the database?\"],
             \"max_tokens\": 128}}" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
echo "job id: $JOB"

echo "== progress (Server-Sent Events)"
curl -fsSN $R/v1/jobs/$JOB/events | sed -n 's/^event: /  /p'

echo "== job"
curl -fsS $R/v1/jobs/$JOB | $JQ
echo "== result (Markdown)"
curl -fsS "$R/v1/jobs/$JOB/result?format=md"

# On a terminal, keep reamd running for the web app until Ctrl-C; scripts and CI end here.
if [ -t 0 ] && [ -t 1 ] && [ -z "${CI:-}" ]; then
  echo
  echo "== reamd keeps running for the web app at $R/ (Ctrl-C stops it)"
  wait $PID || true
fi
