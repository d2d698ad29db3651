#!/usr/bin/env python3
"""The llmobs-edge Helm chart's tests (bazel test //tests/chart:chart_test), on the real helm.

`helm lint --strict` and `helm template` run for the defaults (values.yaml alone) and each
ci/*-values.yaml; every rendering must be a ConfigMap and a DaemonSet whose ports, probes,
security settings, volumes, environment and annotations are what the values ask for, and whose
config file the real binary accepts (`llmobs-edge --config FILE --check-config`, with the pod's
environment: the image's ENV, then the container's env). The values files of testdata/ must be
refused, by values.schema.json or by the templates, with the message their header names.

helm is the one scripts/setup.sh installs (/opt/llmobs-edge/bin/helm, v4.1.4); the environment
variable LLMOBS_EDGE_HELM (pass it with --test_env) names another. helm runs offline: no
repository, no cluster (KUBECONFIG names a file that does not exist), its home in the test's
temp dir. Each check is a JUnit case in $XML_OUTPUT_FILE, so scripts/count_tests.py counts them.

  tests/chart/chart_test.py --binary bazel-bin/llmobs-edge   (from the repository root)
"""
import argparse
import json
import math
import os
import posixpath
import re
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET

import yaml

RELEASE = "llmobs-edge"
NAMESPACE = "datadog"
# What the checks substitute for the downward API's status.hostIP and for a Secret's value.
FAKE_HOST_IP = "10.1.2.3"
FAKE_API_KEY = "test-api-key-not-a-real-one"

DEFAULT_HELM = "/opt/llmobs-edge/bin/helm"
HELM_VERSION = "v4.1.4"

SCHEMA_ERROR = "values don't meet the specifications of the schema(s)"
RENDER_ERROR = re.compile(r"(execution|parse) error at \(")


# ------------------------------------------------------------------------------------------------
# Navigating decoded YAML (missing keys and wrong types give None, like the Go checks' dig()).


def dig(v, *keys):
    for k in keys:
        if not isinstance(v, dict):
            return None
        v = v.get(k)
    return v


def map_of(v):
    return v if isinstance(v, dict) else {}


def lst(v):
    return v if isinstance(v, list) else []


