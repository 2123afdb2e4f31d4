#!/bin/sh
# systemd-analyze verify on etc/reamd.service, with ExecStart at the built reamd.
# usage: verify_unit.sh SYSTEMD_ANALYZE UNIT_FILE REAMD_BINARY
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/local/bin/reamd|$3|" "$2" > "$dir/reamd.service"
grep -q "^ExecStart=$3 " "$dir/reamd.service"
out=$("$1" verify "$dir/reamd.service" 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on some warnings; treat any line about our unit as a failure.
if echo "$out" | grep -q "reamd.service"; then echo "$out"; exit 1; fi
echo "reamd.service verified"
