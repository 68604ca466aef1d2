#!/usr/bin/python3
"""Independent verifier of a fedbroker audit log (API.md "Audit log format").

Written from the format's text, not from the C code, so the two can check each other.

    /usr/bin/python3 tests/lib/audit_verify.py FILE [--key PUB.pem]

Checks every line: UTF-8 JSON object, no duplicate keys, first keys seq, ts, event, prev
in that order, seq = 1, 2, ..., ts RFC 3339 UTC with milliseconds, prev = lowercase hex
SHA-256 of the previous line's bytes (64 zeros on line 1), a newline at the end; for a
checkpoint line exactly {seq, ts, event, prev, key_id, sig} and, with --key, key_id =
first 16 hex of SHA-256 of the raw public key and sig = base64 Ed25519 signature of the
ASCII text of prev. Prints "ok: N entries, M checkpoints" (exit 0) or
"fail: line L (seq S): why" (exit 1); usage errors exit 2.

Importable: verify_bytes(data, pub) -> Result.
"""
import base64
import binascii
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from typing import Optional

TS_RE = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
HEX64_RE = re.compile(r"\A[0-9a-f]{64}\Z")
HEX16_RE = re.compile(r"\A[0-9a-f]{16}\Z")
HEAD = ["seq", "ts", "event", "prev"]


@dataclass
class Result:
    ok: bool
    lines: int = 0
    checkpoints: int = 0
    bad_line: int = 0
    bad_seq: int = 0
    why: str = ""

    def message(self) -> str:
        if self.ok:
            return f"ok: {self.lines} entries, {self.checkpoints} checkpoints"
        return f"fail: line {self.bad_line} (seq {self.bad_seq}): {self.why}"


class Bad(Exception):
    def __init__(self, seq, why):
        super().__init__(why)
        self.seq, self.why = seq, why


def _no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return pairs  # a list of pairs keeps the order for the key check


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def key_id_of(pub) -> str:
    from cryptography.hazmat.primitives import serialization
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    data = open(path, "rb").read()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = serialization.load_pem_private_key(data, password=None)
        if isinstance(key, Ed25519PrivateKey):
            key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def _check_line(raw: bytes, want_seq: int, prev_hash: str, pub, kid: Optional[str]):
    """Returns (seq, is_checkpoint) or raises Bad."""
    try:
        text = raw.decode("utf-8", errors="strict")
        pairs = json.loads(text, object_pairs_hook=_no_dups, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise Bad(want_seq, f"invalid JSON: {e}")
    if not isinstance(pairs, list):
        raise Bad(want_seq, "not a JSON object")
    keys = [k for k, _ in pairs]
    obj = dict(pairs)
    if keys[:4] != HEAD:
        raise Bad(want_seq, f"first keys must be {HEAD}, got {keys[:4]}")
    seq = obj["seq"]
    if type(seq) is not int or seq < 1:
        raise Bad(want_seq, "seq is not a positive integer")
    if seq != want_seq:
        raise Bad(want_seq, f"seq {seq} out of order (expected {want_seq})")
    if not isinstance(obj["ts"], str) or not TS_RE.match(obj["ts"]):
        raise Bad(seq, "ts is not RFC 3339 UTC with milliseconds")
    if not isinstance(obj["event"], str) or not obj["event"]:
        raise Bad(seq, "event is not a non-empty string")
    prev = obj["prev"]
    if not isinstance(prev, str) or not HEX64_RE.match(prev):
        raise Bad(seq, "prev is not 64 lowercase hex characters")
    if prev != prev_hash:
        raise Bad(seq, "prev does not match the SHA-256 of the line before")
    is_cp = obj["event"] == "checkpoint"
    if is_cp:
        if sorted(keys) != sorted(HEAD + ["key_id", "sig"]):
            raise Bad(seq, "checkpoint must be exactly {seq, ts, event, prev, key_id, sig}")
        if not isinstance(obj["key_id"], str) or not HEX16_RE.match(obj["key_id"]):
            raise Bad(seq, "key_id is not 16 hex characters")
        if not isinstance(obj["sig"], str):
            raise Bad(seq, "sig is not a string")
        if pub is not None:
            if obj["key_id"] != kid:
                raise Bad(seq, f"checkpoint key_id {obj['key_id']} is not the given key's ({kid})")
            try:
                sig = base64.b64decode(obj["sig"], validate=True)
                pub.verify(sig, prev.encode("ascii"))
            except Exception:
                raise Bad(seq, "checkpoint signature does not verify")
    return seq, is_cp


def verify_bytes(data: bytes, pub=None) -> Result:
    kid = key_id_of(pub) if pub is not None else None
    res = Result(ok=True)
    prev_hash = "0" * 64
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: must be empty
    for i, raw in enumerate(lines):
        want = res.lines + 1
        try:
            if not raw:
                raise Bad(want, "empty line")
            _, is_cp = _check_line(raw, want, prev_hash, pub, kid)
        except Bad as b:
            return Result(False, res.lines, res.checkpoints, i + 1, b.seq, b.why)
        res.lines += 1
        res.checkpoints += is_cp
        prev_hash = hashlib.sha256(raw).hexdigest()
    if torn:
        return Result(False, res.lines, res.checkpoints, len(lines) + 1, res.lines + 1,
                      "torn last line (no newline)")
    return res


def main(argv) -> int:
    usage = "usage: audit_verify.py FILE [--key PUB.pem]\n"
    args, key, path = argv[1:], None, None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-h", "--help"):
            sys.stdout.write(usage)
            return 0
        if a == "--key":
            if i + 1 >= len(args):
                sys.stderr.write("audit_verify: --key needs a file\n" + usage)
                return 2
            key = args[i + 1]
            i += 2
            continue
        if a.startswith("-") or path is not None:
            sys.stderr.write(f"audit_verify: unexpected argument {a!r}\n" + usage)
            return 2
        path = a
        i += 1
    if path is None:
        sys.stderr.write("audit_verify: missing FILE\n" + usage)
        return 2
    try:
        pub = load_public_key(key) if key else None
        data = open(path, "rb").read()
    except (OSError, ValueError) as e:
        print(f"fail: {e}")
        return 1
    res = verify_bytes(data, pub)
    print(res.message())
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
