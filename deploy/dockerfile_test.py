#!/usr/bin/env python3
"""Checks deploy/Dockerfile's runtime stage against the binary Bazel builds (//deploy:dockerfile_test).

It lists the shared libraries of //:llmobs-edge with `ldd`, maps each to its Debian package with
`dpkg-query -S`, and requires the runtime stage's `apt-get install` to name every one; it also
checks the stage's hardening (non-root USER, HEALTHCHECK, VOLUME, no -dev packages) and runs the
real binary with the image's ENV and HEALTHCHECK. compose_test.py reuses the helpers here.
"""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import yaml

# Packages every Debian 12 image holds whatever else is installed: libc6 (the C library and the
# dynamic loader) and libgcc-s1 are required by Essential packages (coreutils, dpkg, bash...), so
# the Dockerfile need not list them. Every other package a linked library comes from must be listed.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1"}

# Sanitizer runtimes a --config=asan / ubsan / sanitize (both) build links (gcc's shared
# libasan/libubsan). The image is built with -c opt and never contains them, so under those configs,
# and only those, the test ignores exactly these sonames. BUILD.bazel passes --sanitizer=... with a
# select().
SANITIZER_RUNTIMES = {
    "asan": re.compile(r"^libasan\.so\.\d+$"),
    "ubsan": re.compile(r"^libubsan\.so\.\d+$"),
    "sanitize": re.compile(r"^lib(asan|ubsan)\.so\.\d+$"),
}

# Packages that must never be in the runtime image.
FORBIDDEN_PACKAGES = re.compile(
    r"(-dev$|^(gcc|g\+\+|cpp|clang|build-essential|make|pkg-config|bazel.*|protobuf-compiler.*)$)"
    r"|^(gcc|g\+\+|clang)-\d+$"
)

SANITIZER = None  # set from --sanitizer=NAME in main()


# --------------------------------------------------------------------------------------------
# Runfiles


def runfile(path):
    """Absolute path of a workspace-relative runfile, e.g. 'deploy/Dockerfile'."""
    workspace = os.environ.get("TEST_WORKSPACE", "llmobs_edge")
    for root in (os.environ.get("RUNFILES_DIR"), os.environ.get("TEST_SRCDIR")):
        if root:
            p = os.path.join(root, workspace, path)
            if os.path.exists(p):
                return p
    raise FileNotFoundError(f"runfile {path} not found (is it in the test's data?)")


def edge_binary():
    return runfile("llmobs-edge")


# --------------------------------------------------------------------------------------------
# Dockerfile parsing


class Instruction:
    def __init__(self, keyword, args, line):
        self.keyword = keyword
        self.args = args
        self.line = line

    def __repr__(self):
        return f"{self.keyword} {self.args} (line {self.line})"


class Stage:
    def __init__(self, base, name, line):
        self.base = base
        self.name = name
        self.line = line
        self.instructions = []

    def all(self, keyword):
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword):
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(text):
    """Returns (global ARG defaults, stages). Continuation lines are joined and comment lines
    (also those inside a continued instruction, as Docker does) dropped."""
    logical = []
    current, start = None, 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and current is None):
            continue
        if current is None:
            current, start = "", number
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        logical.append((start, current.strip()))
        current = None
    if current is not None:
        logical.append((start, current.strip()))

    global_args, stages = {}, []
    for number, text_line in logical:
        if not text_line:
            continue
        keyword, _, args = text_line.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(words[0], name, number))
        elif not stages:
            if keyword == "ARG":
                key, _, value = args.partition("=")
                global_args[key.strip()] = value.strip().strip('"')
        else:
            stages[-1].instructions.append(Instruction(keyword, args, number))
    return global_args, stages


def substitute(text, variables):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def exec_form(args):
    """The JSON array of an exec-form instruction (ENTRYPOINT, CMD, HEALTHCHECK CMD, VOLUME)."""
    return json.loads(args)


def env_of(stage):
    """ENV of a stage as a dict (both `ENV k=v k2=v2` and legacy `ENV k v`)."""
    env = {}
    for inst in stage.all("ENV"):
        words = shlex.split(inst.args)
        if words and "=" not in words[0]:
            env[words[0]] = inst.args.split(None, 1)[1] if len(words) > 1 else ""
            continue
        for w in words:
            key, _, value = w.partition("=")
            env[key] = value
    return env


