#!/usr/bin/env python3
"""Mutation check: shows that the tests can fail.

Each mutant in mutants.txt is a one-line, literal edit of the code under test (flip a
comparison, drop a redaction, skip an audit write, accept an expired token, ...) and
names the tests that should notice. For each mutant this script applies the edit to a
scratch copy of the tree, builds only the targets those tests need (one build directory
reused between mutants and between runs, so every build is incremental), runs those
tests and expects at least one to fail, then restores the file. A mutant whose tests all
pass "survived": a behaviour the tests do not pin down.

Before a test set is used the first time in a run, it is run once unmutated: a test that
fails without a mutant cannot show anything (reported as "baseline failed").

Not part of the default CI run (slow); docs/testing.md says how to run it.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))


def parse_mutants(path):
    mutants, cur = [], {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            if not line.strip():
                if cur:
                    mutants.append(cur)
                cur = {}
                continue
            key, sep, value = line.partition(": ")
            if not sep or key not in ("mutant", "file", "from", "to", "tests", "why"):
                sys.exit(f"{path}:{lineno}: expected 'key: value' (mutant, file, from, to, tests, why)")
            if key in cur:
                sys.exit(f"{path}:{lineno}: {key} given twice in one mutant")
            if key in ("from", "to"):  # \n is a line break, \\ a backslash
                value = re.sub(r"\\([\\n])", lambda m: "\n" if m.group(1) == "n" else "\\", value)
            cur[key] = value
            cur.setdefault("line", lineno)
    if cur:
        mutants.append(cur)
    for m in mutants:
        missing = [k for k in ("mutant", "file", "from", "to", "tests") if k not in m]
        if missing:
            sys.exit(f"{path}:{m['line']}: mutant lacks {', '.join(missing)}")
    ids = [m["mutant"] for m in mutants]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        sys.exit(f"{path}: duplicate mutant ids: {', '.join(sorted(dup))}")
    return mutants


def sync_tree(src, dst):
    """Copies the checkout (tracked and untracked, not ignored files) into dst, writing
    only files whose bytes differ so that unchanged sources keep their mtime."""
    out = subprocess.run(["git", "-C", src, "ls-files", "-co", "--exclude-standard", "-z"],
                         check=True, capture_output=True).stdout
    files = set(filter(None, out.decode().split("\0")))
    # Files the checkout no longer has (moved, deleted) go from the copy too: a stale
    # source would still be picked up by the build's globs.
    for root, dirs, names in os.walk(dst):
        rel_root = os.path.relpath(root, dst)
        if rel_root == ".":
            dirs[:] = [d for d in dirs if not d.startswith("build")]
        dirs[:] = [d for d in dirs if d != "node_modules"]
        for n in names:
            rel = os.path.normpath(os.path.join(rel_root, n))
            if rel not in files:
                os.remove(os.path.join(root, n))
    for rel in sorted(files):
        s, d = os.path.join(src, rel), os.path.join(dst, rel)
        if not os.path.isfile(s) or os.path.islink(s):
            continue
        with open(s, "rb") as f:
            data = f.read()
        try:
            with open(d, "rb") as f:
                if f.read() == data:
                    continue
        except FileNotFoundError:
            os.makedirs(os.path.dirname(d), exist_ok=True)
        with open(d, "wb") as f:
            f.write(data)
    nm = os.path.join(dst, "web", "node_modules")
    if not os.path.exists(nm):
        os.symlink(os.path.join(src, "web", "node_modules"), nm)


def run(cmd, log, timeout=None):
    with open(log, "ab") as f:
        f.write(("\n$ " + " ".join(cmd) + "\n").encode())
        f.flush()
        try:
            return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return 124


class Runner:
    def __init__(self, work, jobs, log, asan):
        self.work, self.jobs, self.log, self.asan = work, jobs, log, asan
        self.tree = os.path.join(work, "src")
        self.build = os.path.join(self.tree, "build-asan" if asan else "build")
        self.baseline = {}

    def configure(self):
        os.makedirs(self.tree, exist_ok=True)
        sync_tree(SRC, self.tree)
        flags = ["-DFB_ASAN=ON", "-DFB_UBSAN=ON"] if self.asan else ["-DCMAKE_BUILD_TYPE=RelWithDebInfo"]
        if run(["cmake", "-S", self.tree, "-B", self.build] + flags, self.log) != 0:
            sys.exit(f"configure failed; see {self.log}")

    def env(self):
        env = dict(os.environ)
        if self.asan:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        return env

    def tests_for(self, regex):
        out = subprocess.run(["ctest", "--test-dir", self.build, "-N", "-R", regex],
                             capture_output=True, text=True).stdout
        return re.findall(r"Test\s+#\d+: (\S+)", out)

    def targets_for(self, tests):
        targets = {t for t in tests if t.startswith("unit_")}
        if any(t.startswith("it_") for t in tests):
            targets.add("fedbroker")
        return sorted(targets)

    def build_targets(self, targets):
        cmd = ["cmake", "--build", self.build, "-j", str(self.jobs)]
        for t in targets:
            cmd += ["--target", t]
        return run(cmd, self.log) == 0

    def ctest(self, regex):
        """Returns (passed, names of the tests that failed)."""
        res = subprocess.run(["ctest", "--test-dir", self.build, "-R", regex, "--timeout", "300", "-j", str(self.jobs),
                              "--output-on-failure"],
                             capture_output=True, text=True, errors="replace", env=self.env())
        # errors="replace": a failing test may print the bytes it was fed (invalid UTF-8)
        with open(self.log, "a") as f:
            f.write(res.stdout + res.stderr)
        failed = re.findall(r"\d+ - (\S+) \((?:Failed|Timeout|SEGFAULT|Subprocess aborted|Child aborted|Exception)", res.stdout)
        return res.returncode == 0, failed

    def check(self, m):
        tests = self.tests_for(m["tests"])
        if not tests:
            return "no such test", ""
        targets = self.targets_for(tests)
        if m["tests"] not in self.baseline:
            if not self.build_targets(targets):
                self.baseline[m["tests"]] = "build failed"
            else:
                ok, failed = self.ctest(m["tests"])
                self.baseline[m["tests"]] = "ok" if ok else "failed: " + " ".join(failed)
        if self.baseline[m["tests"]] != "ok":
            return "baseline " + self.baseline[m["tests"]], ""
        path = os.path.join(self.tree, m["file"])
        if not os.path.isfile(path):
            return "stale (no such file)", ""
        with open(path, encoding="utf-8") as f:
            original = f.read()
        n = original.count(m["from"])
        if n != 1:
            return f"stale ('from' found {n} times)", ""
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(original.replace(m["from"], m["to"]))
            if not self.build_targets(targets):
                return "build failed", ""
            ok, failed = self.ctest(m["tests"])
            return ("survived", "") if ok else ("killed", " ".join(failed) or "(ctest failed)")
        finally:
            with open(path, "w", encoding="utf-8") as f:
                f.write(original)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mutants", default=os.path.join(HERE, "mutants.txt"))
    ap.add_argument("--dir", default=os.environ.get("FB_MUTANT_DIR", "/tmp/fedbroker-mutants"),
                    help="scratch tree and build directory, reused between runs (default %(default)s)")
    ap.add_argument("--only", help="comma-separated mutant ids, or a regex over the ids")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--asan", action="store_true",
                    help="build with ASan+UBSan (its own build directory): for mutants only a sanitizer sees")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--check", action="store_true",
                    help="only check that every mutant's 'from' text occurs exactly once in this checkout")
    a = ap.parse_args()
    mutants = parse_mutants(a.mutants)
    if a.only:
        ids = a.only.split(",")
        mutants = [m for m in mutants if m["mutant"] in ids or re.fullmatch(a.only, m["mutant"])]
    if a.list:
        for m in mutants:
            print(f"{m['mutant']:32} {m['file']:36} {m['tests']}")
        return 0
    if a.check:
        stale = 0
        for m in mutants:
            try:
                with open(os.path.join(SRC, m["file"]), encoding="utf-8") as f:
                    n = f.read().count(m["from"])
            except FileNotFoundError:
                n = 0
            if n != 1 or m["from"] == m["to"]:
                stale += 1
                print(f"{m['mutant']}: 'from' found {n} times in {m['file']}" if n != 1 else f"{m['mutant']}: from == to")
        print(f"{len(mutants) - stale} of {len(mutants)} mutants apply")
        return 1 if stale else 0
    os.makedirs(a.dir, exist_ok=True)
    log = os.path.join(a.dir, "mutation.log")
    open(log, "w").close()
    r = Runner(a.dir, a.jobs, log, a.asan)
    r.configure()
    rows, start = [], time.time()
    print(f"{len(mutants)} mutants; build and test output in {log}", flush=True)
    for m in mutants:
        t0 = time.time()
        outcome, by = r.check(m)
        rows.append((m, outcome, by, time.time() - t0))
        print(f"{m['mutant']:32} {outcome:10} {by}  ({time.time() - t0:.0f} s)", flush=True)
    report = os.path.join(a.dir, "report.md")
    with open(report, "w") as f:
        f.write("| mutant | file | edit | outcome | failing tests |\n| --- | --- | --- | --- | --- |\n")
        for m, outcome, by, _ in rows:
            f.write(f"| {m['mutant']} | {m['file']} | {m.get('why', '')} | {outcome} | {by} |\n")
    killed = sum(1 for _, o, _, _ in rows if o == "killed")
    print(f"\n{killed} of {len(rows)} killed in {time.time() - start:.0f} s; table in {report}")
    return 0 if killed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
