#!/usr/bin/env bash
# Builds the container image (deploy/Dockerfile) with buildah, the OCI builder Debian 12 ships,
# and smoke-tests the built image with `buildah run`; prints how long the build took and the
# image's size and make-up (docs/building.md, "Container image").
#
#   bash scripts/image-test.sh
#
# Slow: the build stage installs the toolchain and compiles the project with Bazel (11 minutes
# on 2 vCPUs), so it is not part of scripts/test.sh or CI; run it after changing
# deploy/Dockerfile, scripts/setup.sh or the libraries the binary links.
# //deploy:dockerfile_test, which CI runs, checks the Dockerfile against the binary without
# building the image.
#
# - Installs buildah (and debootstrap when it needs it) with apt-get; idempotent.
# - Needs a `debian:12-slim` image in buildah's store. Without one it makes one offline from
#   `debootstrap --variant=minbase bookworm` (only Debian's apt mirror is needed, no container
#   registry), slimmed like the official image, and tags it docker.io/library/debian:12-slim.
#   With registry access, `buildah pull docker.io/library/debian:12-slim` first to use the real one.
# - Builds with `buildah bud --isolation chroot --format docker` (the Docker format keeps the
#   HEALTHCHECK, which the OCI format has no field for) and `--layers`, so a rerun reuses the
#   toolchain layer; `docker build -f deploy/Dockerfile -t llmobs-edge .` builds the same image.
# - Runs every check in a working container of the image with `buildah run --isolation chroot`,
#   which applies the image's ENV and USER (checked against `buildah inspect`). Chroot isolation
#   shares the host's network and PID namespaces: the service listens on the host's ports (other
#   free ports are used when 8136-8138 are taken) and SIGTERM goes to its process from here
#   (`buildah run` does not pass signals on).
#
# `--no-build` skips the build and tests the image already tagged $IMAGE in buildah's store.
#
# Environment: IMAGE (the tag built, default llmobs-edge), DEBIAN_MIRROR and
# DEBIAN_SECURITY_MIRROR (for the debootstrapped base), KEEP_CONTAINERS=1 (keep the working
# containers for a look with `buildah mount` / `buildah run`).
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  # buildah as root (rootless buildah needs subuid ranges and `buildah unshare` for mounts).
  exec sudo --preserve-env=IMAGE,DEBIAN_MIRROR,DEBIAN_SECURITY_MIRROR,KEEP_CONTAINERS \
    bash "$0" "$@"
fi

cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-llmobs-edge}
BASE=docker.io/library/debian:12-slim
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
export BUILDAH_ISOLATION=chroot

BUILD=1
case "${1:-}" in
  "") ;;
  --no-build) BUILD=0 ;;
  *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
esac

T0=$SECONDS
WORK=$(mktemp -d /var/tmp/llmobs-edge-image-test.XXXXXX)
CONTAINERS=()
RUNNER=""    # pid of the background `buildah run` of the service
EDGE_PID=""  # pid of the service itself (chroot isolation: same PID namespace as this script)

step() { printf '\n== %s\n' "$*"; }
ok() { printf '  ok: %s\n' "$*"; }
fail() {
  printf 'image-test: FAIL: %s\n' "$*" >&2
  exit 1
}
elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

cleanup() {
  local rc=$?
  if [[ -n $EDGE_PID ]] && kill -0 "$EDGE_PID" 2>/dev/null; then kill -KILL "$EDGE_PID" || true; fi
  if [[ -n $RUNNER ]] && kill -0 "$RUNNER" 2>/dev/null; then kill -KILL "$RUNNER" || true; fi
  local c
  for c in "${CONTAINERS[@]}"; do
    if [[ ${KEEP_CONTAINERS:-0} == 1 ]]; then
      echo "kept working container $c"
    else
      buildah rm "$c" >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} > 0)); then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# ---------------------------------------------------------------------------------------------
step "buildah"
install_missing buildah python3 python3-yaml curl procps
buildah version | head -1

