#!/usr/bin/env python3
"""Checks deploy/compose/docker-compose.yaml against the real binary (//deploy:compose_test).

The edge service's environment, laid over the image's ENV from deploy/Dockerfile and interpolated
as Compose would, must pass `llmobs-edge --check-config` with agent.url pointing at the Agent
service; the service must be hardened (read-only, non-root, no capabilities) with its writable
paths on volumes, and its healthcheck must pass against the running binary.
"""
import os
import re
import sys
import unittest

import yaml

sys.dont_write_bytecode = True  # the import below must not leave __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerfile_test as common  # noqa: E402

# What the Agent's APM receiver listens on in the container unless DD_APM_RECEIVER_PORT says.
AGENT_RECEIVER_PORT = 8126
# The environment `docker compose` would see on the operator's machine.
HOST_ENV = {"DD_API_KEY": "0123456789abcdef0123456789abcdef"}


def interpolate(value, env):
    """Compose's variable interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}. A required variable that is missing raises."""
    if not isinstance(value, str):
        return value

    def repl(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        op, arg = m.group("op"), m.group("arg") or ""
        present = name in env
        nonempty = bool(env.get(name))
        if op in (":-", "-"):
            return env[name] if (nonempty if op == ":-" else present) else arg
        if op in (":?", "?"):
            if not (nonempty if op == ":?" else present):
                raise KeyError(f"required variable {name}: {arg}")
            return env[name]
        return env.get(name, "")

    pattern = r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)"
    return re.sub(pattern, repl, value)


