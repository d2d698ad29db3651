#!/usr/bin/env python3
"""Checks what the fake Agent (tests/e2e/fake_agent.py) received during one run of
tests/e2e/node/app.js with dd-trace 6.21.0, directly or through llmobs-edge.

    check.py --record requests.jsonl [--from-line N] [--label tcp] [--expect-info]
             [--expect-headers '{"Datadog-Entity-ID": "in-1"}'] [--dump]

Prints a summary table (method and path -> count) and one line per failed check, and exits 1
when anything expected is missing or wrong. Needs python3-msgpack (Debian's, for /usr/bin/python3).
"""

import argparse
import base64
import collections
import hashlib
import json
import sys

import msgpack

TRACER_VERSION = "6.21.0"
SERVICE = "e2e-node"
ENV = "e2e"
ML_APP = "e2e-ml"

# Span names app.js creates (auto-instrumented web.request / http.request included).
APM_SPANS = [
    "web.request", "http.request", "e2e.checkout", "e2e.db.query",
    "e2e.dropped", "e2e.dropped.child", "e2e.kept", "e2e.kept.child",
    "e2e.background.job", "e2e-workflow", "e2e-llm-call", "e2e-llm-in-dropped-trace",
]
LLMOBS_SPANS = ["e2e-workflow", "e2e-llm-call", "e2e-llm-in-dropped-trace"]
# Root span -> expected _sampling_priority_v1 of its chunk (USER_REJECT -1, USER_KEEP 2).
PRIORITIES = {"e2e.dropped": -1, "e2e.kept": 2, "e2e.background.job": -1}

