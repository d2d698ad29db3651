#pragma once
// The real `llmobs-edge` binary as a child process for the crash test (crash_test.cc): the
// shared EdgeProcess started with the crash test's config, on a ledger that outlives every
// incarnation. Killing, stopping, /metrics and the OpenMetrics parse come from EdgeProcess.

#include <cstdint>
#include <string>

#include "tests/integration/edge_process.h"

namespace llmobs_edge::crash {

struct EdgeSettings {
  std::string binary;
  std::string agent_url;    // also the EVP intake (intake.mode agent)
  std::string ledger_path;  // kept across incarnations
  std::string work_dir;     // config and log files go here
  uint32_t flush_interval_ms = 20;
  uint32_t ingest_threads = 2;
};

class EdgeChild : public testing::EdgeProcess {
 public:
  // Writes the config (`tag` names the files: TCP ingest and telemetry on free ports, no Unix
  // socket, no gRPC, the given Agent URL, the ledger with fsync per commit, a short intake flush
  // interval), spawns the edge and waits up to 30 s for /ready. Retries with other ports when
  // the edge cannot listen. "" or what went wrong. With `wait_ready` false it returns right
  // after the spawn (to kill the edge while it starts).
  std::string Start(const EdgeSettings& settings, const std::string& tag, bool wait_ready = true);
};

}  // namespace llmobs_edge::crash
