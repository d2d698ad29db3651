// A plugin's claimed routes through the real HTTP ingest: a buffered route is read whole and
// answered by the plugin's handler (on the pipeline threads), or passed through to the Agent
// unchanged when the handler fails open, the body is over the claim's limit, or it is chunked;
// every unclaimed path stays the transparent proxy, and the core routes keep working beside it.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "plugin/api/plugin.h"
#include "plugin/host/http/core_plugins.h"
#include "plugin/host/route_table.h"
#include "tests/integration/edge_harness.h"

namespace llmobs_edge::testing {
namespace {

// Answers 202 with what it saw, or passes through bodies that start with "pass".
class EchoHandler final : public plugin::RouteHandler {
 public:
  plugin::RouteOutcome Handle(const plugin::RouteRequest& r, plugin::RouteAnswer* a) override {
    calls.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu);
      thread_names.push_back(std::this_thread::get_id());
      last_subdomain = std::string(r.Header("x-datadog-evp-subdomain"));
    }
    if (r.body.substr(0, 4) == "pass") return plugin::RouteOutcome::kPassThrough;
    a->status = 202;
    a->headers.emplace_back("Content-Type", "application/json");
    a->body = std::string("{\"method\":\"") + std::string(r.method) + "\",\"path\":\"" +
              std::string(r.path) + "\",\"bytes\":" + std::to_string(r.body.size()) + "}";
    return plugin::RouteOutcome::kAnswered;
  }
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<std::thread::id> thread_names;
  std::string last_subdomain;
};

class StorePlugin final : public plugin::Plugin {
 public:
  std::string_view name() const override { return "store"; }
  std::vector<plugin::RouteClaim> Routes() override {
    plugin::RouteClaim c;
    c.method = "POST";
    c.path = "/evp_proxy/";
    c.prefix = true;
    c.mode = plugin::RouteMode::kBuffered;
    c.max_body_bytes = 1000;
    c.handler = &handler;
    return {c};
  }
  EchoHandler handler;
};

struct Fixture {
  Fixture() {
    static http::TracesPlugin traces;
    static http::AgentInfoPlugin info;
    auto t = plugin::RouteTable::Build({&traces, &info, &store});
    EXPECT_TRUE(t.ok()) << t.status();
    table = *std::move(t);
    HarnessOptions o;
    o.routes = &table;
    o.pipeline_threads = 2;
    edge = std::make_unique<EdgeHarness>(std::move(o));
  }
  StorePlugin store;
  plugin::RouteTable table;
  std::unique_ptr<EdgeHarness> edge;
};

TestRequest Post(std::string target, std::string body) {
  TestRequest r;
  r.method = "POST";
  r.target = std::move(target);
  r.headers = {{"Content-Type", "application/json"}, {"X-Datadog-EVP-Subdomain", "llmobs-intake"}};
  r.body = std::move(body);
  return r;
}

TEST(PluginRoutes, TheHandlerAnswersABufferedRouteOnAPipelineThread) {
  Fixture f;
  auto client = f.edge->TcpClient();
  for (int i = 0; i < 3; ++i) {  // keep-alive: the connection serves the next request
    const TestResponse r = client->Send(Post("/evp_proxy/v2/api/v2/llmobs?x=1", "[{\"a\":1}]"));
    EXPECT_EQ(r.status, 202u) << r.error;
    EXPECT_EQ(r.body, "{\"method\":\"POST\",\"path\":\"/evp_proxy/v2/api/v2/llmobs\",\"bytes\":9}");
    EXPECT_EQ(r.Header("Content-Type"), "application/json");
    EXPECT_TRUE(r.keep_alive);
  }
  EXPECT_EQ(f.store.handler.calls.load(), 3);
  EXPECT_EQ(f.store.handler.last_subdomain, "llmobs-intake");
  EXPECT_TRUE(f.edge->agent().requests().empty());  // the Agent saw none of them
  EXPECT_EQ(f.edge->Metric("llmobs_edge_http_requests_total{route=\"evp_proxy\",status=\"202\"}"),
            3);
  std::lock_guard<std::mutex> lock(f.store.handler.mu);
  for (const auto& id : f.store.handler.thread_names) EXPECT_NE(id, std::this_thread::get_id());
}

TEST(PluginRoutes, AHandlerThatFailsOpenSendsTheRequestToTheAgentUnchanged) {
  Fixture f;
  const TestResponse r =
      f.edge->TcpClient()->Send(Post("/evp_proxy/v2/api/v2/llmobs", "pass: not for me"));
  EXPECT_EQ(r.status, 202u) << r.error;  // the FakeAgent's EVP answer, relayed
  EXPECT_FALSE(absl::StrContains(r.body, "\"method\"")) << r.body;  // not the handler's
  const std::vector<RecordedRequest> seen = f.edge->agent().requests();
  ASSERT_EQ(seen.size(), 1u);
  const RecordedRequest& got = seen[0];
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.target, "/evp_proxy/v2/api/v2/llmobs");
  EXPECT_EQ(got.body, "pass: not for me");
  EXPECT_EQ(got.Header("X-Datadog-EVP-Subdomain"), "llmobs-intake");
  EXPECT_EQ(got.Header("Content-Type"), "application/json");
  EXPECT_EQ(f.edge->Metric("llmobs_edge_http_buffered_passed_through_total"), 1);
}

TEST(PluginRoutes, BodiesOverTheLimitOrChunkedStreamToTheAgentWithoutTheHandler) {
  Fixture f;
  auto client = f.edge->TcpClient();
  const std::string big(5000, 'x');  // over the claim's 1000 bytes
  EXPECT_EQ(client->Send(Post("/evp_proxy/v4/api/v2/llmobs", big)).status, 202u);
  TestRequest chunked = Post("/evp_proxy/v2/api/v2/llmobs", "[1,2,3]");
  chunked.chunked = true;
  EXPECT_EQ(client->Send(chunked).status, 202u);
  EXPECT_EQ(f.store.handler.calls.load(), 0);
  const auto seen = f.edge->agent().requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].body, big);
  EXPECT_EQ(seen[1].body, "[1,2,3]");
  EXPECT_EQ(f.edge->Metric("llmobs_edge_http_buffered_passed_through_total"), 2);
}

TEST(PluginRoutes, UnclaimedMethodsAndPathsAndTheCoreRoutesAreUnchanged) {
  Fixture f;
  auto client = f.edge->TcpClient();
  TestRequest get = Post("/evp_proxy/v2/api/v2/llmobs", "");
  get.method = "GET";  // the claim is POST only
  EXPECT_EQ(client->Send(get).status, 202u);  // the FakeAgent's EVP answer
  EXPECT_EQ(client->Send(Post("/v0.6/stats", "s")).status, 200u);
  EXPECT_EQ(client->Send({.body = "x"}).status, 200u);  // PUT /v0.4/traces
  const TestResponse info = client->Send({.method = "GET", .target = "/info"});
  EXPECT_EQ(info.status, 200u);
  EXPECT_FALSE(absl::StrContains(info.body, "/v0.7/traces")) << info.body;
  EXPECT_EQ(f.store.handler.calls.load(), 0);
  EXPECT_EQ(f.edge->agent().requests().size(), 4u);
}

}  // namespace
}  // namespace llmobs_edge::testing
