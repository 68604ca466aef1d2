#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/fuzz_*.c) for SECONDS each (default 300) under
# ASan + UBSan, seeded from fuzz/corpus/<target>/. New inputs go to a working corpus in
# build-fuzz/corpus/<target>/ (the tree's seeds stay small); a crash, leak, timeout or
# sanitizer report leaves its input in build-fuzz/artifacts/<target>/ and fails the run.
#   bench/fuzz.sh [SECONDS] [TARGET...]      e.g. bench/fuzz.sh 20 http1 jwt
# Builds build-fuzz with clang first (CC=clang cmake -DFB_FUZZ=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
shift || true
build=${FB_FUZZ_BUILD:-build-fuzz}
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFB_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_all >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in fuzz/fuzz_*.c; do n=$(basename "$src" .c); targets+=("${n#fuzz_}"); done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  exe="$build/fuzz/fuzz_$t"
  [ -x "$exe" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  work="$build/corpus/$t" art="$build/artifacts/$t"
  mkdir -p "$work" "$art"
  log="$build/fuzz-$t.log"
  # -timeout: an input that runs for 10 s is a finding (the hub's budgets are far lower).
  if "$exe" "$work" "fuzz/corpus/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$art/" -print_final_stats=1 >"$log" 2>&1; then
    echo "fuzz $t: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs in ${secs}s)"
  else
    echo "fuzz $t: FAILED (log: $log; input in $art/)" >&2
    grep -E -m5 'ERROR|SUMMARY|runtime error|Timeout|abort' "$log" >&2 || tail -20 "$log" >&2
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failures in ${failed[*]}" >&2; exit 1; }