def apt_installs(run_args):
    """Packages of every `apt-get install` / `apt install` in a RUN's shell text, in order."""
    lexer = shlex.shlex(run_args, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    packages = []
    i = 0
    while i < len(tokens):
        if tokens[i] in ("apt-get", "apt") and "install" in tokens[i + 1 : i + 6]:
            j = tokens.index("install", i + 1) + 1
            while j < len(tokens) and not re.fullmatch(r"[;&|()]+", tokens[j]):
                t = tokens[j]
                if not t.startswith("-") and not re.match(r"^\w+=", t):
                    packages.append(re.split(r"[=:]", t)[0])
                j += 1
            i = j
        else:
            i += 1
    return packages


class Dockerfile:
    """The parsed deploy/Dockerfile and its final (runtime) stage."""

    def __init__(self, path):
        with open(path) as f:
            self.text = f.read()
        self.global_args, self.stages = parse_dockerfile(self.text)
        self.runtime = self.stages[-1]

    def runtime_packages(self):
        packages = []
        for inst in self.runtime.all("RUN"):
            packages.extend(apt_installs(inst.args))
        return packages

    def user(self):
        inst = self.runtime.last("USER")
        return inst.args.strip() if inst else None

    def healthcheck(self):
        """argv of the runtime stage's HEALTHCHECK CMD, or None."""
        inst = self.runtime.last("HEALTHCHECK")
        if inst is None:
            return None
        m = re.search(r"\bCMD\s+(.*)$", inst.args, re.S)
        if m is None:
            return None
        cmd = m.group(1).strip()
        return exec_form(cmd) if cmd.startswith("[") else ["/bin/sh", "-c", cmd]

    def volumes(self):
        out = []
        for inst in self.runtime.all("VOLUME"):
            out.extend(exec_form(inst.args) if inst.args.startswith("[") else inst.args.split())
        return out

    def exposed_ports(self):
        ports = set()
        for inst in self.runtime.all("EXPOSE"):
            for w in inst.args.split():
                ports.add(int(w.split("/")[0]))
        return ports

    def entrypoint(self):
        inst = self.runtime.last("ENTRYPOINT")
        return exec_form(inst.args) if inst else None

    def copied_binary(self):
        """Destination of the `COPY --from=<build stage>` of the binary."""
        for inst in self.runtime.all("COPY"):
            if "--from=" in inst.args:
                return inst.args.split()[-1]
        return None


# --------------------------------------------------------------------------------------------
# Shared libraries and their Debian packages


def linked_libraries(binary):
    """[(soname, path)] of `ldd binary`, the dynamic loader included, vDSO excluded."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        line = line.strip()
        if "=>" in line:
            soname, _, rest = line.partition("=>")
            rest = rest.strip()
            if rest.startswith("not found"):
                raise AssertionError(f"ldd: {soname.strip()} not found")
            path = rest.split()[0] if rest and rest.startswith("/") else None
            if path:
                libs.append((soname.strip(), path))
        elif line.startswith("/"):
            path = line.split()[0]
            libs.append((os.path.basename(path), path))
    return libs


def usr_alias(path):
    """The other spelling of a path under merged /usr: /lib/x <-> /usr/lib/x (lib64 likewise)."""
    for short in ("/lib/", "/lib64/", "/lib32/", "/bin/", "/sbin/"):
        if path.startswith("/usr" + short):
            return path[len("/usr") :]
        if path.startswith(short):
            return "/usr" + path
    return None


def candidates(path):
    """Paths dpkg may have recorded for a library: as ldd printed it, resolved, each with its
    merged-/usr alias (Debian 12 packages record some libraries under /lib, others /usr/lib)."""
    out = []
    for p in (path, os.path.realpath(path)):
        for q in (p, usr_alias(p)):
            if q and q not in out:
                out.append(q)
    return out


def owning_packages(paths):
    """{path: [package, ...]} for the paths dpkg knows; one dpkg-query call for all of them."""
    proc = subprocess.run(["dpkg-query", "-S", *paths], capture_output=True, text=True)
    owners = {}
    for line in proc.stdout.splitlines():
        if line.startswith("diversion by"):
            continue
        pkgs, sep, path = line.partition(": ")
        if not sep:
            continue
        owners[path.strip()] = [p.strip().split(":")[0] for p in pkgs.split(",")]
    return owners


def library_packages(binary, sanitizer=None):
    """({soname: package}, [ignored sonames]) for every library the binary loads."""
    libs = linked_libraries(binary)
    ignore = SANITIZER_RUNTIMES.get(sanitizer) if sanitizer else None
    ignored = [s for s, _ in libs if ignore is not None and ignore.match(s)]
    libs = [(s, p) for s, p in libs if s not in ignored]
    all_candidates = sorted({c for _, p in libs for c in candidates(p)})
    owners = owning_packages(all_candidates)
    result, unowned = {}, []
    for soname, path in libs:
        for c in candidates(path):
            if c in owners:
                result[soname] = owners[c][0]
                break
        else:
            unowned.append(f"{soname} ({path})")
    if unowned:
        raise AssertionError("no Debian package owns: " + ", ".join(unowned))
    return result, ignored


# --------------------------------------------------------------------------------------------
# Running the real binary


def check_config(env):
    """Runs `llmobs-edge --check-config` with exactly `env` (plus PATH); returns the process."""
    full = {"PATH": "/usr/bin:/bin"}
    for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if key in os.environ:
            full[key] = os.environ[key]
    full.update(env)
    return subprocess.run([edge_binary(), "--check-config"], env=full, capture_output=True,
                          text=True, timeout=60)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(port, path):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            first = s.makefile("rb").readline().decode(errors="replace")
        return int(first.split()[1])
    except (OSError, IndexError, ValueError):
        return None


class RunningEdge:
    """The binary started with `env` on loopback, free ports, no Unix socket and a ledger in a
    temporary directory (so nothing of the host is touched); stopped with SIGTERM like
    `docker stop`."""

    def __init__(self, env):
        self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        self.telemetry_port = free_port()
        self.env = {"PATH": "/usr/bin:/bin"}
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                self.env[key] = os.environ[key]
        self.env.update(env)
        self.env.update({
            "DD_LLMOBS_EDGE_HOST": "127.0.0.1",
            "DD_LLMOBS_EDGE_PORT": str(free_port()),
            "DD_LLMOBS_EDGE_GRPC_ADDRESS": f"127.0.0.1:{free_port()}",
            "DD_LLMOBS_EDGE_TELEMETRY_HOST": "127.0.0.1",
            "DD_LLMOBS_EDGE_TELEMETRY_PORT": str(self.telemetry_port),
            # Off: a path under Bazel's TEST_TMPDIR is longer than a socket path may be.
            "DD_LLMOBS_EDGE_SOCKET": "",
            "DD_LLMOBS_EDGE_LEDGER_PATH": os.path.join(self.dir, "ledger"),
            "DD_TRACE_AGENT_URL": f"http://127.0.0.1:{free_port()}",
        })
        self.log = open(os.path.join(self.dir, "edge.log"), "w+")
        self.proc = subprocess.Popen([edge_binary()], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while http_status(self.telemetry_port, "/live") != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"edge did not serve /live:\n{self.output()}")
            time.sleep(0.1)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"edge did not stop on SIGTERM:\n{self.output()}")


def run_healthcheck(argv, env):
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30).returncode


# --------------------------------------------------------------------------------------------
# Test runner writing per-case JUnit XML, so scripts/count_tests.py counts cases, not targets


class _Result(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cases = []
        self._start = 0.0

    def startTest(self, test):
        self._start = time.monotonic()
        super().startTest(test)

    def _record(self, test, kind, detail=""):
        self.cases.append((test, kind, detail, time.monotonic() - self._start))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)


def write_junit(result, path):
    suites = {}
    module = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    for test, kind, detail, seconds in result.cases:
        suite, _, name = test.id().rpartition(".")
        suite = re.sub(r"^__main__\.", f"deploy.{module}.", suite)
        suites.setdefault(suite, []).append((name, kind, detail, seconds))
    root = ET.Element("testsuites")
    for suite, cases in suites.items():
        s = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)),
                          failures=str(sum(k == "failure" for _, k, _, _ in cases)),
                          errors=str(sum(k == "error" for _, k, _, _ in cases)))
        for name, kind, detail, seconds in cases:
            c = ET.SubElement(s, "testcase", name=name, classname=suite, time=f"{seconds:.3f}",
                              status="notrun" if kind == "skipped" else "run",
                              result="skipped" if kind == "skipped" else "completed")
            if kind in ("failure", "error"):
                ET.SubElement(c, kind, message=detail.strip().splitlines()[-1]).text = detail
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main(module):
    """Runs the unittest cases of `module`; writes $XML_OUTPUT_FILE when Bazel sets it."""
    global SANITIZER
    for arg in list(sys.argv[1:]):
        if arg.startswith("--sanitizer="):
            SANITIZER = arg.partition("=")[2] or None
            sys.argv.remove(arg)
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(verbosity=2, resultclass=_Result).run(suite)
    if os.environ.get("XML_OUTPUT_FILE"):
        write_junit(result, os.environ["XML_OUTPUT_FILE"])
    sys.exit(0 if result.wasSuccessful() else 1)


# --------------------------------------------------------------------------------------------
# The tests


class RuntimePackagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dockerfile = Dockerfile(runfile("deploy/Dockerfile"))

    def test_every_linked_library_has_its_package_installed(self):
        needed, ignored = library_packages(edge_binary(), SANITIZER)
        if ignored:
            print(f"ignored sanitizer runtimes (--config={SANITIZER}): {', '.join(ignored)}")
        installed = set(self.dockerfile.runtime_packages())
        missing = {}
        for soname, package in sorted(needed.items()):
            if package not in installed and package not in BASE_IMAGE_PACKAGES:
                missing.setdefault(package, []).append(soname)
        self.assertEqual(
            missing, {},
            "the runtime stage of deploy/Dockerfile does not install these packages "
            "(package: libraries of `ldd llmobs-edge`): "
            + "; ".join(f"{p}: {', '.join(s)}" for p, s in sorted(missing.items())))

    def test_no_build_only_packages(self):
        bad = [p for p in self.dockerfile.runtime_packages() if FORBIDDEN_PACKAGES.search(p)]
        self.assertEqual(bad, [], "runtime stage installs -dev packages or build tools")

    def test_apt_without_recommends_and_lists_cleaned(self):
        runs = [i for i in self.dockerfile.runtime.all("RUN") if apt_installs(i.args)]
        self.assertTrue(runs, "runtime stage has no apt-get install")
        for inst in runs:
            self.assertIn("--no-install-recommends", inst.args, inst)
            self.assertRegex(inst.args, r"rm -rf /var/lib/apt/lists/\*", inst)

    def test_base_images_are_debian_12(self):
        for stage in self.dockerfile.stages:
            base = substitute(stage.base, self.dockerfile.global_args)
            self.assertRegex(base, r"^(docker\.io/(library/)?)?debian:(12|bookworm)[\w.-]*(@sha256:[0-9a-f]+)?$",
                             f"stage at line {stage.line}")

    def test_only_the_binary_comes_from_the_build_stage(self):
        # The build stage's -c opt binary is copied; no toolchain file or library comes along.
        copies = [i for i in self.dockerfile.runtime.all("COPY") if "--from=" in i.args]
        self.assertEqual(len(copies), 1, copies)
        self.assertIn("/llmobs-edge", copies[0].args)


class HardeningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dockerfile = Dockerfile(runfile("deploy/Dockerfile"))

    def test_user_is_fixed_and_not_root(self):
        user = self.dockerfile.user()
        self.assertIsNotNone(user, "runtime stage sets no USER")
        uid, _, gid = user.partition(":")
        self.assertRegex(uid, r"^\d+$", "USER should be a numeric uid (runAsNonRoot can check it)")
        self.assertNotEqual(int(uid), 0)
        if gid:
            self.assertNotEqual(int(gid), 0)

    def test_ledger_volume_owned_by_the_user(self):
        self.assertIn("/var/lib/llmobs-edge", self.dockerfile.volumes())
        uid = self.dockerfile.user().partition(":")[0]
        owners = [i for i in self.dockerfile.runtime.all("RUN")
                  if "/var/lib/llmobs-edge" in i.args and re.search(rf"(-o|chown)\s+{uid}\b", i.args)]
        self.assertTrue(owners, f"no RUN gives /var/lib/llmobs-edge to uid {uid}")

    def test_healthcheck_and_entrypoint(self):
        self.assertIsNotNone(self.dockerfile.healthcheck(), "runtime stage has no HEALTHCHECK CMD")
        self.assertIn("/live", " ".join(self.dockerfile.healthcheck()))
        entry = self.dockerfile.entrypoint()
        self.assertIsNotNone(entry)
        self.assertEqual(entry[0], self.dockerfile.copied_binary())

    def test_image_env_is_a_valid_container_config(self):
        # The image's ENV alone must load, listen on every interface, and keep every path the
        # edge writes (ledger, socket directory) on a VOLUME: the root filesystem is read-only.
        proc = check_config(env_of(self.dockerfile.runtime))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        config = yaml.safe_load(proc.stdout)
        self.assertEqual(config["ingest"]["host"], "0.0.0.0")
        self.assertEqual(config["telemetry"]["host"], "0.0.0.0")
        self.assertTrue(config["ingest"]["grpc_address"].startswith("0.0.0.0:"))
        grpc_port = int(config["ingest"]["grpc_address"].rpartition(":")[2])
        self.assertTrue({config["ingest"]["port"], grpc_port, config["telemetry"]["port"]}
                        <= self.dockerfile.exposed_ports())
        volumes = self.dockerfile.volumes()
        for path in (config["ledger"]["path"], os.path.dirname(config["ingest"]["socket"])):
            self.assertTrue(any(path == v or path.startswith(v.rstrip("/") + "/") for v in volumes),
                            f"{path} is not on a VOLUME ({volumes})")

    def test_healthcheck_runs_against_the_real_binary(self):
        argv = self.dockerfile.healthcheck()
        edge = RunningEdge(env_of(self.dockerfile.runtime))
        try:
            env = {"PATH": "/usr/bin:/bin",
                   "DD_LLMOBS_EDGE_TELEMETRY_PORT": str(edge.telemetry_port)}
            self.assertEqual(run_healthcheck(argv, env), 0, edge.output())
        finally:
            rc = edge.stop()
        self.assertEqual(rc, 0, edge.output())
        # With nothing listening the same check fails.
        self.assertNotEqual(run_healthcheck(argv, env), 0)


class PortableBuildTest(unittest.TestCase):
    """The Dockerfile builds with Docker (BuildKit or the classic builder) and with buildah/podman
    4.x (Debian 12, RHEL 9): scripts/image-test.sh builds it with buildah for real."""

    # Instruction flags buildah 1.28 (Debian 12) accepts; it stops at any other, e.g. BuildKit's
    # `RUN --network=none` ("RUN only supports the --mount flag") or `COPY --link`.
    PORTABLE_FLAGS = {"RUN": {"--mount"}, "COPY": {"--from", "--chown", "--chmod"},
                      "ADD": {"--chown", "--chmod"}}

    @classmethod
    def setUpClass(cls):
        cls.dockerfile = Dockerfile(runfile("deploy/Dockerfile"))

    def instructions(self):
        for stage in self.dockerfile.stages:
            yield from stage.instructions

    def test_only_flags_every_builder_knows(self):
        for inst in self.instructions():
            allowed = self.PORTABLE_FLAGS.get(inst.keyword)
            if allowed is None:
                continue
            for word in inst.args.split():
                if not word.startswith("--"):
                    break
                self.assertIn(word.partition("=")[0], allowed,
                              f"{inst}: not understood by buildah/podman 4.x")

    def test_no_buildkit_only_syntax(self):
        # A `# syntax=` directive makes BuildKit fetch its frontend image from a registry, and
        # heredocs (`RUN <<EOF`) are BuildKit-only.
        first = self.dockerfile.text.lstrip().splitlines()[0]
        self.assertNotRegex(first, r"^#\s*syntax\s*=", "parser directive needs a registry")
        for inst in self.instructions():
            if inst.keyword in ("RUN", "COPY", "ADD"):
                self.assertNotRegex(inst.args, r"(^|\s)<<-?['\"]?\w", f"{inst}: heredoc")

    def test_bazel_build_never_downloads(self):
        # Without `RUN --network=none`, the build step itself keeps Bazel offline: the flag on its
        # own command line (an edit of .bazelrc cannot drop it) and proxy variables pointing at a
        # closed local port for anything else a repository rule might run (git, curl).
        runs = [i for s in self.dockerfile.stages for i in s.all("RUN")
                if re.search(r"(^|[\s;&|])bazel\s", i.args)]
        self.assertTrue(runs, "no RUN builds with bazel")
        for inst in runs:
            words = shlex.split(inst.args)
            command = words[words.index("bazel"):]
            command = command[:next((i for i, w in enumerate(command) if w in ("&&", "||", ";")),
                                    len(command))]
            self.assertIn("--experimental_repository_disable_download", command, inst)
            proxies = {k: v for k, _, v in (w.partition("=") for w in words[:words.index("bazel")])}
            for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
                self.assertRegex(proxies.get(var, ""), r"^http://127\.0\.0\.1:\d+$",
                                 f"{inst}: {var} should point at a closed local port")


if __name__ == "__main__":
    main(sys.modules[__name__])
