#pragma once
// The pieces of the proxy benchmark (proxy_bench.h has the entry point, proxy_bench.cc runs the
// phases in order): the payloads, the paths a request takes, one repetition of each phase with
// what the edge spent on it (proxy_phases.cc: latency at moderate load, saturation, the edge's
// RSS once the load stops), and the markdown report over every repetition (proxy_report.cc).

#include <cstdint>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "tests/bench/corpus.h"
#include "tests/bench/proxy_bench.h"
#include "tests/bench/proxy_edge.h"
#include "tests/bench/proxy_sink.h"
#include "tests/integration/test_client.h"

namespace llmobs_edge::bench::proxy {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;
// Without full verification the Agent stand-in keeps this much of each end of every body
// (compared with the payload's); every body's size is checked as well.
constexpr size_t kKeptEdgeBytes = 512;
// The memory phase follows every edge saturation run of this many clients on a plain payload
// over 4 MiB: the edge stays idle while its VmRSS is sampled every kIdleSampleSeconds, for up to
// kIdleWatchSeconds or until it is under kIdleRssTarget.
constexpr int kMemoryClients = 8;
constexpr uint64_t kIdleRssTarget = 64 * kMiB;
constexpr double kIdleWatchSeconds = 12;
constexpr double kIdleSampleSeconds = 0.5;

// "10 KiB", "1 MiB", "1,000 B".
std::string SizeLabel(uint64_t bytes);

struct Payload {
  std::string size_label;  // "1 MiB"
  std::string variant;     // "plain" or "_llmobs"
  uint64_t target = 0;
  CorpusFile file;
  testing::TestRequest request;  // built once, shared read-only by every client thread
  bool plain() const { return variant == "plain"; }
  std::string name() const { return size_label + (plain() ? "" : " + _llmobs"); }
};
Payload MakePayload(uint64_t target, bool llmobs);

// Where a request goes: the Agent stand-in directly, or the edge.
enum class Path { kDirect, kEdgeTcp, kEdgeUnix };
const char* PathName(Path p);   // "through the edge (TCP ingest)"
const char* PathShort(Path p);  // "edge TCP"

// What the edge spent on some requests: utime + stime and minor page faults of the whole
// process (/proc/PID/stat) around them.
struct EdgeCost {
  double cpu_s = 0;
  uint64_t minflt = 0;
  uint64_t requests = 0;
  uint64_t bytes = 0;  // payload bytes forwarded
  EdgeCost& operator+=(const EdgeCost& o);
  // NaN when nothing was forwarded (left out of a summary).
  double s_per_gb() const;  // CPU seconds per 10^9 payload bytes
  double us_per_request() const;
  double faults_per_request() const;
};

// The run's shared state: the stand-in, the edge, the correctness counters and notes.
struct Bench {
  Bench(const Options& o, Upstream& a, ProxyEdge& e, Result& r)
      : opt(o), agent(a), edge(e), result(r) {}
  const Options& opt;
  Upstream& agent;
  ProxyEdge& edge;
  Result& result;
  std::vector<std::string> notes;  // correctness problems, printed at the end
  std::mutex mu;
  uint64_t peak_rss_seen = 0;    // the highest VmHWM read before a reset
  bool peak_reset_works = true;  // /proc/PID/clear_refs accepted "5" every time

  std::unique_ptr<testing::TestClient> Connect(Path p);
  // One exchange; false (and counted) on a transport error or a non-200 answer.
  bool Exchange(testing::TestClient& c, const Payload& p);
  // Checks what the Agent stand-in received since the last check against `expected` successful
  // sends of `p`, then forgets it (bounds the stand-in's memory).
  void CheckForwarded(const Payload& p, uint64_t expected, const std::string& phase);
  // VmHWM back to the current RSS (the peak of one run); the highest so far is kept.
  void ResetPeakRss();
  uint64_t PeakRssSinceStart() const;
};

// (a) Latency at moderate load, one repetition: one keep-alive client per path, paced requests,
// the paths alternating in blocks. One row per path.
struct LatencyRun {
  Path path = Path::kDirect;
  int requests = 0;
  double offered_per_s = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;  // ms
  EdgeCost edge;                              // during this path's blocks (edge paths only)
};
std::vector<LatencyRun> RunLatency(Bench& b, const Payload& p, const std::vector<Path>& paths);

// (c) The edge's RSS while it stays idle after a saturation run.
struct IdleRss {
  uint64_t rss_at_stop = 0;
  std::vector<uint64_t> samples;  // VmRSS every kIdleSampleSeconds, the first when the load stopped
  double seconds_to_target = 0;   // first sample under kIdleRssTarget; +infinity if none
};

// (b) Saturation, one run: C keep-alive clients sending back to back for a fixed time.
struct SaturationRun {
  uint64_t requests = 0;
  uint64_t bytes = 0;
  double wall = 0, edge_cpu = 0, self_cpu = 0;
  double machine_busy = 0;           // cores busy on average, the whole machine
  std::vector<double> edge_threads;  // cores busy per edge thread, busiest first
  EdgeCost edge;                     // edge runs only
  uint64_t peak_rss = 0;             // edge runs: VmHWM reset before the run, read after
  double req_per_s() const { return wall > 0 ? requests / wall : 0; }
  double mb_per_s() const { return wall > 0 ? bytes / 1e6 / wall : 0; }
};
// `idle`: when set (edge runs only), (c) runs as soon as the clients are done.
SaturationRun RunSaturationOnce(Bench& b, const Payload& p, Path path, int clients, double seconds,
                                IdleRss* idle);
double SaturationSeconds(uint64_t size, bool quick);

// Every repetition of a run, for the report.
struct LatencyCase {
  const Payload* payload = nullptr;
  std::vector<Path> paths;
  std::vector<std::vector<LatencyRun>> reps;  // [repetition][index in paths]
};
struct SaturationCase {
  const Payload* payload = nullptr;
  int clients = 0;
  std::vector<SaturationRun> direct, edge;  // one each per repetition
  std::vector<IdleRss> idle;                // after each edge run, for the memory phase
};
struct SizeReport {
  std::string label;
  uint64_t peak_rss_after = 0;
  uint64_t rss_after = 0;
};
struct RunRecord {
  std::string binary;
  std::string agent;  // Upstream::Describe()
  std::string load_before, load_after;
  double steal_percent = 0;
  double total_seconds = 0;
  int repeats = 1;
  std::vector<const Payload*> payloads;  // in run order
  std::vector<LatencyCase> latency;
  std::vector<SaturationCase> saturation;
  std::vector<SizeReport> sizes;
  uint64_t rss_start = 0, peak_rss = 0, rss_end = 0;
  double edge_cpu_total = 0;
  bool peak_reset_works = true;
  std::vector<std::string> notes;  // correctness problems
};
// Prints the report; sets result->targets_passed / targets_missed.
void WriteReport(const Options& options, const RunRecord& run, Result* result, std::ostream& out);

}  // namespace llmobs_edge::bench::proxy
