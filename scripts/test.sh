#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), runs the whole test suite with Bazel, and prints the
# per-test-case summary "N passed, N failed" counted from GoogleTest's XML results.
# Extra arguments go to `bazel test` (e.g. --config=asan).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# Only results of this run count: drop stale XML left by earlier runs.
if [[ -e bazel-testlogs ]]; then
  find -L bazel-testlogs -name test.xml -delete 2>/dev/null || true
fi

rc=0
bazel test //... "$@" || rc=$?

python3 scripts/count_tests.py bazel-testlogs
exit "$rc"
