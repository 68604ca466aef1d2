#!/usr/bin/env bash
# Interop: tokens minted by an independent implementation (Python `cryptography`) are
# accepted by `fedbroker token verify` for every algorithm, `fedbroker token` output
# verifies in Python, and the classic attacks (alg none, HS256 keyed with the public
# key, alg/key confusion) are rejected.
set -euo pipefail

: "${FEDBROKER:?path of the fedbroker binary}"
: "${FB_SOURCE_DIR:?repo root}"
PY=/usr/bin/python3
HELPER="$FB_SOURCE_DIR/tests/lib/jwt_interop.py"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

ISS=https://idp.example.my
NOW=$(date +%s)
EXP=$((NOW + 600))

claims() { # claims EXP [extra-json-members]
  printf '{"iss":"%s","sub":"py-user","aud":"fedbroker","iat":%s,"exp":%s,"state":"MYS","agency":"PDRM","roles":["analyst","auditor","janitor"]%s}' \
    "$ISS" "$NOW" "$1" "${2:-}"
}

# Expects `fedbroker token verify` to reject $3 (with the reason containing $4).
expect_rejected() { # ALG-of-issuer-key label token reason
  local out rc=0
  out=$("$FEDBROKER" token verify --issuer-key "$TMP/$1.pub" --iss "$ISS" "$3" 2>&1) || rc=$?
  [[ $rc -eq 1 ]] || fail "$2: expected exit 1, got $rc ($out)"
  [[ $out == *"$4"* ]] || fail "$2: reason '$out' lacks '$4'"
  echo "ok   $2 rejected: ${out#*rejected: }"
}

for alg in EdDSA ES256 RS256; do
  $PY "$HELPER" keygen "$alg" "$TMP"
done

for alg in EdDSA ES256 RS256; do
  # Python mints, fedbroker verifies.
  tok=$($PY "$HELPER" mint "$alg" "$TMP/$alg.key" "$(claims "$EXP")")
  out=$("$FEDBROKER" token verify --issuer-key "$TMP/$alg.pub" --iss "$ISS" "$tok") ||
    fail "$alg: python token rejected"
  $PY - "$out" "$EXP" <<'PYEOF' || fail "$alg: identity from python token wrong: $out"
import json, sys
j = json.loads(sys.argv[1])
assert j == {"sub": "py-user", "state": "MYS", "agency": "PDRM",
             "roles": ["analyst", "auditor"], "issuer": "https://idp.example.my",
             "exp": int(sys.argv[2])}, j
PYEOF
  echo "ok   $alg: python-minted token accepted by fedbroker"

  # The same token read from stdin, as "Bearer ...".
  echo "Bearer $tok" | "$FEDBROKER" token verify --issuer-key "$TMP/$alg.pub" --iss "$ISS" - \
    >/dev/null || fail "$alg: stdin token rejected"

  # fedbroker mints, Python verifies.
  tok=$("$FEDBROKER" token --key "$TMP/$alg.key" --iss "$ISS" --sub fb-user --state IDN \
    --roles legal_officer,admin --agency "Polri Bareskrim" --ttl 120)
  claims_out=$($PY "$HELPER" verify "$alg" "$TMP/$alg.pub" "$tok" --iss "$ISS") ||
    fail "$alg: fedbroker token rejected by python"
  $PY - "$claims_out" <<'PYEOF' || fail "$alg: claims of fedbroker token wrong: $claims_out"
import json, sys
c = json.loads(sys.argv[1])
assert c["sub"] == "fb-user" and c["state"] == "IDN" and c["agency"] == "Polri Bareskrim", c
assert c["roles"] == ["legal_officer", "admin"] and c["aud"] == "fedbroker", c
assert c["exp"] - c["iat"] == 120 and c["nbf"] == c["iat"], c
PYEOF
  echo "ok   $alg: fedbroker-minted token verified by python"

  # A python-minted token that expired 61 s ago (beyond the leeway) is rejected.
  tok=$($PY "$HELPER" mint "$alg" "$TMP/$alg.key" "$(claims $((NOW - 61)))")
  expect_rejected "$alg" "$alg expired" "$tok" "expired"
done

# HS256 keyed with the issuer's public key PEM: rejected for every key type.
for alg in EdDSA ES256 RS256; do
  tok=$($PY "$HELPER" mint HS256 /dev/null "$(claims "$EXP")" \
    --header '{"alg":"HS256","typ":"JWT"}' --hs256-secret-file "$TMP/$alg.pub")
  expect_rejected "$alg" "HS256-with-$alg-public-key" "$tok" "not accepted"
done

# alg none.
tok=$($PY "$HELPER" mint none /dev/null "$(claims "$EXP")" --header '{"alg":"none"}')
expect_rejected EdDSA "alg none" "$tok" "not accepted"

# Alg/key confusion: a valid ES256 token presented to an issuer whose key is Ed25519.
tok=$($PY "$HELPER" mint ES256 "$TMP/ES256.key" "$(claims "$EXP")")
expect_rejected EdDSA "ES256 token for Ed25519 issuer" "$tok" "does not match the issuer"

# Signed by another key of the right type.
mkdir -p "$TMP/other" && $PY "$HELPER" keygen EdDSA "$TMP/other"
tok=$($PY "$HELPER" mint EdDSA "$TMP/other/EdDSA.key" "$(claims "$EXP")")
expect_rejected EdDSA "foreign Ed25519 key" "$tok" "signature is invalid"

# Audience as an array is accepted; a wrong audience is not.
tok=$($PY "$HELPER" mint EdDSA "$TMP/EdDSA.key" \
  "$(claims "$EXP" | sed 's/"aud":"fedbroker"/"aud":["x","fedbroker"]/')")
"$FEDBROKER" token verify --issuer-key "$TMP/EdDSA.pub" --iss "$ISS" "$tok" >/dev/null ||
  fail "aud array rejected"
expect_rejected EdDSA "wrong aud" \
  "$($PY "$HELPER" mint EdDSA "$TMP/EdDSA.key" "$(claims "$EXP" | sed 's/"aud":"fedbroker"/"aud":"other"/')")" \
  "audience"

# Usage errors exit 2.
rc=0; "$FEDBROKER" token --iss x >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "missing options: exit $rc, want 2"
rc=0; "$FEDBROKER" token --key "$TMP/EdDSA.key" --iss x --sub s --state MYS --roles chief \
  >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "unknown role: exit $rc, want 2"
grep -q "usage: fedbroker token" <<<"$("$FEDBROKER" token --help)" || fail "--help"

echo "PASS jwt_interop"
