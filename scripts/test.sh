#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test twice: a normal build (whose
# integration tests run once more with 4 event-loop workers), then an
# AddressSanitizer + UndefinedBehaviorSanitizer build; then runs each libFuzzer target
# briefly (FB_FUZZ_SECONDS each, default 20). Exit status non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
jobs=$(nproc)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j2
# The hub with four event-loop workers (FEDBROKER_WORKERS overrides `workers`): every
# integration test again, in the normal build only (about 4 minutes on 2 cores).
echo "== integration tests with workers = 4"
FEDBROKER_WORKERS=4 ctest --test-dir build --output-on-failure -j2 -L integration

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFB_ASAN=ON -DFB_UBSAN=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j2

echo "== fuzz targets (clang + libFuzzer, ASan + UBSan), ${FB_FUZZ_SECONDS:-20} s each"
bash bench/fuzz.sh "${FB_FUZZ_SECONDS:-20}"
