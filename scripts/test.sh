#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh) and runs the whole test suite with Bazel twice: plain, and
# under AddressSanitizer (+LeakSanitizer) and UndefinedBehaviorSanitizer together
# (--config=sanitize, .bazelrc), then the real-tracer end to end. Prints the time of each phase,
# then the per-test-case total "N passed, N failed" (the last line) counted from the JUnit XML
# results (scripts/count_tests.py).
#   LLMOBS_EDGE_TEST_CONFIGS="default sanitize"  which configs to run (default: these two; asan and
#                                                ubsan alone also work)
#   LLMOBS_EDGE_E2E=0  skip the real-tracer end-to-end run (dd-trace for Node.js from npm)
#   extra arguments go to every `bazel test` (e.g. --test_filter=...)
set -euo pipefail
cd "$(dirname "$0")/.."

# Phase timings, printed before the final count.
phases=()
phase_start=0
start_phase() { phase_start=$SECONDS; }
end_phase() { phases+=("$1=$((SECONDS - phase_start))"); }
print_phases() {
  local p name secs total=0
  echo "=== phase times"
  for p in "${phases[@]}"; do
    name="${p%=*}"
    secs="${p##*=}"
    total=$((total + secs))
    printf '%-34s %4dm%02ds\n' "$name" $((secs / 60)) $((secs % 60))
  done
  printf '%-34s %4dm%02ds\n' "total" $((total / 60)) $((total % 60))
}

start_phase
bash scripts/setup.sh
end_phase "setup"

read -r -a configs <<<"${LLMOBS_EDGE_TEST_CONFIGS:-default sanitize}"
rc=0
dirs=()
for cfg in "${configs[@]}"; do
  flags=()
  if [[ "$cfg" != "default" ]]; then
    flags=(--config="$cfg")
  fi
  echo "=== bazel test //... (${cfg})"
  start_phase
  bazel test //... --keep_going "${flags[@]}" "$@" || rc=$?
  # Where this config's results are (bazel-out/k8-fastbuild<platform_suffix>/testlogs, or
  # another compilation mode given in "$@"): asked from Bazel rather than guessed.
  dir="$(bazel info "${flags[@]}" "$@" bazel-testlogs 2>/dev/null)" || {
    echo "test.sh: bazel info bazel-testlogs failed for ${cfg}" >&2
    dir="bazel-out/k8-fastbuild${cfg/#default/}/testlogs"
    rc=1
  }
  end_phase "bazel test //... (${cfg})"
  dirs+=("${cfg}=${dir}")
done

# The real tracer end to end (tests/e2e/README.md): dd-trace 6.21.0 from npm through the edge.
extra=()
if [[ "${LLMOBS_EDGE_E2E:-1}" != "0" ]]; then
  echo "=== real-tracer end to end (tests/e2e/node/run.sh)"
  start_phase
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
  end_phase "e2e (real tracer)"
fi

# Count only the results of the test targets that exist now: a cached result's XML is still
# valid, but one left by a removed or renamed target is not.
start_phase
targets_file="$(mktemp)"
trap 'rm -f "$targets_file"' EXIT
target_args=(--targets "$targets_file")
if ! bazel query 'tests(//...)' --output=label 2>/dev/null >"$targets_file"; then
  echo "test.sh: bazel query 'tests(//...)' failed; counting every test.xml found" >&2
  target_args=()
  rc=1
fi
counts="$(python3 scripts/count_tests.py "${target_args[@]}" "${extra[@]}" "${dirs[@]}")" || rc=1
end_phase "count"

print_phases
printf '%s\n' "$counts"
exit "$rc"
