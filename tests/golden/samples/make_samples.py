#!/usr/bin/python3
"""Writes the bundled sample payloads (deterministic; run with Debian's python3-msgpack).

llmobs-sample.msgpack is a v0.4 payload as dd-trace-py's APM_AGENT export mode writes it
(meta_struct["_llmobs"] = bin holding a msgpack LLMObsSpanData), with four chunks:
  0. priority 0: flask.request + llm span `generate-answer` (the worked example of llmobs.md)
     -> the edge rescues its event;
  1. priority 1: an llm span whose event rides the trace;
  2. priority -1: an llm span already stamped _dd.llmobs.submitted=1 that kept its struct;
  3. no priority at all: an llm span -> rescued by default.
"""
import msgpack

TID_HIGH = "6aa99a6000000000"


def llmobs(name, trace_id, span_id_hint, error=False):
    doc = {
        "name": name,
        "parent_id": "undefined",
        "trace_id": trace_id,
        "ml_app": "support-bot",
        "session_id": "conv-7f3a",
        "tags": {"version": "2.3.1", "env": "prod", "service": "chat-api",
                 "source": "integration", "ml_app": "support-bot",
                 "agent_service": "support-bot", "ddtrace.version": "4.13.0",
                 "language": "python", "session_id": "conv-7f3a"},
        "metrics": {"input_tokens": 31, "output_tokens": 19, "total_tokens": 50},
        "meta": {
            "span": {"kind": "llm"},
            "model_name": "gpt-4o-mini",
            "model_provider": "openai",
            "metadata": {"temperature": 0.2, "max_tokens": 256},
            "input": {"messages": [
                {"role": "system", "content": "You are a support assistant for Acme Cloud."},
                {"role": "user", "content": "How do I rotate my API key? (%s)" % span_id_hint}]},
            "output": {"messages": [
                {"role": "assistant", "content": "Open Organization Settings > API Keys, create "
                 "a new key, then revoke the old one."}]},
        },
        "_dd": {"sample_rate": "1", "sampling_decision": "1"},
    }
    return msgpack.packb(doc, use_bin_type=True)


def span(trace_id, span_id, parent_id, name, resource, type_, start, duration, meta, metrics,
         meta_struct=None):
    s = {"trace_id": trace_id, "span_id": span_id}
    if parent_id:
        s["parent_id"] = parent_id
    s.update({"service": "chat-api", "resource": resource, "name": name, "start": start,
              "duration": duration, "type": type_, "meta": meta})
    if meta_struct:
        s["meta_struct"] = meta_struct
    if metrics:
        s["metrics"] = metrics
    return s


def chunk(trace_id, root_id, llm_id, priority, llm_meta=None, struct=True):
    root_metrics = {"_dd.top_level": 1, "process_id": 4242}
    if priority is not None:
        root_metrics["_sampling_priority_v1"] = priority
    root = span(trace_id, root_id, 0, "flask.request", "POST /v1/chat", "web",
                1789500000412365120, 1391877003,
                {"_dd.p.tid": TID_HIGH, "env": "prod", "version": "2.3.1", "language": "python",
                 "component": "flask", "span.kind": "server", "http.method": "POST",
                 "http.route": "/v1/chat", "http.status_code": "200",
                 "llmobs_trace_id": "6aa99a60000000007e41c2b9d35a0f68",
                 "llmobs_parent_id": str(llm_id)}, root_metrics)
    meta = {"env": "prod", "version": "2.3.1"}
    meta.update(llm_meta or {})
    ms = {"_llmobs": llmobs("generate-answer", "6aa99a60000000007e41c2b9d35a0f%02x" % (llm_id % 256),
                            llm_id)} if struct else None
    llm = span(trace_id, llm_id, root_id, "generate-answer", "llm", "llm", 1789500000467902311,
               1208774112, meta, {}, ms)
    return [root, llm]


def main():
    payload = [
        chunk(4366906277992678920, 6714461642924179088, 2264075030106042450, 0),
        chunk(4366906277992678921, 6714461642924179089, 2264075030106042451, 1),
        chunk(4366906277992678922, 6714461642924179090, 2264075030106042452, -1,
              {"_dd.llmobs.submitted": "1"}),
        chunk(4366906277992678923, 6714461642924179091, 2264075030106042453, None),
    ]
    with open("llmobs-sample.msgpack", "wb") as f:
        f.write(msgpack.packb(payload, use_bin_type=True))


if __name__ == "__main__":
    main()
