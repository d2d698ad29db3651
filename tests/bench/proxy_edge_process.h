#pragma once
// The edge binary as a child process for the proxy benchmark: a generated YAML config in a
// short temp dir (TCP ingest on a free port, a Unix socket, no gRPC, telemetry on a free port,
// the given Agent URL), started with posix_spawn, waited for on /ready, and read through /proc
// (CPU seconds, RSS and its peak). Stop() sends SIGTERM and returns the exit code.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "tests/integration/edge_binary.h"

namespace llmobs_edge::bench::proxy {

using testing::FindEdgeBinary;
using testing::PickFreePort;

class EdgeProcess {
 public:
  EdgeProcess() = default;
  ~EdgeProcess();
  EdgeProcess(const EdgeProcess&) = delete;
  EdgeProcess& operator=(const EdgeProcess&) = delete;

  // Writes the config, spawns the edge and waits (up to 20 s) for /ready to answer 200. Retries
  // with other ports when the edge cannot listen. Returns "" or what went wrong.
  std::string Start(const std::string& binary, const std::string& agent_url);
  // SIGTERM, then waits up to 30 s (SIGKILL after). The exit code, or 128 + signal.
  int Stop();

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  uint16_t telemetry_port() const { return telemetry_port_; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& config_text() const { return config_text_; }

  // utime + stime of the whole process so far, in seconds (/proc/PID/stat).
  double CpuSeconds() const;
  // Restricts every thread of the edge to `cpu` (sched_setaffinity); false when it fails.
  bool PinTo(int cpu) const;
  // utime + stime per thread (/proc/PID/task/TID/stat), in seconds.
  std::map<int, double> ThreadCpuSeconds() const;
  // VmHWM and VmRSS from /proc/PID/status, in bytes.
  uint64_t PeakRssBytes() const;
  uint64_t RssBytes() const;
  // The last `max_bytes` of the edge's stderr + stdout.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  std::string SpawnOnce(const std::string& binary, const std::string& agent_url);
  void Cleanup();

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t telemetry_port_ = 0;
  std::string dir_;
  std::string socket_path_;
  std::string config_path_;
  std::string log_path_;
  std::string config_text_;
};

}  // namespace llmobs_edge::bench::proxy
