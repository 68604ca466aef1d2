#!/usr/bin/env bash
# Writes everything the pilot needs into $PILOT_DIR (default /pilot), once:
#   tls/    a pilot CA; hub.pem (server + client certificate of the hub); one server
#           certificate per simulated node (<state>-node.pem); one analyst client
#           certificate per state (analyst-<state>.pem) for the hub's optional mTLS
#   keys/   issuer.pem / issuer.pub.pem (Ed25519, signs the pilot's tokens),
#           audit.pem, audit-2.pem (Ed25519, audit checkpoints of hub replicas 1 and 2),
#           redaction.key (HMAC secret)
#   data/   IDN.db, MYS.db, THA.db, BGD.db (fedbroker demo-data: synthetic people);
#           with PILOT_POSTGRES set, THA's records also go into that database
#   tokens/ analyst-<state>.jwt, legal-<state>.jwt, focal-<state>.jwt (focal_point),
#           focal-admin.jwt (focal_point_admin), auditor.jwt, admin.jwt
# Existing PKI, keys and data are kept (delete the volume to start afresh); tokens are
# minted again on every run because they expire (TOKEN_TTL seconds, default 1 day).
# FEDBROKER names the binary (default: fedbroker on PATH).
set -euo pipefail

D=${PILOT_DIR:-/pilot}
FB=${FEDBROKER:-fedbroker}
case $FB in */*) FB=$(cd "$(dirname "$FB")" && pwd)/$(basename "$FB") ;; esac # we cd below
TTL=${TOKEN_TTL:-86400}
ISS=https://idp.pilot.fedbroker.example
STATES=(IDN MYS THA BGD)
declare -A AGENCY=([IDN]="Indonesian National Police" [MYS]="Royal Malaysia Police"
                   [THA]="Royal Thai Police" [BGD]="Bangladesh Police")

umask 027
mkdir -p "$D/tls" "$D/keys" "$D/data" "$D/tokens"
cd "$D"

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME SUBJECT EXTENSIONS: tls/NAME.key + tls/NAME.pem signed by the pilot CA.
sign() {
  local name=$1 subj=$2 ext=$3
  ec_key "tls/$name.key"
  openssl req -new -key "tls/$name.key" -subj "$subj" -out "tls/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"tls/$name.ext"
  openssl x509 -req -in "tls/$name.csr" -CA tls/ca.pem -CAkey tls/ca.key -CAcreateserial \
    -days 365 -sha256 -extfile "tls/$name.ext" -out "tls/$name.pem" 2>/dev/null
  rm -f "tls/$name.csr" "tls/$name.ext"
}

if [ ! -s tls/ca.pem ]; then
  echo "init-pilot: creating the pilot PKI in $D/tls" >&2
  ec_key tls/ca.key
  openssl req -x509 -new -key tls/ca.key -days 365 -sha256 -subj "/CN=fedbroker pilot CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out tls/ca.pem 2>/dev/null
  sign hub "/O=Regional Support Office/CN=hub" \
    "subjectAltName=DNS:hub,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
  for s in "${STATES[@]}"; do
    lc=${s,,}
    sign "$lc-node" "/ST=$s/O=${AGENCY[$s]}/CN=$lc-node" \
      "subjectAltName=DNS:$lc-node,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
    sign "analyst-$lc" "/ST=$s/O=${AGENCY[$s]}/OU=analyst/CN=analyst-$lc-1" \
      "extendedKeyUsage=clientAuth"
  done
fi

if [ ! -s keys/issuer.pem ]; then
  openssl genpkey -algorithm ed25519 -out keys/issuer.pem
  openssl pkey -in keys/issuer.pem -pubout -out keys/issuer.pub.pem
fi
[ -s keys/audit.pem ] || openssl genpkey -algorithm ed25519 -out keys/audit.pem
# The second hub replica's own checkpoint key (docker/compose.replicas.yaml).
[ -s keys/audit-2.pem ] || openssl genpkey -algorithm ed25519 -out keys/audit-2.pem
[ -s keys/redaction.key ] || openssl rand -hex 32 >keys/redaction.key

[ -s data/BGD.db ] || "$FB" demo-data --out data >&2
# Thailand's national system is a PostgreSQL database in the pilot (PILOT_POSTGRES, a
# libpq connection string; the password comes from PGPASSWORD). The same seed gives
# the same records, so loading again after a lost marker changes nothing.
if [ -n "${PILOT_POSTGRES:-}" ] && [ ! -e data/THA.postgres-loaded ]; then
  "$FB" demo-data --out data --postgres "$PILOT_POSTGRES" --state THA >&2
  touch data/THA.postgres-loaded
fi

mint() { # FILE STATE ROLES SUB [AGENCY]
  "$FB" token --key keys/issuer.pem --iss "$ISS" --ttl "$TTL" --sub "$4" --state "$2" \
    --roles "$3" ${5:+--agency "$5"} >"tokens/$1.jwt"
}
for s in "${STATES[@]}"; do
  lc=${s,,}
  mint "analyst-$lc" "$s" analyst "analyst-$lc-1" "${AGENCY[$s]}"
  mint "legal-$lc" "$s" legal_officer "legal-$lc-1" "${AGENCY[$s]}"
  mint "focal-$lc" "$s" focal_point "focal-$lc-1" "${AGENCY[$s]}"
done
mint focal-admin IDN focal_point_admin "focal-admin-1" "Regional Support Office"
mint auditor IDN auditor "auditor-1" "Regional Support Office"
mint admin IDN admin "admin-1" "Regional Support Office"
echo "init-pilot: ready in $D (tokens valid for $TTL s)" >&2
