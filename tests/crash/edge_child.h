#pragma once
// The real `llmobs-edge` binary as a child process for the crash test: a generated YAML config
// (TCP ingest and telemetry on free ports, no Unix socket, no gRPC, the given Agent URL, the given
// ledger directory with fsync per commit, a short intake flush interval), spawned with
// posix_spawn, waited for on /ready, then killed with SIGKILL or stopped with SIGTERM.

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "tests/integration/edge_binary.h"

namespace llmobs_edge::crash {

using testing::FindEdgeBinary;
using testing::PickFreePort;

struct EdgeSettings {
  std::string binary;
  std::string agent_url;    // also the EVP intake (intake.mode agent)
  std::string ledger_path;  // kept across incarnations
  std::string work_dir;     // config and log files go here
  uint32_t flush_interval_ms = 20;
  uint32_t ingest_threads = 2;
};

class EdgeChild {
 public:
  EdgeChild() = default;
  ~EdgeChild();  // SIGKILLs a child still running
  EdgeChild(const EdgeChild&) = delete;
  EdgeChild& operator=(const EdgeChild&) = delete;

  // Writes the config (`tag` names the files), spawns the edge and waits up to 30 s for /ready.
  // Retries with other ports when the edge cannot listen. "" or what went wrong. With
  // `wait_ready` false it returns right after the spawn (to kill the edge while it starts).
  std::string Start(const EdgeSettings& settings, const std::string& tag, bool wait_ready = true);
  // SIGKILL and reap. Returns the wait status.
  int Kill();
  // SIGTERM, wait up to `timeout_s` (then SIGKILL). The exit code, or 128 + signal.
  int Terminate(int timeout_s = 30);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  uint16_t telemetry_port() const { return telemetry_port_; }
  const std::string& log_path() const { return log_path_; }
  std::string LogTail(size_t max_bytes = 3000) const;

  // GET /metrics from the telemetry listener; "" when it does not answer 200.
  std::string Metrics() const;

 private:
  std::string SpawnOnce(const EdgeSettings& settings, bool wait_ready);

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t telemetry_port_ = 0;
  std::string config_path_;
  std::string log_path_;
};

// The value of the first sample of `name` (with or without labels, `_total` suffix tried too) in
// an OpenMetrics text, or -1 when absent. A `name` with labels (`x_total{a="b"}`) matches that
// exact sample only.
double MetricValue(const std::string& text, const std::string& name);

}  // namespace llmobs_edge::crash
