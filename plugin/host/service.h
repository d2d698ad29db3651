#pragma once
// The llmobs-edge service: wires validated configuration into the running pieces — the Agent
// connection pool and probe, the stage chain, HTTP ingest (TCP + Unix socket), gRPC ingest and the
// telemetry listener — on one io_context, and runs until SIGTERM/SIGINT, then drains gracefully.
// main() builds the config and calls Run(); tests use Start()/Shutdown() with port 0.

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "plugin/host/chain.h"
#include "plugin/host/registration.h"
#include "proto/config.pb.h"

namespace llmobs_edge::plugin {

class Service {
 public:
  // Builds every piece (nothing listens yet): the plugins of `registry` (ProductPlugins() in
  // production), their route table, and the chain of the stages pipeline.stages names.
  static absl::StatusOr<std::unique_ptr<Service>> Create(const config::v1::Config& config,
                                                         const PluginRegistry& registry);
  ~Service();

  // Binds the listeners and starts the threads. An error names the listener that failed.
  absl::Status Start();
  // Stops accepting, lets in-flight requests finish within the grace period, then stops.
  // Safe to call more than once.
  void Shutdown();
  // Start(), then wait for SIGTERM or SIGINT, then Shutdown(). Returns the process exit code.
  int Run();

  // Listener addresses after Start() (port 0 in config picks one).
  uint16_t http_port() const;
  uint16_t telemetry_port() const;
  std::string grpc_address() const;

  struct Impl;

 private:
  explicit Service(std::unique_ptr<Impl> impl);
  void TickBodyPool();
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmobs_edge::plugin
