#!/usr/bin/env bash
# The demo policies pass their own tests, and the runner's summary line is exact.
set -euo pipefail
: "${FEDBROKER:?}" "${FB_SOURCE_DIR:?}"

out=$(timeout 60 "$FEDBROKER" policy test "$FB_SOURCE_DIR/policies")
echo "$out"
last=$(printf '%s\n' "$out" | tail -n 1)
if ! [[ "$last" =~ ^([0-9]+)\ passed,\ 0\ failed$ ]]; then
  echo "FAIL: unexpected summary line: $last" >&2
  exit 1
fi
if (( BASH_REMATCH[1] < 20 )); then
  echo "FAIL: only ${BASH_REMATCH[1]} cases ran" >&2
  exit 1
fi
echo "ok: $last"
