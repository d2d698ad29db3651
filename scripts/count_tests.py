#!/usr/bin/env python3
"""Counts GoogleTest cases in Bazel's test.xml files and prints 'N passed, N failed'.

Arguments are LABEL=DIR pairs (one per Bazel config: DIR is that config's testlogs directory,
which scripts/test.sh gets from `bazel info --config=... bazel-testlogs`, e.g.
bazel-out/k8-fastbuildsanitize/testlogs for --platform_suffix=sanitize), optionally preceded by
--targets FILE (the output of `bazel query 'tests(//...)'`): then only those targets' results are
read, and a target without a result counts as a failure. A line per config is printed, then the total as the last
line. Bazel's own summary counts test targets; this counts test cases. A crashed
test binary leaves Bazel's own XML with errors="1" and no cases: it counts as one failure.
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET


def xml_paths(root, targets):
    if targets is None:
        return glob.glob(os.path.join(root, "**", "test.xml"), recursive=True), 0
    paths, missing = [], 0
    for label in targets:
        package, _, name = label.lstrip("/").partition(":")
        path = os.path.join(root, package, name, "test.xml")
        if os.path.exists(path):
            paths.append(path)
        else:
            missing += 1
    return paths, missing


def count(root, targets):
    paths, missing = xml_paths(root, targets)
    passed, failed, skipped = 0, missing, 0
    for path in paths:
        try:
            doc = ET.parse(path).getroot()
        except ET.ParseError:
            failed += 1
            continue
        cases = list(doc.iter("testcase"))
        if not cases:
            if int(doc.get("errors", "0") or 0) > 0 or int(doc.get("failures", "0") or 0) > 0:
                failed += 1
            continue
        for case in cases:
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.get("result", "completed") == "completed" and case.get("status", "run") == "run":
                passed += 1
            else:
                skipped += 1
    return passed, failed, skipped


def line(passed, failed, skipped):
    text = f"{passed} passed, {failed} failed"
    return text + (f", {skipped} skipped" if skipped else "")


def main(args):
    targets = None
    if args[:1] == ["--targets"]:
        with open(args[1]) as f:
            targets = [line.strip() for line in f if line.strip().startswith("//")]
        args = args[2:]
    # --extra LABEL=PASSED,FAILED: results of a suite run outside Bazel (the real-tracer e2e).
    extras = []
    while args[:1] == ["--extra"]:
        label, _, counts = args[1].partition("=")
        p, f = (int(x) for x in counts.split(","))
        extras.append((label, [p, f, 0]))
        args = args[2:]
    if not args:
        args = ["default=bazel-testlogs"]
    total = [0, 0, 0]
    for label, result in extras:
        total = [a + b for a, b in zip(total, result)]
        print(f"{label}: {line(*result)}")
    for arg in args:
        label, _, root = arg.rpartition("=")
        result = count(root, targets)
        total = [a + b for a, b in zip(total, result)]
        print(f"{label or root}: {line(*result)}")
    print(line(*total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
