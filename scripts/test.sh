#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh) and runs the whole test suite with Bazel three times:
# plain, under AddressSanitizer (+LeakSanitizer) and under UndefinedBehaviorSanitizer. Ends with
# the per-test-case total "N passed, N failed" counted from GoogleTest's XML results.
#   LLMOBS_EDGE_TEST_CONFIGS="default asan ubsan"  which configs to run (default: all three)
#   LLMOBS_EDGE_E2E=0  skip the real-tracer end-to-end run (dd-trace for Node.js from npm)
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
  bazel test //... --keep_going "${flags[@]}" "$@" || rc=$?
  dirs+=("${cfg}=${dir}")
done

# The real tracer end to end (tests/e2e/README.md): dd-trace 6.21.0 from npm through the edge.
extra=()
if [[ "${LLMOBS_EDGE_E2E:-1}" != "0" ]]; then
  echo "=== real-tracer end to end (tests/e2e/node/run.sh)"
  e2e_log="$(mktemp)"
  bash tests/e2e/node/run.sh 2>&1 | tee "$e2e_log" || rc=1
  summary="$(grep -E '^e2e-node: [0-9]+ passed, [0-9]+ failed' "$e2e_log" | tail -1 || true)"
  if [[ -n "$summary" ]]; then
    e2e_passed="$(sed -E 's/^e2e-node: ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$summary")"
    e2e_failed="$(sed -E 's/^e2e-node: ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$summary")"
  else
    e2e_passed=0
    e2e_failed=1
  fi
  extra=(--extra "e2e-node=${e2e_passed},${e2e_failed}")
  rm -f "$e2e_log"
fi

python3 scripts/count_tests.py --targets "$targets_file" "${extra[@]}" "${dirs[@]}"
exit "$rc"
