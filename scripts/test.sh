#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh) and runs the whole test suite with Bazel three times:
# plain, under AddressSanitizer (+LeakSanitizer) and under UndefinedBehaviorSanitizer. Ends with
# the per-test-case total "N passed, N failed" counted from GoogleTest's XML results.
#   LLMOBS_EDGE_TEST_CONFIGS="default asan ubsan"  which configs to run (default: all three)
#   extra arguments go to every `bazel test` (e.g. --test_filter=...)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

read -r -a configs <<<"${LLMOBS_EDGE_TEST_CONFIGS:-default asan ubsan}"
# Count only the results of the test targets that exist now: a cached result's XML is still
# valid, but one left by a removed or renamed target is not.
targets_file="$(mktemp)"
trap 'rm -f "$targets_file"' EXIT
bazel query 'tests(//...)' --output=label 2>/dev/null >"$targets_file"
rc=0
dirs=()
for cfg in "${configs[@]}"; do
  flags=()
  suffix=""
  if [[ "$cfg" != "default" ]]; then
    flags=(--config="$cfg")
    suffix="$cfg"
  fi
  dir="bazel-out/k8-fastbuild${suffix}/testlogs"
  echo "=== bazel test //... (${cfg})"
  bazel test //... "${flags[@]}" "$@" || rc=$?
  dirs+=("${cfg}=${dir}")
done

python3 scripts/count_tests.py --targets "$targets_file" "${dirs[@]}"
exit "$rc"
