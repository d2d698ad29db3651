#pragma once
// The HTTP ingest server: the Agent's receiver paths on TCP and on a Unix domain socket, built on
// Boost.Beast/Asio with C++20 coroutines. Each request goes where the route table says: the trace
// pipeline (/v0.4/traces: read whole, limit -> 413 like the Agent, the stage chain, forwarded),
// forwarded with the answer filtered (GET /info), or read whole and handed to a plugin's handler;
// every unclaimed path is a transparent streaming reverse proxy to the Agent. Keep-alive,
// chunked bodies, Expect: 100-continue, per-request timeouts, a connection limit and a graceful
// drain are handled here. The service (plugin/host/service.h) owns it; tests run it on port 0.

#include <utility>
#include <atomic>
#include <chrono>
#include <functional>
#include <string_view>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "absl/status/status.h"
#include "plugin/api/buffer_pool.h"
#include "plugin/host/chain.h"
#include "plugin/host/route_table.h"
#include "plugin/api/log_limiter.h"
#include "plugin/host/http/upstream.h"
#include "plugin/host/http/http_metrics.h"
#include "plugin/api/metrics.h"

namespace llmobs_edge::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::optional<uint16_t> port;  // unset: no TCP listener; 0: an ephemeral port
  std::string socket_path;       // empty: no Unix socket
  uint64_t max_payload_bytes = 25ull << 20;
  uint32_t max_connections = 2000;
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds agent_timeout{10000};
};

class Session;

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, ServerOptions options, const plugin::StageChain& chain,
             AgentPool& agent, telemetry::Registry& metrics);
  ~HttpServer();

  // Binds every configured listener (a stale Unix socket file is replaced; its directory is
  // created). Errors name the listener.
  absl::Status Listen();
  // Starts accepting on the io_context's threads.
  void Start();
  // Called with the Datadog-Agent-State of every Agent answer to a trace payload (the Agent probe
  // re-reads /info when it changes). Set before Start().
  void SetAgentStateObserver(std::function<void(std::string_view)> observer) {
    agent_state_observer_ = std::move(observer);
  }
  // Where payloads that reach the stages run (plugin::StageChain::WillDecode, with stages), so a stage that
  // waits (a ledger commit's fsync) does not hold an io thread; the session resumes on its own
  // strand afterwards. Unset: they run on the io threads. Set before Start().
  void SetPipelineExecutor(boost::asio::any_io_executor executor) {
    pipeline_executor_ = std::move(executor);
  }
  // Which plugin owns which path (plugin/host/route_table.h); unset: the core plugins' table
  // (/v0.4/traces and GET /info). Set before Start(); it must outlive the server.
  void SetRouteTable(const plugin::RouteTable* routes) { routes_ = routes; }
  const plugin::RouteTable& routes() const;

  // Where trace bodies are read into: a pooled buffer per request, given back after the Agent's
  // answer, so a steady stream of payloads reuses memory that is already faulted in. Unset: the
  // server's own pool. Set before Start().
  void SetBodyPool(plugin::BufferPool* pool) { body_pool_ = pool; }
  plugin::BufferPool& body_pool() { return body_pool_ ? *body_pool_ : own_body_pool_; }

  // Stops accepting and closes idle kept-alive connections; in-flight requests finish, then
  // their connections close.
  void BeginShutdown();

  uint16_t tcp_port() const { return tcp_port_; }
  int64_t connections() const { return connections_.load(); }
  int64_t in_flight() const { return in_flight_.load(); }
  bool draining() const { return draining_.load(); }

 private:
  friend class Session;
  template <typename Acceptor>
  boost::asio::awaitable<void> AcceptLoop(Acceptor& acceptor);
  void Register(const std::shared_ptr<Session>& s);
  void Unregister(Session* s);

  boost::asio::io_context& ioc_;
  ServerOptions options_;
  std::optional<boost::asio::any_io_executor> pipeline_executor_;
  const plugin::StageChain& chain_;
  AgentPool& agent_;
  HttpMetrics metrics_;
  std::optional<boost::asio::ip::tcp::acceptor> tcp_;
  std::optional<boost::asio::local::stream_protocol::acceptor> unix_;
  uint16_t tcp_port_ = 0;
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> draining_{false};
  plugin::LogLimiter upstream_log_;
  std::function<void(std::string_view)> agent_state_observer_;
  plugin::BufferPool* body_pool_ = nullptr;
  const plugin::RouteTable* routes_ = nullptr;
  plugin::BufferPool own_body_pool_;
  std::mutex sessions_mu_;
  std::list<std::weak_ptr<Session>> sessions_;
};

}  // namespace llmobs_edge::http
