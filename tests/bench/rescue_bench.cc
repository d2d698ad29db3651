#include "tests/bench/rescue_bench.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "dedup/state_merge_operator.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "tests/bench/machine_stats.h"
#include "tests/bench/rescue_edge.h"
#include "tests/bench/rescue_payload.h"
#include "tests/bench/rescue_sink.h"
#include "tests/integration/edge_binary.h"
#include "tests/integration/edge_process.h"
#include "tests/integration/test_client.h"

namespace llmobs_edge::bench::rescue {
namespace {

using Clock = std::chrono::steady_clock;
using testing::FindEdgeBinary;
using testing::HistogramBuckets;
using testing::HistogramQuantile;
using testing::Metric;
using testing::MetricMap;
using testing::ParseMetrics;
using testing::TestClient;
using testing::TestRequest;
using testing::TestResponse;
using testing::ThreadCpu;

constexpr double kTargetEventsPerSecond = 20000;
constexpr uint64_t kMiB = 1024 * 1024;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---------------------------------------------------------------------------------------------
// Formatting and machine state.

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

std::string MiB(double bytes) { return Fmt("%.1f MiB", bytes / kMiB); }

// write_bytes (bytes the process caused to be sent to storage) from /proc/PID/io.
uint64_t ProcWriteBytes(pid_t pid) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/io"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("write_bytes:", 0) == 0) return std::strtoull(line.c_str() + 12, nullptr, 10);
  }
  return 0;
}

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

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
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

// Opens the ledger (after the edge stopped) with RocksDB's defaults (plus the counters' merge
// operator, without which "default" cannot be compacted), flushes and compacts every column
// family to the bottom level, closes it: what the ledger occupies once acknowledged records and
// their tombstones are gone (seen marks stay for their 24 h TTL). "" or the error.
std::string CompactOffline(const std::string& path) {
  rocksdb::DBOptions dbo;
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(dbo, path, &names);
  if (!s.ok()) return s.ToString();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const std::string& n : names) {
    rocksdb::ColumnFamilyOptions o;
    if (n == rocksdb::kDefaultColumnFamilyName) o.merge_operator = dedup::NewStateMergeOperator();
    cfs.emplace_back(n, o);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(dbo, path, cfs, &handles, &raw);
  if (!s.ok()) return s.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string err;
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    if (rocksdb::Status f = db->Flush(rocksdb::FlushOptions(), h); !f.ok()) err = f.ToString();
    if (rocksdb::Status c = db->CompactRange(co, h, nullptr, nullptr); !c.ok()) err = c.ToString();
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
  if (rocksdb::Status c = db->Close(); !c.ok() && err.empty()) err = c.ToString();
  return err;
}

// ---------------------------------------------------------------------------------------------
// One case.

struct ThreadRow {
  std::string label;
  double cores = 0;  // CPU seconds / window seconds
};

struct CaseReport {
  CaseResult r;
  std::string payload_label;
  uint64_t payload_bytes = 0;
  int chunks = 0;
  size_t struct_min = 0, struct_max = 0;
  double struct_avg = 0;
  double window_s = 0;
  uint64_t requests_window = 0, events_window = 0;
  double req_p50 = 0, req_p99 = 0, req_max = 0;  // ms
  double mb_in_per_s = 0;
  uint64_t commits_window = 0;
  double commit_mean_ms = 0, commit_p50_ms = 0, commit_p99_ms = 0;
  double upstream_mean_ms = 0;
  double delivered_per_s_load = 0;
  double outbox_records_end_load = 0, outbox_bytes_end_load = 0;
  double drain_s = 0;
  double intake_batches = 0, intake_events_per_batch = 0, intake_mean_ms = 0;
  double edge_cores = 0, edge_us_per_event = 0, bench_cores = 0, machine_busy = 0;
  double iowait_share = 0;
  double disk_write_per_event = 0;  // /proc/PID/io write_bytes during the window / events
  std::vector<ThreadRow> threads;   // busiest first
  // Sampled states of the ingest io threads and of the intake sender during the window:
  // "running" or the kernel function the thread sleeps in (/proc/.../wchan) -> share of samples.
  std::vector<std::pair<std::string, double>> io_states, sender_states;
  uint64_t rss_start = 0, rss_peak = 0, rss_end = 0;
  DiskUsage du_end_load, du_drained, du_compacted;
  std::string compaction_error;
  std::vector<std::string> notes;
};

