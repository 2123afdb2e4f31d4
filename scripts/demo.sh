#!/usr/bin/env bash
# The README's first command: set everything up (scripts/setup.sh), start reamd on its
# embedded defaults, submit a workflow over REST on a document from this repository,
# and show its progress and result (scripts/demo-daemon.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec scripts/demo-daemon.sh
