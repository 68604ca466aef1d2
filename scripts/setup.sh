#!/usr/bin/env bash
# Installs every Debian package that fedbroker's build, tests and benchmarks need, and
# the web workspace's npm packages (web/node_modules, from web/package-lock.json).
# Idempotent and quiet when everything is already present. Run as root on Debian 12.
#   bash scripts/setup.sh            everything (build, tests, benchmarks)
#   bash scripts/setup.sh --build    only what building the fedbroker binary needs
#                                    (the container image's build stage uses this)
set -euo pipefail

# What `cmake --build` of the fedbroker binary needs, the openssl command line that
# init-pilot (docker/init-pilot.sh) uses to make the pilot's PKI, and busybox-static,
# the container image's few shell tools.
BUILD_PACKAGES=(
  build-essential cmake pkg-config
  libuv1-dev libnghttp2-dev libssl-dev liblua5.4-dev libjansson-dev
  libhttp-parser-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev libcmocka-dev libjemalloc-dev
  libutf8proc-dev libicu-dev
  openssl busybox-static
)
# Tests, benchmarks and the tools they drive (cJSON and simdjson only for the optional
# bench/json_parse_bench targets; g++ for simdjson's C++).
TEST_PACKAGES=(
  git lua5.4 curl nghttp2-client nghttp2-server sqlite3 jq procps
  python3 python3-cryptography python3-yaml postgresql linux-perf
  docker-compose
  clang libfuzzer-14-dev libclang-rt-14-dev
  libcjson-dev libsimdjson-dev g++
)

# Node and npm bundle the web workspace at build time (esbuild); Chromium runs its
# browser tests. A machine that already has node (e.g. from another source) keeps it;
# web/package.json keeps every package usable on Debian 12's Node 18.
command -v node >/dev/null 2>&1 || BUILD_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || BUILD_PACKAGES+=(npm)
TEST_PACKAGES+=(chromium)

# web/node_modules, when missing or older than the lock file; the build is offline
# afterwards. (The container build copies only this script first: no web/ yet, and
# docker/Dockerfile runs npm ci itself.)
install_web() {
  local web
  web="$(cd "$(dirname "$0")/.." && pwd)/web"
  [ -f "$web/package-lock.json" ] || return 0
  if [ ! -f "$web/node_modules/.package-lock.json" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    echo "setup: npm ci in web/" >&2
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

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
if [ ${#missing[@]} -eq 0 ]; then
  install_web
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_web
