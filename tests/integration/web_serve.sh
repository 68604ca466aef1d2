#!/usr/bin/env bash
# The embedded workspace as HTTP: GET / and /assets/... with their content types, a
# strict CSP, ETag revalidation (304), immutable caching of the hashed bundles, 404 for
# anything else; and GET /v1/policy/files[/NAME] (legal officer, admin) for the
# playground: role checks, plain file names only.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
cp "$FB_SOURCE_DIR"/policies/*.lua "$TMP/policies/"
STATES_LUA=""
for st in MYS IDN THA BGD; do STATES_LUA+="  $st = { adapter = \"sqlite\", path = \"data/$st.db\" },"$'\n'; done
write_hub_config ''
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
B=http://127.0.0.1:$HUB_PORT

hdr() { grep -i "^$1:" "$TMP/h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
code=$(curl -s -D "$TMP/h" -o "$TMP/index.html" -w '%{http_code}' "$B/")
expect_eq "GET /" "$code" 200
expect_eq "index content type" "$(hdr content-type)" "text/html; charset=utf-8"
csp=$(hdr content-security-policy)
case "$csp" in *"default-src 'self'"*"script-src 'self'"*"style-src 'self'"*) ;; *) fail "CSP not strict: $csp" ;; esac
case "$csp" in *unsafe-inline*|*unsafe-eval*|*http*) fail "CSP allows inline code or another origin: $csp" ;; esac
expect_eq "index revalidated" "$(hdr cache-control)" "no-cache"
etag=$(hdr etag)
[ -n "$etag" ] || fail "no ETag on /"
grep -q '<script' "$TMP/index.html" && ! grep -qE '<script>|<script [^>]*>[^<]' "$TMP/index.html" || fail "index.html has an inline script"
grep -q 'style=' "$TMP/index.html" && fail "index.html has an inline style"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$B/")
expect_eq "If-None-Match on /" "$code" 304
pass "index: content type, strict CSP, ETag and 304"

js=$(grep -o '/assets/app-[A-Za-z0-9]*\.js' "$TMP/index.html")
css=$(grep -o '/assets/app-[A-Za-z0-9]*\.css' "$TMP/index.html")
[ -n "$js" ] && [ -n "$css" ] || fail "index.html names no bundle"
code=$(curl -s -D "$TMP/h" -o "$TMP/app.js" -w '%{http_code}' "$B$js")
expect_eq "GET $js" "$code" 200
expect_eq "js content type" "$(hdr content-type)" "text/javascript; charset=utf-8"
expect_eq "js cached" "$(hdr cache-control)" "public, max-age=31536000, immutable"
expect_eq "nosniff" "$(hdr x-content-type-options)" "nosniff"
expect_eq "js length" "$(hdr content-length)" "$(stat -c %s "$TMP/app.js")"
chunk=$(grep -o 'chunk-[A-Za-z0-9]*\.js' "$TMP/app.js" | head -1)
[ -n "$chunk" ] || fail "app.js imports no chunk (the playground is split off)"
code=$(curl -s -D "$TMP/h" -o /dev/null -w '%{http_code}' "$B/assets/$chunk")
expect_eq "GET the chunk $chunk" "$code" 200
expect_eq "chunk content type" "$(hdr content-type)" "text/javascript; charset=utf-8"
code=$(curl -s -D "$TMP/h" -o /dev/null -w '%{http_code}' "$B$css")
expect_eq "GET $css" "$code" 200
expect_eq "css content type" "$(hdr content-type)" "text/css; charset=utf-8"
# Nothing in the bundle reaches for another origin.
if grep -oE "(src|href)=\"https?://" "$TMP/index.html"; then fail "index.html loads from another origin"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' -I "$B$js")
expect_eq "HEAD asset" "$code" 200
for p in /assets/nope.js /assets/ /assets/../v1/states /index.html; do
  code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$B$p")
  expect_eq "GET $p" "$code" 404
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/")
expect_eq "POST /" "$code" 405
pass "assets: content types, immutable caching, HEAD, 404 for unknown paths"

get() { curl -s -o "$TMP/resp" -w '%{http_code}' -H "Authorization: Bearer $1" "$B$2"; }
expect_eq "files as legal officer" "$(get "$LEGAL" /v1/policy/files)" 200
expect_eq "files listed" "$(pyq '",".join(d["files"])')" "BGD.lua,IDN.lua,MYS.lua,THA.lua,common.lua"
expect_eq "file as legal officer" "$(get "$LEGAL" /v1/policy/files/MYS.lua)" 200
expect_eq "file text" "$(pyq 'd["text"]==open("'"$TMP"'/policies/MYS.lua").read()')" True
expect_eq "file hash" "$(pyq 'd["sha256"]')" "$(sha256sum "$TMP/policies/MYS.lua" | cut -d' ' -f1)"
expect_eq "file as admin" "$(get "$ADMIN" /v1/policy/files/IDN.lua)" 200
expect_eq "file as analyst" "$(get "$ANALYST_MYS" /v1/policy/files/MYS.lua)" 403
expect_eq "file without token" "$(curl -s -o /dev/null -w '%{http_code}' "$B/v1/policy/files/MYS.lua")" 401
expect_eq "missing file" "$(get "$LEGAL" /v1/policy/files/XYZ.lua)" 404
expect_eq "not a .lua name" "$(get "$LEGAL" /v1/policy/files/hub.lua.bak)" 404
code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $LEGAL" "$B/v1/policy/files/../hub.lua")
expect_eq "path outside the directory" "$code" 404
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $LEGAL" "$B/v1/policy/files/%2e%2e%2fhub.lua")
expect_eq "encoded path outside the directory" "$code" 404
pass "policy files: roles, text and hash, plain names only"

# /v1/me: the identity as the hub checked it (the workspace's identity bar).
expect_eq "me" "$(get "$LEGAL" /v1/me)" 200
expect_eq "me fields" "$(pyq '[d["sub"], d["state"], d["roles"], d["via"], d["exp"] > 0]')" "['l.mys', 'MYS', ['legal_officer'], 'token', True]"
expect_eq "me without a token" "$(curl -s -o /dev/null -w '%{http_code}' "$B/v1/me")" 401
expect_eq "me with a bad token" "$(get not.a.token /v1/me)" 401
pass "/v1/me"

# /v1/states tells the deadline per priority.
expect_eq "states" "$(get "$ANALYST_MYS" /v1/states)" 200
expect_eq "deadlines" "$(pyq 'sorted(d["deadlines_ms"])')" "['immediate', 'routine', 'urgent']"
pass "/v1/states: deadlines_ms"

# The workspace's readable names cover exactly the hub's vocabulary (core/vocab.h).
$PY - "$FB_SOURCE_DIR/broker/core/vocab.h" "$FB_SOURCE_DIR/web/src/words.js" <<'PY' || fail "web/src/words.js and core/vocab.h differ (above)"
import re, sys
vocab, words = open(sys.argv[1]).read(), open(sys.argv[2]).read()
def vmap(name):
    body = re.search(r"#define FB_%s_MAP\(X\)(.*?)(?:\n\n|\n/\*)" % name, vocab, re.S).group(1)
    return set(re.findall(r'X\(\w+, "(\w+)"\)', body))
def wmap(name):
    body = re.search(r"export const %s = \{(.*?)\};" % name, words, re.S).group(1)
    return set(re.findall(r"(?:^|,)\s*(\w+):", body, re.M))
bad = False
for v, w in [("PURPOSE", "PURPOSES"), ("PRIORITY", "PRIORITIES"), ("LEGAL_BASIS", "LEGAL_BASES"),
             ("ROLE", "ROLES"), ("RECORD_FIELD", "FIELDS")]:
    a, b = vmap(v), wmap(w)
    if a != b:
        print(f"FB_{v}_MAP {sorted(a)} != words.js {w} {sorted(b)}", file=sys.stderr)
        bad = True
sys.exit(1 if bad else 0)
PY
pass "readable names for exactly the hub's vocabulary"
