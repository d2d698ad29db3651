#pragma once
// Test harness: an edge (HTTP ingest on TCP port 0 and a Unix socket in TEST_TMPDIR, the Agent
// pool, a stage chain) wired to an in-process FakeAgent, running on its own io_context threads.

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "plugin/host/chain.h"
#include "plugin/host/route_table.h"
#include "plugin/host/http/server.h"
#include "plugin/host/http/upstream.h"
#include "plugin/api/metrics.h"
#include "tests/integration/fake_agent.h"
#include "tests/integration/test_client.h"

namespace llmobs_edge::testing {

std::string TempPath(const std::string& name);

struct HarnessOptions {
  bool agent_over_unix = false;
  uint64_t agent_max_stored_body = 32ull << 20;
  std::string agent_url_override;  // e.g. an address nothing listens on
  http::ServerOptions server;
  std::vector<std::unique_ptr<plugin::Stage>> stages;
  int threads = 2;
  // > 0: stages run on a pool of this many threads (HttpServer::SetPipelineExecutor).
  int pipeline_threads = 0;
  // The route table (null: the core plugins' /v0.4/traces and GET /info); must outlive the harness.
  const plugin::RouteTable* routes = nullptr;
};

class EdgeHarness {
 public:
  explicit EdgeHarness(HarnessOptions options = {});
  ~EdgeHarness();

  FakeAgent& agent() { return *agent_; }
  http::HttpServer& server() { return *server_; }
  telemetry::Registry& metrics() { return metrics_; }
  uint16_t port() const { return server_->tcp_port(); }
  const std::string& socket_path() const { return socket_path_; }
  std::unique_ptr<TestClient> TcpClient() const { return TestClient::Tcp(port()); }
  std::unique_ptr<TestClient> UnixClient() const { return TestClient::Unix(socket_path_); }
  // The value of one rendered sample line ("name{labels}"), or -1 when absent.
  double Metric(const std::string& sample) const;
  void Stop();

 private:
  std::string socket_path_;
  std::unique_ptr<FakeAgent> agent_;
  telemetry::Registry metrics_;
  boost::asio::io_context ioc_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<http::AgentPool> pool_;
  std::unique_ptr<plugin::StageChain> chain_;
  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<boost::asio::thread_pool> pipeline_;
  std::vector<std::thread> threads_;
};

}  // namespace llmobs_edge::testing