HOP_BY_HOP = {"keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "upgrade"}

TRACES = "/v0.4/traces"
STATS = "/v0.6/stats"
TELEMETRY = "/telemetry/proxy/api/v2/apmtelemetry"
LLMOBS = "/evp_proxy/v2/api/v2/llmobs"
EVAL = "/evp_proxy/v2/api/intake/llm-obs/v2/eval-metric"
RC = "/v0.7/config"
DOGSTATSD = "/dogstatsd/v2/proxy"


class Checker:
    def __init__(self, label):
        self.label = label
        self.failures = []
        self.passed = 0

    def ok(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)
        return cond


def headers_of(rec):
    """name (lower case) -> list of values, in order."""
    out = collections.defaultdict(list)
    for name, value in rec["headers"]:
        out[name.lower()].append(value)
    return out


def header(rec, name):
    values = headers_of(rec).get(name.lower())
    return values[0] if values else None


def body_of(rec):
    if "body_b64" not in rec:
        return None
    return base64.b64decode(rec["body_b64"])


def check_framing(c, rec):
    """Host present; Content-Length / Transfer-Encoding consistent with the body received; no
    hop-by-hop header that a proxy should have consumed."""
    where = "%s %s (#%d)" % (rec["method"], rec["path"], rec["seq"])
    h = headers_of(rec)
    c.ok(len(h.get("host", [])) == 1, "%s: expected exactly one Host header, got %r" %
         (where, h.get("host")))
    if "error" in rec:
        c.ok(False, "%s: the fake agent could not read the request: %s" % (where, rec["error"]))
        return
    framing = rec["framing"]
    cl = h.get("content-length", [])
    te = h.get("transfer-encoding", [])
    if framing == "content-length":
        c.ok(len(cl) == 1 and not te and int(cl[0]) == rec["body_length"],
             "%s: Content-Length %r / Transfer-Encoding %r inconsistent with a %d-byte body" %
             (where, cl, te, rec["body_length"]))
    elif framing == "chunked":
        c.ok(not cl and [t.strip().lower() for t in te] == ["chunked"],
             "%s: chunked body with Content-Length %r / Transfer-Encoding %r" % (where, cl, te))
    else:
        c.ok(rec["body_length"] == 0 and not te and not cl,
             "%s: no framing but body of %d bytes" % (where, rec["body_length"]))
    for name in h:
        c.ok(name not in HOP_BY_HOP, "%s: hop-by-hop header %r was forwarded" % (where, name))
    for v in h.get("connection", []):
        tokens = {t.strip().lower() for t in v.split(",")}
        c.ok(tokens <= {"keep-alive", "close"},
             "%s: Connection header names other headers: %r" % (where, v))
    body = body_of(rec)
    if body is not None:
        c.ok(hashlib.sha256(body).hexdigest() == rec["body_sha256"] and
             len(body) == rec["body_length"], "%s: recorded body does not match its hash" % where)
    c.ok(200 <= rec["response"]["status"] < 300,
         "%s: the fake agent answered %d (unknown path or bad request?)" %
         (where, rec["response"]["status"]))


def check_traces(c, recs, expect_headers):
    names = collections.Counter()
    chunk_roots = {}
    submitted = {}
    c.ok(len(recs) >= 1, "no PUT %s arrived" % TRACES)
    for rec in recs:
        where = "%s %s (#%d)" % (rec["method"], rec["path"], rec["seq"])
        c.ok(rec["method"] == "PUT", "%s: method %s, dd-trace-js sends PUT" % (where, rec["method"]))
        c.ok(header(rec, "Content-Type") == "application/msgpack",
             "%s: Content-Type %r" % (where, header(rec, "Content-Type")))
        c.ok(header(rec, "Datadog-Meta-Lang") == "nodejs",
             "%s: Datadog-Meta-Lang %r" % (where, header(rec, "Datadog-Meta-Lang")))
        c.ok(header(rec, "Datadog-Meta-Tracer-Version") == TRACER_VERSION,
             "%s: Datadog-Meta-Tracer-Version %r" % (where, header(rec, "Datadog-Meta-Tracer-Version")))
        c.ok((header(rec, "Datadog-Meta-Lang-Version") or "").startswith("v22."),
             "%s: Datadog-Meta-Lang-Version %r" % (where, header(rec, "Datadog-Meta-Lang-Version")))
        c.ok(header(rec, "Datadog-Meta-Lang-Interpreter") == "v8",
             "%s: Datadog-Meta-Lang-Interpreter %r" % (where, header(rec, "Datadog-Meta-Lang-Interpreter")))
        c.ok(header(rec, "Datadog-Client-Computed-Stats") == "yes",
             "%s: Datadog-Client-Computed-Stats %r (stats computation is on)" %
             (where, header(rec, "Datadog-Client-Computed-Stats")))
        for name, value in expect_headers.items():
            c.ok(header(rec, name) == value,
                 "%s: %s %r, the tracer sends %r" % (where, name, header(rec, name), value))
        body = body_of(rec)
        if not c.ok(body is not None, "%s: body too large to check" % where):
            continue
        try:
            payload = msgpack.unpackb(body, raw=False, strict_map_key=False)
        except Exception as e:  # noqa: BLE001 - any decode error is a failure
            c.ok(False, "%s: body is not msgpack: %s" % (where, e))
            continue
        if not c.ok(isinstance(payload, list), "%s: body is not a list of chunks" % where):
            continue
        count = header(rec, "X-Datadog-Trace-Count")
        c.ok(count is not None and count.isdigit() and int(count) == len(payload),
             "%s: X-Datadog-Trace-Count %r for %d chunks" % (where, count, len(payload)))
        for chunk in payload:
            ids = {s.get("span_id") for s in chunk}
            for span in chunk:
                names[span.get("name")] += 1
                meta = span.get("meta") or {}
                if span.get("name") in LLMOBS_SPANS:
                    submitted[span["name"]] = meta.get("_dd.llmobs.submitted")
                if span.get("parent_id") == 0 or span.get("parent_id") not in ids:
                    prio = (span.get("metrics") or {}).get("_sampling_priority_v1")
                    chunk_roots[span.get("name")] = prio
                c.ok(span.get("service") == SERVICE and meta.get("env") == ENV,
                     "%s: span %r has service %r env %r" %
                     (where, span.get("name"), span.get("service"), meta.get("env")))
    for name in APM_SPANS:
        c.ok(names[name] > 0, "span %r missing from %s" % (name, TRACES))
    for root, prio in PRIORITIES.items():
        c.ok(chunk_roots.get(root) == prio, "trace %r: root priority %r, expected %r" %
             (root, chunk_roots.get(root), prio))
    for name in LLMOBS_SPANS:
        c.ok(submitted.get(name) == "1",
             "APM span %r: _dd.llmobs.submitted %r, expected '1'" % (name, submitted.get(name)))
    return names


def check_stats(c, recs, expect_headers):
    c.ok(len(recs) >= 1, "no %s arrived (DD_TRACE_STATS_COMPUTATION_ENABLED=true)" % STATS)
    services = set()
    for rec in recs:
        where = "%s %s (#%d)" % (rec["method"], rec["path"], rec["seq"])
        c.ok(header(rec, "Content-Type") == "application/msgpack",
             "%s: Content-Type %r" % (where, header(rec, "Content-Type")))
        c.ok(header(rec, "Datadog-Meta-Tracer-Version") == TRACER_VERSION,
             "%s: Datadog-Meta-Tracer-Version %r" % (where, header(rec, "Datadog-Meta-Tracer-Version")))
        for name, value in expect_headers.items():
            c.ok(header(rec, name) == value,
                 "%s: %s %r, the tracer sends %r" % (where, name, header(rec, name), value))
        body = body_of(rec)
        try:
            payload = msgpack.unpackb(body, raw=False, strict_map_key=False)
        except Exception as e:  # noqa: BLE001
            c.ok(False, "%s: body is not msgpack: %s" % (where, e))
            continue
        c.ok(isinstance(payload, dict) and payload.get("Env") == ENV and
             payload.get("TracerVersion") == TRACER_VERSION,
             "%s: unexpected stats payload header %r" %
             (where, {k: payload.get(k) for k in ("Env", "TracerVersion")}
              if isinstance(payload, dict) else type(payload)))
        if isinstance(payload, dict):
            for bucket in payload.get("Stats") or []:
                for group in bucket.get("Stats") or []:
                    services.add(group.get("Service"))
    c.ok(SERVICE in services, "no stats group for service %r (saw %r)" % (SERVICE, services))


def parse_json(c, rec):
    try:
        return json.loads(body_of(rec))
    except Exception as e:  # noqa: BLE001
        c.ok(False, "%s %s (#%d): body is not JSON: %s" % (rec["method"], rec["path"], rec["seq"], e))
        return None


def check_telemetry(c, recs):
    kinds = collections.Counter()
    for rec in recs:
        hdr = header(rec, "dd-telemetry-request-type")
        body = parse_json(c, rec)
        if body is None:
            continue
        c.ok(body.get("request_type") == hdr,
             "telemetry #%d: header %r, body request_type %r" % (rec["seq"], hdr, body.get("request_type")))
        c.ok(header(rec, "DD-Client-Library-Version") == TRACER_VERSION,
             "telemetry #%d: DD-Client-Library-Version %r" % (rec["seq"], header(rec, "DD-Client-Library-Version")))
        kinds[hdr] += 1
    c.ok(kinds["app-started"] >= 1, "no telemetry app-started (saw %r)" % dict(kinds))
    return kinds


def check_llmobs(c, recs, evals):
    names = set()
    c.ok(len(recs) >= 1, "no POST %s arrived" % LLMOBS)
    for rec in recs:
        c.ok(header(rec, "X-Datadog-EVP-Subdomain") == "llmobs-intake",
             "LLMObs #%d: X-Datadog-EVP-Subdomain %r" % (rec["seq"], header(rec, "X-Datadog-EVP-Subdomain")))
        body = parse_json(c, rec)
        for envelope in body if isinstance(body, list) else [body] if body else []:
            for span in envelope.get("spans", []):
                names.add(span.get("name"))
                c.ok("ml_app:%s" % ML_APP in span.get("tags", []),
                     "LLMObs span %r: no ml_app:%s tag" % (span.get("name"), ML_APP))
    for name in LLMOBS_SPANS:
        c.ok(name in names, "LLMObs event for span %r missing (saw %r)" % (name, sorted(names)))
    c.ok(len(evals) >= 1, "no POST %s arrived (submitEvaluation)" % EVAL)
    for rec in evals:
        c.ok(header(rec, "X-Datadog-EVP-Subdomain") == "api",
             "evaluation #%d: X-Datadog-EVP-Subdomain %r" % (rec["seq"], header(rec, "X-Datadog-EVP-Subdomain")))
        body = parse_json(c, rec) or {}
        metrics = ((body.get("data") or {}).get("attributes") or {}).get("metrics") or []
        c.ok(any(m.get("label") == "e2e-correctness" for m in metrics),
             "evaluation #%d: no e2e-correctness metric" % rec["seq"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", required=True)
    ap.add_argument("--from-line", type=int, default=0,
                    help="ignore the first N records (requests before the app started)")
    ap.add_argument("--label", default="run")
    ap.add_argument("--expect-info", action="store_true",
                    help="the tracer must have asked for GET /info (LLMObs agent auto-detection)")
    ap.add_argument("--expect-headers", default="{}",
                    help="JSON object of headers dd-trace adds to every request (e.g. Datadog-Entity-ID)")
    ap.add_argument("--expect-listener", choices=["tcp", "unix"],
                    help="the fake agent listener every request must have arrived on")
    ap.add_argument("--dump", action="store_true",
                    help="print the headers of the first request of each method and path")
    args = ap.parse_args()
    expect_headers = json.loads(args.expect_headers)

    with open(args.record, encoding="utf-8") as f:
        recs = [json.loads(line) for line in f][args.from_line:]
    c = Checker(args.label)
    # An edge in front of the fake agent may read /info for itself. The tracer's own requests carry
    # the identity headers it adds everywhere (Datadog-Entity-ID), so a GET /info without them is
    # the edge's and is listed apart (this needs those headers, i.e. a cgroup inode or container).
    def from_tracer(rec):
        if not expect_headers or (rec["method"], rec["path"]) != ("GET", "/info"):
            return True
        return all(header(rec, k) == v for k, v in expect_headers.items())

    by_path = collections.defaultdict(list)
    for rec in recs:
        if from_tracer(rec):
            by_path[(rec["method"], rec["path"])].append(rec)
        else:
            by_path[(rec["method"], rec["path"] + " (not from the tracer)")].append(rec)
        check_framing(c, rec)
        if args.expect_listener:
            c.ok(rec["listener"] == args.expect_listener,
                 "%s %s (#%d): arrived on the %s listener, expected %s" %
                 (rec["method"], rec["path"], rec["seq"], rec["listener"], args.expect_listener))

    def path(p, method=None):
        return [r for (m, q), rs in by_path.items() if q == p and (method is None or m == method)
                for r in rs]

    check_traces(c, path(TRACES), expect_headers)
    check_stats(c, path(STATS), expect_headers)
    check_telemetry(c, path(TELEMETRY, "POST"))
    check_llmobs(c, path(LLMOBS, "POST"), path(EVAL, "POST"))
    c.ok(len(path(RC, "POST")) >= 1, "no POST %s (remote config poll)" % RC)
    c.ok(len(path(DOGSTATSD, "POST")) >= 1, "no POST %s (custom metric)" % DOGSTATSD)
    if args.expect_info:
        c.ok(len(path("/info", "GET")) >= 1, "no GET /info (LLMObs agent auto-detection)")
    for rec in recs:
        if not from_tracer(rec):
            continue
        for name, value in expect_headers.items():
            c.ok(header(rec, name) == value, "%s %s (#%d): %s %r, the tracer sends %r" %
                 (rec["method"], rec["path"], rec["seq"], name, header(rec, name), value))

    print("[%s] requests received by the fake agent:" % args.label)
    width = max([len("%s %s" % k) for k in by_path] + [10])
    for (method, p), rs in sorted(by_path.items(), key=lambda kv: kv[1][0]["seq"]):
        extra = ""
        if p == TELEMETRY:
            kinds = collections.Counter(header(r, "dd-telemetry-request-type") for r in rs)
            extra = "  " + ", ".join("%s×%d" % kv for kv in sorted(kinds.items()))
        elif p.startswith("/evp_proxy/"):
            extra = "  subdomain=" + ",".join(sorted({str(header(r, "X-Datadog-EVP-Subdomain")) for r in rs}))
        print("  %-*s %4d%s" % (width, "%s %s" % (method, p), len(rs), extra))
        if args.dump:
            print("  %*s      headers: %s" % (width, "", json.dumps(rs[0]["headers"])))
    if c.failures:
        print("[%s] FAILED: %d of %d checks" % (args.label, len(c.failures), len(c.failures) + c.passed))
        for f in c.failures:
            print("  - " + f)
        return 1
    print("[%s] OK: %d checks passed" % (args.label, c.passed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
