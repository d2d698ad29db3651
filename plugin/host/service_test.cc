// Tests of the assembled service: configuration in, listeners up, the Agent probed for /ready,
// traffic through TCP and the Unix socket, OpenMetrics out, and the graceful shutdown that lets an
// in-flight request finish.

#include "plugin/host/service.h"

#include <chrono>
#include <future>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "plugin/host/config/config.h"
#include "plugin/host/registration.h"
#include "tests/integration/edge_binary.h"
#include "tests/integration/edge_harness.h"
#include "tests/integration/fake_agent.h"
#include "tests/integration/test_client.h"

namespace llmobs_edge::plugin {
namespace {

using testing::FakeAgent;
using testing::TestClient;

// (The config's port 0 means "off", not "any": tests pick free ports.)
config::Config TestConfig(const std::string& agent_url) {
  config::Config c = config::DefaultConfig();
  c.mutable_ingest()->set_port(testing::PickFreePort());
  c.mutable_ingest()->set_socket(testing::TempPath("svc.sock"));
  c.mutable_ingest()->set_grpc_address("");
  c.mutable_ingest()->set_shutdown_grace_ms(3000);
  c.mutable_ingest()->set_threads(2);
  c.mutable_telemetry()->set_port(testing::PickFreePort());
  c.mutable_agent()->set_url(agent_url);
  c.mutable_logging()->set_level("off");
  c.mutable_ledger()->set_path(testing::TempPath("ledger"));
  return c;
}

std::string Get(uint16_t port, const std::string& path, unsigned* status) {
  auto client = TestClient::Tcp(port);
  const testing::TestResponse r = client->Send({.method = "GET", .target = path});
  *status = r.status;
  return r.body;
}

bool WaitReady(uint16_t telemetry_port) {
  for (int i = 0; i < 300; ++i) {
    unsigned status = 0;
    Get(telemetry_port, "/ready", &status);
    if (status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(Service, ServesTcpAndUnixSocketAndReportsReadyAndMetrics) {
  FakeAgent agent({});
  const config::Config c = TestConfig(agent.url());
  auto service = Service::Create(c, ProductPlugins());
  ASSERT_TRUE(service.ok()) << service.status();
  ASSERT_TRUE((*service)->Start().ok());
  ASSERT_TRUE(WaitReady((*service)->telemetry_port()));
  unsigned status = 0;
  Get((*service)->telemetry_port(), "/live", &status);
  EXPECT_EQ(status, 200u);

  auto tcp = TestClient::Tcp(c.ingest().port());
  EXPECT_EQ(tcp->Send({.body = "x"}).status, 200u);
  auto uds = TestClient::Unix(c.ingest().socket());
  EXPECT_EQ(uds->Send({.method = "POST", .target = "/v0.6/stats", .body = "s"}).status, 200u);

  const std::string metrics = Get((*service)->telemetry_port(), "/metrics", &status);
  EXPECT_EQ(status, 200u);
  EXPECT_TRUE(absl::StrContains(
      metrics, "llmobs_edge_http_requests_total{route=\"v0.4_traces\",status=\"200\"} 1"));
  EXPECT_TRUE(absl::StrContains(metrics, "llmobs_edge_agent_reachable 1"));
  EXPECT_TRUE(absl::EndsWith(metrics, "# EOF\n"));
  (*service)->Shutdown();
}

TEST(Service, NotReadyWhileTheAgentIsDown) {
  const config::Config c = TestConfig("unix://" + testing::TempPath("no-agent.sock"));
  auto service = Service::Create(c, ProductPlugins());
  ASSERT_TRUE(service.ok());
  ASSERT_TRUE((*service)->Start().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  unsigned status = 0;
  const std::string body = Get((*service)->telemetry_port(), "/ready", &status);
  EXPECT_EQ(status, 503u);
  EXPECT_TRUE(absl::StrContains(body, "does not answer")) << body;
  (*service)->Shutdown();
}

TEST(Service, ShutdownLetsInFlightRequestFinishThenStops) {
  FakeAgent agent({}, [](const testing::RecordedRequest& r) {
    testing::FakeResponse res = FakeAgent::AgentLikeAnswer(r);
    if (r.body == "slow") res.delay = std::chrono::milliseconds(600);
    return res;
  });
  const config::Config c = TestConfig(agent.url());
  auto service = Service::Create(c, ProductPlugins());
  ASSERT_TRUE(service.ok());
  ASSERT_TRUE((*service)->Start().ok());
  auto client = TestClient::Tcp(c.ingest().port());
  auto in_flight = std::async(std::launch::async, [&] { return client->Send({.body = "slow"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const auto start = std::chrono::steady_clock::now();
  (*service)->Shutdown();
  const auto took = std::chrono::steady_clock::now() - start;
  const testing::TestResponse r = in_flight.get();
  EXPECT_EQ(r.status, 200u) << r.error;
  EXPECT_LT(took, std::chrono::milliseconds(2500));
  // Listeners are gone.
  EXPECT_NE(TestClient::Tcp(c.ingest().port())->Send({.body = "late"}).error, "");
}

TEST(Service, RefusesToStartNamingTheListenerThatCannotBind) {
  FakeAgent agent({});
  config::Config c = TestConfig(agent.url());
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor taken(
      ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  c.mutable_ingest()->set_port(taken.local_endpoint().port());
  auto service = Service::Create(c, ProductPlugins());
  ASSERT_TRUE(service.ok());
  const absl::Status st = (*service)->Start();
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(absl::StrContains(st.message(), "ingest: cannot listen on 127.0.0.1:")) << st;
}

TEST(Service, UnknownStageIsAConfigurationError) {
  config::Config c = TestConfig("http://127.0.0.1:1");
  c.mutable_pipeline()->clear_stages();
  c.mutable_pipeline()->add_stages("nope");
  auto service = Service::Create(c, ProductPlugins());
  EXPECT_FALSE(service.ok());
  EXPECT_TRUE(absl::StartsWith(service.status().message(), "pipeline.stages[0] = \"nope\""));
}

}  // namespace
}  // namespace llmobs_edge::plugin