// Labels the edge's threads. They inherit the process name unless renamed (RocksDB names its
// pool threads "rocksdb:*"). The others, in creation (TID) order, as checked with gdb on
// RocksDB 7.8: RocksDB's periodic-task timer (DB open), the ledger's maintenance thread, the
// intake sender (Service::Start), the `io` io_context threads (ingest.threads), then threads
// created later (Asio's resolver thread, on the first upstream connection).
std::vector<std::string> LabelThreads(const std::vector<ThreadCpu>& threads, pid_t pid) {
  // The edge names its threads (plugin/thread_name.h); RocksDB names its pools ("rocksdb:low").
  auto relabel = [](std::string comm) {
    for (auto [prefix, label] : {std::pair<std::string, std::string>{"ingest-io-", "ingest io "},
                                 {"pipeline-", "pipeline "}}) {
      if (comm.rfind(prefix, 0) == 0) return label + comm.substr(prefix.size());
    }
    if (comm == "intake-sender") return std::string("intake sender");
    if (comm == "ledger-maint") return std::string("ledger maintenance");
    return comm;
  };
  std::string main_comm;
  for (const ThreadCpu& t : threads) {
    if (t.tid == pid) main_comm = t.comm;
  }
  std::vector<std::string> labels(threads.size());
  for (size_t i = 0; i < threads.size(); ++i) {
    if (threads[i].tid == pid) {
      labels[i] = "main";
    } else if (threads[i].comm != main_comm) {
      labels[i] = relabel(threads[i].comm);
    } else {
      labels[i] = "other";  // unnamed: RocksDB's timer, gRPC's threads
    }
  }
  return labels;
}

