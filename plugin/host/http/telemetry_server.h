#pragma once
// The telemetry listener: GET /metrics (OpenMetrics text, also at /openmetrics for the Agent's
// OpenMetrics check), GET /live (the process serves requests) and GET /ready (the ingest
// listeners are up and the upstream Agent answered its last probe). Small and separate from
// ingest so scrapes never compete with tracers' connections.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/status/status.h"
#include "plugin/api/metrics.h"

namespace llmobs_edge::http {

class TelemetryServer {
 public:
  // `ready` says whether the service is ready, with a short reason when it is not.
  using ReadyCheck = std::function<bool(std::string* reason)>;
  TelemetryServer(boost::asio::io_context& ioc, std::string host, uint16_t port,
                  const telemetry::Registry& metrics, ReadyCheck ready);
  absl::Status Listen();
  void Start();
  void Stop();
  uint16_t port() const { return port_; }

 private:
  boost::asio::awaitable<void> AcceptLoop();
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  std::string host_;
  uint16_t port_;
  const telemetry::Registry& metrics_;
  ReadyCheck ready_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
};

}  // namespace llmobs_edge::http
