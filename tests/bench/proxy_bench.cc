#include "tests/bench/proxy_bench.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "tests/bench/corpus.h"
#include "tests/bench/machine_stats.h"
#include "tests/bench/proxy_edge.h"
#include "tests/bench/proxy_sink.h"
#include "tests/integration/edge_binary.h"
#include "tests/integration/edge_process.h"
#include "tests/integration/test_client.h"

namespace llmobs_edge::bench::proxy {
namespace {

using Clock = std::chrono::steady_clock;
using testing::FindEdgeBinary;
using testing::TestClient;
using testing::TestRequest;
using testing::TestResponse;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kSeed = 20261121;
// Without full verification the Agent stand-in keeps this much of each end of every body
// (compared with the payload's); every body's size is checked as well.
constexpr size_t kKeptEdgeBytes = 512;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---------------------------------------------------------------------------------------------
// Formatting.

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string Thousands(double v) {
  const bool neg = v < 0;
  std::string digits = std::to_string(static_cast<uint64_t>(std::fabs(v) + 0.5));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return neg ? "-" + out : out;
}

std::string SizeLabel(uint64_t bytes) {
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return Thousands(static_cast<double>(bytes)) + " B";
}

std::string MiB(uint64_t bytes) { return Fmt("%.1f MiB", static_cast<double>(bytes) / kMiB); }

// A signed latency difference in ms.
std::string Delta(double ms) { return (ms >= 0 ? "+" : "") + Fmt("%.3f", ms); }

// Process / machine CPU over an interval.
struct CpuMeter {
  const ProxyEdge* edge = nullptr;
  double edge_cpu = 0, self_cpu = 0;
  MachineTicks machine;
  Clock::time_point t;
  void Begin() {
    edge_cpu = edge->CpuSeconds();
    self_cpu = SelfCpuSeconds();
    machine = ReadMachineTicks();
    t = Clock::now();
  }
  struct Delta {
    double wall = 0, edge = 0, self = 0, machine_busy = 0;  // machine_busy: cores busy (avg)
  };
  Delta End() const {
    Delta d;
    d.wall = Seconds(Clock::now() - t);
    d.edge = edge->CpuSeconds() - edge_cpu;
    d.self = SelfCpuSeconds() - self_cpu;
    const MachineTicks m = ReadMachineTicks();
    const double all = static_cast<double>(m.all - machine.all);
    const double ncpu = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
    d.machine_busy = all > 0 ? ncpu * static_cast<double>(m.busy - machine.busy) / all : 0;
    return d;
  }
};

// ---------------------------------------------------------------------------------------------
// Payloads.

struct Payload {
  std::string size_label;  // "1 MiB"
  std::string variant;     // "plain" or "_llmobs"
  uint64_t target = 0;
  CorpusFile file;
  TestRequest request;  // built once, shared read-only by every client thread
  std::string name() const { return size_label + (variant == "plain" ? "" : " + _llmobs"); }
};

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
// Targets of a request: the Agent stand-in directly, or the edge.

enum class Path { kDirect, kEdgeTcp, kEdgeUnix };

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

struct Bench {
  const Options& opt;
  Upstream& agent;
  ProxyEdge& edge;
  Result& result;
  std::vector<std::string> notes;  // correctness problems, printed at the end
  std::mutex mu;

