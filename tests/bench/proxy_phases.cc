#include "tests/bench/proxy_phases.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <latch>
#include <limits>
#include <map>
#include <thread>
#include <utility>

#include "tests/bench/machine_stats.h"
#include "tests/bench/stats.h"
#include "tests/integration/edge_process.h"

namespace llmobs_edge::bench::proxy {
namespace {

using Clock = std::chrono::steady_clock;
using testing::TestClient;
using testing::TestRequest;
using testing::TestResponse;

constexpr uint64_t kSeed = 20261121;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::string SizeLabel(uint64_t bytes) {
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return Thousands(static_cast<double>(bytes)) + " B";
}

// ---------------------------------------------------------------------------------------------
// Payloads.

Payload MakePayload(uint64_t target, bool llmobs) {
  Payload p;
  p.size_label = SizeLabel(target);
  p.variant = llmobs ? "_llmobs" : "plain";
  p.target = target;
  auto make = [&](uint64_t seed) {
    return llmobs ? MakeMixedCorpus(target, seed, target < 256 * kKiB ? 30 : 10)
                  : MakeWebCorpus(target, seed);
  };
  if (target <= 256 * kKiB) {
    // Small payloads: the generator stops at the first chunk boundary past the target; pick the
    // seed that lands closest (and, for the _llmobs variant, has at least one _llmobs span).
    bool have = false;
    for (uint64_t s = kSeed; s < kSeed + 64; ++s) {
      CorpusFile f = make(s);
      if (llmobs && f.llmobs_spans == 0) continue;
      if (!have || f.bytes.size() < p.file.bytes.size()) {
        p.file = std::move(f);
        have = true;
      }
    }
  } else {
    p.file = make(kSeed + (llmobs ? 2 : 0));
  }
  TestRequest& r = p.request;
  r.method = "PUT";
  r.target = "/v0.4/traces";
  r.headers = {{"Content-Type", "application/msgpack"},
               {"X-Datadog-Trace-Count", std::to_string(p.file.chunks)},
               {"Datadog-Meta-Lang", "nodejs"},
               {"Datadog-Meta-Lang-Version", "v22.12.0"},
               {"Datadog-Meta-Lang-Interpreter", "v8"},
               {"Datadog-Meta-Tracer-Version", "6.21.0"}};
  r.body = p.file.bytes;
  r.keep_body = true;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Paths, the edge's cost, the shared state.

const char* PathName(Path p) {
  switch (p) {
    case Path::kDirect:
      return "direct to the Agent stand-in (TCP)";
    case Path::kEdgeTcp:
      return "through the edge (TCP ingest)";
    case Path::kEdgeUnix:
      return "through the edge (Unix socket ingest)";
  }
  return "?";
}
const char* PathShort(Path p) {
  switch (p) {
    case Path::kDirect:
      return "direct";
    case Path::kEdgeTcp:
      return "edge TCP";
    case Path::kEdgeUnix:
      return "edge UDS";
  }
  return "?";
}

EdgeCost& EdgeCost::operator+=(const EdgeCost& o) {
  cpu_s += o.cpu_s;
  minflt += o.minflt;
  requests += o.requests;
  bytes += o.bytes;
  return *this;
}
double EdgeCost::s_per_gb() const {
  return bytes ? cpu_s / (static_cast<double>(bytes) / 1e9) : kNaN;
}
double EdgeCost::us_per_request() const {
  return requests ? cpu_s * 1e6 / static_cast<double>(requests) : kNaN;
}
double EdgeCost::faults_per_request() const {
  return requests ? static_cast<double>(minflt) / static_cast<double>(requests) : kNaN;
}

std::unique_ptr<TestClient> Bench::Connect(Path p) {
  switch (p) {
    case Path::kDirect:
      return TestClient::Tcp(agent.port());  // the stand-in's port
    case Path::kEdgeTcp:
      return TestClient::Tcp(edge.port());
    case Path::kEdgeUnix:
      return TestClient::Unix(edge.socket_path());
  }
  return nullptr;
}

bool Bench::Exchange(TestClient& c, const Payload& p) {
  const TestResponse res = c.Send(p.request);
  if (res.error.empty() && res.status == 200 &&
      res.body.find("rate_by_service") != std::string::npos) {
    return true;
  }
  std::lock_guard<std::mutex> lock(mu);
  ++result.failed_requests;
  if (notes.size() < 20) {
    notes.push_back(p.name() + ": request failed: status " + std::to_string(res.status) + " " +
                    res.error + " " + res.body.substr(0, 200));
  }
  return false;
}

void Bench::CheckForwarded(const Payload& p, uint64_t expected, const std::string& phase) {
  const std::vector<Received> got = agent.Take();
  const std::string& sent = p.file.bytes;
  const size_t ends = std::min<size_t>(kKeptEdgeBytes, sent.size());
  uint64_t traces = 0, bad = 0;
  for (const Received& r : got) {
    if (r.target != "/v0.4/traces") continue;  // the edge's /info probe
    ++traces;
    ++result.bodies_checked;
    bool ok = r.method == "PUT" && r.body_size == sent.size();
    if (r.whole) {
      ++result.bodies_compared_whole;
      ok = ok && r.head == sent;
    } else {
      ok = ok && !opt.verify_full_bodies && r.head.size() == ends &&
           std::memcmp(r.head.data(), sent.data(), ends) == 0;
      if (!r.tail.empty()) {
        ok = ok && r.tail.size() == ends &&
             std::memcmp(r.tail.data(), sent.data() + sent.size() - ends, ends) == 0;
      }
    }
    if (!ok) ++bad;
  }
  result.trace_requests += traces;
  if (bad > 0 || traces != expected) {
    ++result.mismatches;
    notes.push_back(p.name() + ", " + phase + ": the Agent stand-in got " + std::to_string(traces) +
                    " trace payloads for " + std::to_string(expected) + " sent; " +
                    std::to_string(bad) + " differ from what was sent");
  }
}

void Bench::ResetPeakRss() {
  peak_rss_seen = std::max(peak_rss_seen, edge.PeakRssBytes());
  if (!edge.ResetPeakRss()) peak_reset_works = false;
}

uint64_t Bench::PeakRssSinceStart() const { return std::max(peak_rss_seen, edge.PeakRssBytes()); }

// ---------------------------------------------------------------------------------------------
// (a) Latency at moderate load.

namespace {

struct LatencyPlan {
  int requests = 0;  // per path
  int warmup = 0;
  int blocks = 0;
  std::chrono::microseconds interval{0};  // start-to-start
};

LatencyPlan PlanLatency(uint64_t size, bool quick, bool llmobs) {
  LatencyPlan p;
  if (size <= 256 * kKiB) {
    p = {3000, 50, 10, std::chrono::microseconds(1000)};
  } else if (size <= 4 * kMiB) {
    p = {1000, 20, 10, std::chrono::microseconds(5000)};
  } else {
    p = {40, 2, 10, std::chrono::microseconds(100000)};
  }
  if (llmobs) p.requests /= 2;
  if (quick) {
    p.requests = std::max(4, p.requests / 30);
    p.warmup = std::max(1, p.warmup / 10);
    p.blocks = 2;
  }
  return p;
}

}  // namespace

std::vector<LatencyRun> RunLatency(Bench& b, const Payload& p, const std::vector<Path>& paths) {
  const LatencyPlan plan = PlanLatency(p.target, b.opt.quick, !p.plain());
  std::vector<std::unique_ptr<TestClient>> clients;
  uint64_t sent_ok = 0;
  for (Path path : paths) {
    clients.push_back(b.Connect(path));
    for (int i = 0; i < plan.warmup; ++i) sent_ok += b.Exchange(*clients.back(), p);
  }
  std::vector<std::vector<double>> samples(paths.size());
  std::vector<EdgeCost> cost(paths.size());
  std::vector<double> busy_seconds(paths.size(), 0);
  const int per_block = std::max(1, plan.requests / plan.blocks);
  for (int block = 0; block < plan.blocks; ++block) {
    for (size_t k = 0; k < paths.size(); ++k) {
      const size_t i = (k + block) % paths.size();  // rotate which path goes first
      const double cpu0 = b.edge.CpuSeconds();
      const uint64_t flt0 = b.edge.MinorFaults();
      const auto block_start = Clock::now();
      for (int n = 0; n < per_block; ++n) {
        const auto t0 = Clock::now();
        const bool ok = b.Exchange(*clients[i], p);
        const auto t1 = Clock::now();
        sent_ok += ok;
        if (ok) samples[i].push_back(Seconds(t1 - t0) * 1e3);
        std::this_thread::sleep_until(t0 + plan.interval);
      }
      busy_seconds[i] += Seconds(Clock::now() - block_start);
      if (paths[i] != Path::kDirect) {
        cost[i].cpu_s += b.edge.CpuSeconds() - cpu0;
        cost[i].minflt += b.edge.MinorFaults() - flt0;
      }
    }
  }
  b.CheckForwarded(p, sent_ok, "latency phase");
  std::vector<LatencyRun> rows;
  for (size_t i = 0; i < paths.size(); ++i) {
    LatencyRun r;
    r.path = paths[i];
    r.requests = static_cast<int>(samples[i].size());
    r.offered_per_s = busy_seconds[i] > 0 ? r.requests / busy_seconds[i] : 0;
    r.p50 = Percentile(samples[i], 0.50);
    r.p90 = Percentile(samples[i], 0.90);
    r.p99 = Percentile(samples[i], 0.99);
    r.max = Percentile(samples[i], 1.0);
    if (paths[i] != Path::kDirect) {
      r.edge = cost[i];
      r.edge.requests = static_cast<uint64_t>(r.requests);
      r.edge.bytes = r.edge.requests * p.file.bytes.size();
    }
    rows.push_back(r);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// (b) Saturation, (c) idle RSS after it.

namespace {

IdleRss WatchIdleRss(const ProxyEdge& edge) {
  IdleRss idle;
  idle.seconds_to_target = std::numeric_limits<double>::infinity();
  const auto t0 = Clock::now();
  for (int i = 0;; ++i) {
    const uint64_t rss = edge.RssBytes();
    const double at = Seconds(Clock::now() - t0);
    if (i == 0) idle.rss_at_stop = rss;
    idle.samples.push_back(rss);
    if (rss > 0 && rss < kIdleRssTarget) {
      idle.seconds_to_target = at;
      break;
    }
    if (at + kIdleSampleSeconds > kIdleWatchSeconds + 1e-3) break;
    std::this_thread::sleep_until(t0 +
                                  std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>((i + 1) * kIdleSampleSeconds)));
  }
  return idle;
}

}  // namespace

SaturationRun RunSaturationOnce(Bench& b, const Payload& p, Path path, int clients, double seconds,
                                IdleRss* idle) {
  const bool edge_path = path != Path::kDirect;
  if (edge_path) b.ResetPeakRss();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::latch ready(clients + 1);
  std::latch go(1);
  std::vector<std::thread> threads;
  const uint64_t cap = b.opt.max_requests_per_client;
  std::atomic<uint64_t> warm_ok{0};
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      auto client = b.Connect(path);
      warm_ok += b.Exchange(*client, p);  // connect + warm the edge's upstream pool
      ready.count_down();
      go.wait();
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed) && (cap == 0 || n < cap)) {
        if (b.Exchange(*client, p)) {
          ++n;
        } else {
          client = b.Connect(path);
        }
      }
      done += n;
    });
  }
  ready.arrive_and_wait();
  std::map<int, double> threads_before;  // tid -> CPU seconds
  for (const testing::ThreadCpu& t : b.edge.Threads()) threads_before[t.tid] = t.seconds;
  const double edge_cpu0 = b.edge.CpuSeconds(), self_cpu0 = SelfCpuSeconds();
  const uint64_t flt0 = b.edge.MinorFaults();
  const MachineTicks machine0 = ReadMachineTicks();
  const auto t0 = Clock::now();
  go.count_down();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  SaturationRun run;
  run.wall = Seconds(Clock::now() - t0);
  run.edge_cpu = b.edge.CpuSeconds() - edge_cpu0;
  run.self_cpu = SelfCpuSeconds() - self_cpu0;
  const uint64_t flt1 = b.edge.MinorFaults();
  const MachineTicks machine1 = ReadMachineTicks();
  const double all = static_cast<double>(machine1.all - machine0.all);
  const double ncpu = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
  run.machine_busy = all > 0 ? ncpu * static_cast<double>(machine1.busy - machine0.busy) / all : 0;
  for (const testing::ThreadCpu& t : b.edge.Threads()) {
    const auto it = threads_before.find(t.tid);
    const double d = t.seconds - (it == threads_before.end() ? 0 : it->second);
    if (d > 0) run.edge_threads.push_back(d / run.wall);
  }
  std::sort(run.edge_threads.rbegin(), run.edge_threads.rend());
  run.requests = done.load();
  run.bytes = run.requests * p.file.bytes.size();
  if (edge_path) {
    run.peak_rss = b.edge.PeakRssBytes();
    run.edge = {run.edge_cpu, flt1 - flt0, run.requests, run.bytes};
    if (idle) *idle = WatchIdleRss(b.edge);
  } else {
    run.edge_cpu = 0;  // the idle edge's probe, not our traffic
  }
  b.CheckForwarded(p, run.requests + warm_ok.load(),
                   std::string("saturation ") + PathShort(path) + " x" + std::to_string(clients));
  return run;
}

double SaturationSeconds(uint64_t size, bool quick) {
  if (quick) return 0.4;
  return size > 4 * kMiB ? 4.0 : 2.5;
}

}  // namespace llmobs_edge::bench::proxy
