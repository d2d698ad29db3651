#pragma once
// One case of the rescue benchmark (rescue_bench.h): the real edge with the rescue stage and a
// fresh RocksDB ledger in front of the Agent stand-in with the EVP proxy, C keep-alive clients
// sending for a fixed time, what the edge did during that window (throughput, latency, commits,
// CPU per thread and per GB, minor page faults, RSS, disk), the drain of its outbox, an offline
// compaction of the ledger and the exactly-once check of the delivered events.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tests/bench/rescue_bench.h"
#include "tests/bench/rescue_edge.h"
#include "tests/bench/rescue_payload.h"

namespace llmobs_edge::bench::rescue {

struct ThreadRow {
  std::string label;
  double cores = 0;  // CPU seconds / window seconds
};

struct CaseReport {
  CaseResult r;
  int run = 1;  // repetition of the case, from 1
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
  // The edge's cost during the window: CPU seconds per request and per 10^9 payload bytes
  // received; minor page faults (/proc/PID/stat minflt) per request.
  double edge_us_per_request = 0, edge_s_per_gb = 0, edge_faults_per_request = 0;
  uint64_t edge_minflt_window = 0;
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

// Runs one case with span and trace ids from `id_base` on (each case needs its own range).
CaseReport RunCase(const Options& options, const std::string& binary, const std::string& sync,
                   const RescuePayload& payload, int clients, uint64_t id_base);

// The `n` largest shares of sampled thread states ("running 62%, ep_poll 30%"); "—" if none.
std::string TopStates(const std::vector<std::pair<std::string, double>>& v, size_t n);

}  // namespace llmobs_edge::bench::rescue
