#!/usr/bin/env bash
# `cmake --install` (CMakeLists.txt install()): the binary, the demo policies and the
# documentation land under the prefix, and the installed binary runs and reads the
# installed policies.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
P="$TMP/prefix"
cmake --install "$FB_BUILD_DIR" --prefix "$P" >"$TMP/install.log" 2>&1 || fail "cmake --install failed: $(tail -5 "$TMP/install.log")"

[ -x "$P/bin/fedbroker" ] || fail "no executable bin/fedbroker"
grep -q '^fedbroker [0-9]' <<<"$("$P/bin/fedbroker" --version)" || fail "installed binary does not run"
pass "binary in bin/"

for f in "$FB_SOURCE_DIR"/policies/*.lua "$FB_SOURCE_DIR"/policies/tests/*.lua; do
  rel=${f#"$FB_SOURCE_DIR/policies/"}
  cmp -s "$f" "$P/share/fedbroker/policies/$rel" || fail "policy $rel not installed as it is"
done
# The installed copy is usable: its own policy tests pass against it.
"$P/bin/fedbroker" policy test "$P/share/fedbroker/policies" >"$TMP/ptest.out" 2>&1 ||
  fail "policy test on the installed policies: $(tail -3 "$TMP/ptest.out")"
grep -q ' 0 failed' "$TMP/ptest.out" || fail "installed policy tests: $(tail -1 "$TMP/ptest.out")"
pass "policies in share/fedbroker/policies"

D="$P/share/doc/fedbroker"
cmp -s "$FB_SOURCE_DIR/README.md" "$D/README.md" || fail "README.md not installed"
for f in "$FB_SOURCE_DIR"/docs/*.md; do
  cmp -s "$f" "$D/$(basename "$f")" || fail "docs/$(basename "$f") not installed"
done
pass "README and docs in share/doc/fedbroker"
