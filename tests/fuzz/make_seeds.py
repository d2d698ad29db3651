#!/usr/bin/env python3
"""Regenerates the seed corpora of tests/fuzz/corpus/{reader,splice,json}/ (standard library only).

  python3 tests/fuzz/make_seeds.py        # from the repository root

Seeds:
  reader/, splice/: the real v0.4 request bodies of tests/golden/real-tracer (the requests whose
      request-NNN.meta.json has "path": "/v0.4/traces"), plus small hand-made payloads that carry
      meta_struct["_llmobs"] and the exotic-but-accepted forms (map16/map32 headers, str32 strings,
      bin keys, nil spans, nil meta, duplicate keys, span_links / span_events, trailing bytes).
  json/: the meta_struct bin bodies found in the real payloads (standalone msgpack documents), plus
      hand-made documents: nesting, big ints, floats, invalid UTF-8, bin, ext, non-string keys.

The files are written with stable names; rerunning overwrites them (extra files are left alone).
"""

import glob
import hashlib
import json
import math
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


# --- minimal msgpack encoder ------------------------------------------------------------------

class Bin(bytes):
    pass


class Ext:
    def __init__(self, code, data):
        self.code, self.data = code, data


class Raw(bytes):
    """Bytes written verbatim (for exotic encodings)."""


class Float32(float):
    pass


def pack_container_header(n, is_map, width=1):
    if width <= 1 and n <= 15:
        return bytes([(0x80 if is_map else 0x90) | n])
    if width <= 3 and n <= 0xFFFF:
        return bytes([0xDE if is_map else 0xDC]) + struct.pack(">H", n)
    return bytes([0xDF if is_map else 0xDD]) + struct.pack(">I", n)


def pack_str(b, width=0):
    if isinstance(b, str):
        b = b.encode("utf-8")
    n = len(b)
    if width == 0 and n <= 31:
        return bytes([0xA0 | n]) + b
    if width <= 1 and n <= 0xFF:
        return bytes([0xD9, n]) + b
    if width <= 2 and n <= 0xFFFF:
        return bytes([0xDA]) + struct.pack(">H", n) + b
    return bytes([0xDB]) + struct.pack(">I", n) + b


def pack_bin(b):
    n = len(b)
    if n <= 0xFF:
        return bytes([0xC4, n]) + b
    if n <= 0xFFFF:
        return bytes([0xC5]) + struct.pack(">H", n) + b
    return bytes([0xC6]) + struct.pack(">I", n) + b


def pack_int(v):
    if v >= 0:
        if v <= 0x7F:
            return bytes([v])
        if v <= 0xFF:
            return bytes([0xCC, v])
        if v <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", v)
        if v <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", v)
        return b"\xcf" + struct.pack(">Q", v)
    if v >= -32:
        return struct.pack(">b", v)
    if v >= -128:
        return b"\xd0" + struct.pack(">b", v)
    if v >= -32768:
        return b"\xd1" + struct.pack(">h", v)
    if v >= -(2 ** 31):
        return b"\xd2" + struct.pack(">i", v)
    return b"\xd3" + struct.pack(">q", v)


def pack(v):
    if isinstance(v, Raw):
        return bytes(v)
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        return pack_int(v)
    if isinstance(v, Float32):
        return b"\xca" + struct.pack(">f", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, Bin):
        return pack_bin(bytes(v))
    if isinstance(v, (str, bytes)):
        return pack_str(v)
    if isinstance(v, Ext):
        n = len(v.data)
        fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
        if n in fixed:
            return bytes([fixed[n], v.code & 0xFF]) + v.data
        if n <= 0xFF:
            return bytes([0xC7, n, v.code & 0xFF]) + v.data
        if n <= 0xFFFF:
            return b"\xc8" + struct.pack(">H", n) + bytes([v.code & 0xFF]) + v.data
        return b"\xc9" + struct.pack(">I", n) + bytes([v.code & 0xFF]) + v.data
    if isinstance(v, list):
        return pack_container_header(len(v), False) + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        return pack_container_header(len(v), True) + b"".join(pack(k) + pack(x) for k, x in v.items())
    if isinstance(v, Pairs):
        return v.encode()
    raise TypeError(type(v))


class Pairs:
    """A map as an ordered list of (key, value) pairs: duplicates allowed, header width chosen."""

    def __init__(self, pairs, width=1):
        self.pairs, self.width = pairs, width

    def encode(self):
        return pack_container_header(len(self.pairs), True, self.width) + b"".join(
            pack(k) + pack(v) for k, v in self.pairs)


