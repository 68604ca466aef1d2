#!/usr/bin/env bash
# Sets up the machine, builds, and runs the hub on its embedded default (the demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target fedbroker
exec build/fedbroker demo "$@"