# ---------------------------------------------------------------------------------------------
# The base image. Like the official debian:12-slim: deb822 sources for bookworm, -updates and
# -security, dpkg excluding documentation (copyright notices kept), manuals and translations,
# apt keeping neither its binary caches nor the .debs it downloaded, everything upgraded, no
# package lists, logs or host files (resolv.conf, hostname) left in the layer.
make_base() {
  install_missing debootstrap
  local ctr root
  ctr=$(buildah from scratch)
  CONTAINERS+=("$ctr")
  root=$(buildah mount "$ctr")
  [[ -n $root && -d $root ]] || fail "buildah mount gave no root directory"
  echo "debootstrap --variant=minbase bookworm from $DEBIAN_MIRROR (log: $WORK/debootstrap.log)"
  if ! debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -20 "$WORK/debootstrap.log" >&2
    fail "debootstrap failed"
  fi
  rm -rf "${root:?}"/dev/*  # buildah run provides /dev
  : >"$root/etc/resolv.conf"
  : >"$root/etc/hostname"
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $DEBIAN_SECURITY_MIRROR
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim-image" <<'EOF'
# Container image: no documentation but the copyright notices, no manuals, no translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  cat >"$root/etc/apt/apt.conf.d/slim-image" <<'EOF'
// Container image: no binary package caches and no downloaded .debs left in a layer, no
// translated descriptions.
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Keep-Downloaded-Packages "false";
Acquire::Languages "none";
EOF
  # debootstrap unpacked before the dpkg excludes existed: drop what they would have kept out.
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,info,groff,lintian,linda,locale}/*
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash \
    --label "org.opencontainers.image.description=Debian 12 (bookworm) debootstrap --variant=minbase, slimmed by scripts/image-test.sh" \
    "$ctr"
  buildah run --isolation chroot "$ctr" -- sh -c \
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq && apt-get clean' \
    >>"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; fail "apt-get upgrade failed"; }
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log \
    "$root"/var/log/apt/* "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
    "$root"/var/cache/ldconfig/aux-cache
  buildah umount "$ctr" >/dev/null
  buildah commit --quiet --format docker --rm "$ctr" "$BASE" >/dev/null
  unset 'CONTAINERS[-1]'
}

step "base image $BASE"
if buildah inspect --type image "$BASE" >/dev/null 2>&1; then
  echo "present in buildah's store"
else
  t=$SECONDS
  make_base
  echo "made from debootstrap in $(elapsed $((SECONDS - t)))"
fi
buildah images --format '{{.Name}}:{{.Tag}} {{.ID}} {{.Size}}' "$BASE"

# ---------------------------------------------------------------------------------------------
step "buildah bud --isolation chroot --format docker --layers -f deploy/Dockerfile -t $IMAGE ."
BUILD_SECONDS=""
if ((BUILD)); then
  t=$SECONDS
  buildah bud --isolation chroot --format docker --layers --pull=never --force-rm \
    -f deploy/Dockerfile -t "$IMAGE" . || fail "the image did not build"
  BUILD_SECONDS=$((SECONDS - t))
  echo "built in $(elapsed $BUILD_SECONDS)"
else
  echo "skipped (--no-build): testing the image $IMAGE already built"
fi

# ---------------------------------------------------------------------------------------------
step "image configuration (buildah inspect)"
buildah inspect --type image "$IMAGE" >"$WORK/inspect.json"
config() { # config FIELD: one line per value of the Docker config field (User, Env, Entrypoint)
  python3 - "$WORK/inspect.json" "$1" <<'EOF'
import json, sys
value = json.load(open(sys.argv[1]))["Docker"]["config"].get(sys.argv[2])
for v in (value if isinstance(value, list) else [value] if value else []):
    print(v)
EOF
}
IMAGE_USER=$(config User)
mapfile -t IMAGE_ENV < <(config Env)
mapfile -t ENTRYPOINT < <(config Entrypoint)
# The HEALTHCHECK as an argv: ["CMD", argv...] or ["CMD-SHELL", "command"].
mapfile -d '' -t HEALTHCHECK < <(python3 - "$WORK/inspect.json" <<'EOF'
import json, sys
test = (json.load(open(sys.argv[1]))["Docker"]["config"].get("Healthcheck") or {}).get("Test") or []
argv = test[1:] if test[:1] == ["CMD"] else ["/bin/sh", "-c", test[1]] if test[:1] == ["CMD-SHELL"] else []
sys.stdout.write("".join(a + "\0" for a in argv))
EOF
)
[[ $IMAGE_USER == 10001:10001 ]] || fail "image USER is '$IMAGE_USER', not 10001:10001"
((${#ENTRYPOINT[@]} == 1)) || fail "unexpected ENTRYPOINT: ${ENTRYPOINT[*]}"
((${#HEALTHCHECK[@]} > 0)) || fail "the image has no HEALTHCHECK (built without --format docker?)"
ok "USER $IMAGE_USER, ENTRYPOINT ${ENTRYPOINT[0]}"
ok "ENV ${IMAGE_ENV[*]}"
ok "HEALTHCHECK ${HEALTHCHECK[*]}"

CTR=$(buildah from --pull=never --name "llmobs-edge-image-test-$$" "$IMAGE")
CONTAINERS+=("$CTR")
in_image() { buildah run --isolation chroot "$CTR" -- "$@"; }

# ---------------------------------------------------------------------------------------------
step "size and make-up"
ROOT=$(buildah mount "$CTR")
BCTR=$(buildah from --pull=never "$BASE")
CONTAINERS+=("$BCTR")
BROOT=$(buildah mount "$BCTR")
IMAGE_SIZE=$(buildah images --format '{{.Size}}' "$IMAGE" | head -1)
BASE_SIZE=$(buildah images --format '{{.Size}}' "$BASE" | head -1)
buildah push --quiet "$IMAGE" "oci:$WORK/oci:image" >/dev/null
COMPRESSED=$(du -sb "$WORK/oci/blobs" | cut -f1)
rm -rf "$WORK/oci"
python3 - "$ROOT" "$BROOT" "${ENTRYPOINT[0]}" "$IMAGE_SIZE" "$BASE_SIZE" "$COMPRESSED" <<'EOF'
import os, sys

root, base_root, binary, image_size, base_size, compressed = sys.argv[1:]
mib = lambda n: f"{n / 2**20:.1f} MiB"

def tree_bytes(top):
    total = 0
    for d, _, files in os.walk(top):
        for f in files:
            st = os.lstat(os.path.join(d, f))
            total += st.st_size
    return total

def packages(r):
    """{package: bytes of the files it installed in root r}."""
    info = os.path.join(r, "var/lib/dpkg/info")
    out = {}
    for name in os.listdir(info):
        if not name.endswith(".list"):
            continue
        size = 0
        for line in open(os.path.join(info, name), errors="replace"):
            p = os.path.join(r, line.rstrip("\n").lstrip("/"))
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            size += os.lstat(p).st_size
        out[name[:-5].split(":")[0]] = size
    return out

image_pkgs, base_pkgs = packages(root), packages(base_root)
added = {p: s for p, s in image_pkgs.items() if p not in base_pkgs}
binary_size = os.lstat(os.path.join(root, binary.lstrip("/"))).st_size
print(f"image {image_size} (uncompressed layers), {mib(int(compressed))} compressed as pushed (gzip)")
print(f"  base debian:12-slim          {base_size}: {mib(tree_bytes(base_root))} of files, {len(base_pkgs)} packages")
print(f"  runtime packages added       {mib(sum(added.values()))} in {len(added)} packages")
print(f"  {binary:28} {mib(binary_size)}")
print(f"  whole root filesystem        {mib(tree_bytes(root))}")
print("  largest added packages: " + ", ".join(
    f"{p} {mib(s)}" for p, s in sorted(added.items(), key=lambda kv: -kv[1])[:12]))
print("  every added package: " + " ".join(sorted(added)))
EOF
debs=$(find "$ROOT/var/cache/apt/archives" -name '*.deb' | wc -l)
((debs == 0)) || fail "$debs downloaded .deb files left in the image"
buildah umount "$BCTR" "$CTR" >/dev/null

# ---------------------------------------------------------------------------------------------
step "buildah run applies the image's USER and ENV"
uid=$(in_image id -u)
gid=$(in_image id -g)
[[ "$uid:$gid" == "$IMAGE_USER" ]] || fail "buildah run runs as $uid:$gid, the image says $IMAGE_USER"
ok "runs as uid $uid gid $gid"
in_image env >"$WORK/env"
for kv in "${IMAGE_ENV[@]}"; do
  grep -qxF -- "$kv" "$WORK/env" || fail "buildah run lacks the image's ENV $kv"
done
ok "the image's ${#IMAGE_ENV[@]} ENV entries are set"

step "llmobs-edge --check-config with the image's ENV"
in_image "${ENTRYPOINT[0]}" --check-config >"$WORK/config.yaml" || fail "--check-config failed"
python3 - "$WORK/config.yaml" <<'EOF' || fail "the image's ENV does not give the container defaults"
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
assert c["ingest"]["host"] == "0.0.0.0", c["ingest"]
assert c["telemetry"]["host"] == "0.0.0.0", c["telemetry"]
assert c["ingest"]["grpc_address"].startswith("0.0.0.0:"), c["ingest"]
print(f"  ok: ingest 0.0.0.0:{c['ingest']['port']}, gRPC {c['ingest']['grpc_address']}, "
      f"telemetry 0.0.0.0:{c['telemetry']['port']}, ledger {c['ledger']['path']}")
EOF

step "ldd ${ENTRYPOINT[0]}"
in_image ldd "${ENTRYPOINT[0]}" >"$WORK/ldd" || fail "ldd failed"
if grep -q "not found" "$WORK/ldd"; then
  grep "not found" "$WORK/ldd" >&2
  fail "libraries missing from the image"
fi
ok "$(grep -c '=>' "$WORK/ldd") shared libraries, none missing"

# ---------------------------------------------------------------------------------------------
step "the service: /live, HEALTHCHECK, SIGTERM"
port_free() {
  python3 -c 'import socket, sys
s = socket.socket()
s.bind(("0.0.0.0", int(sys.argv[1])))' "$1" 2>/dev/null
}
# Four distinct free ports (the sockets stay open until all four are chosen).
mapfile -t ports < <(python3 -c 'import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("0.0.0.0", 0))
    print(s.getsockname()[1])')
# Nothing listens at this Agent URL: the edge must serve without an Agent.
RUN_ENV=(--env "DD_TRACE_AGENT_URL=http://127.0.0.1:${ports[3]}")
TELEMETRY_PORT=8138
if port_free 8136 && port_free 8137 && port_free 8138; then
  ok "the image's ports 8136-8138"
else
  TELEMETRY_PORT=${ports[2]}
  RUN_ENV+=(--env "DD_LLMOBS_EDGE_PORT=${ports[0]}" --env "DD_LLMOBS_EDGE_GRPC_ADDRESS=0.0.0.0:${ports[1]}"
    --env "DD_LLMOBS_EDGE_TELEMETRY_PORT=$TELEMETRY_PORT")
  ok "8136-8138 are taken on this host: ports ${ports[*]:0:3} instead (the HEALTHCHECK reads DD_LLMOBS_EDGE_TELEMETRY_PORT)"
fi

buildah run --isolation chroot "${RUN_ENV[@]}" "$CTR" -- "${ENTRYPOINT[@]}" >"$WORK/edge.log" 2>&1 &
RUNNER=$!
deadline=$((SECONDS + 60))
until [[ $(curl -s -o "$WORK/live" -w '%{http_code}' "http://127.0.0.1:$TELEMETRY_PORT/live" || true) == 200 ]]; do
  if ! kill -0 "$RUNNER" 2>/dev/null || ((SECONDS > deadline)); then
    cat "$WORK/edge.log" >&2
    fail "the service did not answer /live on port $TELEMETRY_PORT"
  fi
  sleep 0.2
done
ok "GET /live on port $TELEMETRY_PORT: 200 $(head -c 60 "$WORK/live")"

descendants() {
  local p
  for p in $(ps -o pid= --ppid "$1"); do
    echo "$p"
    descendants "$p"
  done
}
for p in $(descendants "$RUNNER"); do
  if [[ $(cat "/proc/$p/comm" 2>/dev/null) == llmobs-edge ]]; then EDGE_PID=$p; fi
done
[[ -n $EDGE_PID ]] || fail "no llmobs-edge process under buildah run ($RUNNER)"
euid=$(ps -o euid= -p "$EDGE_PID" | tr -d ' ')
[[ $euid == 10001 ]] || fail "the service runs as uid $euid"
ok "the service (pid $EDGE_PID) runs as uid $euid"

in_image_env() { buildah run --isolation chroot "${RUN_ENV[@]}" "$CTR" -- "$@"; }
in_image_env "${HEALTHCHECK[@]}" || fail "the HEALTHCHECK command exited $? against the running service"
ok "the HEALTHCHECK command exits 0"

kill -TERM "$EDGE_PID"
deadline=$((SECONDS + 60))
while kill -0 "$RUNNER" 2>/dev/null; do
  ((SECONDS < deadline)) || { cat "$WORK/edge.log" >&2; fail "the service did not stop within 60 s of SIGTERM"; }
  sleep 0.2
done
rc=0
wait "$RUNNER" || rc=$?
RUNNER=""
EDGE_PID=""
((rc == 0)) || { cat "$WORK/edge.log" >&2; fail "the service exited $rc on SIGTERM"; }
ok "SIGTERM: the service stopped with exit status 0"

if in_image_env "${HEALTHCHECK[@]}" 2>/dev/null; then fail "the HEALTHCHECK passes with no service running"; fi
ok "the HEALTHCHECK command fails once the service is gone"

# ---------------------------------------------------------------------------------------------
step "passed"
echo "image $IMAGE: $IMAGE_SIZE (compressed $((COMPRESSED / 1048576)) MiB)${BUILD_SECONDS:+; built in $(elapsed "$BUILD_SECONDS")}; whole run $(elapsed $((SECONDS - T0)))"
