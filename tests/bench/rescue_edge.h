#pragma once
// The edge binary as a child process for the rescue benchmark (rescue_bench.cc, and through it
// //tests/bench:rescue_smoke_test): the shared EdgeProcess started with the rescue stage and a
// RocksDB ledger of our choosing, and the ledger's disk usage.

#include <cstdint>
#include <string>

#include "tests/integration/edge_process.h"

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

class RescueEdge : public testing::EdgeProcess {
 public:
  // Writes the config next to the ledger (in `dir`: TCP ingest on a free port, no Unix socket,
  // no gRPC, telemetry on a free port, `pipeline.stages: [rescue]`, `ledger: {path, sync}`,
  // intake through the Agent's EVP proxy), spawns the edge and waits up to 20 s for /ready.
  // Retries with other ports when the edge cannot listen. Returns "" or what went wrong.
  std::string Start(const EdgeConfig& config, const std::string& dir);
};

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
