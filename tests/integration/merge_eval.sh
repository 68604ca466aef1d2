#!/usr/bin/env bash
# fedbroker merge-eval: a short run over the demo data meets the grouping and
# cross-script targets (docs/merge.md), a spoiled ground truth fails the check, and
# bad input gets a clear error.
source "$FB_SOURCE_DIR/tests/lib/common.sh"

"$FEDBROKER" demo-data --out "$TMP/data" >/dev/null
[ -s "$TMP/data/truth.json" ] || fail "demo-data wrote no truth.json"

"$FEDBROKER" merge-eval --data "$TMP/data" --people 150 --check >"$TMP/eval.log" 2>&1 ||
  { cat "$TMP/eval.log" >&2; fail "merge-eval --check failed on the demo data"; }
grep -q '^check: .*: pass$' "$TMP/eval.log" || fail "no passing check line"
# The figures themselves, read back from the table.
row() { grep -F "| $1 " "$TMP/eval.log" | head -n1; }
read -r precision recall < <(row "all searches" | awk -F'|' '{gsub(/ /,""); print $7, $8}')
cross=$(row "cross-script (the two above)" | awk -F'|' '{gsub(/ /,""); print $5}')
awk -v p="$precision" -v r="$recall" -v x="$cross" 'BEGIN { exit !(p >= 0.99 && r >= 0.95 && x >= 0.90) }' ||
  fail "targets missed: precision $precision, recall $recall, cross-script recall $cross"
pass "short run: precision $precision, recall $recall, cross-script recall $cross"

# A ground truth that splits every person's records in two: the merge is now
# "wrong" on half the pairs and the check must fail.
mkdir "$TMP/spoiled"
cp "$TMP"/data/*.db "$TMP/spoiled/"
jq '.people |= map(.records |= (. as $r | to_entries | map(if .key % 2 == 1 then "x" + .value else .value end)))
    | .people += [.people[] | {person: ("X" + .person), name, dob, records: [.records[] | select(startswith("x")) | ltrimstr("x")]}]
    | .people |= map(.records |= map(select(startswith("x") | not)))' \
  "$TMP/data/truth.json" >"$TMP/spoiled/truth.json"
set +e
"$FEDBROKER" merge-eval --data "$TMP/spoiled" --people 150 --check >"$TMP/spoiled.log" 2>&1
status=$?
set -e
expect_eq "spoiled truth fails the check" "$status" 1
grep -q '^check: .*: FAIL$' "$TMP/spoiled.log" || fail "no failing check line"
pass "a ground truth the merge disagrees with fails the check"

set +e
"$FEDBROKER" merge-eval --data "$TMP/nowhere" >"$TMP/missing.log" 2>&1
status=$?
"$FEDBROKER" merge-eval --data "$TMP/data" --people 0 >"$TMP/usage.log" 2>&1
ustatus=$?
set -e
expect_eq "missing data" "$status" 1
# A truth.json of the wrong shapes: counted where usable, no crash; not JSON: refused.
mkdir "$TMP/junk"
cp "$TMP"/data/*.db "$TMP/junk/"
echo '{"people":[{"name":"Ahmad bin Ismail","dob":"1985-03-12","records":[1,null,"XXX-1","MYS-P-000001"],
  "native_queries":[5,"x"],"native_records":[{}]},{"name":3},"junk"]}' >"$TMP/junk/truth.json"
"$FEDBROKER" merge-eval --data "$TMP/junk" >"$TMP/junk.log" 2>&1 || fail "a malformed truth entry stopped merge-eval"
grep -q "1 of 3 people" "$TMP/junk.log" || fail "the usable entry was not evaluated"
echo '[1,2' >"$TMP/junk/truth.json"
set +e
"$FEDBROKER" merge-eval --data "$TMP/junk" >"$TMP/junk2.log" 2>&1
jstatus=$?
set -e
expect_eq "truth.json not JSON" "$jstatus" 1
grep -q "truth.json" "$TMP/junk2.log" || fail "the error does not name truth.json"
grep -q "truth.json" "$TMP/missing.log" || fail "the error does not name truth.json"
expect_eq "bad --people" "$ustatus" 2
pass "missing data and bad arguments are refused clearly"
