#include "tests/bench/rescue_bench.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/bench/machine_stats.h"
#include "tests/bench/rescue_case.h"
#include "tests/bench/rescue_payload.h"
#include "tests/bench/stats.h"
#include "tests/integration/edge_binary.h"

namespace llmobs_edge::bench::rescue {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1024 * 1024;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string MiB(double bytes) { return Fmt("%.1f MiB", bytes / kMiB); }

std::string FsType(const std::string& path) {
  struct statfs s;
  if (::statfs(path.c_str(), &s) != 0) return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x01021994:
      return "tmpfs";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794c7630:
      return "overlayfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "f_type 0x%lx", static_cast<unsigned long>(s.f_type));
      return buf;
    }
  }
}

// write(4 KiB) + fdatasync in `dir`: what one durable log append costs on this storage.
struct FsyncProbe {
  double p50_us = 0, p99_us = 0;
  int n = 0;
};
FsyncProbe ProbeFsync(const std::string& dir, int n) {
  FsyncProbe p;
  const std::string path = dir + "/fsync-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return p;
  std::string block(4096, 'x');
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) break;
    if (::fdatasync(fd) != 0) break;
    us.push_back(Seconds(Clock::now() - t0) * 1e6);
  }
  ::close(fd);
  ::unlink(path.c_str());
  p.n = static_cast<int>(us.size());
  p.p50_us = Percentile(us, 0.5);
  p.p99_us = Percentile(us, 0.99);
  return p;
}

std::string PerEvent(uint64_t bytes, uint64_t events) {
  return events ? Thousands(static_cast<double>(bytes) / static_cast<double>(events)) : "—";
}

}  // namespace

