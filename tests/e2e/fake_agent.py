#!/usr/bin/env python3
"""A fake Datadog Agent for end-to-end tests: Python 3 standard library only.

It answers the trace-agent receiver's endpoints the way a real Agent does (status, content type
and body; `Datadog-Agent-Version` and `Datadog-Agent-State` on every response) and records every
request it gets as one JSON line, so a test can check exactly what a tracer (or llmobs-edge, in
front of it) sent.

    fake_agent.py --port 0 --port-file PORTFILE --record requests.jsonl [--socket PATH]

One record per request, written (and flushed) before the response is sent:

    {"seq": 1, "time": 1700000000.123, "listener": "tcp" | "unix",
     "method": "PUT", "target": "/v0.4/traces?x=1", "path": "/v0.4/traces", "query": "x=1",
     "http_version": "HTTP/1.1",
     "headers": [["Content-Type", "application/msgpack"], ...],   # name case and order as sent
     "framing": "content-length" | "chunked" | "none",
     "body_length": 1234, "body_sha256": "...", "body_b64": "..." (bodies under 1 MiB only),
     "chunk_count": 3 (chunked bodies only),
     "response": {"status": 200, "content_type": "application/json", "body_length": 40}}

HTTP/1.1 with keep-alive; request bodies are read by Content-Length or decoded from
`Transfer-Encoding: chunked` (trailers are read and dropped). A malformed request is answered 400
and recorded with "error". SIGTERM / SIGINT stop it cleanly.
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import signal
import socketserver
import sys
import threading
import time
import urllib.parse

AGENT_VERSION = "7.99.0-fake"
BODY_B64_LIMIT = 1 << 20  # bodies under 1 MiB are recorded in full
MAX_BODY = 64 << 20  # refuse anything larger (the real Agent's limit is 25 MiB on traces)

DEFAULT_RATES = {"service:,env:": 1}


def build_info(port, socket_path, max_request_bytes):
    """A realistic /info document (datadog-agent pkg/trace/api/info.go), pretty-printed with tabs
    as the Agent does."""
    info = {
        "version": AGENT_VERSION,
        "git_commit": "fake0000",
        "endpoints": [
            "/v0.3/traces",
            "/v0.3/services",
            "/v0.4/traces",
            "/v0.4/services",
            "/v0.5/traces",
            "/v0.7/traces",
            "/v1.0/traces",
            "/profiling/v1/input",
            "/telemetry/proxy/",
            "/v0.6/stats",
            "/v0.1/pipeline_stats",
            "/openlineage/api/v1/lineage",
            "/evp_proxy/v1/",
            "/evp_proxy/v2/",
            "/evp_proxy/v3/",
            "/evp_proxy/v4/",
            "/debugger/v1/input",
            "/debugger/v1/diagnostics",
            "/debugger/v2/input",
            "/symdb/v1/input",
            "/dogstatsd/v1/proxy",
            "/dogstatsd/v2/proxy",
            "/tracer_flare/v1",
            "/v0.7/config",
        ],
        "client_drop_p0s": True,
        "span_meta_structs": True,
        "long_running_spans": True,
        "span_events": True,
        "evp_proxy_allowed_headers": [
            "Content-Type",
            "Accept-Encoding",
            "Content-Encoding",
            "User-Agent",
            "DD-CI-PROVIDER-NAME",
            "DD-API-KEY",
            "DD-APPLICATION-KEY",
            "DD-EVP-ORIGIN",
            "DD-EVP-ORIGIN-VERSION",
            "X-Datadog-EVP-Subdomain",
            "X-Datadog-NeedsAppKey",
        ],
        "config": {
            "default_env": "none",
            "target_tps": 10,
            "max_eps": 200,
            "receiver_port": port,
            "receiver_socket": socket_path or "",
            "connection_limit": 0,
            "receiver_timeout": 0,
            "max_request_bytes": max_request_bytes,
            "statsd_port": 8125,
            "max_memory": 0,
            "max_cpu": 0,
            "analyzed_spans_by_service": {},
            "obfuscation": {
                "elastic_search": True,
                "mongo": True,
                "sql_exec_plan": False,
                "sql_exec_plan_normalize": False,
                "http": {"remove_query_string": False, "remove_path_digits": False},
                "remove_stack_traces": False,
                "redis": {"Enabled": True, "RemoveAllArgs": False},
                "memcached": {"Enabled": True, "KeepCommand": False},
            },
        },
        "peer_tags": ["db.instance", "db.system", "peer.service", "rpc.service"],
        "span_kinds_stats_computed": ["server", "consumer", "client", "producer"],
        "obfuscation_version": 1,
        "filter_tags": {"require": [], "reject": []},
        "filter_tags_regex": {"require": [], "reject": []},
        "ignore_resources": [],
    }
    return (json.dumps(info, indent="\t") + "\n").encode()


class BadRequest(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "fake-datadog-agent"
    # Read timeout per request, like the Agent's receiver_timeout.
    timeout = 30

    # --- plumbing ---------------------------------------------------------------------------

    def log_message(self, fmt, *args):  # quiet: the record file is the log
        if self.server.state.verbose:
            sys.stderr.write("fake_agent: " + (fmt % args) + "\n")

    def version_string(self):
        return self.server_version

    def address_string(self):
        return "unix" if isinstance(self.client_address, (str, bytes)) else self.client_address[0]

    def _read_chunked(self):
        body = bytearray()
        chunks = 0
        while True:
            line = self.rfile.readline(65537)
            if not line.endswith(b"\n"):
                raise BadRequest("chunked: truncated chunk-size line")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadRequest("chunked: bad chunk size %r" % size_text)
            if size < 0:
                raise BadRequest("chunked: negative chunk size")
            if size == 0:
                break
            if len(body) + size > MAX_BODY:
                raise BadRequest("body too large")
            data = self.rfile.read(size)
            if len(data) != size:
                raise BadRequest("chunked: truncated chunk data")
            body += data
            chunks += 1
            if self.rfile.read(2) != b"\r\n":
                raise BadRequest("chunked: missing CRLF after chunk data")
        while True:  # trailer section, ends with an empty line
            line = self.rfile.readline(65537)
            if not line.endswith(b"\n"):
                raise BadRequest("chunked: truncated trailer")
            if line in (b"\r\n", b"\n"):
                break
        return bytes(body), chunks

    def _read_body(self):
        te = [v for k, v in self.headers.items() if k.lower() == "transfer-encoding"]
        cl = [v for k, v in self.headers.items() if k.lower() == "content-length"]
        if te:
            codings = [c.strip().lower() for v in te for c in v.split(",") if c.strip()]
            if codings[-1:] != ["chunked"]:
                raise BadRequest("unsupported Transfer-Encoding %r" % te)
            if cl:
                raise BadRequest("both Transfer-Encoding and Content-Length")
            body, chunks = self._read_chunked()
            return body, "chunked", chunks
        if cl:
            if len(set(v.strip() for v in cl)) != 1:
                raise BadRequest("conflicting Content-Length headers %r" % cl)
            try:
                n = int(cl[0].strip())
            except ValueError:
                raise BadRequest("bad Content-Length %r" % cl[0])
            if n < 0 or n > MAX_BODY:
                raise BadRequest("Content-Length out of range: %d" % n)
            body = self.rfile.read(n)
            if len(body) != n:
                raise BadRequest("body shorter than Content-Length (%d of %d)" % (len(body), n))
            return body, "content-length", None
        return b"", "none", None

    # --- one request --------------------------------------------------------------------------

    def _handle(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        record = {
            "seq": None,
            "time": round(time.time(), 6),
            "listener": self.server.listener_name,
            "method": self.command,
            "target": self.path,
            "path": url.path,
            "query": url.query,
            "http_version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.raw_items()],
        }
        try:
            body, framing, chunks = self._read_body()
        except BadRequest as e:
            record["error"] = str(e)
            self.close_connection = True
            self._respond(record, 400, "text/plain", (str(e) + "\n").encode())
            return
        record["framing"] = framing
        if chunks is not None:
            record["chunk_count"] = chunks
        record["body_length"] = len(body)
        record["body_sha256"] = hashlib.sha256(body).hexdigest()
        if len(body) < BODY_B64_LIMIT:
            record["body_b64"] = base64.b64encode(body).decode()
        status, ctype, payload = self._route(url.path)
        self._respond(record, status, ctype, payload)

    def _route(self, path):
        state = self.server.state
        if path == "/info":
            return 200, "application/json", state.info_body
        if path in ("/v0.4/traces", "/v0.5/traces", "/v0.7/traces", "/v1.0/traces"):
            return 200, "application/json", state.rates_body
        if path in ("/v0.3/traces", "/v0.3/services", "/v0.4/services", "/v0.6/stats",
                    "/v0.1/pipeline_stats"):
            return 200, "text/plain; charset=utf-8", b"OK"
        if path == "/v0.7/config":
            return 200, "application/json", b"{}"
        if path.startswith("/telemetry/proxy/"):
            return 202, "application/json", b"{}"
        if path.startswith("/evp_proxy/"):
            return 202, "application/json", b"{}"
        if path.startswith("/dogstatsd/"):
            return 200, "application/json", b"{}"
        if path.startswith(("/profiling/", "/debugger/", "/symdb/", "/tracer_flare/",
                            "/openlineage/")):
            return 202, "application/json", b"{}"
        return 404, "text/plain; charset=utf-8", b"404 page not found\n"

    def _respond(self, record, status, ctype, payload):
        state = self.server.state
        record["response"] = {"status": status, "content_type": ctype,
                              "body_length": len(payload)}
        state.write_record(record)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Datadog-Agent-Version", AGENT_VERSION)
        self.send_header("Datadog-Agent-State", state.info_state)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_GET(self):
        self._handle()

    do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET


class State:
    def __init__(self, record_path, verbose):
        self.lock = threading.Lock()
        self.seq = 0
        self.record_file = open(record_path, "a", encoding="utf-8") if record_path else None
        self.verbose = verbose
        self.info_body = b""
        self.info_state = ""
        self.rates_body = b""

    def set_info(self, body):
        self.info_body = body
        self.info_state = hashlib.sha256(body).hexdigest()

    def write_record(self, record):
        with self.lock:
            self.seq += 1
            record["seq"] = self.seq
            if self.record_file:
                self.record_file.write(json.dumps(record, separators=(",", ":")) + "\n")
                self.record_file.flush()


class TCPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    listener_name = "tcp"


class UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    listener_name = "unix"


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="TCP port; 0 = pick a free one")
    ap.add_argument("--port-file", help="write the TCP port chosen here once listening")
    ap.add_argument("--socket", help="also listen on this Unix socket path")
    ap.add_argument("--record", help="append one JSON line per request to this file")
    ap.add_argument("--rate-by-service", default=json.dumps(DEFAULT_RATES),
                    help="JSON object answered as rate_by_service on trace endpoints")
    ap.add_argument("--max-request-bytes", type=int, default=25 * 1024 * 1024,
                    help="published as config.max_request_bytes in /info")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args()

    state = State(args.record, args.verbose)
    state.rates_body = json.dumps({"rate_by_service": json.loads(args.rate_by_service)},
                                  separators=(",", ":")).encode()

    tcp = TCPServer((args.host, args.port), Handler)
    tcp.state = state
    port = tcp.server_address[1]
    servers = [tcp]
    if args.socket:
        try:
            os.unlink(args.socket)
        except FileNotFoundError:
            pass
        unix = UnixServer(args.socket, Handler)
        unix.state = state
        servers.append(unix)
    state.set_info(build_info(port, args.socket, args.max_request_bytes))

    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                                daemon=True) for s in servers]
    for t in threads:
        t.start()
    if args.port_file:
        write_atomic(args.port_file, "%d\n" % port)
    sys.stderr.write("fake_agent: listening on %s:%d%s\n" % (
        args.host, port, (" and " + args.socket) if args.socket else ""))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    if args.socket:
        try:
            os.unlink(args.socket)
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
