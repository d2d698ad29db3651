#!/usr/bin/env python3
"""Counts GoogleTest cases in Bazel's test.xml files and prints 'N passed, N failed'.

Bazel's own summary counts test targets; this counts test cases. A crashed test binary leaves
Bazel's own XML with errors="1" and no cases: it counts as one failure.
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET


def main(root: str) -> int:
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
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "bazel-testlogs"))
