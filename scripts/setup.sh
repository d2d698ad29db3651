#!/usr/bin/env bash
# Installs what llmobs-edge needs to build, test and run on Debian 12: Debian's Bazel 4.2.3 and
# the system libraries it links (docs/building.md). Idempotent: does nothing when all is present.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap pkg-config build-essential
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libmsgpack-cxx-dev librocksdb-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcurl4-openssl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libboost-dev
  nlohmann-json3-dev libcli11-dev libabsl-dev libre2-dev
  python3 python3-msgpack python3-yaml clang libclang-rt-14-dev
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev golang-gopkg-yaml.v3-dev
  golang-github-xeipuuv-gojsonschema-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The real-tracer end-to-end test installs dd-trace (and a Node 22 binary) from the npm registry.
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing npm"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
mkdir -p /var/tmp/llmobs-edge/bazel-disk-cache 2>/dev/null || true