  std::unique_ptr<TestClient> Connect(Path p) {
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

  // One exchange; false (and counted) on a transport error or a non-200 answer.
  bool Exchange(TestClient& c, const Payload& p) {
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

  // Checks what the Agent stand-in received since the last check against `expected` successful
  // sends of `p`, then forgets it (bounds the stand-in's memory).
  void CheckForwarded(const Payload& p, uint64_t expected, const std::string& phase) {
    const std::vector<Received> got = agent.Take();
    const std::string& sent = p.file.bytes;
    const size_t edge = std::min<size_t>(kKeptEdgeBytes, sent.size());
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
        ok = ok && !opt.verify_full_bodies && r.head.size() == edge &&
             std::memcmp(r.head.data(), sent.data(), edge) == 0;
        if (!r.tail.empty()) {
          ok = ok && r.tail.size() == edge &&
               std::memcmp(r.tail.data(), sent.data() + sent.size() - edge, edge) == 0;
        }
      }
      if (!ok) ++bad;
    }
    result.trace_requests += traces;
    if (bad > 0 || traces != expected) {
      ++result.mismatches;
      notes.push_back(p.name() + ", " + phase + ": the Agent stand-in got " +
                      std::to_string(traces) + " trace payloads for " + std::to_string(expected) +
                      " sent; " + std::to_string(bad) + " differ from what was sent");
    }
  }
};

// ---------------------------------------------------------------------------------------------
// (a) Latency at moderate load: one keep-alive client per path, paced requests, the paths
// alternating in blocks.

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

struct LatencyRow {
  std::string payload;
  Path path;
  int requests = 0;
  double offered_per_s = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;  // ms
  double edge_cpu = 0;                        // edge CPU seconds during this path's blocks
  uint64_t bytes = 0;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

std::vector<LatencyRow> RunLatency(Bench& b, const Payload& p, const std::vector<Path>& paths) {
  const LatencyPlan plan = PlanLatency(p.target, b.opt.quick, p.variant != "plain");
  std::vector<std::unique_ptr<TestClient>> clients;
  uint64_t sent_ok = 0;
  for (Path path : paths) {
    clients.push_back(b.Connect(path));
    for (int i = 0; i < plan.warmup; ++i) sent_ok += b.Exchange(*clients.back(), p);
  }
  std::vector<std::vector<double>> samples(paths.size());
  std::vector<double> edge_cpu(paths.size(), 0);
  std::vector<double> busy_seconds(paths.size(), 0);
  const int per_block = std::max(1, plan.requests / plan.blocks);
  for (int block = 0; block < plan.blocks; ++block) {
    for (size_t k = 0; k < paths.size(); ++k) {
      const size_t i = (k + block) % paths.size();  // rotate which path goes first
      const double cpu0 = b.edge.CpuSeconds();
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
      if (paths[i] != Path::kDirect) edge_cpu[i] += b.edge.CpuSeconds() - cpu0;
    }
  }
  b.CheckForwarded(p, sent_ok, "latency phase");
  std::vector<LatencyRow> rows;
  for (size_t i = 0; i < paths.size(); ++i) {
    LatencyRow r;
    r.payload = p.name();
    r.path = paths[i];
    r.requests = static_cast<int>(samples[i].size());
    r.offered_per_s = busy_seconds[i] > 0 ? r.requests / busy_seconds[i] : 0;
    r.p50 = Percentile(samples[i], 0.50);
    r.p90 = Percentile(samples[i], 0.90);
    r.p99 = Percentile(samples[i], 0.99);
    r.max = Percentile(samples[i], 1.0);
    r.edge_cpu = edge_cpu[i];
    r.bytes = static_cast<uint64_t>(r.requests) * p.file.bytes.size();
    rows.push_back(r);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// (b) Saturation: C keep-alive clients sending back to back for a fixed time.

struct SaturationRun {
  uint64_t requests = 0;
  uint64_t bytes = 0;
  CpuMeter::Delta cpu;
  std::vector<double> edge_threads;  // cores busy per edge thread, busiest first
  double req_per_s() const { return cpu.wall > 0 ? requests / cpu.wall : 0; }
  double mb_per_s() const { return cpu.wall > 0 ? bytes / 1e6 / cpu.wall : 0; }
};

SaturationRun RunSaturationOnce(Bench& b, const Payload& p, Path path, int clients,
                                double seconds) {
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
  CpuMeter meter;
  meter.edge = &b.edge;
  std::map<int, double> threads_before;  // tid -> CPU seconds
  for (const testing::ThreadCpu& t : b.edge.Threads()) threads_before[t.tid] = t.seconds;
  meter.Begin();
  go.count_down();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  SaturationRun run;
  run.cpu = meter.End();
  for (const testing::ThreadCpu& t : b.edge.Threads()) {
    const auto it = threads_before.find(t.tid);
    const double d = t.seconds - (it == threads_before.end() ? 0 : it->second);
    if (d > 0) run.edge_threads.push_back(d / run.cpu.wall);
  }
  std::sort(run.edge_threads.rbegin(), run.edge_threads.rend());
  run.requests = done.load();
  run.bytes = run.requests * p.file.bytes.size();
  if (path == Path::kDirect) run.cpu.edge = 0;  // the idle edge's probe, not our traffic
  b.CheckForwarded(p, run.requests + warm_ok.load(),
                   std::string("saturation ") + PathShort(path) + " x" + std::to_string(clients));
  return run;
}

struct SaturationRow {
  std::string payload;
  int clients = 0;
  std::vector<SaturationRun> direct, edge;  // one per repetition
  static const SaturationRun& Best(const std::vector<SaturationRun>& runs) {
    return *std::max_element(runs.begin(), runs.end(), [](const auto& a, const auto& c) {
      return a.req_per_s() < c.req_per_s();
    });
  }
  double ratio() const { return Best(edge).mb_per_s() / Best(direct).mb_per_s(); }
};

double SaturationSeconds(uint64_t size, bool quick) {
  if (quick) return 0.4;
  return size > 4 * kMiB ? 4.0 : 2.5;
}

// ---------------------------------------------------------------------------------------------
// Report.

struct SizeReport {
  std::string label;
  uint64_t peak_rss_after = 0;
  uint64_t rss_after = 0;
};

}  // namespace

uint64_t ParseSize(const std::string& text) {
  if (text.empty()) return 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || v <= 0) return 0;
  std::string unit(end);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double mult = 1;
  if (unit.empty() || unit == "b") {
    mult = 1;
  } else if (unit == "k" || unit == "kib" || unit == "kb") {
    mult = kKiB;
  } else if (unit == "m" || unit == "mib" || unit == "mb") {
    mult = kMiB;
  } else {
    return 0;
  }
  return static_cast<uint64_t>(v * mult);
}

Result Run(const Options& options, std::ostream& out) {
  Result result;
  const auto run_start = Clock::now();
  const std::string load_before = LoadAverage();
  const MachineTicks ticks_before = ReadMachineTicks();

  std::vector<uint64_t> sizes = options.sizes;
  if (sizes.empty()) sizes = {10 * kKiB, 1 * kMiB, 20 * kMiB};
  std::sort(sizes.begin(), sizes.end());

  const std::string binary =
      options.edge_binary.empty() ? FindEdgeBinary(options.argv0) : options.edge_binary;
  if (binary.empty()) {
    result.error =
        "cannot find the edge binary in the runfiles (run through bazel, or pass --edge)";
    return result;
  }

  if (options.pin) {
    // Before any thread starts: threads inherit the mask.
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || ::sched_setaffinity(0, sizeof(set), &set) != 0) {
      result.error = "--pin needs 2 CPUs and sched_setaffinity";
      return result;
    }
  }
  std::fprintf(stderr, "generating payloads...\n");
  std::vector<std::pair<Payload, Payload>> payloads;  // (plain, _llmobs) per size
  uint64_t largest = 0;
  for (uint64_t s : sizes) {
    payloads.emplace_back(MakePayload(s, false),
                          options.with_llmobs_variant ? MakePayload(s, true) : Payload{});
    largest = std::max<uint64_t>({largest, payloads.back().first.file.bytes.size(),
                                  payloads.back().second.file.bytes.size()});
  }

