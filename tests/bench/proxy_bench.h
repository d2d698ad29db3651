#pragma once
// The proxy-hop benchmark behind `bazel run -c opt //tests/bench:proxy` (docs/benchmarks.md,
// "Proxy hop"). It starts the real edge binary as a child process in front of an in-process
// FakeAgent and, in one run, sends the same v0.4 payloads straight to the fake Agent and through
// the edge, alternating the two: latency at moderate load, throughput at saturation, the edge's
// CPU seconds per GB forwarded (and per request), its minor page faults per request, its peak
// RSS, and how soon its RSS falls back once the load stops. Each phase runs `repeats` times; the
// report gives the median and the spread of every figure and PASS/MISS for the cost targets of
// the hot-path issue. //tests/bench:proxy_smoke_test runs the same code with --quick and checks
// every forwarded body byte for byte.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace llmobs_edge::bench::proxy {

struct Options {
  bool quick = false;
  // Repetitions of every phase (latency blocks, each saturation case with its memory phase).
  // 0: 3, or 1 with `quick`.
  int repeats = 0;
  // Payload sizes in bytes (the generator stops at the first chunk boundary past the size).
  // Empty: 10 KiB, 1 MiB, 20 MiB.
  std::vector<uint64_t> sizes;
  bool with_llmobs_variant = true;  // also run payloads carrying meta_struct["_llmobs"]
  bool unix_ingest = true;          // also time the 1 MiB case over the edge's Unix socket
  std::string edge_binary;          // empty: found in the runfiles
  std::string argv0;                // to find the runfiles
  // The Agent stand-in: "sink" (FastSink, proxy_sink.h) or "fake" (the integration tests'
  // FakeAgent, which reads bodies 512 bytes per recv()).
  std::string agent = "sink";
  size_t sink_read_size = 256 * 1024;  // the FastSink's largest recv()
  // Pin this process (clients + Agent stand-in) to CPU 0 and the edge to CPU 1, so the edge has
  // a core of its own and the direct path gets the same single core as the edge path's clients.
  bool pin = false;
  // Keep every forwarded body in the Agent stand-in and compare it whole with what was sent (the
  // smoke test). Otherwise the stand-in keeps the first and last 512 bytes of each body (the
  // FakeAgent only the first), which are compared, and every body's size is checked.
  bool verify_full_bodies = false;
  // Saturation: requests per client are capped at this when > 0 (bounds memory when full bodies
  // are kept).
  uint64_t max_requests_per_client = 0;
};

struct Result {
  bool completed = false;
  std::string error;            // why the run stopped, when !completed
  uint64_t trace_requests = 0;  // /v0.4/traces requests the Agent stand-in received
  uint64_t bodies_checked = 0;  // bodies compared with what was sent (size + bytes kept)
  uint64_t bodies_compared_whole = 0;
  uint64_t mismatches = 0;       // bodies that differ, or a count that does not match
  uint64_t failed_requests = 0;  // transport errors or non-200 answers
  int edge_exit_code = -1;       // after SIGTERM
  // The cost targets (medians over the repetitions); a target whose case did not run is neither.
  int targets_passed = 0;
  int targets_missed = 0;
};

// Runs the benchmark; prints markdown to `out` and progress to stderr. Returns the result; the
// caller decides the exit code.
Result Run(const Options& options, std::ostream& out);

// "10k", "10KiB", "1m", "1MiB", "20MiB", "4096": bytes (k = KiB, m = MiB); 0 when unparsable.
uint64_t ParseSize(const std::string& text);

}  // namespace llmobs_edge::bench::proxy
