#!/usr/bin/env bash
# The command line (CONFIG.md): --help on each command exits 0, a wrong argument prints
# a one-line error and the usage and exits 2; serve reports config errors with the key
# and line and exits non-zero.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
for c in serve demo node policy audit token demo-data; do
  "$FEDBROKER" "$c" --help >"$TMP/out" 2>&1 || fail "$c --help exit status"
  grep -q "usage: fedbroker $c" "$TMP/out" || fail "$c --help prints its usage"
  status=0; "$FEDBROKER" "$c" --bogus >"$TMP/out" 2>"$TMP/err" || status=$?
  expect_eq "$c --bogus exit status" "$status" 2
  head -1 "$TMP/err" | grep -q "^fedbroker: " || fail "$c --bogus: one-line error first"
  grep -q "usage:" "$TMP/err" || fail "$c --bogus: usage follows"
done
"$FEDBROKER" --help | grep -q '^  serve ' || fail "--help lists serve"
"$FEDBROKER" --version | grep -q '^fedbroker [0-9]' || fail "--version"
status=0; "$FEDBROKER" frobnicate 2>/dev/null || status=$?
expect_eq "unknown command" "$status" 2
pass "--help, --version, usage errors exit 2"

printf 'listen = { { address = "127.0.0.1:0" } }\nlimits = {\n  body = 1,\n  bodyy = 2,\n}\n' >"$TMP/bad.lua"
status=0; "$FEDBROKER" serve --config "$TMP/bad.lua" 2>"$TMP/err" || status=$?
[ "$status" -ne 0 ] || fail "serve with a bad config exited 0"
grep -q 'bad.lua:4: limits.bodyy: unknown key' "$TMP/err" || fail "config error names key and line: $(cat "$TMP/err")"
pass "a config error stops start-up naming the key and the line"