def array(items, width=1):
    return Raw(pack_container_header(len(items), False, width) + b"".join(pack(x) for x in items))


# --- minimal msgpack decoder (only to find the meta_struct bins of the real payloads) ----------

def unpack(b, i=0):
    t = b[i]
    if t <= 0x7F:
        return t, i + 1
    if t >= 0xE0:
        return t - 256, i + 1
    if 0x80 <= t <= 0x8F:
        return unpack_map(b, i + 1, t & 0x0F)
    if 0x90 <= t <= 0x9F:
        return unpack_array(b, i + 1, t & 0x0F)
    if 0xA0 <= t <= 0xBF:
        n = t & 0x1F
        return b[i + 1:i + 1 + n].decode("utf-8", "replace"), i + 1 + n
    if t == 0xC0:
        return None, i + 1
    if t in (0xC2, 0xC3):
        return t == 0xC3, i + 1
    if t in (0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB):
        w = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}[t]
        n = int.from_bytes(b[i + 1:i + 1 + w], "big")
        body = b[i + 1 + w:i + 1 + w + n]
        end = i + 1 + w + n
        return (Bin(body) if t <= 0xC6 else body.decode("utf-8", "replace")), end
    if t == 0xCA:
        return struct.unpack(">f", b[i + 1:i + 5])[0], i + 5
    if t == 0xCB:
        return struct.unpack(">d", b[i + 1:i + 9])[0], i + 9
    if 0xCC <= t <= 0xD3:
        w = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}[t]
        return int.from_bytes(b[i + 1:i + 1 + w], "big", signed=t >= 0xD0), i + 1 + w
    if t in (0xDC, 0xDD):
        w = 2 if t == 0xDC else 4
        return unpack_array(b, i + 1 + w, int.from_bytes(b[i + 1:i + 1 + w], "big"))
    if t in (0xDE, 0xDF):
        w = 2 if t == 0xDE else 4
        return unpack_map(b, i + 1 + w, int.from_bytes(b[i + 1:i + 1 + w], "big"))
    raise ValueError("unsupported tag 0x%02x at %d" % (t, i))


def unpack_array(b, i, n):
    out = []
    for _ in range(n):
        v, i = unpack(b, i)
        out.append(v)
    return out, i


def unpack_map(b, i, n):
    out = []
    for _ in range(n):
        k, i = unpack(b, i)
        v, i = unpack(b, i)
        out.append((k, v))
    return out, i


# --- seeds ------------------------------------------------------------------------------------

def real_trace_bodies():
    out = []
    for meta_path in sorted(glob.glob(os.path.join(ROOT, "tests/golden/real-tracer/*/request-*.meta.json"))):
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("path") != "/v0.4/traces":
            continue
        body_path = meta_path[: -len(".meta.json")] + ".body"
        scenario = os.path.basename(os.path.dirname(meta_path))
        name = "real-%s-%s" % (scenario, os.path.basename(body_path)[: -len(".body")])
        with open(body_path, "rb") as f:
            out.append((name, f.read()))
    return out


def meta_struct_bins(bodies):
    """(name, bin) for every distinct meta_struct value of the real payloads."""
    seen, out = set(), []
    for name, body in bodies:
        chunks, _ = unpack(body)
        for ci, chunk in enumerate(chunks):
            for si, span in enumerate(chunk):
                if span is None:
                    continue
                for k, v in span:
                    if k != "meta_struct" or v is None:
                        continue
                    for mk, mv in v:
                        digest = hashlib.sha1(mv).hexdigest()
                        if digest in seen:
                            continue
                        seen.add(digest)
                        out.append(("%s-c%d-s%d-%s" % (name, ci, si, mk.strip("_")), bytes(mv)))
    return out


LLMOBS_DOC = {
    "trace_id": "690f3a2b00000000a1b2c3d4e5f60718",
    "span_id": "1234567890",
    "parent_id": "undefined",
    "name": "chat",
    "meta": {
        "span.kind": "llm",
        "model_name": "gpt-4o",
        "input": {"messages": [{"role": "user", "content": "hi \u00e9\u4e2d"}]},
        "output": {"messages": [{"role": "assistant", "content": "hello"}]},
    },
    "metrics": {"input_tokens": 3, "output_tokens": 1.5e0, "total_tokens": 2 ** 64 - 1},
    "tags": ["ml_app:demo", "env:capture"],
}


