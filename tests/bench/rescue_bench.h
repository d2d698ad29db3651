#pragma once
// The rescue benchmark behind `bazel run -c opt //tests/bench:rescue` (docs/benchmarks.md,
// "Rescue"). For each case (ledger.sync x _llmobs struct size x events per payload x clients) it
// starts the real edge binary with the rescue stage and a fresh RocksDB ledger in front of an
// in-process Agent stand-in (rescue_sink.h) that also plays the EVP proxy, and has C keep-alive
// clients send v0.4 payloads whose chunks all have priority 0 (every `_llmobs` struct must be
// rescued) for a fixed time. It reports rescued events per second, request latency, the edge's
// commit latency, CPU (per thread, per event, per GB), minor page faults per request, peak RSS and
// ledger bytes per event, waits for the outbox to drain and checks that the stand-in received
// every event exactly once. Every case runs `repeats` times; the report gives the median and the
// spread of each figure and PASS/MISS for the rescue targets of the hot-path issue.
// //tests/bench:rescue_smoke_test runs the same code with --quick.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace llmobs_edge::bench::rescue {

struct Options {
  bool quick = false;
  double seconds = 10;                           // load per case (--quick: 1)
  int repeats = 0;                               // runs of every case; 0: 3, or 1 with --quick
  std::vector<std::string> syncs = {"per_commit", "none"};
  std::vector<size_t> struct_sizes = {2048, 10240};
  std::vector<int> events_per_payload = {50, 1};
  std::vector<int> clients = {8};
  unsigned edge_threads = 0;  // ingest.threads (0 = one per core)
  int edge_pipeline_threads = -1;  // ingest.pipeline_threads (-1 = the edge's default)
  bool compact = true;        // compact the ledger offline after each case and measure it again
  std::string edge_binary;    // empty: found in the runfiles
  std::string argv0;
};

struct CaseResult {
  std::string sync;
  size_t struct_bytes = 0;
  int events_per_payload = 0;
  int clients = 0;
  double events_per_s = 0;
  uint64_t events_sent = 0;      // events in payloads answered 200 (warm-up included)
  uint64_t rescued_metric = 0;   // llmobs_edge_rescue_events_total{outcome="rescued"}
  uint64_t delivered = 0;        // distinct span ids the stand-in received
  uint64_t duplicates = 0;       // deliveries beyond the first of a span id
  uint64_t missing = 0;          // sent (200) but never delivered
  uint64_t unexpected = 0;       // delivered but not in a payload answered 200
  uint64_t window_mismatch = 0;  // |events in the timed window - rescued metric delta|
  uint64_t failed_requests = 0;
  uint64_t unscrubbed_payloads = 0;
  bool drained = false;
  int edge_exit_code = -1;
};

struct Result {
  bool completed = false;
  std::string error;
  std::vector<CaseResult> cases;
  // Median events/s over the runs, per_commit, 50 events per payload: >= 20,000 with 10 KB
  // structs, >= 40,000 with 2 KB. Measured: at least one of those cases ran.
  bool target_pass = false;
  bool target_measured = false;
  bool exactly_once() const {
    for (const CaseResult& c : cases) {
      if (c.duplicates || c.missing || c.unexpected || c.failed_requests || !c.drained ||
          c.delivered != c.events_sent || c.rescued_metric != c.events_sent ||
          c.window_mismatch || c.unscrubbed_payloads || c.edge_exit_code != 0) {
        return false;
      }
    }
    return !cases.empty();
  }
};

// Runs the benchmark; markdown to `out`, progress to stderr.
Result Run(const Options& options, std::ostream& out);

}  // namespace llmobs_edge::bench::rescue
