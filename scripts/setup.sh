#!/usr/bin/env bash
# Installs every Debian package that fedbroker's build, tests and benchmarks need.
# Idempotent and quiet when everything is already present. Run as root on Debian 12.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libuv1-dev libnghttp2-dev libssl-dev liblua5.4-dev libjansson-dev
  libhttp-parser-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev libcmocka-dev libjemalloc-dev
  lua5.4 curl openssl nghttp2-client nghttp2-server sqlite3 jq procps
  python3 python3-cryptography postgresql linux-perf
  clang libfuzzer-14-dev libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
