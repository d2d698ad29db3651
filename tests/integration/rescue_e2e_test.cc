// The rescue path end to end through the assembled service: a fake Agent that also serves the
// EVP proxy, the RocksDB ledger in a temp dir and the intake sender. Events of dropped traces
// arrive at the intake exactly once, across tracer retries, Agent refusals and a restart.

#include <chrono>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/strings/match.h"
#include "decoder/reader.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "plugin/host/config/config.h"
#include "plugin/host/service.h"
#include "plugin/host/registration.h"
#include "tests/integration/edge_binary.h"
#include "tests/integration/edge_harness.h"

namespace llmobs_edge::testing {
namespace {

using decoder::testing::EncodeLlmobsStruct;
using decoder::testing::EncodePayload;
using decoder::testing::TestSpan;

config::Config EdgeConfig(const std::string& agent_url, const std::string& ledger) {
  config::Config c = config::DefaultConfig();
  c.mutable_ingest()->set_port(PickFreePort());
  c.mutable_ingest()->set_socket("");
  c.mutable_ingest()->set_grpc_address("");
  c.mutable_ingest()->set_shutdown_grace_ms(2000);
  c.mutable_telemetry()->set_port(0);
  c.mutable_agent()->set_url(agent_url);
  c.mutable_logging()->set_level("off");
  c.mutable_ledger()->set_path(ledger);
  c.mutable_intake()->set_flush_interval_ms(50);
  c.mutable_intake()->set_max_backoff_ms(200);
  return c;
}

std::string LlmPayload(uint64_t span_id, double priority) {
  TestSpan s;
  s.trace_id = 4242;
  s.span_id = span_id;
  s.name = "llm.call";
  s.metrics = {{"_sampling_priority_v1", priority}};
  s.meta = {{"_dd.p.dm", "-4"}};
  s.meta_struct = {{"_llmobs", EncodeLlmobsStruct("6a1f0000000000000000000000000042", "chat")}};
  return EncodePayload({{s}});
}

// span_id of every event the fake Agent's EVP proxy received.
std::vector<std::string> DeliveredSpanIds(const FakeAgent& agent) {
  std::vector<std::string> ids;
  for (const auto& r : agent.requests()) {
    if (r.target != "/evp_proxy/v2/api/v2/llmobs") continue;
    EXPECT_EQ(r.Header("X-Datadog-EVP-Subdomain"), "llmobs-intake");
    for (const auto& env : nlohmann::json::parse(r.body)) {
      for (const auto& span : env["spans"]) ids.push_back(span["span_id"]);
    }
  }
  return ids;
}

std::vector<RecordedRequest> Traces(const FakeAgent& agent) {
  std::vector<RecordedRequest> out;
  for (const auto& r : agent.requests()) {
    if (r.target == "/v0.4/traces") out.push_back(r);
  }
  return out;
}

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 500 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

TEST(RescueEndToEnd, DroppedTracesEventArrivesOnceAcrossTracerRetries) {
  FakeAgent agent({});
  const config::Config c = EdgeConfig(agent.url(), TempPath("ledger"));
  auto service = plugin::Service::Create(c, plugin::ProductPlugins());
  ASSERT_TRUE(service.ok()) << service.status();
  ASSERT_TRUE((*service)->Start().ok());
  auto tracer = TestClient::Tcp(c.ingest().port());
  const std::string payload = LlmPayload(5, 0);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const TestResponse r = tracer->Send({.body = payload});
    ASSERT_EQ(r.status, 200u) << r.error;
  }
  ASSERT_TRUE(WaitFor([&] { return !DeliveredSpanIds(agent).empty(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(DeliveredSpanIds(agent), std::vector<std::string>{"5"});
  // Every copy of the trace reached the Agent stamped and scrubbed, its priority untouched.
  const auto traces = Traces(agent);
  ASSERT_EQ(traces.size(), 3u);
  for (const auto& t : traces) {
    decoder::Payload p;
    ASSERT_TRUE(decoder::PayloadReader().Read(t.body, &p).ok());
    ASSERT_EQ(p.spans.size(), 1u);
    EXPECT_FALSE(p.spans[0].has_llmobs);
    EXPECT_TRUE(p.spans[0].llmobs_already_submitted());
    EXPECT_EQ(p.spans[0].priority, 0);
    EXPECT_EQ(p.spans[0].dm, "-4");
    // The Agent was asked for real statuses on the tracer's behalf.
    EXPECT_EQ(t.Header("Datadog-Send-Real-Http-Status"), "true");
  }
  (*service)->Shutdown();
}

TEST(RescueEndToEnd, AgentRefusalRescuesTheKeptChunksEventAndTheTracerGetsTheAnswer) {
  FakeAgent agent({}, [](const RecordedRequest& r) {
    if (r.target == "/v0.4/traces") {
      FakeResponse res;
      res.status = 413;
      res.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
      res.body = "payload-too-large\n";
      return res;
    }
    return FakeAgent::AgentLikeAnswer(r);
  });
  const config::Config c = EdgeConfig(agent.url(), TempPath("ledger"));
  auto service = plugin::Service::Create(c, plugin::ProductPlugins());
  ASSERT_TRUE(service.ok()) << service.status();
  ASSERT_TRUE((*service)->Start().ok());
  auto tracer = TestClient::Tcp(c.ingest().port());
  const TestResponse r = tracer->Send({.body = LlmPayload(7, 2)});  // kept chunk: rides the trace
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.body, "payload-too-large\n");
  ASSERT_TRUE(WaitFor([&] { return !DeliveredSpanIds(agent).empty(); }));
  EXPECT_EQ(DeliveredSpanIds(agent), std::vector<std::string>{"7"});
  (*service)->Shutdown();
}

TEST(RescueEndToEnd, AgentsRealStatus429BecomesTheTracersUsual200) {
  FakeAgent agent({}, [](const RecordedRequest& r) {
    if (r.target == "/v0.4/traces" && r.Header("Datadog-Send-Real-Http-Status") == "true") {
      FakeResponse res = FakeAgent::AgentLikeAnswer(r);
      res.status = 429;
      return res;
    }
    return FakeAgent::AgentLikeAnswer(r);
  });
  const config::Config c = EdgeConfig(agent.url(), TempPath("ledger"));
  auto service = plugin::Service::Create(c, plugin::ProductPlugins());
  ASSERT_TRUE(service.ok());
  ASSERT_TRUE((*service)->Start().ok());
  auto tracer = TestClient::Tcp(c.ingest().port());
  const TestResponse r = tracer->Send({.body = LlmPayload(8, 2)});
  EXPECT_EQ(r.status, 200u);  // what the tracer would have got without the header
  EXPECT_TRUE(absl::StrContains(r.body, "rate_by_service"));
  ASSERT_TRUE(WaitFor([&] { return !DeliveredSpanIds(agent).empty(); }));
  EXPECT_EQ(DeliveredSpanIds(agent), std::vector<std::string>{"8"});  // refused: rescued
  (*service)->Shutdown();
}

TEST(RescueEndToEnd, OutboxSurvivesARestartAndIsDeliveredOnce) {
  const std::string ledger = TempPath("ledger");
  {
    // The intake is failing: events stay in the outbox.
    FakeAgent agent({}, [](const RecordedRequest& r) {
      if (absl::StartsWith(r.target, "/evp_proxy/")) return FakeResponse{.status = 503};
      return FakeAgent::AgentLikeAnswer(r);
    });
    const config::Config c = EdgeConfig(agent.url(), ledger);
    auto service = plugin::Service::Create(c, plugin::ProductPlugins());
    ASSERT_TRUE(service.ok());
    ASSERT_TRUE((*service)->Start().ok());
    auto tracer = TestClient::Tcp(c.ingest().port());
    for (uint64_t id = 1; id <= 20; ++id) {
      ASSERT_EQ(tracer->Send({.body = LlmPayload(id, -1)}).status, 200u);
    }
    (*service)->Shutdown();
  }
  FakeAgent agent({});
  const config::Config c = EdgeConfig(agent.url(), ledger);
  auto service = plugin::Service::Create(c, plugin::ProductPlugins());
  ASSERT_TRUE(service.ok());
  ASSERT_TRUE((*service)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return DeliveredSpanIds(agent).size() >= 20; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<std::string> ids = DeliveredSpanIds(agent);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids.size(), 20u);
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
  (*service)->Shutdown();
}

}  // namespace
}  // namespace llmobs_edge::testing
