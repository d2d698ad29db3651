#include "tests/bench/rescue_case.h"

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <latch>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "dedup/state_merge_operator.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "tests/bench/machine_stats.h"
#include "tests/bench/rescue_sink.h"
#include "tests/bench/stats.h"
#include "tests/integration/edge_process.h"
#include "tests/integration/test_client.h"

namespace llmobs_edge::bench::rescue {
namespace {

using Clock = std::chrono::steady_clock;
using testing::HistogramBuckets;
using testing::HistogramQuantile;
using testing::Metric;
using testing::MetricMap;
using testing::ParseMetrics;
using testing::TestClient;
using testing::TestRequest;
using testing::TestResponse;
using testing::ThreadCpu;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// write_bytes (bytes the process caused to be sent to storage) from /proc/PID/io.
uint64_t ProcWriteBytes(pid_t pid) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/io"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("write_bytes:", 0) == 0) return std::strtoull(line.c_str() + 12, nullptr, 10);
  }
  return 0;
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

// Labels the edge's threads. They inherit the process name unless renamed (RocksDB names its
// pool threads "rocksdb:*"). The others, in creation (TID) order, as checked with gdb on
// RocksDB 7.8: RocksDB's periodic-task timer (DB open), the ledger's maintenance thread, the
// intake sender (Service::Start), the `io` io_context threads (ingest.threads), then threads
// created later (Asio's resolver thread, on the first upstream connection).
std::vector<std::string> LabelThreads(const std::vector<ThreadCpu>& threads, pid_t pid) {
  // The edge names its threads (plugin/api/thread_name.h); RocksDB names its pools ("rocksdb:low").
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
    const uint64_t flt0 = edge.MinorFaults();
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
    const uint64_t flt1 = edge.MinorFaults();
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
    rep->edge_minflt_window = flt1 - flt0;
    if (rep->requests_window > 0) {
      const double requests = static_cast<double>(rep->requests_window);
      rep->edge_us_per_request = (edge_cpu1 - edge_cpu0) * 1e6 / requests;
      rep->edge_s_per_gb =
          (edge_cpu1 - edge_cpu0) / (requests * static_cast<double>(rep->payload_bytes) / 1e9);
      rep->edge_faults_per_request = static_cast<double>(rep->edge_minflt_window) / requests;
    }
    rep->bench_cores = (self_cpu1 - self_cpu0) / rep->window_s;
    const double all = static_cast<double>(mt1.all - mt0.all);
    const double ncpu = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
    rep->machine_busy = all > 0 ? ncpu * static_cast<double>(mt1.busy - mt0.busy) / all : 0;
    rep->iowait_share = all > 0 ? static_cast<double>(mt1.iowait - mt0.iowait) / all : 0;
    rep->disk_write_per_event = rep->events_window ? static_cast<double>(wb1 - wb0) /
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
                           " events delivered of " + std::to_string(r.rescued_metric) + " rescued");
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

}  // namespace

std::string TopStates(const std::vector<std::pair<std::string, double>>& v, size_t n) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < n; ++i) {
    if (v[i].second < 0.01) break;
    out += (out.empty() ? "" : ", ") + v[i].first + " " + Fmt("%.0f%%", 100 * v[i].second);
  }
  return out.empty() ? "—" : out;
}

CaseReport RunCase(const Options& options, const std::string& binary, const std::string& sync,
                   const RescuePayload& payload, int clients, uint64_t id_base) {
  return CaseRunner(options, binary).Run(sync, payload, clients, id_base);
}

}  // namespace llmobs_edge::bench::rescue
