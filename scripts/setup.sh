#!/usr/bin/env bash
# Installs every Debian package that fedbroker's build, tests and benchmarks need.
# Idempotent and quiet when everything is already present. Run as root on Debian 12.
#   bash scripts/setup.sh            everything (build, tests, benchmarks)
#   bash scripts/setup.sh --build    only what building the fedbroker binary needs
#                                    (the container image's build stage uses this)
set -euo pipefail

# What `cmake --build` of the fedbroker binary needs, and the openssl command line that
# init-pilot (docker/init-pilot.sh) uses to make the pilot's PKI.
BUILD_PACKAGES=(
  build-essential cmake pkg-config
  libuv1-dev libnghttp2-dev libssl-dev liblua5.4-dev libjansson-dev
  libhttp-parser-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev libcmocka-dev libjemalloc-dev
  libutf8proc-dev libicu-dev
  openssl
)
# Tests, benchmarks and the tools they drive.
TEST_PACKAGES=(
  git lua5.4 curl nghttp2-client nghttp2-server sqlite3 jq procps
  python3 python3-cryptography python3-yaml postgresql linux-perf
  docker-compose
)

case ${1:-} in
  --build) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  "") PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
  *) echo "usage: bash scripts/setup.sh [--build]" >&2; exit 2 ;;
esac

# `kubectl kustomize` renders deploy/kubernetes in a test. The machine image may carry
# kubectl from another package (dpkg then refuses Debian's, which owns the same path).
[ -z "${1:-}" ] && ! command -v kubectl >/dev/null && PACKAGES+=(kubernetes-client)

# tests/conformance/h2spec.sh builds h2spec from its source with Debian's Go toolchain
# and libraries (GOPATH mode, offline). CI does not run it, so only on request:
#   FB_SETUP_CONFORMANCE=1 bash scripts/setup.sh
if [ "${FB_SETUP_CONFORMANCE:-0}" = 1 ]; then
  PACKAGES+=(golang-go golang-github-fatih-color-dev golang-github-spf13-cobra-dev golang-golang-x-net-dev)
fi

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