def s(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else str(v)


def strs(v):
    return [s(x) for x in lst(v)]


def num(v):
    if isinstance(v, bool):
        return math.nan
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    return math.nan


def numbered(text):
    return "".join(f"{i + 1:4}| {line}\n" for i, line in enumerate(text.split("\n")))


# ------------------------------------------------------------------------------------------------
# The runner: each check is a named case with its own failures, reported as a JUnit test case.


class FatalStop(Exception):
    pass


class T:
    def __init__(self, name):
        self.name = name
        self.prefix = ""  # put before each failure message
        self.failures = []

    def error(self, msg):
        self.failures.append(self.prefix + msg)

    def fatal(self, msg):
        self.error(msg)
        raise FatalStop()


# ------------------------------------------------------------------------------------------------
# The image's environment: the ENV of deploy/Dockerfile's last (runtime) stage. The container
# starts with it, and the pod's env entries override it.


def load_image_env(path):
    with open(path) as f:
        data = f.read()
    logical, cur = [], ""
    for line in data.split("\n"):
        trimmed = line.strip()
        if cur == "" and (trimmed == "" or trimmed.startswith("#")):
            continue
        if trimmed.endswith("\\"):
            cur += trimmed[:-1] + " "
            continue
        logical.append(cur + trimmed)
        cur = ""
    env = {}
    for line in logical:
        fields = line.split()
        if not fields:
            continue
        op = fields[0].upper()
        if op == "FROM":
            env = {}  # only the last stage's ENV reaches the image
        elif op == "ENV":
            for kv in fields[1:]:
                k, sep, v = kv.partition("=")
                if not sep or any(c in v for c in "\"'$"):
                    raise ValueError(f"{path}: unsupported ENV form {kv!r}")
                env[k] = v
    if not env:
        raise ValueError(f"{path}: the last stage sets no ENV")
    return env


# ------------------------------------------------------------------------------------------------
# Expectations: what one values set must produce. Ports and paths are the effective ones.


def expectation(**kw):
    base = dict(
        topology="dedicated",
        tcp_port=0,  # 0: no TCP ingest
        tcp_host_port=False,  # published on the node
        socket="",  # "": no Unix socket
        grpc_port=0,  # 0: no gRPC
        telemetry_port=0,
        agent_url="",  # effective agent.url with status.hostIP = FAKE_HOST_IP
        intake_mode="",
        site="",  # agentless only
        ledger_host_path="",  # "": emptyDir
        init_container=False,
        grace=0,
        uid=0,
        extra=None,  # extra(t, r, eff)
    )
    unknown = set(kw) - set(base)
    if unknown:
        raise KeyError(unknown)
    base.update(kw)
    return argparse.Namespace(**base)


def extra_dedicated_agent_socket(t, r, eff):
    # The Agent's socket is in the edge's own socket directory: one volume, writable.
    if r.volume("agent-socket") is not None:
        t.error("agent-socket volume rendered although the Agent's socket shares the ingest-socket "
                "directory")
    env = r.env()
    if "DD_AGENT_HOST" in env or "DD_TRACE_AGENT_PORT" in env:
        t.error("agent.via = socket must not set DD_AGENT_HOST / DD_TRACE_AGENT_PORT (they would "
                "override agent.url)")


def extra_takeover_socket(t, r, eff):
    v = r.volume("agent-socket")
    if v is None:
        t.fatal("no agent-socket volume for the Agent's socket directory /var/run/datadog-agent")
    p = s(dig(v, "hostPath", "path"))
    if p != "/var/run/datadog-agent":
        t.error(f"agent-socket hostPath = {p!r}, want /var/run/datadog-agent")
    m = r.mount("agent-socket")
    if m is None or dig(m, "readOnly") is not True:
        t.error(f"the Agent's socket directory must be mounted read-only: {m}")


def extra_agentless(t, r, eff):
    ref = dig(r.env().get("DD_API_KEY"), "valueFrom", "secretKeyRef")
    if s(dig(ref, "name")) != "datadog-secret" or s(dig(ref, "key")) != "api-key":
        t.error(f"DD_API_KEY secretKeyRef = {ref}, want datadog-secret/api-key")
    got = s(dig(eff, "intake", "api_key"))
    if got != "<redacted>":
        t.error(f"effective intake.api_key = {got!r}, want the Secret's value (printed <redacted>)")


def extra_emptydir_tcp_grpc(t, r, eff):
    got = s(dig(r.volume("ledger"), "emptyDir", "sizeLimit"))
    if got != "4Gi":
        t.error(f"ledger emptyDir sizeLimit = {got!r}, want 4Gi")
    got = s(dig(eff, "logging", "level"))
    if got != "warn":
        t.error(f"effective logging.level = {got!r}, want warn (from config:)")
    got = s(dig(eff, "ledger", "sync"))
    if got != "interval":
        t.error(f"effective ledger.sync = {got!r}, want interval (from config:)")
    got = num(dig(eff, "ingest", "threads"))
    if got != 4:
        t.error(f"effective ingest.threads = {got}, want 4 (from extraEnv DD_LLMOBS_EDGE_THREADS)")
    if not r.has_host_port(9138):
        t.error("telemetry.hostPort: true but no hostPort 9138")


def extra_scheduling(t, r, eff):
    pod = r.pod
    got = s(dig(pod, "priorityClassName"))
    if got != "datadog-agent":
        t.error(f"priorityClassName = {got!r}, want datadog-agent")
    tol = lst(dig(pod, "tolerations"))
    if len(tol) != 1 or s(dig(tol[0], "operator")) != "Exists":
        t.error(f"tolerations = {tol}, want the one of the values file")
    if s(dig(pod, "nodeSelector", "node-role.example.com/apps")) != "true":
        t.error(f"nodeSelector = {dig(pod, 'nodeSelector')}")
    if dig(pod, "affinity", "nodeAffinity") is None:
        t.error(f"affinity not rendered: {dig(pod, 'affinity')}")
    got = s(dig(r.container, "resources", "limits", "memory"))
    if got != "2Gi":
        t.error(f"resources.limits.memory = {got!r}, want 2Gi")
    got = s(dig(r.container, "image"))
    if got != "registry.example.com/llmobs-edge:1.2.3":
        t.error(f"image = {got!r}")
    team = dig(r.daemonset, "spec", "template", "metadata", "annotations", "example.com/team")
    if s(team) != "llmobs":
        t.error("podAnnotations not rendered")
    got = num(dig(r.container, "livenessProbe", "failureThreshold"))
    if got != 10:
        t.error(f"livenessProbe.failureThreshold = {got}, want 10")
    # The init container chowns the ledger directory for the configured uid/gid.
    cmd = " ".join(strs(dig(r.init_container(), "command")))
    if "chown 20000:20000 /var/lib/llmobs-edge" not in cmd:
        t.error(f"init container command {cmd!r} does not chown the ledger mount to 20000:20000")
    # autodiscovery.metrics: a listed set.
    got = strs(dig(r.ad_instance(t), "metrics"))
    if ",".join(got) != "rescue_.*,intake_.*,ledger_.*":
        t.error(f"AD metrics = {got}, want the listed set")


# The defaults (values.yaml alone, key "") and each ci/*-values.yaml. A ci file without an entry
# here, or an entry without its file, is a failure.
CASES = {
    "": expectation(
        topology="dedicated", tcp_port=8136, tcp_host_port=True,
        socket="/var/run/datadog/llmobs-edge.socket", telemetry_port=8138,
        agent_url=f"http://{FAKE_HOST_IP}:8126", intake_mode="agent",
        ledger_host_path="/var/lib/llmobs-edge", init_container=True, grace=30, uid=10001,
    ),
    "ci/dedicated-agent-socket-values.yaml": expectation(
        topology="dedicated", tcp_port=8136, tcp_host_port=True,
        socket="/var/run/datadog/llmobs-edge.socket", telemetry_port=8138,
        agent_url="unix:///var/run/datadog/apm.socket", intake_mode="agent",
        ledger_host_path="/var/lib/llmobs-edge", init_container=True, grace=30, uid=10001,
        extra=extra_dedicated_agent_socket,
    ),
    "ci/takeover-port-values.yaml": expectation(
        topology="takeover", tcp_port=8126, tcp_host_port=True,
        socket="/var/run/datadog/apm.socket", telemetry_port=8138,
        agent_url=f"http://{FAKE_HOST_IP}:8127", intake_mode="agent",
        ledger_host_path="/var/lib/llmobs-edge", init_container=True, grace=30, uid=10001,
    ),
    "ci/takeover-socket-values.yaml": expectation(
        topology="takeover", tcp_port=8126, tcp_host_port=True,
        socket="/var/run/datadog/apm.socket", telemetry_port=8138,
        agent_url="unix:///var/run/datadog-agent/apm.socket", intake_mode="agent",
        ledger_host_path="/var/lib/llmobs-edge", init_container=True, grace=30, uid=10001,
        extra=extra_takeover_socket,
    ),
    "ci/agentless-values.yaml": expectation(
        topology="dedicated", tcp_port=8136, tcp_host_port=True,
        socket="/var/run/datadog/llmobs-edge.socket", telemetry_port=8138,
        agent_url=f"http://{FAKE_HOST_IP}:8126", intake_mode="agentless", site="datadoghq.eu",
        ledger_host_path="/var/lib/llmobs-edge", init_container=True, grace=30, uid=10001,
        extra=extra_agentless,
    ),
    "ci/emptydir-tcp-grpc-values.yaml": expectation(
        topology="dedicated", tcp_port=9126, tcp_host_port=True, grpc_port=8137,
        telemetry_port=9138,
        agent_url="http://datadog-agent.datadog.svc.cluster.local:8126", intake_mode="agent",
        init_container=False, grace=35, uid=10001,
        extra=extra_emptydir_tcp_grpc,
    ),
    "ci/scheduling-values.yaml": expectation(
        topology="dedicated", tcp_port=8136, tcp_host_port=False,
        socket="/var/run/datadog/llmobs-edge.socket", telemetry_port=8138,
        agent_url=f"http://{FAKE_HOST_IP}:8126", intake_mode="agent",
        ledger_host_path="/srv/llmobs-edge", init_container=True, grace=60, uid=20000,
        extra=extra_scheduling,
    ),
}


# ------------------------------------------------------------------------------------------------
# One rendering: helm template's objects and the NOTES helm install would print.


class Rendered:
    def __init__(self, text, notes):
        self.text = text  # helm template's output
        self.notes = notes
        self.objects = []
        self.daemonset = None
        self.configmap = None
        self.pod = {}  # spec.template.spec
        self.container = None  # the llmobs-edge container
        self.config_file = ""  # the ConfigMap's config file
        self.config_path = ""  # where the pod reads it (--config)

    def volume(self, name):
        for v in lst(dig(self.pod, "volumes")):
            if s(dig(v, "name")) == name:
                return map_of(v)
        return None

    def mount(self, name):
        for m in lst(dig(self.container, "volumeMounts")):
            if s(dig(m, "name")) == name:
                return map_of(m)
        return None

    def init_container(self):
        for c in lst(dig(self.pod, "initContainers")):
            return map_of(c)
        return None

    def env(self):
        return {s(dig(e, "name")): map_of(e) for e in lst(dig(self.container, "env"))}

    def port(self, name):
        for p in lst(dig(self.container, "ports")):
            if s(dig(p, "name")) == name:
                return map_of(p)
        return None

    def has_host_port(self, n):
        return any(num(dig(p, "hostPort")) == n for p in lst(dig(self.container, "ports")))

    def annotations(self):
        return map_of(dig(self.daemonset, "spec", "template", "metadata", "annotations"))

    def ad_instance(self, t):
        """The openmetrics instance of the Autodiscovery annotation."""
        key = f"ad.datadoghq.com/{s(dig(self.container, 'name'))}.checks"
        raw = s(self.annotations().get(key))
        if raw == "":
            t.fatal(f"no {key} annotation on the pod template")
        try:
            checks = json.loads(raw)
        except ValueError as e:
            t.fatal(f"{key} is not JSON: {e}: {raw}")
        insts = lst(dig(checks, "openmetrics", "instances"))
        if len(insts) != 1:
            t.fatal(f"{key}: want one openmetrics instance, got {checks}")
        if not isinstance(dig(checks, "openmetrics", "init_config"), dict):
            t.error(f"{key}: openmetrics.init_config must be an object: {checks}")
        return map_of(insts[0])

    def pod_env(self, t, image_env):
        """The environment the edge process gets: the image's ENV, then the container's env
        entries (the downward API's status.hostIP and Secret values replaced by stand-ins)."""
        env = dict(image_env)
        for e in lst(dig(self.container, "env")):
            name = s(dig(e, "name"))
            if "value" in map_of(e):
                v = e["value"]
                if v is not None and not isinstance(v, str):
                    t.error(f"env {name}: value {v!r} is not a string (Kubernetes refuses it)")
                env[name] = s(v)
                continue
            if s(dig(e, "valueFrom", "fieldRef", "fieldPath")) == "status.hostIP":
                env[name] = FAKE_HOST_IP
            elif dig(e, "valueFrom", "secretKeyRef") is not None:
                env[name] = FAKE_API_KEY
            else:
                t.error(f"env {name}: no value and no valueFrom the test knows: {e}")
        return env


class Suite:
    def __init__(self, args):
        self.chart = args.chart
        self.binary = args.binary
        self.testdata = args.testdata
        self.helm_bin = args.helm
        self.image_env = load_image_env(args.dockerfile)
        self.tmp = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()
        self.results = []  # (name, failures, seconds)
        home = os.path.join(self.tmp, "helm-home")
        os.makedirs(home, exist_ok=True)
        # helm sees only this: no DD_*, no proxy, no cluster, its caches in the temp dir.
        self.helm_env = {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "HELM_CACHE_HOME": os.path.join(home, "cache"),
            "HELM_CONFIG_HOME": os.path.join(home, "config"),
            "HELM_DATA_HOME": os.path.join(home, "data"),
            "KUBECONFIG": os.path.join(home, "no-such-kubeconfig"),
        }
        self.counter = 0

    # --- running ---------------------------------------------------------------------------

    def run(self, name, fn):
        t = T(name)
        start = time.monotonic()
        try:
            fn(t)
        except FatalStop:
            pass
        except Exception:  # a bug in a check is a failure of that check, not of the suite
            t.error("exception:\n" + traceback.format_exc())
        self.results.append((name, t.failures, time.monotonic() - start))
        if t.failures:
            print(f"FAIL {name}")
            for f in t.failures:
                print("    " + f.replace("\n", "\n    "))
        else:
            print(f"PASS {name}")
        sys.stdout.flush()

    def counts(self):
        failed = sum(1 for _, f, _ in self.results if f)
        return len(self.results) - failed, failed

    def write_junit(self, path):
        passed, failed = self.counts()
        root = ET.Element("testsuites")
        suite = ET.SubElement(root, "testsuite", name="chart", tests=str(passed + failed),
                              failures=str(failed))
        for name, failures, seconds in self.results:
            c = ET.SubElement(suite, "testcase", name=name, classname="chart",
                              time=f"{seconds:.3f}")
            if failures:
                f = ET.SubElement(c, "failure", message=failures[0].splitlines()[0])
                f.text = "\n".join(failures)
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)

    def write_temp(self, text, suffix):
        self.counter += 1
        path = os.path.join(self.tmp, f"{self.counter:03d}{suffix}")
        with open(path, "w") as f:
            f.write(text)
        return path

    # --- helm --------------------------------------------------------------------------------

    def helm(self, *args):
        return subprocess.run([self.helm_bin, *args], env=self.helm_env, capture_output=True,
                              text=True)

    def helm_template(self, values_files):
        args = ["template", RELEASE, self.chart, "--namespace", NAMESPACE]
        for f in values_files:
            args += ["-f", f]
        return self.helm(*args)

    def render(self, t, *values_files):
        """helm template (and the NOTES of a client-only dry-run install) of these values."""
        files = [f for f in values_files if f]
        res = self.helm_template(files)
        if res.returncode != 0:
            t.fatal(f"helm template failed (exit {res.returncode}): {res.stderr}")
        args = ["install", RELEASE, self.chart, "--namespace", NAMESPACE, "--dry-run=client"]
        for f in files:
            args += ["-f", f]
        inst = self.helm(*args)
        if inst.returncode != 0:
            t.fatal(f"helm install --dry-run=client failed (exit {inst.returncode}): {inst.stderr}")
        notes = inst.stdout.partition("\nNOTES:\n")[2]
        r = Rendered(res.stdout, notes)
        if notes.strip() == "":
            t.error("NOTES.txt renders empty")
        try:
            docs = list(yaml.safe_load_all(res.stdout))
        except yaml.YAMLError as e:
            t.fatal(f"helm template's output does not parse as YAML: {e}\n{numbered(res.stdout)}")
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                t.fatal(f"a document is not a mapping: {doc}")
            r.objects.append(doc)
        for o in r.objects:
            if s(o.get("kind")) == "DaemonSet":
                r.daemonset = o
            elif s(o.get("kind")) == "ConfigMap":
                r.configmap = o
        if r.daemonset is None or r.configmap is None:
            t.fatal(f"want a DaemonSet and a ConfigMap, got {len(r.objects)} "
                    f"objects:\n{res.stdout}")
        r.pod = map_of(dig(r.daemonset, "spec", "template", "spec"))
        for c in lst(dig(r.pod, "containers")):
            if s(dig(c, "name")) == "llmobs-edge":
                r.container = map_of(c)
        if r.container is None:
            t.fatal("no container named llmobs-edge in the DaemonSet")
        return r

    # --- the real binary ---------------------------------------------------------------------

    def check_config(self, t, config_text, env):
        """llmobs-edge --config FILE --check-config with only `env` (and PATH, and the
        sanitizers' options so --config=sanitize runs behave as configured)."""
        path = self.write_temp(config_text, "-config.yaml")
        full = {"PATH": "/usr/bin:/bin"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                full[k] = os.environ[k]
        full.update(env or {})
        try:
            p = subprocess.run([self.binary, "--config", path, "--check-config"], env=full,
                               capture_output=True, text=True)
        except OSError as e:
            t.fatal(f"running {self.binary}: {e}")
        finally:
            os.remove(path)
        res = argparse.Namespace(code=p.returncode, stdout=p.stdout, stderr=p.stderr,
                                 effective=None)
        if p.returncode == 0:
            try:
                res.effective = yaml.safe_load(p.stdout)
            except yaml.YAMLError as e:
                t.fatal(f"--check-config printed something that is not YAML: {e}\n{p.stdout}")
        return res

    # --- the cases ---------------------------------------------------------------------------

    def run_all(self):
        self.run("helm/version", self.check_helm_version)
        self.run("chart/loads", self.check_chart_loads)
        self.run("binary/rejects-a-bad-config", self.check_binary_rejects)

        ci_dir = os.path.join(self.chart, "ci")
        ci_files = sorted(f for f in os.listdir(ci_dir) if f.endswith("-values.yaml"))
        seen = {""}
        for f in ci_files:
            rel = "ci/" + f
            seen.add(rel)
            if rel not in CASES:
                self.run("render/" + rel, lambda t, rel=rel: t.error(
                    f"{rel} has no expectation in tests/chart/chart_test.py (CASES)"))
        for name in sorted(CASES):
            label = name or "values.yaml"
            if name not in seen:
                def missing(t, n=name):
                    t.error(f"expected values file {n} is missing")
                self.run("lint/" + label, missing)
                self.run("render/" + label, missing)
                continue
            self.run("lint/" + label, lambda t, n=name: self.check_lint(t, n))
            self.run("render/" + label, lambda t, n=name: self.check_case(t, n, CASES[n]))

        self.run("checksum/changes-with-config", self.check_checksum)
        self.run("render/deterministic", self.check_deterministic)

        bad = sorted(f for f in os.listdir(self.testdata) if f.endswith(".yaml"))
        if not bad:
            self.run("negative/present",
                     lambda t: t.error(f"no negative values files in {self.testdata}"))
        for f in bad:
            path = os.path.join(self.testdata, f)
            self.run("negative/" + f, lambda t, path=path: self.check_negative(t, path))

    def check_helm_version(self, t):
        res = self.helm("version", "--template", "{{.Version}}")
        if res.returncode != 0 or res.stdout.strip() != HELM_VERSION:
            t.error(f"{self.helm_bin} version: exit {res.returncode}, {res.stdout.strip()!r} "
                    f"{res.stderr.strip()!r}; want {HELM_VERSION} "
                    "(bash scripts/setup.sh installs it)")

    def check_chart_loads(self, t):
        try:
            with open(os.path.join(self.chart, "Chart.yaml")) as f:
                meta = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            t.fatal(f"Chart.yaml: {e}")
        for k in ("name", "version", "appVersion"):
            if s(dig(meta, k)) == "":
                t.error(f"Chart.yaml has no {k}")
        if s(dig(meta, "apiVersion")) != "v2":
            t.error(f"Chart.yaml apiVersion = {dig(meta, 'apiVersion')}, want v2")
        if not os.path.exists(os.path.join(self.chart, "values.schema.json")):
            t.error("values.schema.json is missing")

    def check_lint(self, t, file):
        args = ["lint", "--strict", self.chart]
        if file:
            args += ["-f", os.path.join(self.chart, file)]
        res = self.helm(*args)
        out = res.stdout + res.stderr
        if res.returncode != 0 or "0 chart(s) failed" not in out:
            t.error(f"helm {' '.join(args)}: exit {res.returncode}\n{out}")
        for line in out.splitlines():
            if line.startswith("[WARNING]") or line.startswith("[ERROR]"):
                t.error(f"helm lint: {line}")

    def check_binary_rejects(self, t):
        res = self.check_config(t, "ingest:\n  prot: 8136\n", None)
        if res.code != 2 or "ingest.prot" not in res.stderr:
            t.error(f"llmobs-edge --check-config on a config with a typo: exit {res.code}, "
                    f"stderr {res.stderr!r}; want exit 2 naming ingest.prot")
        res = self.check_config(t, "", None)
        if res.code != 0 or s(dig(res.effective, "ingest", "host")) != "127.0.0.1":
            t.error(f"llmobs-edge --check-config on an empty file: exit {res.code}, "
                    f"stderr {res.stderr!r}, want 0 and the defaults")

    def check_case(self, t, file, exp):
        r = self.render(t, os.path.join(self.chart, file) if file else None)
        self.check_objects(t, r)
        self.check_security(t, r, exp)
        self.check_configmap_and_args(t, r)

        # The config file must be valid on its own (given only what a file cannot hold: the
        # Secret's values), and so must the effective config of the pod (image ENV + pod env).
        pod_env = r.pod_env(t, self.image_env)
        secrets = {name: pod_env[name] for name, e in r.env().items()
                   if dig(e, "valueFrom", "secretKeyRef") is not None}
        alone = self.check_config(t, r.config_file, secrets)
        if alone.code != 0:
            t.fatal(f"llmobs-edge --check-config rejects the rendered config file "
                    f"(exit {alone.code}): {alone.stderr}\n{numbered(r.config_file)}")
        res = self.check_config(t, r.config_file, pod_env)
        if res.code != 0:
            t.fatal("llmobs-edge --check-config with the pod's environment fails (exit "
                    f"{res.code}): {res.stderr}")
        eff = res.effective
        if FAKE_API_KEY in res.stdout:
            t.error("--check-config printed the API key")
        # Listeners as the pod runs them, and as the file alone says (the chart must not depend
        # on the image's ENV for them).
        self.check_listeners(t, r, exp, eff)
        t.prefix = "config file alone: "
        self.check_listeners(t, r, exp, alone.effective)
        t.prefix = ""
        self.check_agent(t, r, exp, eff)
        self.check_intake(t, r, exp, eff)
        self.check_ledger(t, r, exp, eff)
        self.check_probes_and_grace(t, r, exp, eff)
        self.check_autodiscovery(t, r, eff)
        if exp.extra is not None:
            exp.extra(t, r, eff)

    def check_objects(self, t, r):
        kinds = {}
        dns = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
        for o in r.objects:
            kind = s(o.get("kind"))
            kinds[kind] = kinds.get(kind, 0) + 1
            name = s(dig(o, "metadata", "name"))
            if name != RELEASE:
                t.error(f"{kind} name = {name!r}, want {RELEASE!r} (the release name, which "
                        "contains the chart name)")
            if not dns.match(name) or len(name) > 63:
                t.error(f"{kind} name {name!r} is not a DNS label")
            ns = s(dig(o, "metadata", "namespace"))
            if ns != NAMESPACE:
                t.error(f"{kind} namespace = {ns!r}, want {NAMESPACE!r}")
            want = {"ConfigMap": "v1", "DaemonSet": "apps/v1"}.get(kind)
            if want is None:
                t.error(f"unexpected kind {kind!r}")
            elif s(o.get("apiVersion")) != want:
                t.error(f"{kind} apiVersion = {s(o.get('apiVersion'))!r}, want {want!r}")
            if s(dig(o, "metadata", "labels", "app.kubernetes.io/name")) != "llmobs-edge":
                t.error(f"{kind} lacks the app.kubernetes.io/name label")
        if kinds.get("ConfigMap") != 1 or kinds.get("DaemonSet") != 1 or len(r.objects) != 2:
            t.error(f"want exactly one ConfigMap and one DaemonSet, got {kinds}")
        # The selector must select the pod template, and the admission controller must leave it.
        sel = map_of(dig(r.daemonset, "spec", "selector", "matchLabels"))
        labels = map_of(dig(r.daemonset, "spec", "template", "metadata", "labels"))
        if not sel:
            t.error("DaemonSet has no selector.matchLabels")
        for k, v in sel.items():
            if labels.get(k) != v:
                t.error(f"selector {k}={v} does not match the pod template's labels {labels}")
        admission = labels.get("admission.datadoghq.com/enabled")
        if admission != "false":
            t.error(f'pod template label admission.datadoghq.com/enabled = {admission!r}, '
                    'want "false"')
        # No secret material anywhere: DD_API_KEY only through a secretKeyRef.
        if re.search(r"(?i)api[_-]?key\s*:\s*[\"']?[A-Za-z0-9]{8,}", r.text):
            t.error("the rendered manifests contain something that looks like an API key")
        for name, e in r.env().items():
            if "API_KEY" in name or "APP_KEY" in name:
                if "value" in e:
                    t.error(f"env {name} has an inline value; it must come from a secretKeyRef")
                ref = dig(e, "valueFrom", "secretKeyRef")
                if s(dig(ref, "name")) == "" or s(dig(ref, "key")) == "":
                    t.error(f"env {name}: want valueFrom.secretKeyRef with name and key, got {e}")
        seen = set()
        for e in lst(dig(r.container, "env")):
            n = s(dig(e, "name"))
            if n in seen:
                t.error(f"env {n} is set twice")
            seen.add(n)

    def check_security(self, t, r, exp):
        pod = r.pod
        if dig(pod, "automountServiceAccountToken") is not False:
            t.error("automountServiceAccountToken must be false (the edge never calls the API "
                    "server)")
        if any(dig(pod, k) is True for k in ("hostNetwork", "hostPID", "hostIPC")):
            t.error("the pod must not use the host's network, PID or IPC namespace")
        psc = map_of(dig(pod, "securityContext"))
        if psc.get("runAsNonRoot") is not True or num(psc.get("runAsUser")) != exp.uid:
            t.error(f"pod securityContext = {psc}, want runAsNonRoot and runAsUser {exp.uid}")
        if s(dig(psc, "seccompProfile", "type")) != "RuntimeDefault":
            t.error(f"pod seccompProfile = {dig(psc, 'seccompProfile')}, want RuntimeDefault")
        sc = map_of(dig(r.container, "securityContext"))
        for key, want in (("runAsNonRoot", True), ("readOnlyRootFilesystem", True),
                          ("allowPrivilegeEscalation", False)):
            if sc.get(key) is not want:
                t.error(f"container securityContext.{key} = {sc.get(key)}, want {want}")
        uid = num(sc.get("runAsUser"))
        if uid != exp.uid or uid == 0:
            t.error(f"container runAsUser = {sc.get('runAsUser')}, want {exp.uid}")
        if sc.get("privileged") is True:
            t.error("container is privileged")
        drop = strs(dig(sc, "capabilities", "drop"))
        if drop != ["ALL"]:
            t.error(f"container capabilities.drop = {drop}, want [ALL]")
        add = dig(sc, "capabilities", "add")
        if add is not None:
            t.error(f"container adds capabilities {add}")
        if s(dig(sc, "seccompProfile", "type")) != "RuntimeDefault":
            t.error(f"container seccompProfile = {dig(sc, 'seccompProfile')}, want RuntimeDefault")
        # The init container: only when asked for, root with CHOWN/FOWNER only, hostPath mounts
        # only.
        inits = lst(dig(pod, "initContainers"))
        if exp.init_container != (len(inits) > 0):
            t.error(f"init containers = {len(inits)}, want present={exp.init_container}")
        for ic in inits:
            isc = map_of(dig(ic, "securityContext"))
            if s(dig(ic, "name")) != "volume-permissions":
                t.error(f"unexpected init container {dig(ic, 'name')}")
            if (isc.get("allowPrivilegeEscalation") is not False
                    or isc.get("readOnlyRootFilesystem") is not True):
                t.error(f"init container securityContext = {isc}: want no privilege escalation and "
                        "a read-only root")
            drop = strs(dig(isc, "capabilities", "drop"))
            if drop != ["ALL"]:
                t.error(f"init container capabilities.drop = {drop}, want [ALL]")
            for c in strs(dig(isc, "capabilities", "add")):
                if c not in ("CHOWN", "FOWNER"):
                    t.error(f"init container adds capability {c} (only CHOWN and FOWNER are "
                            "needed)")
            if s(dig(isc, "seccompProfile", "type")) != "RuntimeDefault":
                t.error(f"init container seccompProfile = {dig(isc, 'seccompProfile')}")
            for m in lst(dig(ic, "volumeMounts")):
                if dig(r.volume(s(dig(m, "name"))), "hostPath") is None:
                    t.error(f"init container mounts {dig(m, 'name')}, which is not a hostPath "
                            "volume")
            cmd = " ".join(strs(dig(ic, "command")))
            if exp.ledger_host_path and f"chown {exp.uid}:" not in cmd:
                t.error(f"init container command {cmd!r} does not chown the ledger directory to "
                        f"uid {exp.uid}")
            if exp.socket and "chgrp" not in cmd:
                t.error(f"init container command {cmd!r} does not give the group the socket "
                        "directory")

    def check_configmap_and_args(self, t, r):
        args = strs(dig(r.container, "args"))
        if len(args) != 2 or args[0] != "--config":
            t.fatal(f"container args = {args}, want [--config FILE]")
        r.config_path = args[1]
        m = r.mount("config")
        if m is None or s(m.get("mountPath")) != posixpath.dirname(r.config_path):
            t.error(f"--config {r.config_path} is not in the config volume's mount {m}")
        cm = s(dig(r.volume("config"), "configMap", "name"))
        if cm != s(dig(r.configmap, "metadata", "name")):
            t.error(f"config volume uses ConfigMap {cm!r}, the chart renders "
                    f"{s(dig(r.configmap, 'metadata', 'name'))!r}")
        text = dig(r.configmap, "data", posixpath.basename(r.config_path))
        if not isinstance(text, str) or text.strip() == "":
            t.fatal(f"ConfigMap has no data key {posixpath.basename(r.config_path)!r}")
        r.config_file = text
        try:
            cfg = yaml.safe_load(text)
        except yaml.YAMLError as e:
            t.fatal(f"the config file is not YAML: {e}\n{numbered(text)}")
        if s(dig(cfg, "intake", "api_key")) != "":
            t.error("the ConfigMap holds intake.api_key")
        checksum = s(r.annotations().get("checksum/config"))
        if not re.fullmatch(r"[0-9a-f]{64}", checksum):
            t.error(f"checksum/config annotation = {checksum!r}, want a sha256")

    def check_listeners(self, t, r, exp, eff):
        # TCP ingest: on every interface, at the container port (and host port) the values ask for.
        ingest = r.port("ingest")
        if exp.tcp_port == 0:
            if ingest is not None or num(dig(eff, "ingest", "port")) != 0:
                t.error(f"TCP ingest should be off: port {ingest}, effective ingest.port "
                        f"{dig(eff, 'ingest', 'port')}")
        else:
            if num(dig(ingest, "containerPort")) != exp.tcp_port:
                t.error(f"ingest containerPort = {dig(ingest, 'containerPort')}, want "
                        f"{exp.tcp_port}")
            hp = dig(ingest, "hostPort")
            published = hp is not None
            if exp.tcp_host_port != published or (published and num(hp) != exp.tcp_port):
                t.error(f"ingest hostPort = {hp}, want published={exp.tcp_host_port} on "
                        f"{exp.tcp_port}")
            host, port = dig(eff, "ingest", "host"), dig(eff, "ingest", "port")
            if num(port) != exp.tcp_port or s(host) != "0.0.0.0":
                t.error(f"effective ingest {host}:{port}, want 0.0.0.0:{exp.tcp_port}")
        # Unix socket: in a hostPath directory mounted at the same path as on the node.
        sock = s(dig(eff, "ingest", "socket"))
        if sock != exp.socket:
            t.error(f"effective ingest.socket = {sock!r}, want {exp.socket!r}")
        if exp.socket:
            m, v = r.mount("ingest-socket"), r.volume("ingest-socket")
            d = posixpath.dirname(exp.socket)
            if s(dig(m, "mountPath")) != d or dig(m, "readOnly") is True:
                t.error(f"ingest-socket mount = {m}, want {d} writable")
            if (s(dig(v, "hostPath", "path")) != d
                    or s(dig(v, "hostPath", "type")) != "DirectoryOrCreate"):
                t.error(f"ingest-socket volume = {v}, want hostPath {d} (DirectoryOrCreate)")
        elif r.volume("ingest-socket") is not None:
            t.error("socket off but an ingest-socket volume is rendered")
        # gRPC.
        grpc = s(dig(eff, "ingest", "grpc_address"))
        if exp.grpc_port == 0:
            if grpc != "" or r.port("grpc") is not None:
                t.error(f"gRPC should be off: effective grpc_address {grpc!r} (the image's ENV "
                        f"sets one), port {r.port('grpc')}")
        elif (grpc != f"0.0.0.0:{exp.grpc_port}"
              or num(dig(r.port("grpc"), "containerPort")) != exp.grpc_port):
            t.error(f"gRPC: effective {grpc!r}, port {r.port('grpc')}, want "
                    f"0.0.0.0:{exp.grpc_port}")
        # Telemetry on every interface, for the kubelet's probes and the Agent's check.
        host, port = dig(eff, "telemetry", "host"), dig(eff, "telemetry", "port")
        if s(host) != "0.0.0.0" or num(port) != exp.telemetry_port:
            t.error(f"effective telemetry {host}:{port}, want 0.0.0.0:{exp.telemetry_port}")
        if num(dig(r.port("telemetry"), "containerPort")) != exp.telemetry_port:
            t.error(f"telemetry containerPort = {dig(r.port('telemetry'), 'containerPort')}, want "
                    f"{exp.telemetry_port}")
        # Every published port is its own container port, and no two ports clash.
        seen = set()
        for p in lst(dig(r.container, "ports")):
            cp = num(dig(p, "containerPort"))
            if cp in seen:
                t.error(f"containerPort {cp:g} used twice")
            seen.add(cp)
            hp = dig(p, "hostPort")
            if hp is not None and num(hp) != cp:
                t.error(f"port {dig(p, 'name')}: hostPort {hp} differs from containerPort {cp:g}")
            if s(dig(p, "protocol")) != "TCP":
                t.error(f"port {dig(p, 'name')}: protocol {dig(p, 'protocol')}")

    def check_agent(self, t, r, exp, eff):
        url = s(dig(eff, "agent", "url"))
        if url != exp.agent_url:
            t.error(f"effective agent.url = {url!r}, want {exp.agent_url!r}")
        env = r.env()
        if exp.agent_url.startswith(f"http://{FAKE_HOST_IP}"):
            field = dig(env.get("DD_AGENT_HOST"), "valueFrom", "fieldRef", "fieldPath")
            if s(field) != "status.hostIP":
                t.error("DD_AGENT_HOST must come from the downward API (status.hostIP): "
                        f"{env.get('DD_AGENT_HOST')}")
        if "DD_TRACE_AGENT_URL" in env:
            t.error("DD_TRACE_AGENT_URL is set on the edge; it would override agent.url")
        # The edge must never forward to itself.
        prefix = f"http://{FAKE_HOST_IP}:"
        if url.startswith(prefix):
            try:
                port = int(url[len(prefix):])
            except ValueError:
                port = 0
            if r.has_host_port(port):
                t.error(f"agent.url {url} is the edge's own host port")
        if url.startswith("unix://"):
            sock_path = url[len("unix://"):]
            if sock_path == s(dig(eff, "ingest", "socket")):
                t.error(f"agent.url {url} is the edge's own socket")
            d = posixpath.dirname(sock_path)
            found = False
            for m in lst(dig(r.container, "volumeMounts")):
                if s(dig(m, "mountPath")) == d:
                    v = r.volume(s(dig(m, "name")))
                    if s(dig(v, "hostPath", "path")) != d:
                        t.error(f"the Agent's socket directory {d} is mounted from {v}, want the "
                                "same host path")
                    found = True
            if not found:
                t.error(f"the Agent's socket directory {d} is not mounted")

    def check_intake(self, t, r, exp, eff):
        got = s(dig(eff, "intake", "mode"))
        if got != exp.intake_mode:
            t.error(f"effective intake.mode = {got!r}, want {exp.intake_mode!r}")
        env = r.env()
        if exp.intake_mode == "agentless":
            if "DD_API_KEY" not in env:
                t.error("agentless without DD_API_KEY")
            got = s(dig(eff, "intake", "site"))
            if got != exp.site:
                t.error(f"effective intake.site = {got!r}, want {exp.site!r}")
        elif "DD_API_KEY" in env or s(dig(eff, "intake", "api_key")) != "":
            t.error("intake through the Agent needs no API key, yet one is set")

    def check_ledger(self, t, r, exp, eff):
        lp = s(dig(eff, "ledger", "path"))
        m, v = r.mount("ledger"), r.volume("ledger")
        mp = s(dig(m, "mountPath"))
        if mp == "" or not lp.startswith(mp + "/") or dig(m, "readOnly") is True:
            t.error(f"effective ledger.path {lp!r} is not inside the writable ledger mount {m}")
        if exp.ledger_host_path:
            if (s(dig(v, "hostPath", "path")) != exp.ledger_host_path
                    or s(dig(v, "hostPath", "type")) != "DirectoryOrCreate"):
                t.error(f"ledger volume = {v}, want hostPath {exp.ledger_host_path} "
                        "(DirectoryOrCreate)")
        elif "emptyDir" not in map_of(v):
            t.error(f"ledger volume = {v}, want an emptyDir")

    def check_probes_and_grace(self, t, r, exp, eff):
        for key, path in (("livenessProbe", "/live"), ("readinessProbe", "/ready")):
            g = dig(r.container, key, "httpGet")
            if s(dig(g, "path")) != path:
                t.error(f"{key} path = {dig(g, 'path')}, want {path}")
            port = dig(g, "port")
            if isinstance(port, str):
                port = dig(r.port(port), "containerPort")
            if num(port) != num(dig(eff, "telemetry", "port")):
                t.error(f"{key} port = {port}, want the telemetry port "
                        f"{dig(eff, 'telemetry', 'port')}")
            host = s(dig(g, "host"))
            if host != "":
                t.error(f"{key} has host {host!r} (the kubelet probes the pod IP)")
        grace = num(dig(r.pod, "terminationGracePeriodSeconds"))
        if grace != exp.grace:
            t.error("terminationGracePeriodSeconds = "
                    f"{dig(r.pod, 'terminationGracePeriodSeconds')}, want {exp.grace}")
        # The edge drains in-flight requests and the intake sender within shutdown_grace_ms, then
        # one intake request may take intake.timeout_ms: Kubernetes must not SIGKILL before that.
        drain = (math.ceil(num(dig(eff, "ingest", "shutdown_grace_ms")) / 1000)
                 + math.ceil(num(dig(eff, "intake", "timeout_ms")) / 1000))
        if not grace > drain:
            t.error(f"terminationGracePeriodSeconds {grace:g} <= drain time {drain} s")

    def check_autodiscovery(self, t, r, eff):
        inst = r.ad_instance(t)
        want = f"http://%%host%%:{s(dig(eff, 'telemetry', 'port'))}/metrics"
        got = s(inst.get("openmetrics_endpoint"))
        if got != want:
            t.error(f"AD openmetrics_endpoint = {got!r}, want {want!r}")
        if (s(inst.get("namespace")) != "llmobs_edge"
                or s(inst.get("raw_metric_prefix")) != "llmobs_edge_"):
            t.error("AD instance namespace/raw_metric_prefix = "
                    f"{inst.get('namespace')}/{inst.get('raw_metric_prefix')}")
        if not strs(inst.get("metrics")):
            t.error("AD instance has no metrics")

    def check_checksum(self, t):
        """The checksum/config annotation follows the config file and nothing else."""
        def checksum(r):
            return s(r.annotations().get("checksum/config"))

        def cm(r):
            return s(dig(r.configmap, "data", "config.yaml"))

        base = self.render(t)
        for name, values in (
            ("config.logging.level", "config: {logging: {level: debug}}"),
            ("ingest.tcp.port", "ingest: {tcp: {port: 9000}}"),
            ("intake.mode", "intake: {mode: agentless, apiKeySecret: {name: s}}"),
            ("agent.via", "agent: {via: socket}"),
        ):
            r = self.render(t, self.write_temp(values + "\n", "-values.yaml"))
            if cm(r) == cm(base):
                t.error(f"{name}: the config file did not change")
            if checksum(r) == checksum(base):
                t.error(f"{name} changes the config file but not checksum/config")
        for name, values in (
            ("resources", "resources: {requests: {cpu: 1}}"),
            ("podAnnotations", "podAnnotations: {a: b}"),
        ):
            r = self.render(t, self.write_temp(values + "\n", "-values.yaml"))
            if checksum(r) != checksum(base):
                t.error(f"{name} changes checksum/config although the config file is the same")

    def check_deterministic(self, t):
        a, b = self.render(t), self.render(t)
        if a.text != b.text:
            t.error("two renderings of the same values differ")

    def check_negative(self, t, file):
        """A values file in testdata/ must be refused. Its "# expect-schema-error: TEXT" or
        "# expect-render-error: TEXT" line says by whom and what helm's message contains."""
        with open(file) as f:
            text = f.read()
        kind = want = ""
        for line in text.split("\n"):
            m = re.match(r"^#\s*expect-(schema|render)-error:\s*(.+?)\s*$", line)
            if m:
                kind, want = m.group(1), m.group(2)
        if not kind:
            t.fatal(f"{file} has no '# expect-schema-error:' or '# expect-render-error:' line")
        res = self.helm_template([file])
        if res.returncode == 0:
            t.fatal(f"rendering succeeded; want a {kind} error containing {want!r}")
        err = res.stderr
        is_schema = SCHEMA_ERROR in err
        if kind == "schema" and not is_schema:
            t.error(f"want a schema error, got: {err}")
        elif kind == "render" and (is_schema or not RENDER_ERROR.search(err)):
            t.error(f"want a template error (the schema accepts these values), got: {err}")
        if want not in err:
            t.error(f"error does not contain {want!r}:\n{err}")


def main(argv):
    runfiles = os.path.join(os.environ.get("RUNFILES_DIR") or os.environ.get("TEST_SRCDIR") or
                            os.path.join(os.getcwd(), ".."), "llmobs_edge")
    in_bazel = os.path.isdir(runfiles) and "TEST_SRCDIR" in os.environ
    root = runfiles if in_bazel else os.getcwd()
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chart", default=os.path.join(root, "deploy/helm/llmobs-edge"))
    p.add_argument("--binary", default=os.path.join(root, "llmobs-edge"),
                   help="the llmobs-edge binary")
    p.add_argument("--testdata", default=os.path.join(root, "tests/chart/testdata"))
    p.add_argument("--dockerfile", default=os.path.join(root, "deploy/Dockerfile"))
    p.add_argument("--helm", default=os.environ.get("LLMOBS_EDGE_HELM") or DEFAULT_HELM)
    p.add_argument("--xml", default=os.environ.get("XML_OUTPUT_FILE"), help="JUnit XML report")
    args = p.parse_args(argv)
    if not (os.path.isfile(args.helm) and os.access(args.helm, os.X_OK)):
        print(f"chart_test: no helm at {args.helm}; bash scripts/setup.sh installs helm "
              f"{HELM_VERSION} as {DEFAULT_HELM} (--test_env=LLMOBS_EDGE_HELM=/path/to/helm runs "
              "another)", file=sys.stderr)
        return 1
    suite = Suite(args)
    suite.run_all()
    if args.xml:
        suite.write_junit(args.xml)
    passed, failed = suite.counts()
    print(f"chart: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
