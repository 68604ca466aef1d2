#!/usr/bin/env bash
# The command line (CONFIG.md): --help on each command exits 0, a wrong argument prints
# a one-line error and the usage and exits 2; serve reports config errors with the key
# and line and exits non-zero.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
for c in serve demo node policy audit token demo-data probe; do
  "$FEDBROKER" "$c" --help >"$TMP/out" 2>&1 || fail "$c --help exit status"
  grep -q "usage: fedbroker $c" "$TMP/out" || fail "$c --help prints its usage"
  status=0; "$FEDBROKER" "$c" --bogus >"$TMP/out" 2>"$TMP/err" || status=$?
  expect_eq "$c --bogus exit status" "$status" 2
  head -1 "$TMP/err" | grep -q "^fedbroker: " || fail "$c --bogus: one-line error first"
  grep -q "usage:" "$TMP/err" || fail "$c --bogus: usage follows"
done
grep -q '^  serve ' <<<"$("$FEDBROKER" --help)" || fail "--help lists serve"
grep -q '^fedbroker [0-9]' <<<"$("$FEDBROKER" --version)" || fail "--version"
status=0; "$FEDBROKER" frobnicate 2>/dev/null || status=$?
expect_eq "unknown command" "$status" 2
pass "--help, --version, usage errors exit 2"

# Options go through getopt_long: an option without its value is a usage error naming
# it, and --opt=value is the same as --opt value.
for args in "serve --config" "node --data" "demo --port" "demo-data --out" "merge-eval --data" \
            "audit verify --key" "token --key" "token verify --iss" "policy eval --request" \
            "policy test --junit" "policy diff --audit" "policy prove --old" "policy keygen --out" \
            "policy sign --key" "probe --timeout"; do
  status=0; "$FEDBROKER" $args >/dev/null 2>"$TMP/err" || status=$?
  expect_eq "$args: exit status" "$status" 2
  grep -q "^fedbroker: .*${args##* } needs a value" "$TMP/err" || fail "$args: error names the option: $(head -1 "$TMP/err")"
done
status=0; "$FEDBROKER" policy test -vq "$TMP" >/dev/null 2>"$TMP/err" || status=$?
expect_eq "unknown short option" "$status" 2
grep -q "^fedbroker: policy test: unknown option '-q'" "$TMP/err" || fail "unknown short option named: $(head -1 "$TMP/err")"
"$FEDBROKER" policy keygen --out="$TMP/k" >/dev/null || fail "policy keygen --out=PREFIX exited non-zero"
[ -s "$TMP/k.pem" ] && [ -s "$TMP/k.pub.pem" ] || fail "--out=PREFIX wrote no key pair"
pass "a missing value or an unknown option exits 2 naming it; --opt=value works"

printf 'listen = { { address = "127.0.0.1:0" } }\nlimits = {\n  body = 1,\n  bodyy = 2,\n}\n' >"$TMP/bad.lua"
status=0; "$FEDBROKER" serve --config "$TMP/bad.lua" 2>"$TMP/err" || status=$?
[ "$status" -ne 0 ] || fail "serve with a bad config exited 0"
grep -q 'bad.lua:4: limits.bodyy: unknown key' "$TMP/err" || fail "config error names key and line: $(cat "$TMP/err")"
pass "a config error stops start-up naming the key and the line"

# probe: the containers' health check. 0 on 2xx, 1 on no answer or another status.
PORT=$(free_port)
$PY -m http.server "$PORT" --bind 127.0.0.1 --directory "$TMP" >"$TMP/http.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/"
touch "$TMP/here"
"$FEDBROKER" probe "http://127.0.0.1:$PORT/here" --timeout 2000 || fail "probe of a 200 (options after the URL) exited non-zero"
status=0; "$FEDBROKER" probe "http://127.0.0.1:$PORT/missing" 2>"$TMP/err" || status=$?
expect_eq "probe of a 404" "$status" 1
grep -q "answered 404" "$TMP/err" || fail "probe names the status: $(cat "$TMP/err")"
status=0; "$FEDBROKER" probe "http://127.0.0.1:$(free_port)/" 2>/dev/null || status=$?
expect_eq "probe of a closed port" "$status" 1
status=0; "$FEDBROKER" probe --cert x "http://127.0.0.1:$PORT/here" 2>/dev/null || status=$?
expect_eq "probe --cert without --key" "$status" 2
pass "probe: 0 on 2xx, 1 on another status or no answer, 2 on usage errors"