def environment(service, env):
    """A service's `environment` (mapping or list form) as an interpolated dict."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, env.get(item, "")) for item in raw)
    return {k: "" if v is None else str(interpolate(v, env)) for k, v in raw.items()}


def truthy(value):
    return str(value).strip().lower() in ("1", "true", "yes")


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        path = common.runfile("deploy/compose/docker-compose.yaml")
        with open(path) as f:
            cls.text = f.read()
        cls.compose = yaml.safe_load(cls.text)
        cls.dockerfile = common.Dockerfile(common.runfile("deploy/Dockerfile"))
        services = cls.compose["services"]
        edges = [n for n, s in services.items()
                 if (s.get("build") or {}).get("dockerfile", "").endswith("deploy/Dockerfile")]
        agents = [n for n, s in services.items()
                  if re.match(r"^(gcr\.io/datadoghq|datadog|public\.ecr\.aws/datadog)/agent:7",
                              s.get("image", ""))]
        assert len(edges) == 1, f"one service must build deploy/Dockerfile, found {edges}"
        assert len(agents) == 1, f"one service must run the Datadog Agent 7 image, found {agents}"
        cls.edge_name, cls.agent_name = edges[0], agents[0]
        cls.edge, cls.agent = services[cls.edge_name], services[cls.agent_name]
        # What the container sees: the image's ENV, then the service's environment over it.
        cls.edge_env = dict(common.env_of(cls.dockerfile.runtime))
        cls.edge_env.update(environment(cls.edge, HOST_ENV))
        proc = common.check_config(cls.edge_env)
        cls.check = proc
        cls.config = yaml.safe_load(proc.stdout) if proc.returncode == 0 else None

    def test_build_context_is_the_repository_root(self):
        build = self.edge["build"]
        context = os.path.normpath(os.path.join("deploy/compose", build.get("context", ".")))
        self.assertEqual(context, ".", "the Dockerfile expects the repository root as context")
        self.assertEqual(build["dockerfile"], "deploy/Dockerfile")

    def test_edge_environment_is_a_valid_config(self):
        self.assertEqual(self.check.returncode, 0,
                         f"llmobs-edge --check-config with {self.edge_env}:\n{self.check.stderr}")

    def test_agent_url_is_the_agent_service(self):
        self.assertIsNotNone(self.config, self.check.stderr)
        agent_env = environment(self.agent, HOST_ENV)
        port = int(agent_env.get("DD_APM_RECEIVER_PORT", AGENT_RECEIVER_PORT))
        self.assertEqual(self.config["agent"]["url"], f"http://{self.agent_name}:{port}")

    def test_agent_accepts_traces_from_other_containers(self):
        raw = self.agent["environment"]
        agent_env = environment(self.agent, HOST_ENV)
        self.assertTrue(truthy(agent_env.get("DD_APM_ENABLED")))
        self.assertTrue(truthy(agent_env.get("DD_APM_NON_LOCAL_TRAFFIC")))
        # The API key comes from the operator's environment, never from the file.
        self.assertRegex(str(raw.get("DD_API_KEY")), r"^\$\{DD_API_KEY(:?[-?][^}]*)?\}$")
        self.assertEqual(agent_env["DD_API_KEY"], HOST_ENV["DD_API_KEY"])

    def test_edge_is_hardened(self):
        self.assertIs(self.edge.get("read_only"), True)
        self.assertEqual(str(self.edge.get("user")), self.dockerfile.user())
        self.assertIn("ALL", self.edge.get("cap_drop", []))
        self.assertTrue(any(re.fullmatch(r"no-new-privileges(:true)?", o)
                            for o in self.edge.get("security_opt", [])))

    def test_writable_paths_are_on_volumes(self):
        # read_only: true leaves only mounts writable: the ledger on a named volume declared at
        # the top level, the socket directory on a volume or tmpfs.
        self.assertIsNotNone(self.config, self.check.stderr)
        mounts = {}
        for v in self.edge.get("volumes", []):
            if isinstance(v, str):
                source, _, rest = v.partition(":")
                mounts[rest.split(":")[0]] = source
            else:
                mounts[v["target"]] = v.get("source", "")
        for t in self.edge.get("tmpfs", []) or []:
            mounts[t.split(":")[0]] = "tmpfs"

        def mount_of(path):
            for target, source in mounts.items():
                if path == target or path.startswith(target.rstrip("/") + "/"):
                    return source
            return None

        ledger = mount_of(self.config["ledger"]["path"])
        self.assertIsNotNone(ledger, f"ledger {self.config['ledger']['path']} is not on a mount")
        self.assertIn(ledger, self.compose.get("volumes") or {}, "the ledger needs a named volume")
        socket_dir = os.path.dirname(self.config["ingest"]["socket"])
        self.assertIsNotNone(mount_of(socket_dir), f"socket directory {socket_dir} is not on a mount")

    def test_published_ports_reach_the_listeners(self):
        self.assertIsNotNone(self.config, self.check.stderr)
        self.assertEqual(self.config["ingest"]["host"], "0.0.0.0")
        self.assertEqual(self.config["telemetry"]["host"], "0.0.0.0")
        published = set()
        for p in self.edge.get("ports", []):
            published.add(int(str(p).split(":")[-1].split("/")[0]))
        self.assertIn(self.config["ingest"]["port"], published)
        self.assertIn(self.config["telemetry"]["port"], published)

    def test_edge_starts_after_the_agent(self):
        depends = self.edge.get("depends_on", [])
        self.assertIn(self.agent_name, depends)

    def test_example_app_points_at_the_edge(self):
        # The commented-out application shows the three settings an LLM app needs.
        port = self.config["ingest"]["port"] if self.config else 8136
        self.assertRegex(self.text, rf"#\s+DD_TRACE_AGENT_URL: http://{self.edge_name}:{port}\b")
        self.assertRegex(self.text, r"#\s+DD_LLMOBS_ENABLED: \"?1\"?")
        self.assertRegex(self.text, r"#\s+DD_LLMOBS_ML_APP: \S+")

    def test_healthcheck_runs_against_the_real_binary(self):
        test = self.edge["healthcheck"]["test"]
        if isinstance(test, str):
            argv = ["/bin/sh", "-c", interpolate(test, {})]
        elif test[0] == "CMD-SHELL":
            argv = ["/bin/sh", "-c", interpolate(test[1], {})]
        else:
            self.assertEqual(test[0], "CMD")
            argv = [interpolate(a, {}) for a in test[1:]]
        edge = common.RunningEdge(self.edge_env)
        env = {"PATH": "/usr/bin:/bin", "DD_LLMOBS_EDGE_TELEMETRY_PORT": str(edge.telemetry_port)}
        try:
            self.assertEqual(common.run_healthcheck(argv, env), 0, edge.output())
        finally:
            rc = edge.stop()
        self.assertEqual(rc, 0, edge.output())
        self.assertNotEqual(common.run_healthcheck(argv, env), 0)


if __name__ == "__main__":
    common.main(sys.modules[__name__])
