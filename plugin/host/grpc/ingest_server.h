#pragma once
// gRPC ingest: the llmobs_edge.v1.TraceIngest service (proto/ingest.proto). Submit takes a v0.4
// payload and the tracer's HTTP headers and runs exactly the pipeline of `PUT /v0.4/traces` on the
// HTTP port (http::Session::HandleTraces): stage chain, one exchange with the Agent through the
// shared AgentPool, AfterForward, then the Agent's answer (status after the same 429 translation,
// body, end-to-end headers, parsed rate_by_service). The server also offers the standard gRPC
// health service and server reflection. plugin::Service builds it when ingest.grpc_address is set.
//
// Threading: gRPC's synchronous server runs Submit on its own threads; the Agent exchange runs as
// a coroutine on the service's io_context (on a fresh strand per call) and the handler thread
// waits for it. The io_context must therefore be running while calls are in flight, i.e. until
// Shutdown() returned.

#include <utility>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/io_context.hpp>

#include "absl/status/status.h"
#include "plugin/host/chain.h"
#include "plugin/host/http/upstream.h"
#include "plugin/api/metrics.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace llmobs_edge::plugin::grpc_ingest {

class TraceIngestService;

class IngestServer {
 public:
  struct Options {
    std::string address;  // host:port (port 0 picks a free port), or unix:/path
    // Payloads of this size or more are refused (RESOURCE_EXHAUSTED "payload-too-large"), like
    // the HTTP path's 413. The gRPC message limit is this plus 64 KiB for the headers.
    uint64_t max_payload_bytes = 25ull << 20;
    std::chrono::milliseconds agent_timeout{10000};  // connect + send + the Agent's whole answer
  };

  IngestServer(Options options, boost::asio::io_context& ioc, const plugin::StageChain& chain,
               http::AgentPool& agent, telemetry::Registry& metrics);
  ~IngestServer();  // Shutdown(0) if still running
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  // Builds and starts the grpc::Server (TraceIngest + health + reflection) and marks the health
  // status SERVING. Errors name the setting (ingest.grpc_address).
  absl::Status Start();

  // Marks the health status NOT_SERVING, stops accepting calls, lets in-flight calls finish for
  // up to `grace` (then cancels them) and waits for their handlers. Idempotent; safe without
  // Start().
  void Shutdown(std::chrono::milliseconds grace);

  // "host:port" actually bound (port 0 in the options -> the chosen port); the configured address
  // before Start() and for unix: addresses.
  std::string address() const;

 private:
  Options options_;
  std::unique_ptr<TraceIngestService> service_;  // outlives server_ (declared first)
  mutable std::mutex mu_;
  std::unique_ptr<grpc::Server> server_;  // set once by Start(), under mu_
  std::string bound_address_;             // guarded by mu_
  bool started_ = false;                  // guarded by mu_
  bool shut_down_ = false;                // guarded by mu_
};

}  // namespace llmobs_edge::plugin::grpc_ingest
