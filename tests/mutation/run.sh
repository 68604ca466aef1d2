#!/usr/bin/env bash
# Mutation check (slow, not part of ctest; only `--check` is, as mutants_apply): see
# tests/mutation/run.py and docs/testing.md.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
