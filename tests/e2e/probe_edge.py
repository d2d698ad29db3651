#!/usr/bin/env python3
"""Direct probes of a running llmobs-edge in front of tests/e2e/fake_agent.py, complementing the
real-tracer run (which cannot see the tracer's side of the edge): Python 3 standard library only.

    probe_edge.py --edge http://127.0.0.1:PORT | unix:///path/edge.socket
                  --agent-port AGENT_PORT --record requests.jsonl --golden DIR

1. GET /info through the edge: 200 JSON; the Agent's document with `/v0.7/traces` and
   `/v1.0/traces` removed from `endpoints` (docs: DESIGN.md "/info") and everything else as the
   Agent wrote it; `/evp_proxy/v2/` and `/v0.4/traces` kept; `Datadog-Agent-Version` relayed.
2. PUT /v0.4/traces with a captured dd-trace 6.21.0 payload (no `_llmobs`) and its headers: the
   Agent's answer relayed (status, Content-Type, rate_by_service body, Agent headers); the fake
   Agent received the payload byte for byte and every tracer header with its value.
3. POST /evp_proxy/v2/api/v2/llmobs with a `Transfer-Encoding: chunked` body: 202 relayed, body
   received intact.

Prints one line per failed check and exits 1 if any failed.
"""

import argparse
import hashlib
import http.client
import json
import os
import socket
import sys
import time
import urllib.parse
import uuid

REMOVED_ENDPOINTS = {"/v0.7/traces", "/v1.0/traces"}
KEPT_ENDPOINTS = {"/v0.4/traces", "/evp_proxy/v2/"}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade", "content-length", "host"}


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def connect(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "unix":
        return UnixConnection(u.path)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)


