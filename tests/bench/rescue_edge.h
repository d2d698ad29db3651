#pragma once
// The edge binary as a child process for the rescue benchmark, with the rescue stage and a
// RocksDB ledger: a generated YAML config (TCP ingest on a free port, no Unix socket, no gRPC,
// telemetry on a free port, `pipeline.stages: [rescue]`, `ledger: {path, sync}`, intake through
// the Agent's EVP proxy), started with posix_spawn and waited for on /ready. Reads the edge
// through /proc (CPU per thread, RSS, VmHWM) and its /metrics. (The proxy benchmark's
// EdgeProcess writes a config without these settings and strips DD_* from the environment, so
// it cannot be pointed at a ledger of our choosing; FindEdgeBinary and PickFreePort are reused.)

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llmobs_edge::bench::rescue {

struct EdgeConfig {
  std::string binary;
  std::string agent_url;
  std::string ledger_path;
  std::string sync = "per_commit";  // per_commit | interval | none
  unsigned threads = 0;             // ingest.threads; 0 = one per core
  int pipeline_threads = -1;        // ingest.pipeline_threads; -1 = the edge's default
  unsigned flush_interval_ms = 1000;  // intake.flush_interval_ms (the default)
};

struct ThreadCpu {
  int tid = 0;
  std::string comm;
  double seconds = 0;  // utime + stime
};

class RescueEdge {
 public:
  RescueEdge() = default;
  ~RescueEdge();
  RescueEdge(const RescueEdge&) = delete;
  RescueEdge& operator=(const RescueEdge&) = delete;

  // Writes the config next to the ledger (in `dir`), spawns the edge and waits up to 20 s for
  // /ready. Returns "" or what went wrong.
  std::string Start(const EdgeConfig& config, const std::string& dir);
  // SIGTERM, then waits up to 60 s (SIGKILL after). The exit code, or 128 + signal.
  int Stop();

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  uint16_t telemetry_port() const { return telemetry_port_; }
  const std::string& config_text() const { return config_text_; }

  double CpuSeconds() const;
  std::vector<ThreadCpu> Threads() const;  // in creation order (thread ids modulo pid_max)
  uint64_t PeakRssBytes() const;  // VmHWM
  uint64_t RssBytes() const;      // VmRSS
  std::string LogTail(size_t max_bytes = 4000) const;

  // GET /metrics on the telemetry port; "" on failure.
  std::string Metrics() const;

 private:
  std::string SpawnOnce(const EdgeConfig& config);

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t telemetry_port_ = 0;
  std::string config_path_;
  std::string log_path_;
  std::string config_text_;
};

// Parsed OpenMetrics text: "name{labels}" (as written) -> value.
using MetricMap = std::map<std::string, double>;
MetricMap ParseMetrics(const std::string& text);
double Metric(const MetricMap& m, const std::string& series);  // 0 when absent

// A histogram's cumulative buckets (upper bound -> count), from "<name>_bucket{le=...}".
std::vector<std::pair<double, double>> HistogramBuckets(const MetricMap& m,
                                                        const std::string& name);
// The q-quantile of the observations between two snapshots of the same histogram, by linear
// interpolation inside the bucket (as Prometheus' histogram_quantile does); 0 when empty.
double HistogramQuantile(const std::vector<std::pair<double, double>>& before,
                         const std::vector<std::pair<double, double>>& after, double q);

// Bytes used on disk under `path` (st_blocks * 512 of every file, like du), and apparent bytes.
struct DiskUsage {
  uint64_t allocated = 0;
  uint64_t apparent = 0;
  uint64_t files = 0;
  uint64_t wal_apparent = 0;  // *.log files (RocksDB's write-ahead log)
  uint64_t sst_apparent = 0;  // *.sst files
};
DiskUsage Du(const std::string& path);

}  // namespace llmobs_edge::bench::rescue
