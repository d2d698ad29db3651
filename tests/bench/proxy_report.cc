// The proxy benchmark's markdown report: every figure as the median over the repetitions with
// the lowest and highest run, then the PASS/MISS lines of the cost targets.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <functional>
#include <limits>
#include <map>

#include "tests/bench/machine_stats.h"
#include "tests/bench/proxy_phases.h"
#include "tests/bench/stats.h"

namespace llmobs_edge::bench::proxy {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string MiB(uint64_t bytes) { return Fmt("%.1f MiB", static_cast<double>(bytes) / kMiB); }
std::string MiBNumber(double bytes) { return Fmt("%.1f", bytes / kMiB); }

// A signed latency difference in ms.
std::string Delta(double ms) { return (ms >= 0 ? "+" : "") + Fmt("%.3f", ms); }

// Summarizes f(x) over xs.
template <typename T>
Spread Over(const std::vector<T>& xs, const std::function<double(const T&)>& f) {
  std::vector<double> v;
  for (const T& x : xs) v.push_back(f(x));
  return Summarize(std::move(v));
}

std::string Seconds(double s) { return std::isinf(s) ? "never" : Fmt("%.1f", s); }
// µs: one decimal below 1,000, then thousands separators.
std::string Micros(double us) { return us >= 1000 ? Thousands(us) : Fmt("%.1f", us); }

// The index of `path` in the case's paths; paths.size() when it did not run.
size_t PathIndex(const LatencyCase& lc, Path path) {
  return static_cast<size_t>(std::find(lc.paths.begin(), lc.paths.end(), path) - lc.paths.begin());
}

// One figure of path `k` per repetition.
Spread LatencyFigure(const LatencyCase& lc, size_t k,
                     const std::function<double(const LatencyRun&)>& f) {
  std::vector<double> v;
  for (const auto& rep : lc.reps) v.push_back(f(rep[k]));
  return Summarize(std::move(v));
}
// Path `k`'s figure minus the direct path's, per repetition.
Spread AddedLatency(const LatencyCase& lc, size_t k, double LatencyRun::*field) {
  const size_t d = PathIndex(lc, Path::kDirect);
  std::vector<double> v;
  for (const auto& rep : lc.reps)
    v.push_back(d < rep.size() ? rep[k].*field - rep[d].*field : kNaN);
  return Summarize(std::move(v));
}

// The edge's cost per repetition, pooled over the given runs of each repetition.
std::vector<EdgeCost> SaturationCostPerRep(const RunRecord& run, const Payload* p) {
  std::vector<EdgeCost> out;
  for (const SaturationCase& s : run.saturation) {
    if (s.payload != p) continue;
    if (out.size() < s.edge.size()) out.resize(s.edge.size());
    for (size_t r = 0; r < s.edge.size(); ++r) out[r] += s.edge[r].edge;
  }
  return out;
}
std::vector<EdgeCost> ModerateCostPerRep(const LatencyCase& lc, bool tcp_only) {
  std::vector<EdgeCost> out;
  for (const auto& rep : lc.reps) {
    EdgeCost c;
    for (const LatencyRun& r : rep) {
      if (r.path == Path::kEdgeTcp || (!tcp_only && r.path == Path::kEdgeUnix)) c += r.edge;
    }
    out.push_back(c);
  }
  return out;
}

const LatencyCase* FindLatency(const RunRecord& run, uint64_t target) {
  for (const LatencyCase& lc : run.latency) {
    if (lc.payload->plain() && lc.payload->target == target) return &lc;
  }
  return nullptr;
}
const SaturationCase* FindSaturation(const RunRecord& run, uint64_t target, int clients) {
  for (const SaturationCase& s : run.saturation) {
    if (s.payload->plain() && s.payload->target == target && s.clients == clients) return &s;
  }
  return nullptr;
}
const Payload* FindPayload(const RunRecord& run, uint64_t target) {
  for (const Payload* p : run.payloads) {
    if (p->plain() && p->target == target) return p;
  }
  return nullptr;
}

const std::function<double(const EdgeCost&)> kSPerGb = [](const EdgeCost& c) {
  return c.s_per_gb();
};
const std::function<double(const EdgeCost&)> kUsPerRequest = [](const EdgeCost& c) {
  return c.us_per_request();
};
const std::function<double(const EdgeCost&)> kFaultsPerRequest = [](const EdgeCost& c) {
  return c.faults_per_request();
};

// A target on a spread's median: `pass(median)`; not measured when nothing ran.
TargetLine Line(const std::string& target, const Spread& s, const std::string& unit,
                const std::function<std::string(double)>& one,
                const std::function<bool(double)>& pass, bool informative = false) {
  TargetLine t;
  t.target = target;
  t.measured_at_all = s.n > 0;
  t.measured = FormatSpread(s, one) + unit;
  t.pass = s.n > 0 && pass(s.median);
  t.informative = informative;
  return t;
}

std::vector<TargetLine> Targets(const RunRecord& run) {
  std::vector<TargetLine> t;
  const auto f3 = [](double v) { return Fmt("%.3f", v); };
  const auto f1 = [](double v) { return Fmt("%.1f", v); };
  const auto delta = [](double v) { return Delta(v); };
  const Payload* mib = FindPayload(run, kMiB);
  const std::vector<EdgeCost> mib_sat =
      mib ? SaturationCostPerRep(run, mib) : std::vector<EdgeCost>{};
  t.push_back(Line("1 MiB: edge CPU <= 0.5 s/GB (saturation, client counts pooled)",
                   Over(mib_sat, kSPerGb), " s/GB", f3, [](double m) { return m <= 0.5; }));
  // Added latency of an edge path at moderate load; nothing when it did not run.
  auto added = [](const LatencyCase* lc, Path path, double LatencyRun::*field) {
    if (!lc || PathIndex(*lc, path) >= lc->paths.size()) return Spread{};
    return AddedLatency(*lc, PathIndex(*lc, path), field);
  };
  const LatencyCase* lat_mib = FindLatency(run, kMiB);
  t.push_back(Line("1 MiB: added latency p99 < 1 ms at moderate load (edge TCP)",
                   added(lat_mib, Path::kEdgeTcp, &LatencyRun::p99), " ms", delta,
                   [](double m) { return m < 1.0; }));
  if (lat_mib && PathIndex(*lat_mib, Path::kEdgeUnix) < lat_mib->paths.size()) {
    t.push_back(Line(
        "1 MiB: added latency p99 < 1 ms at moderate load (edge UDS)",
        added(lat_mib, Path::kEdgeUnix, &LatencyRun::p99), " ms", delta,
        [](double m) { return m < 1.0; }, /*informative=*/true));
  }
  t.push_back(Line("1 MiB: < 16 edge minor page faults per request in steady state (saturation)",
                   Over(mib_sat, kFaultsPerRequest), "", f1, [](double m) { return m < 16; }));
  t.push_back(Line(
      "1 MiB: < 16 edge minor page faults per request in steady state (moderate load, edge TCP)",
      lat_mib ? Over(ModerateCostPerRep(*lat_mib, true), kFaultsPerRequest) : Spread{}, "", f1,
      [](double m) { return m < 16; }));
  const LatencyCase* lat_20 = FindLatency(run, 20 * kMiB);
  t.push_back(Line("20 MiB: added latency p50 < 10 ms at moderate load (edge TCP)",
                   added(lat_20, Path::kEdgeTcp, &LatencyRun::p50), " ms", delta,
                   [](double m) { return m < 10.0; }));
  const Payload* small = FindPayload(run, 10 * kKiB);
  t.push_back(Line("10 KiB: edge CPU per request <= 40 µs (saturation, client counts pooled)",
                   small ? Over(SaturationCostPerRep(run, small), kUsPerRequest) : Spread{}, " µs",
                   f1, [](double m) { return m <= 40; }));
  const SaturationCase* mem = FindSaturation(run, 20 * kMiB, kMemoryClients);
  const std::function<double(const SaturationRun&)> peak = [](const SaturationRun& r) {
    return static_cast<double>(r.peak_rss);
  };
  t.push_back(Line(
      "memory: peak RSS < 400 MiB with 8 clients sending 20 MiB payloads",
      mem ? Over(mem->edge, peak) : Spread{},
      run.peak_reset_works ? " MiB" : " MiB (VmHWM since the edge started)",
      [](double v) { return MiBNumber(v); }, [](double m) { return m < 400.0 * kMiB; }));
  const std::function<double(const IdleRss&)> settle = [](const IdleRss& i) {
    return i.seconds_to_target;
  };
  t.push_back(Line(
      "memory: RSS back under 64 MiB within 10 s after the load stops (20 MiB, 8 "
      "clients)",
      mem ? Over(mem->idle, settle) : Spread{}, " s", Seconds, [](double m) { return m <= 10.0; }));
  return t;
}

void Header(const Options& options, const RunRecord& run, std::ostream& out) {
  PrintReportHeader(out, "proxy-hop benchmark", options.quick);
  out << "- edge: //:llmobs-edge (or --edge) as a child process, `" << run.binary
      << "`, threads 0 (one per core), no stages (pass-through), Unix socket ingest too\n";
  if (options.pin) {
    out << "- --pin: this process (clients + Agent stand-in) on CPU 0, the edge on CPU 1\n";
  }
  out << "- Agent stand-in, in this process: " << run.agent
      << "; load generator: blocking Boost.Beast clients (//tests/integration:harness "
         "TestClient), one thread each. Edge, stand-in and clients share the machine's cores.\n";
  out << "- repetitions: " << run.repeats
      << (run.repeats == 1 ? " run of every phase: each figure is that run's"
                           : " runs of every phase: each figure is the median, with the lowest "
                             "and highest run in brackets")
      << "\n";
  out << "- contention: load average " << run.load_before << " before, " << run.load_after
      << " after; steal " << Fmt("%.1f", run.steal_percent) << "% of CPU ticks; total runtime "
      << Fmt("%.0f", run.total_seconds) << " s\n\n";

  out << "## Payloads\n\n";
  out << "| payload | bytes | chunks | spans | `_llmobs` spans |\n|---|---:|---:|---:|---:|\n";
  for (const Payload* p : run.payloads) {
    out << "| " << p->name() << " | " << Thousands(static_cast<double>(p->file.bytes.size()))
        << " | " << Thousands(p->file.chunks) << " | " << Thousands(p->file.spans) << " | "
        << Thousands(p->file.llmobs_spans) << " |\n";
  }
}

void LatencySection(const RunRecord& run, std::ostream& out) {
  out << "\n## Latency at moderate load\n\n"
      << "One keep-alive client per path, one request at a time, paced (start-to-start interval: "
         "1 ms for 10 KiB, 5 ms for 1 MiB, 100 ms for 20 MiB); the paths alternate in 10 blocks "
         "(2 with --quick). Latency = PUT sent until the whole answer is read, in ms. Added = edge "
         "percentile - direct percentile of the same run. Edge cost = the edge process's utime + "
         "stime and minor page faults (/proc/PID/stat) during the path's blocks, per GB (10^9 "
         "payload bytes) and per request.\n\n";
  out << "Paths: direct = " << PathName(Path::kDirect)
      << "; edge TCP = " << PathName(Path::kEdgeTcp) << "; edge UDS = " << PathName(Path::kEdgeUnix)
      << ".\n\n";
  out << "| payload | path | requests | req/s | p50 | p90 | p99 | max | added p50 | added p99 | "
         "edge CPU s/GB | edge µs/request | edge minor faults/request |\n"
      << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  const auto delta = [](double v) { return Delta(v); };
  for (const LatencyCase& lc : run.latency) {
    for (size_t k = 0; k < lc.paths.size(); ++k) {
      const bool direct = lc.paths[k] == Path::kDirect;
      auto fig = [&](const std::function<double(const LatencyRun&)>& f, const char* format) {
        return FormatSpread(LatencyFigure(lc, k, f), format);
      };
      // format nullptr: µs (Micros).
      auto cost = [&](const std::function<double(const EdgeCost&)>& f, const char* format) {
        if (direct) return std::string("—");
        const Spread s = LatencyFigure(lc, k, [&](const LatencyRun& r) { return f(r.edge); });
        return format ? FormatSpread(s, format) : FormatSpread(s, Micros);
      };
      out << "| " << lc.payload->name() << " | " << PathShort(lc.paths[k]) << " | "
          << fig([](const LatencyRun& r) { return r.requests; }, "%.0f") << " | "
          << fig([](const LatencyRun& r) { return r.offered_per_s; }, "%.0f") << " | "
          << fig([](const LatencyRun& r) { return r.p50; }, "%.3f") << " | "
          << fig([](const LatencyRun& r) { return r.p90; }, "%.3f") << " | "
          << fig([](const LatencyRun& r) { return r.p99; }, "%.3f") << " | "
          << fig([](const LatencyRun& r) { return r.max; }, "%.3f") << " | "
          << (direct ? "—" : FormatSpread(AddedLatency(lc, k, &LatencyRun::p50), delta)) << " | "
          << (direct ? "—" : FormatSpread(AddedLatency(lc, k, &LatencyRun::p99), delta)) << " | "
          << cost(kSPerGb, "%.3f") << " | " << cost(kUsPerRequest, nullptr) << " | "
          << cost(kFaultsPerRequest, "%.1f") << " |\n";
    }
  }
}

void SaturationSection(const Options& options, const RunRecord& run, std::ostream& out) {
  using F = std::function<double(const SaturationRun&)>;
  out << "\n## Throughput at saturation\n\n"
      << "C keep-alive clients sending back to back for "
      << (options.quick ? "0.4 s" : "2.5 s (4 s for 20 MiB)") << "; direct and edge alternate, "
      << run.repeats << (run.repeats == 1 ? " run" : " runs") << " each. MB = 10^6 bytes of "
      << "payload. Edge cost over the run (after each client's first request): CPU seconds per "
         "GB and µs per request, minor page faults per request; edge peak RSS = VmHWM reset "
         "before the run (/proc/PID/clear_refs), read after it.\n\n";
  out << "| payload | clients | direct req/s | direct MB/s | edge req/s | edge MB/s | edge / "
         "direct | edge CPU s/GB | edge µs/request | edge minor faults/request | edge peak RSS "
         "(MiB) |\n"
      << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  const F req = [](const SaturationRun& r) { return r.req_per_s(); };
  const F mb = [](const SaturationRun& r) { return r.mb_per_s(); };
  for (const SaturationCase& s : run.saturation) {
    std::vector<double> ratio;
    for (size_t r = 0; r < s.edge.size() && r < s.direct.size(); ++r) {
      ratio.push_back(100 * s.edge[r].mb_per_s() / s.direct[r].mb_per_s());
    }
    // format nullptr: µs (Micros).
    auto cost = [&](const std::function<double(const EdgeCost&)>& f, const char* format) {
      const Spread v =
          Over<SaturationRun>(s.edge, [&](const SaturationRun& r) { return f(r.edge); });
      return format ? FormatSpread(v, format) : FormatSpread(v, Micros);
    };
    out << "| " << s.payload->name() << " | " << s.clients << " | "
        << FormatSpreadThousands(Over(s.direct, req)) << " | "
        << FormatSpreadThousands(Over(s.direct, mb)) << " | "
        << FormatSpreadThousands(Over(s.edge, req)) << " | "
        << FormatSpreadThousands(Over(s.edge, mb)) << " | "
        << FormatSpread(Summarize(ratio), "%.0f%%") << " | " << cost(kSPerGb, "%.3f") << " | "
        << cost(kUsPerRequest, nullptr) << " | " << cost(kFaultsPerRequest, "%.1f") << " | "
        << FormatSpread(
               Over<SaturationRun>(
                   s.edge, [](const SaturationRun& r) { return static_cast<double>(r.peak_rss); }),
               [](double v) { return MiBNumber(v); })
        << " |\n";
  }

  out << "\nCPU during the runs, in cores busy on average: this process (clients + Agent "
         "stand-in) and the whole machine in the direct runs; the edge process, this process and "
         "the machine in the edge runs; then the edge's busy threads, busiest first, in the edge "
         "run with the median throughput.\n\n"
      << "| payload | clients | direct run: bench | direct run: machine | edge run: edge | edge "
         "run: bench | edge run: machine | edge threads (cores each) |\n"
      << "|---|---:|---:|---:|---:|---:|---:|---|\n";
  for (const SaturationCase& s : run.saturation) {
    // CPU seconds over the run / its wall time.
    auto cores = [](const std::vector<SaturationRun>& runs, double SaturationRun::*cpu) {
      return FormatSpread(
          Over<SaturationRun>(
              runs, [cpu](const SaturationRun& r) { return r.wall > 0 ? r.*cpu / r.wall : 0; }),
          "%.2f");
    };
    const F machine = [](const SaturationRun& r) { return r.machine_busy; };
    out << "| " << s.payload->name() << " | " << s.clients << " | "
        << cores(s.direct, &SaturationRun::self_cpu) << " | "
        << FormatSpread(Over(s.direct, machine), "%.2f") << " | "
        << cores(s.edge, &SaturationRun::edge_cpu) << " | "
        << cores(s.edge, &SaturationRun::self_cpu) << " | "
        << FormatSpread(Over(s.edge, machine), "%.2f") << " | ";
    std::vector<const SaturationRun*> by_mb;
    for (const SaturationRun& r : s.edge) by_mb.push_back(&r);
    std::sort(by_mb.begin(), by_mb.end(),
              [](const auto* a, const auto* b) { return a->mb_per_s() < b->mb_per_s(); });
    if (!by_mb.empty()) {
      const SaturationRun& m = *by_mb[by_mb.size() / 2];
      for (size_t i = 0; i < m.edge_threads.size(); ++i) {
        out << (i ? " + " : "") << Fmt("%.2f", m.edge_threads[i]);
      }
    }
    out << " |\n";
  }
  if (run.repeats > 1) {
    out << "\nEvery run (MB/s), in the order they ran:\n\n| payload | clients | direct | edge |\n"
        << "|---|---:|---|---|\n";
    for (const SaturationCase& s : run.saturation) {
      std::string ds, es;
      for (const auto& r : s.direct) ds += (ds.empty() ? "" : ", ") + Thousands(r.mb_per_s());
      for (const auto& r : s.edge) es += (es.empty() ? "" : ", ") + Thousands(r.mb_per_s());
      out << "| " << s.payload->name() << " | " << s.clients << " | " << ds << " | " << es
          << " |\n";
    }
  }
}

void CostSection(const RunRecord& run, std::ostream& out) {
  out << "\n## Edge cost\n\n"
      << "Per payload, each repetition pooled over its runs (saturation: both client counts; "
         "moderate load: the edge paths). Edge CPU = utime + stime of the edge process "
         "(/proc/PID/stat); GB = 10^9 payload bytes forwarded; minor faults = its minflt. Bench "
         "CPU per GB = this process (clients + Agent stand-in) in the direct saturation runs, for "
         "scale.\n\n";
  out << "| payload | edge CPU s/GB, saturation | edge µs/request, saturation | edge minor "
         "faults/request, saturation | edge CPU s/GB, moderate load | edge minor faults/request, "
         "moderate load | bench CPU s/GB, direct saturation |\n"
      << "|---|---:|---:|---:|---:|---:|---:|\n";
  for (const Payload* p : run.payloads) {
    const std::vector<EdgeCost> sat = SaturationCostPerRep(run, p);
    std::vector<EdgeCost> moderate, bench;
    for (const LatencyCase& lc : run.latency) {
      if (lc.payload == p) moderate = ModerateCostPerRep(lc, false);
    }
    for (const SaturationCase& s : run.saturation) {
      if (s.payload != p) continue;
      if (bench.size() < s.direct.size()) bench.resize(s.direct.size());
      for (size_t r = 0; r < s.direct.size(); ++r) {
        bench[r] += EdgeCost{s.direct[r].self_cpu, 0, s.direct[r].requests, s.direct[r].bytes};
      }
    }
    out << "| " << p->name() << " | " << FormatSpread(Over(sat, kSPerGb), "%.3f") << " | "
        << FormatSpread(Over(sat, kUsPerRequest), Micros) << " | "
        << FormatSpread(Over(sat, kFaultsPerRequest), "%.1f") << " | "
        << FormatSpread(Over(moderate, kSPerGb), "%.3f") << " | "
        << FormatSpread(Over(moderate, kFaultsPerRequest), "%.1f") << " | "
        << FormatSpread(Over(bench, kSPerGb), "%.3f") << " |\n";
  }
  out << "\nEdge memory: RSS " << MiB(run.rss_start) << " after start";
  for (const SizeReport& s : run.sizes) {
    out << "; peak RSS (VmHWM) " << MiB(s.peak_rss_after) << " after the " << s.label
        << " runs (RSS then " << MiB(s.rss_after) << ")";
  }
  out << "; at the end: peak RSS " << MiB(run.peak_rss) << ", RSS " << MiB(run.rss_end)
      << ". Edge CPU over the whole run: " << Fmt("%.1f", run.edge_cpu_total) << " s.";
  if (!run.peak_reset_works) {
    out << " The kernel refused to reset VmHWM (/proc/PID/clear_refs): each run's peak RSS is "
           "the peak since the edge started.";
  }
  out << "\n";
}

void MemorySection(const RunRecord& run, std::ostream& out) {
  out << "\n## Memory after load\n\n";
  bool any = false;
  for (const SaturationCase& s : run.saturation) any = any || !s.idle.empty();
  if (!any) {
    out << "Not run: it follows the edge saturation runs of " << kMemoryClients
        << " clients on a plain payload over 4 MiB (the default sizes include 20 MiB).\n";
    return;
  }
  out << "After each edge saturation run of " << kMemoryClients
      << " clients on a plain payload over 4 MiB, the edge stays idle while its VmRSS is sampled "
         "every "
      << Fmt("%.1f", kIdleSampleSeconds) << " s for up to " << Fmt("%.0f", kIdleWatchSeconds)
      << " s, until it is under " << kIdleRssTarget / kMiB
      << " MiB. Peak RSS = VmHWM reset before the run, read after it.\n\n"
      << "| payload | clients | run | peak RSS during the run | RSS when the load stopped | under "
      << kIdleRssTarget / kMiB << " MiB after (s) | RSS samples (MiB) |\n"
      << "|---|---:|---:|---:|---:|---:|---|\n";
  for (const SaturationCase& s : run.saturation) {
    for (size_t r = 0; r < s.idle.size(); ++r) {
      const IdleRss& i = s.idle[r];
      std::string samples;
      for (uint64_t b : i.samples) {
        samples += (samples.empty() ? "" : ", ") + MiBNumber(static_cast<double>(b));
      }
      out << "| " << s.payload->name() << " | " << s.clients << " | " << r + 1 << " | "
          << MiB(r < s.edge.size() ? s.edge[r].peak_rss : 0) << " | " << MiB(i.rss_at_stop) << " | "
          << Seconds(i.seconds_to_target) << " | " << samples << " |\n";
    }
  }
}

}  // namespace

