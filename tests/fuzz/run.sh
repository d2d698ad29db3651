#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cc: the codec's, and the /info filter's)
# outside Bazel with clang and ASan + UBSan, then fuzzes each one in turn, seeded with its
# checked-in corpus.
#
#   bash tests/fuzz/run.sh [seconds-per-target]      # from the repository root; default 60
#   FUZZ_SECONDS=600 FUZZ_TARGETS="splice" bash tests/fuzz/run.sh
#
# Env: FUZZ_SECONDS (per target, the argument wins), FUZZ_TARGETS (default
# "reader splice json info_filter llmobs_event"),
# FUZZ_JOBS=N (libFuzzer -fork=N workers; default 1, one core), CXX (default clang++),
# FUZZ_EXTRA_FLAGS (more libFuzzer flags).
# Scratch (gitignored): tests/fuzz/out/{bin,corpus,logs}/; crashes, hangs (timeouts), leaks and
# OOMs are written to tests/fuzz/out/crashes/<target>/. The checked-in corpus is only read.
# Exits non-zero when a target found anything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

SECONDS_PER_TARGET="${1:-${FUZZ_SECONDS:-60}}"
TARGETS="${FUZZ_TARGETS:-reader splice json info_filter llmobs_event}"
JOBS="${FUZZ_JOBS:-1}"
CXX="${CXX:-clang++}"
OUT="tests/fuzz/out"

# Decoder sources: the library's .cc files, not its tests or test helpers.
DECODER_SRCS=()
for f in decoder/*.cc; do
  case "$f" in
    *_test.cc | decoder/test_payloads.cc) ;;
    *) DECODER_SRCS+=("$f") ;;
  esac
done
# Sources a target needs beyond the decoder.
target_srcs() {
  case "$1" in
    info_filter) echo plugin/host/http/info_filter.cc ;;
    llmobs_event) echo rescue/llmobs_event.cc decoder/test_payloads.cc ;;
  esac
}
read -r -a ABSL_LIBS <<<"$(pkg-config --libs absl_status absl_statusor absl_strings absl_str_format)"

# shellcheck disable=SC2054  # the commas belong to -fsanitize=
CXXFLAGS=(-std=c++20 -O1 -g -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -I"$ROOT")

mkdir -p "$OUT/bin" "$OUT/logs"
for t in $TARGETS; do
  echo "== build ${t}_fuzz"
  read -r -a EXTRA_SRCS <<<"$(target_srcs "$t")"
  "$CXX" "${CXXFLAGS[@]}" "tests/fuzz/${t}_fuzz.cc" "${EXTRA_SRCS[@]}" "${DECODER_SRCS[@]}" \
    "${ABSL_LIBS[@]}" -o "$OUT/bin/${t}_fuzz"
done

max_len() {
  case "$1" in
    json | info_filter | llmobs_event) echo 8192 ;;
    *) echo 65536 ;;
  esac
}

found=0
summary=()
for t in $TARGETS; do
  corpus="$OUT/corpus/$t"
  crashes="$OUT/crashes/$t"
  log="$OUT/logs/$t.log"
  mkdir -p "$corpus" "$crashes"
  before="$(find "$crashes" -type f | wc -l)"
  # Seeds into the scratch corpus (which keeps what earlier runs found); new inputs land there.
  cp -f "tests/fuzz/corpus/$t"/* "$corpus"/
  echo "== fuzz ${t}_fuzz for ${SECONDS_PER_TARGET}s (log: $log)"
  args=(-max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$t")" -timeout=10
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/")
  if [[ "$JOBS" -gt 1 ]]; then args+=(-fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); fi
  # shellcheck disable=SC2206
  args+=(${FUZZ_EXTRA_FLAGS:-})
  status=0
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
    "$OUT/bin/${t}_fuzz" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")"
  artifacts="$(($(find "$crashes" -type f | wc -l) - before))"
  line="$(printf '%-7s execs=%s exec/s=%s cov=%s ft=%s corp=%s exit=%s new_artifacts=%s' \
    "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$status" "$artifacts")"
  echo "$line"
  summary+=("$line")
  if [[ "$status" -ne 0 || "$artifacts" -gt 0 ]]; then
    found=1
    echo "!! ${t}_fuzz: see $log and $crashes/"
    grep -E 'ERROR: |FUZZ_CHECK failed|SUMMARY: |runtime error' "$log" | head -5 || true
  fi
done

echo "== summary (${SECONDS_PER_TARGET}s per target, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
printf '%s\n' "${summary[@]}"
exit "$found"