// Samples, every 2 ms until `stop`, what the given threads are doing: "running" (state R in
// /proc/PID/task/TID/stat) or where they sleep in the kernel (/proc/PID/task/TID/wchan).
class StateSampler {
 public:
  StateSampler(pid_t pid, std::vector<int> io, std::vector<int> sender)
      : pid_(pid), io_(std::move(io)), sender_(std::move(sender)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~StateSampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  static std::vector<std::pair<std::string, double>> Shares(
      const std::map<std::string, uint64_t>& counts) {
    uint64_t total = 0;
    for (const auto& [k, n] : counts) total += n;
    std::vector<std::pair<std::string, double>> out;
    for (const auto& [k, n] : counts) out.emplace_back(k, total ? double(n) / double(total) : 0);
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.second > b.second; });
    return out;
  }
  std::map<std::string, uint64_t> io_counts, sender_counts;

 private:
  std::string State(int tid) {
    const std::string base = "/proc/" + std::to_string(pid_) + "/task/" + std::to_string(tid);
    const std::string stat = ReadFile(base + "/stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) return "gone";
    if (stat[close + 2] == 'R') return "running";
    std::string w = ReadFile(base + "/wchan");
    if (w.empty() || w == "0") return "running";
    return w;
  }
  void Loop() {
    while (!stop_) {
      for (int t : io_) ++io_counts[State(t)];
      for (int t : sender_) ++sender_counts[State(t)];
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  pid_t pid_;
  std::vector<int> io_, sender_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string TopStates(const std::vector<std::pair<std::string, double>>& v, size_t n) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < n; ++i) {
    if (v[i].second < 0.01) break;
    out += (out.empty() ? "" : ", ") + v[i].first + " " + Fmt("%.0f%%", 100 * v[i].second);
  }
  return out.empty() ? "—" : out;
}

struct ClientState {
  std::vector<double> latency_ms;  // timed window only
  std::vector<uint64_t> ok_first_ids;
  std::vector<uint64_t> failed_first_ids;
  uint64_t requests_window = 0, events_window = 0, failed = 0;
  std::string last_error;
};

class CaseRunner {
 public:
  CaseRunner(const Options& o, const std::string& binary) : opt_(o), binary_(binary) {}

  CaseReport Run(const std::string& sync, const RescuePayload& payload, int clients,
                 uint64_t id_base) {
    CaseReport rep;
    rep.r.sync = sync;
    rep.r.struct_bytes = payload.spec().struct_bytes;
    rep.r.events_per_payload = payload.events();
    rep.r.clients = clients;
    rep.payload_label = payload.label();
    rep.payload_bytes = payload.bytes().size();
    rep.chunks = payload.chunks();
    rep.struct_min = payload.min_struct_bytes();
    rep.struct_max = payload.max_struct_bytes();
    rep.struct_avg = payload.avg_struct_bytes();

    char tmpl[] = "/tmp/llmobs-rescue-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      rep.notes.push_back(std::string("mkdtemp: ") + std::strerror(errno));
      return rep;
    }
    const std::string dir = tmpl;
    const std::string ledger = dir + "/ledger";
    RunIn(dir, ledger, sync, payload, clients, id_base, &rep);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);  // our own temp dir
    return rep;
  }

 private:
  void RunIn(const std::string& dir, const std::string& ledger, const std::string& sync,
             const RescuePayload& payload, int clients, uint64_t id_base, CaseReport* rep) {
    CaseResult& r = rep->r;
    std::unique_ptr<RescueSink> sink = StartRescueSink();
    RescueEdge edge;
    EdgeConfig cfg;
    cfg.binary = binary_;
    cfg.agent_url = sink->url();
    cfg.ledger_path = ledger;
    cfg.sync = sync;
    cfg.threads = opt_.edge_threads;
    cfg.pipeline_threads = opt_.edge_pipeline_threads;
    if (std::string err = edge.Start(cfg, dir); !err.empty()) {
      rep->notes.push_back("the edge did not start: " + err);
      return;
    }
    rep->rss_start = edge.RssBytes();

    std::atomic<uint64_t> next_id{id_base};
    std::atomic<uint64_t> next_trace{id_base};
    const uint64_t spans = static_cast<uint64_t>(payload.spans());
    const uint64_t chunks = static_cast<uint64_t>(payload.chunks());
    const int warmup = opt_.quick ? 1 : 3;
    std::vector<ClientState> state(static_cast<size_t>(clients));
    std::latch ready(clients + 1);
    std::latch go(1);
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        ClientState& st = state[static_cast<size_t>(c)];
        TestRequest req;
        req.method = "PUT";
        req.target = "/v0.4/traces";
        req.headers = TracerHeaders(payload.chunks());
        std::unique_ptr<TestClient> client = TestClient::Tcp(edge.port());
        auto once = [&](bool timed) {
          const uint64_t first = next_id.fetch_add(spans);
          payload.Stamp(first, next_trace.fetch_add(chunks), &req.body);
          const auto t0 = Clock::now();
          const TestResponse res = client->Send(req);
          const double ms = Seconds(Clock::now() - t0) * 1e3;
          if (res.error.empty() && res.status == 200 &&
              res.body.find("rate_by_service") != std::string::npos) {
            st.ok_first_ids.push_back(first);
            if (timed) {
              st.latency_ms.push_back(ms);
              ++st.requests_window;
              st.events_window += static_cast<uint64_t>(payload.events());
            }
          } else {
            st.failed_first_ids.push_back(first);
            ++st.failed;
            st.last_error = "status " + std::to_string(res.status) + " " + res.error + " " +
                            res.body.substr(0, 200);
            client = TestClient::Tcp(edge.port());
          }
        };
        for (int i = 0; i < warmup; ++i) once(false);
        ready.count_down();
        go.wait();
        // The edge closes connections idle for ingest.request_timeout_ms (5 s); the warm-up
        // drain may have taken that long.
        client = TestClient::Tcp(edge.port());
        while (!stop.load(std::memory_order_relaxed)) once(true);
      });
    }
    ready.arrive_and_wait();
    // Let the warm-up's events drain so the window starts with an empty outbox.
    WaitForDelivery(edge, *sink, 30, nullptr);
    const MetricMap m0 = ParseMetrics(edge.Metrics());
    const SinkCounts c0 = sink->counts();
    const std::vector<ThreadCpu> t0 = edge.Threads();
    const double edge_cpu0 = edge.CpuSeconds(), self_cpu0 = SelfCpuSeconds();
    const uint64_t wb0 = ProcWriteBytes(edge.pid());
    const MachineTicks mt0 = ReadMachineTicks();
    const auto start = Clock::now();
    std::vector<int> io_tids, sender_tids;
    {
      const std::vector<std::string> labels0 = LabelThreads(t0, edge.pid());
      for (size_t i = 0; i < t0.size(); ++i) {
        if (labels0[i].rfind("ingest io", 0) == 0) io_tids.push_back(t0[i].tid);
        if (labels0[i] == "intake sender") sender_tids.push_back(t0[i].tid);
      }
    }
    StateSampler sampler(edge.pid(), io_tids, sender_tids);
    go.count_down();
    std::this_thread::sleep_for(std::chrono::duration<double>(opt_.seconds));
    stop = true;
    for (auto& t : threads) t.join();
    const auto end = Clock::now();
    sampler.Stop();
    rep->io_states = StateSampler::Shares(sampler.io_counts);
    rep->sender_states = StateSampler::Shares(sampler.sender_counts);
    rep->window_s = Seconds(end - start);
    const MachineTicks mt1 = ReadMachineTicks();
    const double edge_cpu1 = edge.CpuSeconds(), self_cpu1 = SelfCpuSeconds();
    const uint64_t wb1 = ProcWriteBytes(edge.pid());
    const std::vector<ThreadCpu> t1 = edge.Threads();
    const MetricMap m1 = ParseMetrics(edge.Metrics());
    const SinkCounts c1 = sink->counts();
    rep->du_end_load = Du(ledger);

    // Client-side numbers.
    std::vector<double> lat;
    for (const ClientState& st : state) {
      lat.insert(lat.end(), st.latency_ms.begin(), st.latency_ms.end());
      rep->requests_window += st.requests_window;
      rep->events_window += st.events_window;
      r.failed_requests += st.failed;
      r.events_sent += st.ok_first_ids.size() * static_cast<uint64_t>(payload.events());
      if (st.failed) rep->notes.push_back("a client request failed: " + st.last_error);
    }
    rep->req_p50 = Percentile(lat, 0.5);
    rep->req_p99 = Percentile(lat, 0.99);
    rep->req_max = Percentile(lat, 1.0);
    r.events_per_s = static_cast<double>(rep->events_window) / rep->window_s;
    rep->mb_in_per_s =
        static_cast<double>(rep->requests_window * rep->payload_bytes) / 1e6 / rep->window_s;

    // The edge's view of the window.
    const std::string rescued = "llmobs_edge_rescue_events_total{outcome=\"rescued\"}";
    const double rescued_window = Metric(m1, rescued) - Metric(m0, rescued);
    r.window_mismatch = static_cast<uint64_t>(
        std::fabs(rescued_window - static_cast<double>(rep->events_window)) + 0.5);
    rep->commits_window = static_cast<uint64_t>(Metric(m1, "llmobs_edge_ledger_commits_total") -
                                                Metric(m0, "llmobs_edge_ledger_commits_total"));
    const double commit_sum = Metric(m1, "llmobs_edge_ledger_commit_seconds_sum") -
                              Metric(m0, "llmobs_edge_ledger_commit_seconds_sum");
    const double commit_count = Metric(m1, "llmobs_edge_ledger_commit_seconds_count") -
                                Metric(m0, "llmobs_edge_ledger_commit_seconds_count");
    rep->commit_mean_ms = commit_count > 0 ? commit_sum / commit_count * 1e3 : 0;
    const auto hb0 = HistogramBuckets(m0, "llmobs_edge_ledger_commit_seconds");
    const auto hb1 = HistogramBuckets(m1, "llmobs_edge_ledger_commit_seconds");
    rep->commit_p50_ms = HistogramQuantile(hb0, hb1, 0.5) * 1e3;
    rep->commit_p99_ms = HistogramQuantile(hb0, hb1, 0.99) * 1e3;
    const std::string up = "llmobs_edge_upstream_latency_seconds";
    const std::string route = "{route=\"v0.4_traces\"}";
    const double up_n = Metric(m1, up + "_count" + route) - Metric(m0, up + "_count" + route);
    const double up_s = Metric(m1, up + "_sum" + route) - Metric(m0, up + "_sum" + route);
    rep->upstream_mean_ms = up_n > 0 ? up_s / up_n * 1e3 : 0;
    rep->delivered_per_s_load = static_cast<double>(c1.events - c0.events) / rep->window_s;
    rep->outbox_records_end_load = Metric(m1, "llmobs_edge_ledger_outbox_records");
    rep->outbox_bytes_end_load = Metric(m1, "llmobs_edge_ledger_outbox_bytes");

    // CPU.
    rep->edge_cores = (edge_cpu1 - edge_cpu0) / rep->window_s;
    rep->edge_us_per_event =
        rep->events_window ? (edge_cpu1 - edge_cpu0) * 1e6 / static_cast<double>(rep->events_window)
                           : 0;
    rep->bench_cores = (self_cpu1 - self_cpu0) / rep->window_s;
    const double all = static_cast<double>(mt1.all - mt0.all);
    const double ncpu = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
    rep->machine_busy = all > 0 ? ncpu * static_cast<double>(mt1.busy - mt0.busy) / all : 0;
    rep->iowait_share = all > 0 ? static_cast<double>(mt1.iowait - mt0.iowait) / all : 0;
    rep->disk_write_per_event = rep->events_window
                                    ? static_cast<double>(wb1 - wb0) /
                                          static_cast<double>(rep->events_window)
                                    : 0;
    const std::vector<std::string> labels = LabelThreads(t1, edge.pid());
    for (size_t i = 0; i < t1.size(); ++i) {
      double before = 0;
      for (const ThreadCpu& t : t0) {
        if (t.tid == t1[i].tid) before = t.seconds;
      }
      const double cores = (t1[i].seconds - before) / rep->window_s;
      if (cores > 0.005) rep->threads.push_back({labels[i], cores});
    }
    std::sort(rep->threads.begin(), rep->threads.end(),
              [](const ThreadRow& a, const ThreadRow& b) { return a.cores > b.cores; });

    // Delivery: wait until the stand-in has every rescued event and the outbox is empty.
    r.rescued_metric = static_cast<uint64_t>(Metric(m1, rescued));
    r.drained = WaitForDelivery(edge, *sink, opt_.quick ? 60 : 300, nullptr);
    const SinkCounts c2 = sink->counts();
    rep->drain_s = c2.last_event > end ? Seconds(c2.last_event - end) : 0;
    // Late duplicates (a retried batch) would arrive now.
    std::this_thread::sleep_for(std::chrono::milliseconds(opt_.quick ? 200 : 500));
    const MetricMap m2 = ParseMetrics(edge.Metrics());
    r.rescued_metric = static_cast<uint64_t>(Metric(m2, rescued));
    rep->intake_batches = Metric(m2, "llmobs_edge_intake_batches_total");
    const double delivered_metric = Metric(m2, "llmobs_edge_intake_events_delivered_total");
    rep->intake_events_per_batch =
        rep->intake_batches > 0 ? delivered_metric / rep->intake_batches : 0;
    const double in_n = Metric(m2, "llmobs_edge_intake_request_seconds_count");
    rep->intake_mean_ms =
        in_n > 0 ? Metric(m2, "llmobs_edge_intake_request_seconds_sum") / in_n * 1e3 : 0;
    rep->rss_peak = edge.PeakRssBytes();
    rep->rss_end = edge.RssBytes();
    rep->du_drained = Du(ledger);
    r.edge_exit_code = edge.Terminate(60);
    if (r.edge_exit_code != 0) {
      rep->notes.push_back("the edge exited with " + std::to_string(r.edge_exit_code) +
                           " after SIGTERM: " + edge.LogTail());
    }
    if (opt_.compact) {
      rep->compaction_error = CompactOffline(ledger);
      rep->du_compacted = Du(ledger);
    }

    // Exactly once: the span ids the stand-in received against those of the 200-answered payloads.
    const SinkCounts cf = sink->counts();
    r.unscrubbed_payloads = cf.unscrubbed_payloads;
    if (cf.bad_envelopes) {
      rep->notes.push_back(std::to_string(cf.bad_envelopes) + " envelopes without a span_id");
    }
    if (cf.bad_subdomain) {
      rep->notes.push_back(std::to_string(cf.bad_subdomain) +
                           " EVP requests without X-Datadog-EVP-Subdomain: llmobs-intake");
    }
    std::vector<uint64_t> got = sink->TakeEventIds();
    std::sort(got.begin(), got.end());
    const size_t received = got.size();
    got.erase(std::unique(got.begin(), got.end()), got.end());
    r.duplicates = received - got.size();
    r.delivered = got.size();
    std::vector<uint64_t> want, maybe;
    for (const ClientState& st : state) {
      for (uint64_t f : st.ok_first_ids) payload.EventSpanIds(f, &want);
      for (uint64_t f : st.failed_first_ids) payload.EventSpanIds(f, &maybe);
    }
    std::sort(want.begin(), want.end());
    std::sort(maybe.begin(), maybe.end());
    std::vector<uint64_t> missing, extra, unexplained;
    std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                        std::back_inserter(missing));
    std::set_difference(got.begin(), got.end(), want.begin(), want.end(),
                        std::back_inserter(extra));
    // Events of failed requests may have been committed before the failure: reported, not
    // counted as unexpected.
    std::set_difference(extra.begin(), extra.end(), maybe.begin(), maybe.end(),
                        std::back_inserter(unexplained));
    r.missing = missing.size();
    r.unexpected = unexplained.size();
    if (extra.size() != unexplained.size()) {
      rep->notes.push_back(std::to_string(extra.size() - unexplained.size()) +
                           " events of failed requests were delivered (committed before the "
                           "failure)");
    }
    if (!r.drained) {
      rep->notes.push_back("the outbox did not drain in time: " + std::to_string(cf.events) +
                           " events delivered of " + std::to_string(r.rescued_metric) +
                           " rescued");
    }
  }

  // Until the stand-in holds as many events as the edge rescued and the outbox is empty.
  static bool WaitForDelivery(const RescueEdge& edge, const RescueSink& sink, double max_s,
                              double* waited) {
    const auto t0 = Clock::now();
    const std::string rescued = "llmobs_edge_rescue_events_total{outcome=\"rescued\"}";
    while (Seconds(Clock::now() - t0) < max_s) {
      const MetricMap m = ParseMetrics(edge.Metrics());
      const double want = Metric(m, rescued);
      if (static_cast<double>(sink.counts().events) >= want &&
          Metric(m, "llmobs_edge_ledger_outbox_records") == 0) {
        if (waited) *waited = Seconds(Clock::now() - t0);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  const Options& opt_;
  const std::string binary_;
};

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
      options.edge_binary.empty() ? FindEdgeBinary(options.argv0) : options.edge_binary;
  if (binary.empty()) {
    result.error = "cannot find the edge binary in the runfiles (run through bazel, or pass --edge)";
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

  CaseRunner runner(options, binary);
  std::vector<CaseReport> reports;
  uint64_t id_base = 1'000'000;
  for (const std::string& sync : options.syncs) {
    for (size_t s : options.struct_sizes) {
      for (int e : options.events_per_payload) {
        for (int c : options.clients) {
          const RescuePayload& p = payloads.at({s, e});
          std::fprintf(stderr, "sync %s, %s, %d clients: %.1f s...\n", sync.c_str(),
                       p.label().c_str(), c, options.seconds);
          reports.push_back(runner.Run(sync, p, c, id_base));
          const CaseReport& rep = reports.back();
          std::fprintf(stderr, "  %s events/s, p50 %.2f ms, p99 %.2f ms, delivered %llu of %llu\n",
                       Thousands(rep.r.events_per_s).c_str(), rep.req_p50, rep.req_p99,
                       static_cast<unsigned long long>(rep.r.delivered),
                       static_cast<unsigned long long>(rep.r.events_sent));
          for (const std::string& n : rep.notes) std::fprintf(stderr, "  note: %s\n", n.c_str());
          result.cases.push_back(rep.r);
          id_base += 1'000'000'000'000ull;
        }
      }
    }
  }

  // ----- Report -----
  const MachineTicks ticks_after = ReadMachineTicks();
  const double total_seconds = Seconds(Clock::now() - run_start);
  utsname uts{};
  uname(&uts);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  const double steal = ticks_after.all > ticks_before.all
                           ? 100.0 * (ticks_after.steal - ticks_before.steal) /
                                 static_cast<double>(ticks_after.all - ticks_before.all)
                           : 0;
  out << "# llmobs-edge rescue benchmark" << (options.quick ? " (--quick: smoke run only)" : "")
      << "\n\n";
  out << "- date: " << date << "\n";
  out << "- machine: " << sysconf(_SC_NPROCESSORS_ONLN) << " online CPUs, CPU `"
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
  out << "- edge: `" << binary << "` as a child process, one per case with a fresh ledger in "
      << "/tmp (" << FsType("/tmp") << "); `pipeline.stages: [rescue]`, ingest.threads "
      << options.edge_threads << (options.edge_threads == 0 ? " (one per core)" : "")
      << ", intake through the Agent's EVP proxy (defaults: batches of up to 1000 events / 5 MiB, "
         "flush interval 1 s)\n";
  out << "- storage: write(4 KiB) + fdatasync in /tmp: p50 " << Fmt("%.0f", fsync_probe.p50_us)
      << " µs, p99 " << Fmt("%.0f", fsync_probe.p99_us) << " µs (" << fsync_probe.n
      << " probes)\n";
  out << "- Agent stand-in, in this process: tests/bench/rescue_sink.cc (one blocking thread per "
         "connection; /v0.4/traces 200, EVP proxy 202, every event's span id kept); load: C "
         "blocking keep-alive clients (//tests/integration:harness TestClient) sending back to "
         "back for "
      << Fmt("%.1f", options.seconds) << " s per case after "
      << (options.quick ? 1 : 3)
      << " warm-up requests each. Edge, stand-in and clients share the machine's cores.\n";
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

  out << "\n## Rescued events per second\n\n"
         "events/s = events in payloads answered 200 during the timed window / window. The "
         "edge's own `llmobs_edge_rescue_events_total{outcome=\"rescued\"}` over the same window "
         "is checked equal (column \"= metric\"). Request latency: PUT sent until the whole "
         "answer is read (ms). Commit: `llmobs_edge_ledger_commit_seconds` over the window (one "
         "commit per payload, group wait included; percentiles interpolated in its buckets). "
         "Forward: mean `llmobs_edge_upstream_latency_seconds{route=\"v0.4_traces\"}`. Delivered "
         "during load: events the stand-in received during the window / window.\n\n";
  out << "| sync | payload | clients | requests/s | **events/s** | = metric | MB/s in | p50 ms | "
         "p99 ms | max ms | commit mean / p50 / p99 ms | forward ms | delivered/s during load | "
         "outbox at end of load | drain s |\n"
      << "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|\n";
  for (const CaseReport& c : reports) {
    out << "| " << c.r.sync << " | " << c.payload_label << " | " << c.r.clients << " | "
        << Thousands(static_cast<double>(c.requests_window) / std::max(c.window_s, 1e-9))
        << " | **" << Thousands(c.r.events_per_s) << "** | "
        << (c.r.window_mismatch == 0 ? "yes" : "off by " + std::to_string(c.r.window_mismatch))
        << " | " << Fmt("%.1f", c.mb_in_per_s) << " | " << Fmt("%.2f", c.req_p50) << " | "
        << Fmt("%.2f", c.req_p99) << " | " << Fmt("%.1f", c.req_max) << " | "
        << Fmt("%.2f", c.commit_mean_ms) << " / " << Fmt("%.2f", c.commit_p50_ms) << " / "
        << Fmt("%.2f", c.commit_p99_ms) << " | " << Fmt("%.2f", c.upstream_mean_ms) << " | "
        << Thousands(c.delivered_per_s_load) << " | "
        << Thousands(c.outbox_records_end_load) << " (" << MiB(c.outbox_bytes_end_load) << ") | "
        << Fmt("%.1f", c.drain_s) << " |\n";
  }

  out << "\n## Resources\n\n"
         "CPU in cores (CPU seconds / window seconds): the edge process; this process (clients + "
         "stand-in); the whole machine (of " << sysconf(_SC_NPROCESSORS_ONLN) << "). Edge µs per "
         "event = edge CPU / events. Disk writes: the edge's /proc/PID/io write_bytes during the "
         "window, per event. Ledger: du of the ledger directory (allocated blocks) at the end of "
         "the load, after the outbox drained, and after an offline compaction (the edge stopped; "
         "every column family flushed and compacted: what stays is the seen-set, 24 h TTL); per "
         "event = bytes / events the case committed.\n\n";
  out << "| sync | payload | clients | edge / bench / machine cores | iowait | edge µs/event | "
         "disk writes B/event | RSS after start | peak RSS (VmHWM) | RSS at end | ledger at end of "
         "load | ledger drained: B/event (WAL / SST) | compacted: B/event (SST) |\n"
      << "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
  for (const CaseReport& c : reports) {
    const uint64_t n = c.r.rescued_metric;
    out << "| " << c.r.sync << " | " << c.payload_label << " | " << c.r.clients << " | "
        << Fmt("%.2f", c.edge_cores) << " / " << Fmt("%.2f", c.bench_cores) << " / "
        << Fmt("%.2f", c.machine_busy) << " | " << Fmt("%.0f%%", 100 * c.iowait_share) << " | "
        << Fmt("%.1f", c.edge_us_per_event) << " | " << Thousands(c.disk_write_per_event) << " | "
        << MiB(static_cast<double>(c.rss_start)) << " | " << MiB(static_cast<double>(c.rss_peak))
        << " | " << MiB(static_cast<double>(c.rss_end))
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
         "under 0.005 cores left out). Labels: the thread names (`comm`) the edge gives its threads "
         "(plugin/thread_name.h) and RocksDB its pools; \"other\" = unnamed.\n\n"
      << "| sync | payload | clients | threads |\n|---|---|---:|---|\n";
  for (const CaseReport& c : reports) {
    out << "| " << c.r.sync << " | " << c.payload_label << " | " << c.r.clients << " | ";
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
      << "| sync | payload | clients | ingest io threads | intake sender |\n|---|---|---:|---|---|\n";
  for (const CaseReport& c : reports) {
    out << "| " << c.r.sync << " | " << c.payload_label << " | " << c.r.clients << " | "
        << TopStates(c.io_states, 5) << " | " << TopStates(c.sender_states, 4) << " |\n";
  }

  out << "\n## Delivery and exactly-once\n\n"
         "After the load the benchmark waits until the stand-in has received as many events as "
         "the edge rescued and the outbox gauge is 0, then 0.5 s more for late duplicates. "
         "sent = events in payloads answered 200 (warm-up included); delivered = distinct span "
         "ids the stand-in received; duplicates = deliveries beyond the first; missing = sent, "
         "never delivered; unexpected = delivered, never sent in a 200-answered payload.\n\n"
      << "| sync | payload | clients | sent | rescued (metric) | delivered | duplicates | missing "
         "| unexpected | failed requests | payloads with `_llmobs` left | intake batches (events "
         "each, mean ms) | edge exit |\n"
      << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n";
  for (const CaseReport& c : reports) {
    out << "| " << c.r.sync << " | " << c.payload_label << " | " << c.r.clients << " | "
        << Thousands(static_cast<double>(c.r.events_sent)) << " | "
        << Thousands(static_cast<double>(c.r.rescued_metric)) << " | "
        << Thousands(static_cast<double>(c.r.delivered)) << " | " << c.r.duplicates << " | "
        << c.r.missing << " | " << c.r.unexpected << " | " << c.r.failed_requests << " | "
        << c.r.unscrubbed_payloads << " | " << Thousands(c.intake_batches) << " ("
        << Fmt("%.0f", c.intake_events_per_batch) << ", " << Fmt("%.1f", c.intake_mean_ms)
        << ") | " << c.r.edge_exit_code << " |\n";
  }
  bool any_note = false;
  for (const CaseReport& c : reports) {
    for (const std::string& n : c.notes) {
      if (!any_note) out << "\nNotes:\n\n";
      any_note = true;
      out << "- " << c.r.sync << ", " << c.payload_label << ", " << c.r.clients
          << " clients: " << n << "\n";
    }
  }

  out << "\n## Target\n\n| target | measured | verdict |\n|---|---|---|\n";
  bool all = true;
  for (const CaseReport& c : reports) {
    if (c.r.sync != "per_commit" || c.r.events_per_payload < 2) continue;
    result.target_measured = true;
    const bool pass = c.r.events_per_s >= kTargetEventsPerSecond;
    all = all && pass;
    out << "| >= 20,000 rescued events/s, fsync per commit, batched by payload (" << c.payload_label
        << ", " << c.r.clients << " clients) | " << Thousands(c.r.events_per_s)
        << " events/s | **" << (pass ? "PASS" : "MISS") << "** |\n";
  }
  if (!result.target_measured) {
    out << "| >= 20,000 rescued events/s, fsync per commit, batched by payload | not measured | — "
           "|\n";
  }
  result.target_pass = result.target_measured && all;
  out << "| every event delivered exactly once, every case | "
      << (result.exactly_once() ? "yes" : "NO (see the delivery table)") << " | **"
      << (result.exactly_once() ? "PASS" : "FAIL") << "** |\n";
  out.flush();
  result.completed = true;
  return result;
}

}  // namespace llmobs_edge::bench::rescue
