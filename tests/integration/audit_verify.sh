#!/usr/bin/env bash
# `fedbroker audit verify` and the independent Python verifier against a log written by
# the real writer (unit_audit_test_tamper --write-sample): the intact log passes both
# with the same counts; every single-byte flip, line deletion and line swap is caught by
# the Python verifier at that line or the next, and a sample of them by the CLI at the
# same line and seq; exit codes 0 / 1 / 2.
set -euo pipefail
: "${FEDBROKER:?}" "${FB_SOURCE_DIR:?}" "${FB_BUILD_DIR:?}"
PY=/usr/bin/python3
VERIFY="$FB_SOURCE_DIR/tests/lib/audit_verify.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

timeout 60 "$FB_BUILD_DIR/unit_audit_test_tamper" --write-sample "$tmp" 2>/dev/null
log="$tmp/audit.jsonl" pub="$tmp/audit.pub.pem"

fail() { echo "FAIL: $*" >&2; exit 1; }

# Intact: both verifiers agree.
c_out=$(timeout 10 "$FEDBROKER" audit verify "$log" --key "$pub")
py_out=$(timeout 10 $PY "$VERIFY" "$log" --key "$pub")
[[ "$c_out" == "ok: 24 entries, 4 checkpoints" ]] || fail "cli on intact log: $c_out"
[[ "$py_out" == "$c_out" ]] || fail "python ($py_out) and cli ($c_out) disagree"
# Without a key nothing is signature-checked: unsigned, a failure unless asked for.
out=$(timeout 10 "$FEDBROKER" audit verify "$log" --allow-unsigned)
[[ "$out" == "ok: 24 entries, 4 checkpoints (signatures not checked: no --key)" ]] || fail "chain-only verify: $out"
set +e; out=$(timeout 10 "$FEDBROKER" audit verify "$log"); rc=$?; set -e
[[ $rc == 1 && "$out" == "fail: 24 entries unsigned: signatures not checked (no --key);"* ]] ||
  fail "chain-only verify without --allow-unsigned: rc $rc: $out"

