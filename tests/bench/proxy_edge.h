#pragma once
// The edge binary as a child process for the proxy benchmark (proxy_bench.cc, and through it
// //tests/bench:proxy_smoke_test): the shared EdgeProcess started with the proxy hop's config,
// written in a short temp dir that goes away with the object.

#include <string>

#include "tests/integration/edge_process.h"

namespace llmobs_edge::bench::proxy {

class ProxyEdge : public testing::EdgeProcess {
 public:
  ProxyEdge() = default;
  ~ProxyEdge();  // SIGKILLs an edge still running, then removes its files and the temp dir

  // Writes the config (TCP ingest on a free port and a Unix socket, no gRPC, telemetry on a free
  // port, no pipeline stage, the given Agent URL), spawns the edge and waits (up to 20 s) for
  // /ready. Retries with other ports when the edge cannot listen. "" or what went wrong.
  std::string Start(const std::string& binary, const std::string& agent_url);

  const std::string& socket_path() const { return socket_path_; }

 private:
  void Cleanup();

  std::string dir_;
  std::string socket_path_;
  std::string config_path_;
  std::string log_path_;
};

}  // namespace llmobs_edge::bench::proxy