  const uint64_t keep_whole = options.verify_full_bodies ? largest : 0;
  std::unique_ptr<Upstream> upstream;
  if (options.agent == "fake") {
    upstream = StartHarnessFakeAgent(keep_whole, kKeptEdgeBytes);
  } else if (options.agent == "sink") {
    upstream = StartFastSink(keep_whole, kKeptEdgeBytes, options.sink_read_size);
  } else {
    result.error = "unknown Agent stand-in \"" + options.agent + "\" (sink or fake)";
    return result;
  }
  Upstream& agent = *upstream;

  ProxyEdge edge;
  std::fprintf(stderr, "starting %s...\n", binary.c_str());
  if (std::string err = edge.Start(binary, agent.url()); !err.empty()) {
    result.error = err;
    return result;
  }
  if (options.pin && !edge.PinTo(1)) {
    result.error = "cannot pin the edge to CPU 1";
    return result;
  }
  const uint64_t rss_start = edge.RssBytes();
  std::fprintf(stderr, "edge pid %d ready: TCP %u, socket %s, telemetry %u\n", edge.pid(),
               edge.port(), edge.socket_path().c_str(), edge.telemetry_port());

  Bench b{options, agent, edge, result, {}, {}};
  std::vector<LatencyRow> latency;
  std::vector<SaturationRow> saturation;
  std::vector<SizeReport> size_reports;
  // Edge CPU seconds and bytes per payload name, at saturation and at moderate load.
  std::map<std::string, std::pair<double, uint64_t>> cpu_sat, cpu_moderate;
  std::vector<std::string> payload_order;

