#!/usr/bin/python3
"""Python peer of the codec benchmark (tests/bench/codec.cc runs it as a subprocess).

Times the msgpack C extension (Debian's python3-msgpack, run with /usr/bin/python3) on each corpus
file: msgpack.unpackb alone, and unpackb followed by packb (the generic decode / re-encode a Python
proxy would do instead of our splice). Like timeit, it warms up, times several runs of repeated
calls with the garbage collector paused, and prints one JSON document with the best and median
seconds per call for every file.

Usage: python_peer.py [--run-seconds S] [--runs N] name=path [name=path ...]
"""

import argparse
import gc
import json
import platform
import statistics
import sys
import time

import msgpack


def unpack(data):
    # raw=True: str values come back as bytes (no UTF-8 decoding), which also accepts bin and
    # invalid UTF-8; strict_map_key=False allows the bytes keys. This is the extension's fastest
    # configuration.
    return msgpack.unpackb(data, raw=True, strict_map_key=False)


def unpack_pack(data):
    return msgpack.packb(unpack(data), use_bin_type=True)


def measure(fn, data, run_seconds, runs):
    """Seconds per call: (best, median) over `runs` runs of about `run_seconds` each."""
    start = time.perf_counter()
    calls = 0
    while True:  # warm-up, and a first estimate of the cost of one call
        fn(data)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= 0.05 and calls >= 2:
            break
    per_run = max(1, int(run_seconds / (elapsed / calls)))
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(per_run):
            fn(data)
        samples.append((time.perf_counter() - t0) / per_run)
    return {"best": min(samples), "median": statistics.median(samples), "calls": per_run * runs}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-seconds", type=float, default=0.12)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("files", nargs="+", help="name=path")
    args = parser.parse_args()

    extension = msgpack.Unpacker.__module__ == "msgpack._cmsgpack"
    results = {}
    gc.disable()
    try:
        for spec in args.files:
            name, path = spec.split("=", 1)
            with open(path, "rb") as f:
                data = f.read()
            results[name] = {
                "bytes": len(data),
                "unpack": measure(unpack, data, args.run_seconds, args.runs),
                "unpack_pack": measure(unpack_pack, data, args.run_seconds, args.runs),
            }
    finally:
        gc.enable()
    version = "Python %s, msgpack %s (%s)" % (
        platform.python_version(),
        ".".join(str(v) for v in msgpack.version),
        "C extension" if extension else "pure Python fallback",
    )
    json.dump({"version": version, "results": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
