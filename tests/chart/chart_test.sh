#!/usr/bin/env bash
# The Helm chart's offline test (bazel test //tests/chart:chart_test): builds the Go program of
# this directory (a `helm template` stand-in on Debian's Go, sprig, go-yaml and gojsonschema, see
# helm.go) into the test's temp dir and runs its checks (checks.go) against the chart and the real
# llmobs-edge binary. No network: GOPATH mode on /usr/share/gocode, GOPROXY=off.
set -euo pipefail

runfiles="${RUNFILES_DIR:-${TEST_SRCDIR:-$PWD/..}}/llmobs_edge"
cd "$runfiles"

if ! command -v go >/dev/null 2>&1; then
  echo "chart_test: no Go toolchain; bash scripts/setup.sh installs golang-go and the Go libraries" >&2
  exit 1
fi
for lib in github.com/Masterminds/sprig github.com/xeipuuv/gojsonschema gopkg.in/yaml.v2 gopkg.in/yaml.v3; do
  if [[ ! -d "/usr/share/gocode/src/$lib" ]]; then
    echo "chart_test: Go library $lib is missing; run bash scripts/setup.sh" >&2
    exit 1
  fi
done

work="${TEST_TMPDIR:-$(mktemp -d)}"
export GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOPROXY=off CGO_ENABLED=0
export GOCACHE="$work/gocache" HOME="$work"
go build -o "$work/charttest" tests/chart/helm.go tests/chart/main.go tests/chart/checks.go

exec "$work/charttest" test \
  --chart deploy/helm/llmobs-edge \
  --binary "$runfiles/llmobs-edge" \
  --testdata tests/chart/testdata \
  --dockerfile deploy/Dockerfile
