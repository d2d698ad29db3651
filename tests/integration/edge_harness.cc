#include "tests/integration/edge_harness.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "gtest/gtest.h"

namespace llmobs_edge::testing {

std::string TempPath(const std::string& name) {
  // Unix socket paths must fit in sun_path (108 bytes), which Bazel's TEST_TMPDIR may not: use a
  // short private directory under /tmp.
  // Never destroyed, so the exit hook below can still read it.
  static const std::string* const dir = [] {
    char tmpl[] = "/tmp/edge-test-XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (d == nullptr) return new std::string("/tmp");
    auto* path = new std::string(d);
    std::atexit([] {  // the sockets and files of this test process go with it
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    });
    return path;
  }();
  static std::atomic<int> counter{0};
  return *dir + "/" + name + "-" + std::to_string(counter.fetch_add(1));
}

EdgeHarness::EdgeHarness(HarnessOptions o) : ioc_(o.threads) {
  FakeAgent::Options ao;
  if (o.agent_over_unix) ao.unix_path = TempPath("agent.sock");
  ao.max_stored_body = o.agent_max_stored_body;
  agent_ = std::make_unique<FakeAgent>(ao);
  const std::string url = o.agent_url_override.empty() ? agent_->url() : o.agent_url_override;
  pool_ = std::make_unique<http::AgentPool>(*http::ParseAgentUrl(url));
  decoder::ReaderLimits limits;
  limits.max_payload_bytes = o.server.max_payload_bytes;
  chain_ = std::make_unique<plugin::StageChain>(std::move(o.stages), limits, &metrics_);
  if (!o.server.port.has_value()) o.server.port = 0;
  if (o.server.socket_path.empty()) o.server.socket_path = TempPath("edge.sock");
  socket_path_ = o.server.socket_path;
  server_ = std::make_unique<http::HttpServer>(ioc_, o.server, *chain_, *pool_, metrics_);
  if (o.routes != nullptr) server_->SetRouteTable(o.routes);
  if (o.pipeline_threads > 0) {
    pipeline_ = std::make_unique<boost::asio::thread_pool>(o.pipeline_threads);
    server_->SetPipelineExecutor(pipeline_->get_executor());
  }
  const absl::Status st = server_->Listen();
  EXPECT_TRUE(st.ok()) << st;
  work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
      ioc_.get_executor());
  server_->Start();
  for (int i = 0; i < o.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
}

void EdgeHarness::Stop() {
  if (threads_.empty()) return;
  server_->BeginShutdown();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server_->connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pool_->CloseIdle();
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (pipeline_) pipeline_->join();
}

EdgeHarness::~EdgeHarness() { Stop(); }

double EdgeHarness::Metric(const std::string& sample) const {
  const std::string text = metrics_.RenderOpenMetrics();
  size_t at = 0;
  while ((at = text.find(sample + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + sample.size() + 1));
    ++at;
  }
  return -1;
}

}  // namespace llmobs_edge::testing
