#!/usr/bin/env bash
# Every benchmark, one after another (never two at once: they would measure each other):
# the micro-benchmarks (bench/*_bench.c, built here if needed), then the load
# benchmarks http_bench.sh, audit_bench.sh, search_bench.sh and realistic_bench.sh. About 4 minutes.
#
#   bash bench/run.sh [build dir]     (default: build/; use a Release build)
#   env: MICRO=0 skips the micro-benchmarks, LOAD=0 the load benchmarks; the variables
#        of each script (DUR, ROUNDS, DURATION, ...) pass through.
# Exit status: 1 when any benchmark failed (the others still run).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-${BUILD:-build}}
[ -d "$BUILD" ] || { echo "bench/run.sh: no build directory '$BUILD'" >&2; exit 1; }
failed=()

if [ "${MICRO:-1}" != 0 ]; then
  micro=()
  for src in bench/*_bench.c; do micro+=("$(basename "$src" .c)"); done
  if cmake --build "$BUILD" -j2 --target "${micro[@]}" >/dev/null; then
    for m in "${micro[@]}"; do
      if [ "$m" = json_parse_bench ]; then # needs node answers: json_bench.sh captures them
        echo "=== json_bench.sh"
        bash bench/json_bench.sh "$BUILD" || failed+=(json_bench.sh)
        echo
        continue
      fi
      echo "=== $m"
      if [ "$m" = leg_bench ]; then # it needs a running node's URL: see bench/README.md
        echo "leg_bench: run by hand against a node (bench/README.md)"
        echo
        continue
      fi
      # audit_bench writes under /var/tmp by default (a real disk); the others need nothing.
      timeout 300 "$BUILD/$m" || failed+=("$m")
      echo
    done
  else
    echo "bench/run.sh: building the micro-benchmarks failed" >&2
    failed+=(micro-build)
  fi
fi

if [ "${LOAD:-1}" != 0 ]; then
  for b in http audit search realistic; do
    echo "=== ${b}_bench.sh"
    bash "bench/${b}_bench.sh" "$BUILD" || failed+=("${b}_bench.sh")
    echo
  done
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