# Exit codes and messages.
expect_rc() { # want_rc cmd...
  local want=$1; shift
  set +e; timeout 10 "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?; set -e
  [[ $rc == "$want" ]] || fail "'$*' exited $rc, want $want: $(cat "$tmp/out" "$tmp/err")"
}
expect_rc 0 "$FEDBROKER" audit --help
grep -q '^usage: fedbroker audit verify FILE' "$tmp/out" || fail "--help prints usage"
expect_rc 0 "$FEDBROKER" audit verify --help
expect_rc 2 "$FEDBROKER" audit
expect_rc 2 "$FEDBROKER" audit frobnicate
expect_rc 2 "$FEDBROKER" audit verify
grep -q 'missing FILE' "$tmp/err" || fail "missing FILE message"
expect_rc 2 "$FEDBROKER" audit verify "$log" --key
expect_rc 2 "$FEDBROKER" audit verify "$log" --bogus
expect_rc 2 "$FEDBROKER" audit verify "$log" "$log"
expect_rc 1 "$FEDBROKER" audit verify "$tmp/missing.jsonl"
expect_rc 1 "$FEDBROKER" audit verify "$log" --key "$tmp/missing.pem"
expect_rc 1 "$FEDBROKER" audit verify "$log" --key "$log"
expect_rc 2 $PY "$VERIFY"
expect_rc 1 $PY "$VERIFY" "$tmp/missing.jsonl"
# Another key: caught at the first checkpoint (line 7) by both.
$PY - "$tmp/other.pem" <<'PYEOF'
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
k = Ed25519PrivateKey.generate().public_key()
open(sys.argv[1], "wb").write(k.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
PYEOF
expect_rc 1 "$FEDBROKER" audit verify "$log" --key "$tmp/other.pem"
grep -q '^fail: line 7 (seq 7): checkpoint key_id' "$tmp/out" || fail "wrong key: $(cat "$tmp/out")"
expect_rc 1 $PY "$VERIFY" "$log" --key "$tmp/other.pem"
grep -q '^fail: line 7 (seq 7): checkpoint key_id' "$tmp/out" || fail "python, wrong key: $(cat "$tmp/out")"

# Entries after the last checkpoint are unsigned: the log cut before its final
# checkpoint (line 24) fails unless --allow-unsigned, naming the uncovered lines.
head -n 23 "$log" >"$tmp/tail.jsonl"
last_cp=$(grep -n '"event":"checkpoint"' "$tmp/tail.jsonl" | tail -n 1 | cut -d: -f1)
expect_rc 1 "$FEDBROKER" audit verify "$tmp/tail.jsonl" --key "$pub"
grep -qx "fail: $((23 - last_cp)) entries unsigned: lines $((last_cp + 1)) to 23 come after the last checkpoint; --allow-unsigned accepts them" "$tmp/out" ||
  fail "uncovered tail: $(cat "$tmp/out")"
expect_rc 0 "$FEDBROKER" audit verify "$tmp/tail.jsonl" --key "$pub" --allow-unsigned
grep -qx "ok: 23 entries, 3 checkpoints ($((23 - last_cp)) unsigned entries at the end)" "$tmp/out" || fail "allowed tail: $(cat "$tmp/out")"
# No checkpoint at all: a wrong key cannot be caught by a signature, so the log is
# reported unsigned and fails (it used to print "ok").
first_cp=$(grep -n '"event":"checkpoint"' "$log" | head -n 1 | cut -d: -f1)
head -n $((first_cp - 1)) "$log" >"$tmp/nocp.jsonl"
expect_rc 1 "$FEDBROKER" audit verify "$tmp/nocp.jsonl" --key "$tmp/other.pem"
grep -q "^fail: $((first_cp - 1)) entries unsigned: no checkpoint signature covers any entry" "$tmp/out" ||
  fail "wrong key, no checkpoint: $(cat "$tmp/out")"
expect_rc 1 "$FEDBROKER" audit verify "$tmp/nocp.jsonl" --key "$pub"
# With a checkpoint the wrong key fails even with --allow-unsigned.
expect_rc 1 "$FEDBROKER" audit verify "$log" --key "$tmp/other.pem" --allow-unsigned
grep -q '^fail: line 7 (seq 7): checkpoint key_id' "$tmp/out" || fail "wrong key, allow-unsigned: $(cat "$tmp/out")"

# The tampering campaign.
timeout 120 $PY - "$FB_SOURCE_DIR/tests/lib" "$FEDBROKER" "$log" "$pub" "$tmp/t.jsonl" <<'PYEOF'
import subprocess, sys
sys.path.insert(0, sys.argv[1])
import audit_verify as av
fedbroker, log, pubpath, tpath = sys.argv[2:6]
pub = av.load_public_key(pubpath)
data = open(log, "rb").read()
lines = data.split(b"\n")[:-1]
n = len(lines)
assert av.verify_bytes(data, pub).ok

def join(ls):
    return b"".join(l + b"\n" for l in ls)

checked = cli_checked = 0
def check(mut, line, what, cli):
    """`line` is 1-based: the tampered line; caught there or at the next one."""
    global checked, cli_checked
    r = av.verify_bytes(mut, pub)
    ctx = f"{what} at line {line}"
    assert not r.ok, f"python missed {ctx}"
    assert r.bad_line in (line, line + 1) and r.bad_seq in (line, line + 1), f"python: {ctx}: {r.message()}"
    checked += 1
    if cli:
        open(tpath, "wb").write(mut)
        p = subprocess.run([fedbroker, "audit", "verify", tpath, "--key", pubpath],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 1, f"cli missed {ctx}: rc {p.returncode} {p.stdout}"
        want = f"fail: line {r.bad_line} (seq {r.bad_seq}):"
        assert p.stdout.startswith(want), f"cli: {ctx}: {p.stdout!r}, python says {want!r}"
        cli_checked += 1

k = 0
for li in range(n - 1):  # the last line has no successor; see docs/audit.md
    for i in range(len(lines[li])):
        for mask in (0x01, 0x80):
            ls = list(lines)
            b = bytearray(ls[li]); b[i] ^= mask; ls[li] = bytes(b)
            check(join(ls), li + 1, f"flip {mask:#x} of byte {i}", cli=(k % 97 == 0))
            k += 1
for li in range(n - 1):
    check(join(lines[:li] + lines[li + 1:]), li + 1, "deleted line", cli=(li % 3 == 0))
for a in range(n - 1):
    for b in (a + 1, min(a + 5, n - 1)):
        if b == a: continue
        ls = list(lines); ls[a], ls[b] = ls[b], ls[a]
        check(join(ls), a + 1, f"swap with line {b + 1}", cli=(a % 4 == 0))
print(f"campaign: {checked} tamperings caught by the python verifier, {cli_checked} also by the cli")
assert cli_checked >= 100
PYEOF
echo "audit_verify: ok"