void WriteReport(const Options& options, const RunRecord& run, Result* result, std::ostream& out) {
  Header(options, run, out);
  LatencySection(run, out);
  SaturationSection(options, run, out);
  CostSection(run, out);
  MemorySection(run, out);

  const std::vector<TargetLine> targets = Targets(run);
  result->targets_passed = TargetsPassed(targets);
  result->targets_missed = TargetsMissed(targets);
  out << "\n## Targets\n\n"
      << "The cost targets of the hot-path issue, on the medians over " << run.repeats
      << (run.repeats == 1 ? " run" : " runs (lowest and highest in brackets)")
      << "; n/a = the case did not run. Informative lines do not count.\n\n";
  PrintTargets(out, targets);
  out << "\n" << result->targets_passed << " passed, " << result->targets_missed << " missed.\n";

  out << "\n## Correctness\n\n"
      << "- trace payloads received by the Agent stand-in: " << result->trace_requests
      << "; bodies checked against what was sent: " << result->bodies_checked << " ("
      << (options.verify_full_bodies
              ? std::string("whole bodies")
              : "size + first " + std::string(options.agent == "fake" ? "" : "and last ") +
                    std::to_string(kKeptEdgeBytes) + " bytes")
      << ", " << result->bodies_compared_whole
      << " compared whole); mismatches: " << result->mismatches
      << "; failed requests: " << result->failed_requests << "\n";
  out << "- the edge exited with " << result->edge_exit_code << " after SIGTERM\n";
  for (const std::string& n : run.notes) out << "- " << n << "\n";
  out.flush();
}

}  // namespace llmobs_edge::bench::proxy