  const int reps = options.quick ? 1 : 2;
  for (auto& [plain, llm] : payloads) {
    for (Payload* p : {&plain, &llm}) {
      if (p->file.bytes.empty()) continue;
      payload_order.push_back(p->name());
      const bool is_plain = p->variant == "plain";
      std::vector<Path> paths = {Path::kDirect, Path::kEdgeTcp};
      if (options.unix_ingest && is_plain && p->target == kMiB) paths.push_back(Path::kEdgeUnix);
      std::fprintf(stderr, "%s: latency at moderate load...\n", p->name().c_str());
      for (const LatencyRow& r : RunLatency(b, *p, paths)) {
        latency.push_back(r);
        if (r.path != Path::kDirect) {
          cpu_moderate[p->name()].first += r.edge_cpu;
          cpu_moderate[p->name()].second += r.bytes;
        }
      }
      std::vector<int> concurrency = is_plain ? std::vector<int>{4, 8} : std::vector<int>{8};
      if (options.quick) concurrency = {4};
      for (int c : concurrency) {
        std::fprintf(stderr, "%s: saturation with %d clients...\n", p->name().c_str(), c);
        SaturationRow row;
        row.payload = p->name();
        row.clients = c;
        const double secs = SaturationSeconds(p->target, options.quick);
        for (int rep = 0; rep < reps; ++rep) {
          // Alternate which path goes first.
          for (int k = 0; k < 2; ++k) {
            const bool direct = (k + rep) % 2 == 0;
            SaturationRun run =
                RunSaturationOnce(b, *p, direct ? Path::kDirect : Path::kEdgeTcp, c, secs);
            if (direct) {
              row.direct.push_back(run);
            } else {
              cpu_sat[p->name()].first += run.cpu.edge;
              cpu_sat[p->name()].second += run.bytes;
              row.edge.push_back(run);
            }
          }
        }
        saturation.push_back(std::move(row));
      }
    }
    size_reports.push_back({plain.size_label, edge.PeakRssBytes(), edge.RssBytes()});
  }
  const uint64_t peak_rss = edge.PeakRssBytes();
  const uint64_t rss_end = edge.RssBytes();
  const double edge_cpu_total = edge.CpuSeconds();
  std::fprintf(stderr, "stopping the edge (SIGTERM)...\n");
  result.edge_exit_code = edge.Terminate(30);
  if (result.edge_exit_code != 0) {
    b.notes.push_back("the edge exited with " + std::to_string(result.edge_exit_code) +
                      " after SIGTERM: " + edge.LogTail());
  }
  const MachineTicks ticks_after = ReadMachineTicks();
  const double total_seconds = Seconds(Clock::now() - run_start);

  // ----- Report -----
  utsname uts{};
  uname(&uts);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  const double steal = ticks_after.all > ticks_before.all
                           ? 100.0 * (ticks_after.steal - ticks_before.steal) /
                                 static_cast<double>(ticks_after.all - ticks_before.all)
                           : 0;
  out << "# llmobs-edge proxy-hop benchmark" << (options.quick ? " (--quick: smoke run only)" : "")
      << "\n\n";
  out << "- date: " << date << "\n";
  out << "- machine: " << sysconf(_SC_NPROCESSORS_ONLN) << " online CPUs (nproc), CPU `"
      << FirstLineWith("/proc/cpuinfo", "model name") << "`, kernel " << uts.sysname << " "
      << uts.release << "\n";
  out << "- build: "
#if defined(__OPTIMIZE__) && defined(NDEBUG)
      << "optimized build with NDEBUG (bazel -c opt)"
#elif defined(__OPTIMIZE__)
      << "optimized build WITHOUT NDEBUG"
#else
      << "UNOPTIMIZED build: run with `bazel run -c opt`"
#endif
      << "\n";
  out << "- edge: //:llmobs-edge (or --edge) as a child process, `" << binary
      << "`, threads 0 (one per core), no stages (pass-through), Unix socket ingest too\n";
  if (options.pin) {
    out << "- --pin: this process (clients + Agent stand-in) on CPU 0, the edge on CPU 1\n";
  }
  out << "- Agent stand-in, in this process: " << agent.Describe()
      << "; load generator: blocking Boost.Beast clients (//tests/integration:harness "
         "TestClient), one thread each. Edge, stand-in and clients share the machine's cores.\n";
  out << "- contention: load average " << load_before << " before, " << LoadAverage()
      << " after; steal " << Fmt("%.1f", steal) << "% of CPU ticks; total runtime "
      << Fmt("%.0f", total_seconds) << " s\n\n";