def base_span(i, extra_meta=(), meta_struct=None, wide=False):
    pairs = [
        ("trace_id", Raw(b"\xcf" + struct.pack(">Q", 0x1122334455667788))),
        ("span_id", Raw(b"\xcf" + struct.pack(">Q", 100 + i))),
        ("parent_id", 0 if i == 0 else 100),
        ("name", "openai.request"),
        ("resource", Raw(pack_str("createChatCompletion", 4 if wide else 0))),
        ("service", "svc"),
        ("type", "llm"),
        ("error", 0),
        ("start", 1795260216842026240 + i),
        ("duration", 41458008),
        ("meta", Pairs([("_dd.p.tid", "690f3a2b00000000"), ("_dd.p.dm", "-0"),
                        ("language", "javascript")] + list(extra_meta), 5 if wide else 1)),
        ("metrics", Pairs([("_sampling_priority_v1", 1), ("_dd.top_level", 1),
                           ("process_id", 4242), ("_dd.agent_psr", 1.0)], 5 if wide else 1)),
    ]
    if meta_struct is not None:
        pairs.append(("meta_struct", meta_struct))
    return Pairs(pairs, 5 if wide else 1)


def reader_seeds():
    doc = pack(LLMOBS_DOC)
    small_doc = pack({"name": "x", "meta": {"span.kind": "workflow"}})
    seeds = {}
    # One chunk, one LLM span with meta_struct["_llmobs"].
    seeds["hand-llmobs-one-span"] = pack([[base_span(0, meta_struct=Pairs([("_llmobs", Bin(doc))]))]])
    # dd-trace-js widths: map32 span and maps, str32 strings; two chunks; a second meta_struct key.
    seeds["hand-llmobs-wide-two-chunks"] = array([
        array([base_span(0, wide=True, meta_struct=Pairs([("_llmobs", Bin(doc)), ("ai_guard", Bin(small_doc))], 5)),
               base_span(1, wide=True)], 5),
        array([base_span(2, wide=True, meta_struct=Pairs([("_llmobs", Bin(small_doc))], 3))], 3),
    ], 5)
    # Already submitted, nil span entries, a nil meta, a span without meta, an empty chunk.
    seeds["hand-llmobs-submitted-nils"] = pack([
        [None, base_span(0, extra_meta=[("_dd.llmobs.submitted", "1")],
                         meta_struct=Pairs([("_llmobs", Bin(small_doc))])), None],
        [],
        [Pairs([("span_id", 7), ("meta", None), ("meta_struct", Pairs([("_llmobs", Bin(b"\x80"))]))]),
         Pairs([("span_id", 8), ("name", None), ("metrics", None),
                ("meta_struct", Pairs([("_llmobs", Bin(small_doc))]))])],
    ])
    # Duplicated keys (last wins): two meta maps, two meta_struct maps, duplicate meta entries.
    seeds["hand-llmobs-duplicate-keys"] = pack([[Pairs([
        ("span_id", 9),
        ("meta", Pairs([("a", "1"), ("_dd.llmobs.submitted", "0")])),
        ("meta_struct", Pairs([("_llmobs", Bin(small_doc)), ("other", Bin(b"\xc0"))])),
        ("meta", Pairs([("b", "2"), ("b", "3"), ("_dd.llmobs.submitted", "0")])),
        ("meta_struct", Pairs([("_llmobs", Bin(doc))])),
        ("metrics", Pairs([("m", 1.5), ("m", -3), ("big", 2 ** 64 - 1)])),
    ])]])
    # Bin keys and bin strings, signed ids, nil ids, unknown keys, links and events, trailing bytes.
    seeds["hand-llmobs-exotic-forms"] = pack([[Pairs([
        (Bin(b"span_id"), -5),
        (Bin(b"trace_id"), None),
        ("service", Bin(b"svc-bin")),
        ("meta", Pairs([(Bin(b"k"), Bin(b"\xff\xfe invalid utf8")), ("_dd.p.tid", Raw(pack_str("abc", 4)))])),
        ("unknown_key", {"nested": [1, 2.5, None, Ext(1, b"\x00\x01")]}),
        ("span_links", [{"trace_id": 1, "trace_id_high": 2, "span_id": 3, "attributes": {"a": "b"},
                         "tracestate": "dd=s:1", "flags": 2 ** 31}, None]),
        ("span_events", [{"name": "ev", "time_unix_nano": 1.7e18,
                          "attributes": {"k": [1, "x", {"y": True}]}}, None]),
        ("meta_struct", Pairs([("_llmobs", Bin(small_doc))])),
    ])]]) + b"\x00trailing"
    seeds["hand-empty-payload"] = pack([])
    seeds["hand-empty-chunk"] = pack([[]])
    return seeds


