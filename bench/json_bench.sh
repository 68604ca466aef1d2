#!/usr/bin/env bash
# Parsers for the record path, on the realistic workload's node answers: captures what
# the `fedbroker node` processes of IDN, THA and BGD answer to the realistic search (10
# person records each, ~3.4 KB; bench/lib.sh realistic_setup), then runs
# json_parse_bench on those three texts: jansson, core/jsonr.c, and cJSON and simdjson
# On-Demand where bench/bench.cmake found them. One process, parsers alternating.
#
#   bash bench/json_bench.sh [build dir]   (the json_parse_bench target built there)
#   env: ROUNDS=20000 (rounds of the three answers per parser)
#        ANSWERS_DIR=DIR — also keep the three answers there (answer-IDN.json, ...), to
#        run json_parse_bench on them by hand (e.g. a build with other compiler flags)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init "${1:-}"
ROUNDS=${ROUNDS:-20000}
BENCH=$(dirname "$FEDBROKER")/json_parse_bench
[ -x "$BENCH" ] || die "no json_parse_bench in the build directory: cmake --build <build> --target json_parse_bench"

demo_setup
realistic_setup
real_nodes_start "$TMP/real"
node_request "$TMP/real.json" "$TMP/node-req-hub.json"
files=()
for s in IDN THA BGD; do
  n=$(canned_capture "$(state_url "$s" "$NODES_CFG")" "$TMP/node-req-hub.json" "$TMP/answer-$s.json")
  echo "$s: $n records, $(wc -c <"$TMP/answer-$s.json") bytes"
  files+=("$TMP/answer-$s.json")
done
for p in "${NODE_PIDS[@]}"; do bg_stop "$p"; done
if [ -n "${ANSWERS_DIR:-}" ]; then mkdir -p "$ANSWERS_DIR" && cp "${files[@]}" "$ANSWERS_DIR/"; fi
machine_line
"$BENCH" "$ROUNDS" "${files[@]}"