  out << "## Payloads\n\n";
  out << "| payload | bytes | chunks | spans | `_llmobs` spans |\n|---|---:|---:|---:|---:|\n";
  for (auto& [plain, llm] : payloads) {
    for (const Payload* p : {&plain, &llm}) {
      if (p->file.bytes.empty()) continue;
      out << "| " << p->name() << " | " << Thousands(static_cast<double>(p->file.bytes.size()))
          << " | " << Thousands(p->file.chunks) << " | " << Thousands(p->file.spans) << " | "
          << Thousands(p->file.llmobs_spans) << " |\n";
    }
  }

  out << "\n## Latency at moderate load\n\n"
      << "One keep-alive client per path, one request at a time, paced (start-to-start interval: "
         "1 ms for 10 KiB, 5 ms for 1 MiB, 100 ms for 20 MiB); the paths alternate in 10 blocks "
         "(2 with --quick). Latency = PUT sent until the whole answer is read, in ms. Added = edge "
         "percentile - direct percentile.\n\n";
  out << "Paths: direct = " << PathName(Path::kDirect)
      << "; edge TCP = " << PathName(Path::kEdgeTcp) << "; edge UDS = " << PathName(Path::kEdgeUnix)
      << ".\n\n";
  out << "| payload | path | requests | req/s | p50 | p90 | p99 | max | added p50 | added p99 |\n"
      << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  std::map<std::string, LatencyRow> direct_latency;
  for (const LatencyRow& r : latency) {
    if (r.path == Path::kDirect) direct_latency[r.payload] = r;
  }
  for (const LatencyRow& r : latency) {
    const LatencyRow& d = direct_latency[r.payload];
    out << "| " << r.payload << " | " << PathShort(r.path) << " | " << r.requests << " | "
        << Fmt("%.0f", r.offered_per_s) << " | " << Fmt("%.3f", r.p50) << " | "
        << Fmt("%.3f", r.p90) << " | " << Fmt("%.3f", r.p99) << " | " << Fmt("%.3f", r.max) << " | "
        << (r.path == Path::kDirect ? "—" : Delta(r.p50 - d.p50)) << " | "
        << (r.path == Path::kDirect ? "—" : Delta(r.p99 - d.p99)) << " |\n";
  }

  out << "\n## Throughput at saturation\n\n"
      << "C keep-alive clients sending back to back for "
      << (options.quick ? "0.4 s" : "2.5 s (4 s for 20 MiB)") << "; direct and edge alternate, "
      << reps << (reps == 1 ? " run" : " runs") << " each, best run shown. MB = 10^6 bytes of "
      << "payload. CPU columns are cores busy on average during the edge run: the edge process, "
         "this process (clients + Agent stand-in), the whole machine; then the edge's busy "
         "threads, "
         "busiest first.\n\n";
  out << "| payload | clients | direct req/s | direct MB/s | edge req/s | edge MB/s | edge / "
         "direct | CPU direct run: bench / machine | CPU edge run: edge / bench / machine | edge "
         "threads (cores each) |\n"
      << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (const SaturationRow& s : saturation) {
    const SaturationRun& d = SaturationRow::Best(s.direct);
    const SaturationRun& e = SaturationRow::Best(s.edge);
    out << "| " << s.payload << " | " << s.clients << " | " << Thousands(d.req_per_s()) << " | "
        << Thousands(d.mb_per_s()) << " | " << Thousands(e.req_per_s()) << " | "
        << Thousands(e.mb_per_s()) << " | " << Fmt("%.0f%%", 100 * s.ratio()) << " | "
        << Fmt("%.2f", d.cpu.self / d.cpu.wall) << " / " << Fmt("%.2f", d.cpu.machine_busy) << " | "
        << Fmt("%.2f", e.cpu.edge / e.cpu.wall) << " / " << Fmt("%.2f", e.cpu.self / e.cpu.wall)
        << " / " << Fmt("%.2f", e.cpu.machine_busy) << " | ";
    for (size_t i = 0; i < e.edge_threads.size(); ++i) {
      out << (i ? " + " : "") << Fmt("%.2f", e.edge_threads[i]);
    }
    out << " |\n";
  }
  if (reps > 1) {
    out << "\nEvery run (MB/s), in the order they ran:\n\n| payload | clients | direct | edge |\n"
        << "|---|---:|---|---|\n";
    for (const SaturationRow& s : saturation) {
      std::string ds, es;
      for (const auto& r : s.direct) ds += (ds.empty() ? "" : ", ") + Thousands(r.mb_per_s());
      for (const auto& r : s.edge) es += (es.empty() ? "" : ", ") + Thousands(r.mb_per_s());
      out << "| " << s.payload << " | " << s.clients << " | " << ds << " | " << es << " |\n";
    }
  }

