#!/usr/bin/env bash
# The command-line demo: sets everything up, then runs `ream` itself: with no real model
# configured it makes a small RANDOM-weight demo model (its text is meaningless) and
# asks it a question through the chat template, streaming the reply.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${REAM_BUILD_DIR:-$PWD/build}
REAM=$BUILD_DIR/cli/ream
MODEL=${REAM_MODEL:-}
if [ -z "$MODEL" ]; then
  MODEL=$PWD/.deps/models/tiny
  "$REAM" init-model --shape tiny --out "$MODEL" --seed 1
  echo "demo: no REAM_MODEL set; using a RANDOM-weight tiny model (its text is meaningless)"
fi
chat=$(mktemp)
cat >"$chat" <<'JSON'
[{"role": "system", "content": "You are a careful contract reviewer."},
 {"role": "user", "content": "Which law governs this agreement? Quote the clause."}]
JSON
"$REAM" tokenize --model "$MODEL" --chat-file "$chat" --json
"$REAM" generate --model "$MODEL" --chat-file "$chat" --max-tokens 32 --seed 7
rm -f "$chat"
