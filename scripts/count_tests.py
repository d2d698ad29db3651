#!/usr/bin/env python3
"""Counts GoogleTest cases in Bazel's test.xml files and prints 'N passed, N failed'.

Arguments are LABEL=DIR pairs (one per Bazel config). A line per config is printed, then the
total as the last line. Bazel's own summary counts test targets; this counts test cases. A crashed
test binary leaves Bazel's own XML with errors="1" and no cases: it counts as one failure.
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET


def count(root):
    passed = failed = skipped = 0
    for path in glob.glob(os.path.join(root, "**", "test.xml"), recursive=True):
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
    if not args:
        args = ["default=bazel-testlogs"]
    total = [0, 0, 0]
    for arg in args:
        label, _, root = arg.rpartition("=")
        result = count(root)
        total = [a + b for a, b in zip(total, result)]
        print(f"{label or root}: {line(*result)}")
    print(line(*total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