Result Run(const Options& options_in, std::ostream& out) {
  Options options = options_in;
  if (options.quick && options_in.seconds == Options().seconds) options.seconds = 1.0;
  Result result;
  const auto run_start = Clock::now();
  const std::string load_before = LoadAverage();
  const MachineTicks ticks_before = ReadMachineTicks();

  const std::string binary =
      options.edge_binary.empty() ? testing::FindEdgeBinary(options.argv0) : options.edge_binary;
  if (binary.empty()) {
    result.error =
        "cannot find the edge binary in the runfiles (run through bazel, or pass --edge)";
    return result;
  }
  const FsyncProbe fsync_probe = ProbeFsync("/tmp", options.quick ? 50 : 500);

  std::fprintf(stderr, "generating payloads...\n");
  std::map<std::pair<size_t, int>, RescuePayload> payloads;
  for (size_t s : options.struct_sizes) {
    for (int e : options.events_per_payload) {
      PayloadSpec spec;
      spec.struct_bytes = s;
      spec.events = e;
      payloads.emplace(std::make_pair(s, e), RescuePayload::Make(spec));
    }
  }

  const int repeats = options.repeats > 0 ? options.repeats : (options.quick ? 1 : 3);
  std::vector<CaseReport> reports;  // in run order
  uint64_t id_base = 1'000'000;
  // Repetition by repetition, so a burst of load from elsewhere on the machine spoils one run of
  // many cases rather than every run of one.
  for (int run = 1; run <= repeats; ++run) {
    for (const std::string& sync : options.syncs) {
      for (size_t s : options.struct_sizes) {
        for (int e : options.events_per_payload) {
          for (int c : options.clients) {
            const RescuePayload& p = payloads.at({s, e});
            std::fprintf(stderr, "sync %s, %s, %d clients, run %d of %d: %.1f s...\n", sync.c_str(),
                         p.label().c_str(), c, run, repeats, options.seconds);
            reports.push_back(RunCase(options, binary, sync, p, c, id_base));
            CaseReport& rep = reports.back();
            rep.run = run;
            std::fprintf(stderr,
                         "  %s events/s, p50 %.2f ms, p99 %.2f ms, edge %.1f µs/event, %.1f "
                         "minor faults/request, delivered %llu of %llu\n",
                         Thousands(rep.r.events_per_s).c_str(), rep.req_p50, rep.req_p99,
                         rep.edge_us_per_event, rep.edge_faults_per_request,
                         static_cast<unsigned long long>(rep.r.delivered),
                         static_cast<unsigned long long>(rep.r.events_sent));
            for (const std::string& n : rep.notes) std::fprintf(stderr, "  note: %s\n", n.c_str());
            result.cases.push_back(rep.r);
            id_base += 1'000'000'000'000ull;
          }
        }
      }
    }
  }
  // The runs of each case: the same order in every repetition.
  const size_t per_run = reports.size() / static_cast<size_t>(repeats);
  std::vector<std::vector<const CaseReport*>> cases(per_run);
  for (size_t i = 0; i < reports.size(); ++i) cases[i % per_run].push_back(&reports[i]);
  std::vector<const CaseReport*> by_case;  // every run, grouped by case
  for (const auto& runs : cases) by_case.insert(by_case.end(), runs.begin(), runs.end());

  // ----- Report -----
  const MachineTicks ticks_after = ReadMachineTicks();
  const double total_seconds = Seconds(Clock::now() - run_start);
  const double steal = ticks_after.all > ticks_before.all
                           ? 100.0 * (ticks_after.steal - ticks_before.steal) /
                                 static_cast<double>(ticks_after.all - ticks_before.all)
                           : 0;
  PrintReportHeader(out, "rescue benchmark", options.quick);
  out << "- edge: `" << binary << "` as a child process, one per case with a fresh ledger in "
      << "/tmp (" << FsType("/tmp") << "); `pipeline.stages: [rescue]`, ingest.threads "
      << options.edge_threads << (options.edge_threads == 0 ? " (one per core)" : "")
      << ", intake through the Agent's EVP proxy (defaults: batches of up to 1000 events / 5 MiB, "
         "flush interval 1 s)\n";
  out << "- storage: write(4 KiB) + fdatasync in /tmp: p50 " << Fmt("%.0f", fsync_probe.p50_us)
      << " µs, p99 " << Fmt("%.0f", fsync_probe.p99_us) << " µs (" << fsync_probe.n << " probes)\n";
  out << "- Agent stand-in, in this process: tests/bench/rescue_sink.cc (one blocking thread per "
         "connection; /v0.4/traces 200, EVP proxy 202, every event's span id kept); load: C "
         "blocking keep-alive clients (//tests/integration:harness TestClient) sending back to "
         "back for "
      << Fmt("%.1f", options.seconds) << " s per case after " << (options.quick ? 1 : 3)
      << " warm-up requests each. Edge, stand-in and clients share the machine's cores.\n";
  out << "- repetitions: " << repeats
      << (repeats == 1 ? " run of every case"
                       : " runs of every case, repetition by repetition; the summary gives each "
                         "figure's median with the lowest and highest run in brackets, the other "
                         "tables every run")
      << "\n";
  out << "- contention: load average " << load_before << " before, " << LoadAverage()
      << " after; steal " << Fmt("%.1f", steal) << "% of CPU ticks; total runtime "
      << Fmt("%.0f", total_seconds) << " s\n\n";

  out << "## Payloads\n\nEvery chunk: a `flask.request` root with `_sampling_priority_v1` = 0 "
         "plus up to 5 `openai.request` spans carrying `meta_struct[\"_llmobs\"]` "
         "(LLMObsSpanData: trace_id, parent_id, name, ml_app, session_id, 10 tags, 8 metrics, "
         "meta{span.kind, model_name, model_provider, 5 metadata, input messages, output "
         "message}, _dd). Span ids, trace ids and LLMObs trace ids are rewritten for every "
         "request.\n\n";
  out << "| payload | bytes | chunks | events | `_llmobs` bytes (min / avg / max) |\n"
      << "|---|---:|---:|---:|---|\n";
  for (const auto& [key, p] : payloads) {
    out << "| " << p.label() << " | " << Thousands(static_cast<double>(p.bytes().size())) << " | "
        << p.chunks() << " | " << p.events() << " | "
        << Thousands(static_cast<double>(p.min_struct_bytes())) << " / "
        << Thousands(p.avg_struct_bytes()) << " / "
        << Thousands(static_cast<double>(p.max_struct_bytes())) << " |\n";
  }

  // The first columns of a per-run row.
  const auto row = [&out](const CaseReport& c) -> std::ostream& {
    return out << "| " << c.r.sync << " | " << c.payload_label << " | " << c.r.clients << " | "
               << c.run << " | ";
  };
  out << "\n## Rescued events per second\n\n"
         "events/s = events in payloads answered 200 during the timed window / window. The "
         "edge's own `llmobs_edge_rescue_events_total{outcome=\"rescued\"}` over the same window "
         "is checked equal (column \"= metric\"). Request latency: PUT sent until the whole "
         "answer is read (ms). Commit: `llmobs_edge_ledger_commit_seconds` over the window (one "
         "commit per payload, group wait included; percentiles interpolated in its buckets). "
         "Forward: mean `llmobs_edge_upstream_latency_seconds{route=\"v0.4_traces\"}`. Delivered "
         "during load: events the stand-in received during the window / window. Edge cost over "
         "the window: its CPU (utime + stime) per event, per request and per GB (10^9 payload "
         "bytes received), its minor page faults (/proc/PID/stat minflt) per request. Peak RSS: "
         "VmHWM of the case's edge.\n\n";
  using Figure = std::function<double(const CaseReport&)>;
  const auto spread = [](const std::vector<const CaseReport*>& runs, const Figure& f) {
    std::vector<double> v;
    for (const CaseReport* c : runs) v.push_back(f(*c));
    return Summarize(std::move(v));
  };
  out << "| sync | payload | clients | runs | **events/s** | requests/s | MB/s in | p50 ms | p99 "
         "ms | commit p99 ms | edge cores | edge µs/event | edge µs/request | edge CPU s/GB | "
         "edge minor faults/request | peak RSS (MiB) |\n"
      << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& runs : cases) {
    const CaseReport& c = *runs.front();
    const auto fig = [&](const Figure& f, const char* format) {
      return FormatSpread(spread(runs, f), format);
    };
    out << "| " << c.r.sync << " | " << c.payload_label << " | " << c.r.clients << " | "
        << runs.size() << " | **"
        << FormatSpreadThousands(spread(runs, [](const CaseReport& x) { return x.r.events_per_s; }))
        << "** | "
        << FormatSpreadThousands(spread(runs,
                                        [](const CaseReport& x) {
                                          return static_cast<double>(x.requests_window) /
                                                 std::max(x.window_s, 1e-9);
                                        }))
        << " | " << fig([](const CaseReport& x) { return x.mb_in_per_s; }, "%.1f") << " | "
        << fig([](const CaseReport& x) { return x.req_p50; }, "%.2f") << " | "
        << fig([](const CaseReport& x) { return x.req_p99; }, "%.2f") << " | "
        << fig([](const CaseReport& x) { return x.commit_p99_ms; }, "%.2f") << " | "
        << fig([](const CaseReport& x) { return x.edge_cores; }, "%.2f") << " | "
        << fig([](const CaseReport& x) { return x.edge_us_per_event; }, "%.1f") << " | "
        << fig([](const CaseReport& x) { return x.edge_us_per_request; }, "%.0f") << " | "
        << fig([](const CaseReport& x) { return x.edge_s_per_gb; }, "%.2f") << " | "
        << fig([](const CaseReport& x) { return x.edge_faults_per_request; }, "%.1f") << " | "
        << fig([](const CaseReport& x) { return x.rss_peak / double(kMiB); }, "%.1f") << " |\n";
  }
  out << "\nEvery run:\n\n"
      << "| sync | payload | clients | run | requests/s | **events/s** | = metric | MB/s in | p50 "
         "ms | p99 ms | max ms | commit mean / p50 / p99 ms | forward ms | delivered/s during "
         "load | outbox at end of load | drain s |\n"
      << "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|\n";
  for (const CaseReport* cp : by_case) {
    const CaseReport& c = *cp;
    row(c) << Thousands(static_cast<double>(c.requests_window) / std::max(c.window_s, 1e-9))
           << " | **" << Thousands(c.r.events_per_s) << "** | "
           << (c.r.window_mismatch == 0 ? "yes" : "off by " + std::to_string(c.r.window_mismatch))
           << " | " << Fmt("%.1f", c.mb_in_per_s) << " | " << Fmt("%.2f", c.req_p50) << " | "
           << Fmt("%.2f", c.req_p99) << " | " << Fmt("%.1f", c.req_max) << " | "
           << Fmt("%.2f", c.commit_mean_ms) << " / " << Fmt("%.2f", c.commit_p50_ms) << " / "
           << Fmt("%.2f", c.commit_p99_ms) << " | " << Fmt("%.2f", c.upstream_mean_ms) << " | "
           << Thousands(c.delivered_per_s_load) << " | " << Thousands(c.outbox_records_end_load)
           << " (" << MiB(c.outbox_bytes_end_load) << ") | " << Fmt("%.1f", c.drain_s) << " |\n";
  }

  out << "\n## Resources\n\n"
         "CPU in cores (CPU seconds / window seconds): the edge process; this process (clients + "
         "stand-in); the whole machine (of "
      << sysconf(_SC_NPROCESSORS_ONLN)
      << "). Edge µs per "
         "event = edge CPU / events. Disk writes: the edge's /proc/PID/io write_bytes during the "
         "window, per event. Ledger: du of the ledger directory (allocated blocks) at the end of "
         "the load, after the outbox drained, and after an offline compaction (the edge stopped; "
         "every column family flushed and compacted: what stays is the seen-set, 24 h TTL); per "
         "event = bytes / events the case committed.\n\n";
  out << "| sync | payload | clients | run | edge / bench / machine cores | iowait | edge "
         "µs/event | edge CPU s/GB | edge minor faults/request | disk writes B/event | RSS after "
         "start | peak RSS (VmHWM) | RSS at end | ledger at end of load | ledger drained: B/event "
         "(WAL / SST) | compacted: B/event (SST) |\n"
      << "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
  for (const CaseReport* cp : by_case) {
    const CaseReport& c = *cp;
    const uint64_t n = c.r.rescued_metric;
    row(c) << Fmt("%.2f", c.edge_cores) << " / " << Fmt("%.2f", c.bench_cores) << " / "
           << Fmt("%.2f", c.machine_busy) << " | " << Fmt("%.0f%%", 100 * c.iowait_share) << " | "
           << Fmt("%.1f", c.edge_us_per_event) << " | " << Fmt("%.2f", c.edge_s_per_gb) << " | "
           << Fmt("%.1f", c.edge_faults_per_request) << " | " << Thousands(c.disk_write_per_event)
           << " | " << MiB(static_cast<double>(c.rss_start)) << " | "
           << MiB(static_cast<double>(c.rss_peak)) << " | " << MiB(static_cast<double>(c.rss_end))
           << " | " << MiB(static_cast<double>(c.du_end_load.allocated)) << " | "
           << PerEvent(c.du_drained.allocated, n) << " (" << PerEvent(c.du_drained.wal_apparent, n)
           << " / " << PerEvent(c.du_drained.sst_apparent, n) << ") | ";
    if (!options.compact) {
      out << "— |\n";
    } else if (!c.compaction_error.empty()) {
      out << "failed: " << c.compaction_error << " |\n";
    } else {
      out << PerEvent(c.du_compacted.allocated, n) << " ("
          << PerEvent(c.du_compacted.sst_apparent, n) << ") |\n";
    }
  }

  out << "\n## Edge threads\n\nCores used per thread during the window, busiest first (threads "
         "under 0.005 cores left out). Labels: the thread names (`comm`) the edge gives its "
         "threads "
         "(plugin/api/thread_name.h) and RocksDB its pools; \"other\" = unnamed.\n\n"
      << "| sync | payload | clients | run | threads |\n|---|---|---:|---:|---|\n";
  for (const CaseReport* cp : by_case) {
    const CaseReport& c = *cp;
    row(c);
    for (size_t i = 0; i < c.threads.size(); ++i) {
      out << (i ? ", " : "") << c.threads[i].label << " " << Fmt("%.2f", c.threads[i].cores);
    }
    out << " |\n";
  }

  out << "\n## Edge thread states\n\nWhat the ingest io threads (together) and the intake "
         "sender were doing during the window, sampled every 2 ms from /proc: `running` (state "
         "R: on a CPU or waiting for one) or the kernel function they slept in (`wchan`: "
         "`ep_poll` = idle in epoll_wait; `futex_*` = a mutex or condition variable, e.g. a "
         "ledger commit waiting for its group's leader or the writer lock; ext4/jbd2/filemap "
         "functions = fsync). Shares of samples, largest first.\n\n"
      << "| sync | payload | clients | run | ingest io threads | intake sender |\n"
      << "|---|---|---:|---:|---|---|\n";
  for (const CaseReport* cp : by_case) {
    const CaseReport& c = *cp;
    row(c) << TopStates(c.io_states, 5) << " | " << TopStates(c.sender_states, 4) << " |\n";
  }

  out << "\n## Delivery and exactly-once\n\n"
         "After the load the benchmark waits until the stand-in has received as many events as "
         "the edge rescued and the outbox gauge is 0, then 0.5 s more for late duplicates. "
         "sent = events in payloads answered 200 (warm-up included); delivered = distinct span "
         "ids the stand-in received; duplicates = deliveries beyond the first; missing = sent, "
         "never delivered; unexpected = delivered, never sent in a 200-answered payload.\n\n"
      << "| sync | payload | clients | run | sent | rescued (metric) | delivered | duplicates | "
         "missing | unexpected | failed requests | payloads with `_llmobs` left | intake batches "
         "(events each, mean ms) | edge exit |\n"
      << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n";
  for (const CaseReport* cp : by_case) {
    const CaseReport& c = *cp;
    row(c) << Thousands(static_cast<double>(c.r.events_sent)) << " | "
           << Thousands(static_cast<double>(c.r.rescued_metric)) << " | "
           << Thousands(static_cast<double>(c.r.delivered)) << " | " << c.r.duplicates << " | "
           << c.r.missing << " | " << c.r.unexpected << " | " << c.r.failed_requests << " | "
           << c.r.unscrubbed_payloads << " | " << Thousands(c.intake_batches) << " ("
           << Fmt("%.0f", c.intake_events_per_batch) << ", " << Fmt("%.1f", c.intake_mean_ms)
           << ") | " << c.r.edge_exit_code << " |\n";
  }
  bool any_note = false;
  for (const CaseReport* c : by_case) {
    for (const std::string& n : c->notes) {
      if (!any_note) out << "\nNotes:\n\n";
      any_note = true;
      out << "- " << c->r.sync << ", " << c->payload_label << ", " << c->r.clients
          << " clients, run " << c->run << ": " << n << "\n";
    }
  }

  // Targets: rescued events per second, fsync per commit, 50 events per payload.
  std::vector<TargetLine> targets;
  for (const auto& runs : cases) {
    const CaseReport& c = *runs.front();
    const double want = c.r.struct_bytes == 10240 ? 20000 : c.r.struct_bytes == 2048 ? 40000 : 0;
    if (c.r.sync != "per_commit" || c.r.events_per_payload != 50 || want == 0) continue;
    const Spread eps = spread(runs, [](const CaseReport& x) { return x.r.events_per_s; });
    TargetLine t;
    t.target = "rescue " + c.payload_label + ", fsync per commit, " + std::to_string(c.r.clients) +
               " clients: >= " + Thousands(want) + " events/s";
    t.measured = FormatSpreadThousands(eps) + " events/s";
    t.pass = eps.median >= want;
    targets.push_back(t);
  }
  result.target_measured = !targets.empty();
  if (targets.empty()) {
    for (const char* label :
         {"10 KB x 50 (>= 20,000 events/s)", "2 KB x 50 (>= 40,000 events/s)"}) {
      TargetLine t;
      t.target = std::string("rescue ") + label + ", fsync per commit";
      t.measured_at_all = false;
      targets.push_back(t);
    }
  }
  result.target_pass = result.target_measured && TargetsMissed(targets) == 0;
  out << "\n## Targets\n\nThe rescue targets of the hot-path issue, on the median over " << repeats
      << (repeats == 1 ? " run" : " runs (lowest and highest in brackets)")
      << "; n/a = the case did not run.\n\n";
  PrintTargets(out, targets);
  out << "- " << (result.exactly_once() ? "**PASS**" : "**FAIL**")
      << " every event delivered exactly once, every run: "
      << (result.exactly_once() ? "yes" : "NO (see the delivery table)") << "\n";
  out.flush();
  result.completed = true;
  return result;
}

}  // namespace llmobs_edge::bench::rescue