  out << "\n## Edge cost\n\n"
      << "Edge CPU = utime + stime of the edge process (/proc/PID/stat) over its runs; GB = 10^9 "
         "payload bytes forwarded. Bench CPU per GB = this process (clients + Agent stand-in) in "
         "the "
         "direct saturation runs, for scale.\n\n";
  out << "| payload | edge CPU s / GB, saturation | edge CPU s / GB, moderate load | bench CPU s / "
         "GB, direct saturation |\n|---|---:|---:|---:|\n";
  for (const std::string& name : payload_order) {
    double bench_cpu = 0;
    uint64_t bench_bytes = 0;
    for (const SaturationRow& s : saturation) {
      if (s.payload != name) continue;
      for (const auto& r : s.direct) {
        bench_cpu += r.cpu.self;
        bench_bytes += r.bytes;
      }
    }
    auto per_gb = [](const std::pair<double, uint64_t>& v) {
      return v.second ? Fmt("%.3f", v.first / (static_cast<double>(v.second) / 1e9)) : "—";
    };
    out << "| " << name << " | " << per_gb(cpu_sat[name]) << " | " << per_gb(cpu_moderate[name])
        << " | " << per_gb({bench_cpu, bench_bytes}) << " |\n";
  }
  out << "\nEdge memory: RSS " << MiB(rss_start) << " after start";
  for (const SizeReport& s : size_reports) {
    out << "; peak RSS (VmHWM) " << MiB(s.peak_rss_after) << " after the " << s.label
        << " runs (RSS then " << MiB(s.rss_after) << ")";
  }
  out << "; at the end: peak RSS " << MiB(peak_rss) << ", RSS " << MiB(rss_end)
      << ". Edge CPU over the whole run: " << Fmt("%.1f", edge_cpu_total) << " s.\n";

  // Targets.
  out << "\n## Targets\n\n| target | measured | verdict |\n|---|---|---|\n";
  bool p99_measured = false;
  for (const LatencyRow& r : latency) {
    if (r.payload != SizeLabel(kMiB) || r.path == Path::kDirect) continue;
    const double added = r.p99 - direct_latency[r.payload].p99;
    const bool pass = added < 1.0;
    if (r.path == Path::kEdgeTcp) {
      p99_measured = true;
      result.p99_target_pass = pass;
    }
    out << "| p99 added latency < 1 ms, 1 MiB, moderate load (" << PathShort(r.path)
        << (r.path == Path::kEdgeUnix ? ", informative" : "") << ") | " << Delta(added)
        << " ms (p99 " << Fmt("%.3f", r.p99) << " vs " << Fmt("%.3f", direct_latency[r.payload].p99)
        << " ms direct) | **" << (pass ? "PASS" : "MISS") << "** |\n";
  }
  if (!p99_measured)
    out << "| p99 added latency < 1 ms, 1 MiB | not measured (no 1 MiB size) | — |\n";
  bool all_pass = !saturation.empty();
  for (const SaturationRow& s : saturation) {
    const bool plain = s.payload.find("_llmobs") == std::string::npos;
    const bool pass = s.ratio() >= 0.8;
    if (plain) all_pass = all_pass && pass;
    out << "| saturation throughput >= 80% of direct, " << s.payload << ", " << s.clients
        << " clients" << (plain ? "" : " (informative)") << " | " << Fmt("%.0f%%", 100 * s.ratio())
        << " (" << Thousands(SaturationRow::Best(s.edge).mb_per_s()) << " vs "
        << Thousands(SaturationRow::Best(s.direct).mb_per_s()) << " MB/s) | **"
        << (pass ? "PASS" : "MISS") << "** |\n";
  }
  result.throughput_target_pass = all_pass;

  out << "\n## Correctness\n\n"
      << "- trace payloads received by the Agent stand-in: " << result.trace_requests
      << "; bodies checked against what was sent: " << result.bodies_checked << " ("
      << (options.verify_full_bodies
              ? std::string("whole bodies")
              : "size + first " + std::string(options.agent == "fake" ? "" : "and last ") +
                    std::to_string(kKeptEdgeBytes) + " bytes")
      << ", " << result.bodies_compared_whole
      << " compared whole); mismatches: " << result.mismatches
      << "; failed requests: " << result.failed_requests << "\n";
  out << "- the edge exited with " << result.edge_exit_code << " after SIGTERM\n";
  for (const std::string& n : b.notes) out << "- " << n << "\n";
  out.flush();
  result.completed = true;
  return result;
}

}  // namespace llmobs_edge::bench::proxy