def request(url, method, path, headers, body=None, chunked=False):
    conn = connect(url)
    try:
        conn.request(method, path, body=body, headers=headers, encode_chunked=chunked)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def find_record(record_path, probe_id, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        with open(record_path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                if any(k.lower() == "x-e2e-probe" and v == probe_id for k, v in rec["headers"]):
                    return rec
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def hget(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edge", required=True, help="http://127.0.0.1:PORT or unix:///path")
    ap.add_argument("--agent-port", type=int, required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--golden", required=True,
                    help="tests/golden/real-tracer/web (request-004: PUT /v0.4/traces)")
    ap.add_argument("--label", default="probe")
    args = ap.parse_args()
    failures = []
    passed = 0

    def ok(cond, what):
        nonlocal passed
        if cond:
            passed += 1
        else:
            failures.append(what)
        return cond

    agent = "http://127.0.0.1:%d" % args.agent_port

    # 1. /info
    _, agent_headers, agent_body = request(agent, "GET", "/info", {})
    agent_info = json.loads(agent_body)
    try:
        status, headers, body = request(args.edge, "GET", "/info", {})
    except OSError as e:
        status, headers, body = None, [], b""
        ok(False, "GET /info: %s" % e)
    if status is not None and ok(status == 200, "GET /info: status %r" % status):
        try:
            info = json.loads(body)
        except ValueError as e:
            info = None
            ok(False, "GET /info: body is not JSON: %s" % e)
        if info is not None:
            endpoints = set(info.get("endpoints") or [])
            for ep in sorted(KEPT_ENDPOINTS):
                ok(ep in endpoints, "GET /info: endpoint %s missing" % ep)
            for ep in sorted(REMOVED_ENDPOINTS):
                ok(ep not in endpoints, "GET /info: endpoint %s still advertised" % ep)
            expected = [e for e in agent_info["endpoints"] if e not in REMOVED_ENDPOINTS]
            ok(info.get("endpoints") == expected,
               "GET /info: endpoints differ from the Agent's beyond the removed ones: %r" %
               sorted(set(expected) ^ endpoints))
            others = {k: v for k, v in info.items() if k != "endpoints"}
            agent_others = {k: v for k, v in agent_info.items() if k != "endpoints"}
            ok(others == agent_others, "GET /info: fields other than endpoints changed: %r" %
               sorted(k for k in set(others) | set(agent_others)
                      if others.get(k) != agent_others.get(k)))
        ok(hget(headers, "Datadog-Agent-Version") == hget(agent_headers, "Datadog-Agent-Version"),
           "GET /info: Datadog-Agent-Version %r" % hget(headers, "Datadog-Agent-Version"))
        ok(hget(headers, "Datadog-Agent-State") is not None, "GET /info: no Datadog-Agent-State")

    # 2. a captured trace payload, byte for byte
    with open(os.path.join(args.golden, "request-004.meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    with open(os.path.join(args.golden, "request-004.body"), "rb") as f:
        payload = f.read()
    probe_id = uuid.uuid4().hex
    sent = [(k, v) for k, v in meta["raw_headers"] if k.lower() not in HOP_BY_HOP]
    sent.append(("X-E2E-Probe", probe_id))
    _, _, agent_rates = request(agent, "PUT", "/v0.4/traces", {"Content-Type": "application/json"},
                                b"[]")
    try:
        status, headers, body = request(args.edge, meta["method"], meta["path"], dict(sent),
                                        payload)
    except OSError as e:
        status, headers, body = None, [], b""
        ok(False, "PUT /v0.4/traces: %s" % e)
    if status is not None:
        ok(status == 200, "PUT /v0.4/traces: status %r" % status)
        ok(body == agent_rates, "PUT /v0.4/traces: answer %r, the Agent's is %r" % (body, agent_rates))
        ok(hget(headers, "Content-Type") == "application/json",
           "PUT /v0.4/traces: Content-Type %r" % hget(headers, "Content-Type"))
        ok(hget(headers, "Datadog-Agent-Version") is not None,
           "PUT /v0.4/traces: Datadog-Agent-Version not relayed")
        ok(hget(headers, "Datadog-Agent-State") is not None,
           "PUT /v0.4/traces: Datadog-Agent-State not relayed")
        rec = find_record(args.record, probe_id)
        if ok(rec is not None, "PUT /v0.4/traces: the fake agent did not receive the probe"):
            ok(rec["body_sha256"] == hashlib.sha256(payload).hexdigest() and
               rec["body_length"] == len(payload),
               "PUT /v0.4/traces: payload changed on the way (%d bytes sent, %d received)" %
               (len(payload), rec["body_length"]))
            for k, v in sent:
                ok(hget(rec["headers"], k) == v, "PUT /v0.4/traces: header %s %r arrived as %r" %
                   (k, v, hget(rec["headers"], k)))

    # 3. a chunked request body through the reverse proxy
    probe_id = uuid.uuid4().hex
    chunks = [b'[{"_dd.stage":"raw",', b'"event_type":"span",', b'"spans":[]}]']
    try:
        status, headers, body = request(
            args.edge, "POST", "/evp_proxy/v2/api/v2/llmobs",
            {"Content-Type": "application/json", "X-Datadog-EVP-Subdomain": "llmobs-intake",
             "X-E2E-Probe": probe_id}, iter(chunks), chunked=True)
    except OSError as e:
        status = None
        ok(False, "chunked POST /evp_proxy/v2/api/v2/llmobs: %s" % e)
    if status is not None:
        ok(status == 202, "chunked POST /evp_proxy/v2/api/v2/llmobs: status %r" % status)
        rec = find_record(args.record, probe_id)
        if ok(rec is not None, "chunked POST: the fake agent did not receive the probe"):
            ok(rec["body_sha256"] == hashlib.sha256(b"".join(chunks)).hexdigest(),
               "chunked POST: body changed on the way")
            ok(hget(rec["headers"], "X-Datadog-EVP-Subdomain") == "llmobs-intake",
               "chunked POST: X-Datadog-EVP-Subdomain %r" %
               hget(rec["headers"], "X-Datadog-EVP-Subdomain"))

    if failures:
        print("[%s] FAILED: %d of %d checks" % (args.label, len(failures), len(failures) + passed))
        for f in failures:
            print("  - " + f)
        return 1
    print("[%s] OK: %d checks passed (/info filtering, byte-identical v0.4 payload, chunked body)" %
          (args.label, passed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
