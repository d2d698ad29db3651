#pragma once
// The connection to the upstream Datadog Agent: its address (http://host:port or unix:///path, as
// tracers spell DD_TRACE_AGENT_URL) and a pool of kept-alive connections shared by every ingest
// path. A connection is taken for one exchange and given back when the exchange left it reusable;
// idle connections the Agent has closed, or that sat idle too long, are never handed out.

#include <utility>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/system/error_code.hpp>

#include "absl/status/statusor.h"
#include "plugin/host/http/any_stream.h"

namespace llmobs_edge::http {

struct UpstreamAddress {
  bool is_unix = false;
  std::string host;  // TCP: host name or address (IPv6 without brackets)
  std::string port;  // TCP: "8126"
  std::string path;  // Unix: socket path
  std::string url;   // as configured, for logs
};

// Parses an agent.url value (already validated by config::Validate).
absl::StatusOr<UpstreamAddress> ParseAgentUrl(const std::string& url);

struct UpstreamConnection {
  // Answers are read through `buffer`; Beast reads at most its free capacity per call, so it gets
  // room for large reads up front.
  explicit UpstreamConnection(AnyStream s) : stream(std::move(s)) { buffer.reserve(64 * 1024); }
  AnyStream stream;
  boost::beast::flat_buffer buffer;  // bytes read past the last response (normally none)
  std::chrono::steady_clock::time_point idle_since;
  bool reused = false;  // came from the pool (may have been closed by the Agent meanwhile)
};

class AgentPool {
 public:
  struct Options {
    size_t max_idle = 64;
    // The Agent closes idle connections after its receiver timeout (5 s by default); stay below.
    std::chrono::milliseconds max_idle_time{4000};
  };
  AgentPool(UpstreamAddress address, Options options);
  AgentPool(UpstreamAddress address) : AgentPool(std::move(address), Options{}) {}

  // An idle connection, else a new one connected on `executor`. The caller bounds the time with
  // its own watchdog (closing the returned socket is not possible before it is returned, so the
  // connect itself is raced against `timeout` here).
  boost::asio::awaitable<std::unique_ptr<UpstreamConnection>> Acquire(
      boost::asio::any_io_executor executor, std::chrono::milliseconds timeout,
      boost::system::error_code& ec);
  // Connects a fresh connection, never from the pool.
  boost::asio::awaitable<std::unique_ptr<UpstreamConnection>> Connect(
      boost::asio::any_io_executor executor, std::chrono::milliseconds timeout,
      boost::system::error_code& ec);
  // Gives a connection back after a complete exchange that allows keep-alive.
  void Release(std::unique_ptr<UpstreamConnection> connection);
  void CloseIdle();

  const UpstreamAddress& address() const { return address_; }

 private:
  UpstreamAddress address_;
  Options options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<UpstreamConnection>> idle_;
};

}  // namespace llmobs_edge::http