def json_seeds():
    seeds = {}
    seeds["hand-llmobs-doc"] = pack(LLMOBS_DOC)
    seeds["hand-big-ints"] = pack([2 ** 64 - 1, -(2 ** 63), 2 ** 63, -(2 ** 31) - 1, 0, -1, 127, -32, 255,
                                   Raw(b"\xcf" + b"\x00" * 8), Raw(b"\xd3" + b"\xff" * 8)])
    seeds["hand-floats"] = pack([0.0, -0.0, 1.0, 0.1, 1e300, -1e-300, 5e-324, 1.7976931348623157e308,
                                 float("nan"), float("inf"), float("-inf"), Float32(0.1), Float32(1e38),
                                 Float32(float("nan")), Float32(1.0), 123456789012345678.0])
    seeds["hand-strings"] = pack({
        "ascii": "plain",
        "escapes": "quote\" backslash\\ nl\n tab\t cr\r bs\b ff\f nul\x00 del\x7f",
        "unicode": "\u00e9\u4e2d\U0001F600",
        "invalid": Raw(pack_str(b"\xff\xfe\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe0\x80\xc2")),
        "truncated": Raw(pack_str(b"ok\xe4\xb8")),
        Raw(pack_str(b"\x80key")): "invalid key",
        "str32": Raw(pack_str("wide", 4)),
    })
    seeds["hand-bin-ext"] = pack({"bin": Bin(b"\x00\x01\x02\xff"), "bin1": Bin(b"a"), "bin2": Bin(b"ab"),
                                  "empty": Bin(b""), "fixext1": Ext(1, b"x"), "fixext16": Ext(-1, b"y" * 16),
                                  "ext8": Ext(5, b"abc"), "ext16": Raw(b"\xc8\x00\x02\x07zz")})
    seeds["hand-keys"] = pack(Pairs([
        (1, "int key"), (-7, "neg"), (None, "nil key"), (True, "bool"), (1.5, "float"),
        (Float32(2.5), "float32"), (Bin(b"bk"), "bin key"), (Raw(pack([1, 2])), "array key skipped"),
        (Raw(pack({"a": 1})), "map key skipped"), (Ext(2, b"e"), "ext key skipped"),
        ("dup", 1), ("dup", 2), (2 ** 64 - 1, "big"),
    ]))
    nested = "leaf"
    for d in range(30):
        nested = {"d%d" % d: nested} if d % 2 else [nested, d]
    seeds["hand-nested-30"] = pack(nested)
    deep = None
    for d in range(40):
        deep = [deep]
    seeds["hand-nested-40-too-deep"] = pack(deep)
    seeds["hand-wide-containers"] = Raw(b"\xdf\x00\x00\x00\x02" + pack("a") + b"\xdd\x00\x00\x00\x01\x01"
                                        + pack("b") + b"\xde\x00\x00")
    seeds["hand-empty-containers"] = pack([{}, [], [[]], {"": {}}])
    seeds["hand-scalar-nil"] = b"\xc0"
    return seeds


def write(dir_name, name, data):
    path = os.path.join(CORPUS, dir_name, name + ".msgpack")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    bodies = real_trace_bodies()
    if len(bodies) != 5:
        print("expected 5 real v0.4 bodies, found %d" % len(bodies), file=sys.stderr)
        return 1
    payloads = dict(bodies)
    payloads.update(reader_seeds())
    for d in ("reader", "splice"):
        for name, data in payloads.items():
            write(d, name, data)
    docs = dict(meta_struct_bins(bodies))
    docs.update(json_seeds())
    for name, data in docs.items():
        write("json", name, data)
    # A real document cut short (must fail cleanly).
    real = [v for k, v in docs.items() if k.startswith("real-")]
    if real:
        write("json", "real-truncated", real[0][: len(real[0]) // 2])
    total = 0
    for d in ("reader", "splice", "json"):
        files = glob.glob(os.path.join(CORPUS, d, "*"))
        size = sum(os.path.getsize(f) for f in files)
        total += size
        print("%-7s %3d files %7d bytes" % (d, len(files), size))
    print("total   %7d bytes" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
