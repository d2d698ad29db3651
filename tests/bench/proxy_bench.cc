#include "tests/bench/proxy_bench.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "tests/bench/machine_stats.h"
#include "tests/bench/proxy_edge.h"
#include "tests/bench/proxy_phases.h"
#include "tests/bench/proxy_sink.h"
#include "tests/bench/stats.h"
#include "tests/integration/edge_binary.h"

namespace llmobs_edge::bench::proxy {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The saturation case and its memory phase, `repeats` times: direct and edge alternate, and
// which goes first alternates too.
SaturationCase RunSaturationCase(Bench& b, const Payload& p, int clients, int repeats) {
  SaturationCase sc;
  sc.payload = &p;
  sc.clients = clients;
  const bool memory = p.plain() && p.target > 4 * kMiB && clients == kMemoryClients;
  const double secs = SaturationSeconds(p.target, b.opt.quick);
  for (int rep = 0; rep < repeats; ++rep) {
    std::fprintf(stderr, "%s: saturation with %d clients, run %d of %d%s...\n", p.name().c_str(),
                 clients, rep + 1, repeats, memory ? " (then the edge idle: RSS)" : "");
    for (int k = 0; k < 2; ++k) {
      if ((k + rep) % 2 == 0) {
        sc.direct.push_back(RunSaturationOnce(b, p, Path::kDirect, clients, secs, nullptr));
        continue;
      }
      IdleRss idle;
      sc.edge.push_back(
          RunSaturationOnce(b, p, Path::kEdgeTcp, clients, secs, memory ? &idle : nullptr));
      const SaturationRun& e = sc.edge.back();
      std::fprintf(stderr,
                   "  edge %.0f MB/s, %.3f CPU s/GB, %.1f µs and %.1f minor faults per request, "
                   "peak RSS %.1f MiB\n",
                   e.mb_per_s(), e.edge.s_per_gb(), e.edge.us_per_request(),
                   e.edge.faults_per_request(), static_cast<double>(e.peak_rss) / kMiB);
      if (memory) {
        std::fprintf(
            stderr, "  idle: RSS %.1f MiB when the load stopped, under %.0f MiB after %s\n",
            static_cast<double>(idle.rss_at_stop) / kMiB,
            static_cast<double>(kIdleRssTarget) / kMiB,
            std::isinf(idle.seconds_to_target) ? "more than the watch"
                                               : Fmt("%.1f s", idle.seconds_to_target).c_str());
        sc.idle.push_back(std::move(idle));
      }
    }
  }
  return sc;
}

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
  RunRecord rec;
  const auto run_start = Clock::now();
  rec.load_before = LoadAverage();
  const MachineTicks ticks_before = ReadMachineTicks();
  rec.repeats = options.repeats > 0 ? options.repeats : (options.quick ? 1 : 3);

  std::vector<uint64_t> sizes = options.sizes;
  if (sizes.empty()) sizes = {10 * kKiB, 1 * kMiB, 20 * kMiB};
  std::sort(sizes.begin(), sizes.end());

  rec.binary =
      options.edge_binary.empty() ? testing::FindEdgeBinary(options.argv0) : options.edge_binary;
  if (rec.binary.empty()) {
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
  rec.agent = agent.Describe();

  ProxyEdge edge;
  std::fprintf(stderr, "starting %s...\n", rec.binary.c_str());
  if (std::string err = edge.Start(rec.binary, agent.url()); !err.empty()) {
    result.error = err;
    return result;
  }
  if (options.pin && !edge.PinTo(1)) {
    result.error = "cannot pin the edge to CPU 1";
    return result;
  }
  rec.rss_start = edge.RssBytes();
  std::fprintf(stderr, "edge pid %d ready: TCP %u, socket %s, telemetry %u\n", edge.pid(),
               edge.port(), edge.socket_path().c_str(), edge.telemetry_port());

  Bench b(options, agent, edge, result);
  for (auto& [plain, llm] : payloads) {
    for (Payload* p : {&plain, &llm}) {
      if (p->file.bytes.empty()) continue;
      rec.payloads.push_back(p);
      std::vector<Path> paths = {Path::kDirect, Path::kEdgeTcp};
      if (options.unix_ingest && p->plain() && p->target == kMiB) paths.push_back(Path::kEdgeUnix);
      LatencyCase lc;
      lc.payload = p;
      lc.paths = paths;
      for (int rep = 0; rep < rec.repeats; ++rep) {
        std::fprintf(stderr, "%s: latency at moderate load, run %d of %d...\n", p->name().c_str(),
                     rep + 1, rec.repeats);
        lc.reps.push_back(RunLatency(b, *p, paths));
      }
      rec.latency.push_back(std::move(lc));
      std::vector<int> concurrency = p->plain() ? std::vector<int>{4, 8} : std::vector<int>{8};
      if (options.quick) {
        // One client count; the large plain payload keeps the memory phase's.
        concurrency = {p->plain() && p->target > 4 * kMiB ? kMemoryClients : 4};
      }
      for (int c : concurrency) rec.saturation.push_back(RunSaturationCase(b, *p, c, rec.repeats));
    }
    rec.sizes.push_back({plain.size_label, b.PeakRssSinceStart(), edge.RssBytes()});
  }
  rec.peak_rss = b.PeakRssSinceStart();
  rec.rss_end = edge.RssBytes();
  rec.edge_cpu_total = edge.CpuSeconds();
  rec.peak_reset_works = b.peak_reset_works;
  std::fprintf(stderr, "stopping the edge (SIGTERM)...\n");
  result.edge_exit_code = edge.Terminate(30);
  if (result.edge_exit_code != 0) {
    b.notes.push_back("the edge exited with " + std::to_string(result.edge_exit_code) +
                      " after SIGTERM: " + edge.LogTail());
  }
  const MachineTicks ticks_after = ReadMachineTicks();
  rec.total_seconds = Seconds(Clock::now() - run_start);
  rec.load_after = LoadAverage();
  rec.steal_percent = ticks_after.all > ticks_before.all
                          ? 100.0 * (ticks_after.steal - ticks_before.steal) /
                                static_cast<double>(ticks_after.all - ticks_before.all)
                          : 0;
  rec.notes = b.notes;
  WriteReport(options, rec, &result, out);
  result.completed = true;
  return result;
}

}  // namespace llmobs_edge::bench::proxy
