#!/usr/bin/python3
"""An independent JWS/JWT implementation on the `cryptography` package, used by
tests/integration/jwt_interop.sh to cross-check fedbroker's minting and verification.

  jwt_interop.py keygen ALG DIR              -> DIR/ALG.key, DIR/ALG.pub (PEM)
  jwt_interop.py mint ALG KEY CLAIMS_JSON [--header JSON] [--hs256-secret-file F]
  jwt_interop.py verify ALG PUB TOKEN --iss ISS [--aud AUD] [--now T]

ALG is EdDSA, ES256 or RS256. `mint --hs256-secret-file F` ignores KEY and makes an
HS256 token keyed with the bytes of F (the public-key-as-HMAC-secret attack).
Must run under /usr/bin/python3 (Debian's python3-cryptography).
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(s: str) -> bytes:
    if "=" in s:
        raise ValueError("padding")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def keygen(alg, directory):
    if alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
        fmt = serialization.PrivateFormat.PKCS8
    elif alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
        fmt = serialization.PrivateFormat.TraditionalOpenSSL  # "BEGIN EC PRIVATE KEY"
    elif alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        fmt = serialization.PrivateFormat.TraditionalOpenSSL  # "BEGIN RSA PRIVATE KEY"
    else:
        sys.exit(f"unknown alg {alg}")
    with open(f"{directory}/{alg}.key", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, fmt,
                                  serialization.NoEncryption()))
    with open(f"{directory}/{alg}.pub", "wb") as f:
        f.write(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def sign(alg, key, data: bytes) -> bytes:
    if alg == "EdDSA":
        return key.sign(data)
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise ValueError(alg)


def mint(args):
    claims = json.loads(args.claims)
    header = json.loads(args.header) if args.header else {"alg": args.alg, "typ": "JWT"}
    signing_input = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64u(json.dumps(claims, separators=(",", ":")).encode())).encode()
    if args.hs256_secret_file:
        secret = open(args.hs256_secret_file, "rb").read()
        sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
    elif args.alg == "none":
        sig = b""
    else:
        with open(args.key, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        sig = sign(args.alg, key, signing_input)
    print(signing_input.decode() + "." + b64u(sig))


def verify(args):
    with open(args.pub, "rb") as f:
        pub = serialization.load_pem_public_key(f.read())
    try:
        h64, p64, s64 = args.token.strip().split(".")
        header = json.loads(unb64u(h64))
        claims = json.loads(unb64u(p64))
        sig = unb64u(s64)
        if header.get("alg") != args.alg:
            raise ValueError(f"alg {header.get('alg')!r} != {args.alg}")
        data = (h64 + "." + p64).encode()
        if args.alg == "EdDSA":
            assert isinstance(pub, ed25519.Ed25519PublicKey)
            pub.verify(sig, data)
        elif args.alg == "ES256":
            assert isinstance(pub, ec.EllipticCurvePublicKey) and len(sig) == 64
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            pub.verify(der, data, ec.ECDSA(hashes.SHA256()))
        elif args.alg == "RS256":
            assert isinstance(pub, rsa.RSAPublicKey)
            pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        now = args.now if args.now is not None else int(time.time())
        if claims.get("iss") != args.iss:
            raise ValueError("iss mismatch")
        aud = claims.get("aud")
        if args.aud not in (aud if isinstance(aud, list) else [aud]):
            raise ValueError("aud mismatch")
        if not isinstance(claims.get("exp"), int) or claims["exp"] + 60 < now:
            raise ValueError("expired")
        if "nbf" in claims and claims["nbf"] - 60 > now:
            raise ValueError("not yet valid")
    except (ValueError, InvalidSignature, AssertionError) as e:
        print(f"rejected: {e!r}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(claims, sort_keys=True))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("alg")
    k.add_argument("dir")
    m = sub.add_parser("mint")
    m.add_argument("alg")
    m.add_argument("key")
    m.add_argument("claims")
    m.add_argument("--header")
    m.add_argument("--hs256-secret-file")
    v = sub.add_parser("verify")
    v.add_argument("alg")
    v.add_argument("pub")
    v.add_argument("token")
    v.add_argument("--iss", required=True)
    v.add_argument("--aud", default="fedbroker")
    v.add_argument("--now", type=int)
    args = ap.parse_args()
    if args.cmd == "keygen":
        keygen(args.alg, args.dir)
    elif args.cmd == "mint":
        mint(args)
    else:
        verify(args)


if __name__ == "__main__":
    main()
