// End-to-end tests of HTTP ingest and the reverse proxy against an in-process fake Agent, over
// TCP and Unix sockets on both sides: real tracer traffic replayed byte for byte, /info
// filtering, the 413 limit, Agent down / slow, malformed payloads, 100 MiB streams in bounded
// memory, keep-alive, chunked bodies, Expect: 100-continue, the connection limit and the drain.

#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/edge_harness.h"

namespace llmobs_edge::testing {
namespace {

using std::chrono::milliseconds;

// A recorded tracer request with its recorded Agent answer.
struct Golden {
  std::string name;
  std::string method;
  std::string target;
  Headers raw_headers;
  std::string body;
  unsigned status;
  std::string content_type;
  std::string response_body;
};

std::vector<Golden> LoadGolden() {
  std::vector<Golden> out;
  for (const auto& g : decoder::testing::AllRealTracerRequests()) {
    const std::string meta_path = "tests/golden/real-tracer/" + g.name + ".meta.json";
    const nlohmann::json meta = nlohmann::json::parse(decoder::testing::ReadFileOrDie(meta_path));
    Golden r;
    r.name = g.name;
    r.method = meta["method"];
    r.target = meta["url"];
    for (const auto& h : meta["raw_headers"]) r.raw_headers.emplace_back(h[0], h[1]);
    r.body = g.body;
    r.status = meta["response"]["status"];
    r.content_type = meta["response"]["content_type"];
    const auto& body = meta["response"]["body"];
    r.response_body = body.is_string() ? body.get<std::string>() : body.dump();
    out.push_back(std::move(r));
  }
  return out;
}

bool IsHopByHop(const std::string& name) {
  static const std::set<std::string> kHop = {"connection", "keep-alive", "transfer-encoding",
                                             "te", "trailer", "upgrade", "proxy-connection"};
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  return kHop.count(lower) > 0;
}

// Headers minus hop-by-hop ones and Content-Length (checked separately: the trace path re-frames
// the body, which moves Content-Length to the end).
Headers EndToEnd(const Headers& headers) {
  Headers out;
  for (const auto& [n, v] : headers) {
    if (!IsHopByHop(n) && !absl::EqualsIgnoreCase(n, "content-length")) out.emplace_back(n, v);
  }
  return out;
}

FakeResponse GoldenAnswer(const std::vector<Golden>& goldens, const RecordedRequest& r) {
  for (const Golden& g : goldens) {
    if (g.body == r.body && g.target == r.target) {
      FakeResponse res;
      res.status = g.status;
      res.headers = {{"Content-Type", g.content_type},
                     {"Datadog-Agent-Version", "7.99.0"},
                     {"Datadog-Agent-State", "abc123"},
                     {"Datadog-Container-Tags-Hash", "h1"}};
      res.body = g.response_body;
      return res;
    }
  }
  return FakeResponse{.status = 599};
}

void ReplayEveryRealTracerRequest(bool client_unix, bool agent_unix) {
  const std::vector<Golden> goldens = LoadGolden();
  ASSERT_GE(goldens.size(), 30u);
  HarnessOptions o;
  o.agent_over_unix = agent_unix;
  EdgeHarness edge(std::move(o));
  edge.agent().set_handler([&](const RecordedRequest& r) { return GoldenAnswer(goldens, r); });
  auto client = client_unix ? edge.UnixClient() : edge.TcpClient();
  for (const Golden& g : goldens) {
    SCOPED_TRACE(g.name);
    edge.agent().Clear();
    TestRequest req;
    req.method = g.method;
    req.target = g.target;
    req.headers = g.raw_headers;
    req.body = g.body;
    const TestResponse res = client->Send(req);
    ASSERT_EQ(res.error, "");
    // The tracer gets the Agent's answer unchanged.
    EXPECT_EQ(res.status, g.status);
    EXPECT_EQ(res.body, g.response_body);
    EXPECT_EQ(res.Header("Content-Type"), g.content_type);
    EXPECT_EQ(res.Header("Datadog-Agent-Version"), "7.99.0");
    EXPECT_EQ(res.Header("Datadog-Agent-State"), "abc123");
    EXPECT_EQ(res.Header("Datadog-Container-Tags-Hash"), "h1");
    EXPECT_TRUE(res.keep_alive);
    // The Agent gets the same request: method, target, headers in order, identical bytes.
    const auto got = edge.agent().requests();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].method, g.method);
    EXPECT_EQ(got[0].target, g.target);
    EXPECT_EQ(EndToEnd(got[0].headers), EndToEnd(g.raw_headers));
    EXPECT_EQ(got[0].Header("Content-Length"), std::to_string(g.body.size()));
    EXPECT_FALSE(got[0].chunked);
    EXPECT_TRUE(got[0].body == g.body) << "body differs";
  }
  // One tracer connection, kept alive through the whole replay.
  EXPECT_EQ(edge.Metric("llmobs_edge_http_connections_accepted_total"), 1);
  EXPECT_EQ(edge.Metric("llmobs_edge_http_requests_total{route=\"v0.4_traces\",status=\"200\"}"),
            5);
}

TEST(EdgeProxy, ReplaysEveryRealTracerRequestOverTcpToTcpAgent) {
  ReplayEveryRealTracerRequest(false, false);
}

TEST(EdgeProxy, ReplaysEveryRealTracerRequestOverUnixSocketToUnixSocketAgent) {
  ReplayEveryRealTracerRequest(true, true);
}

TEST(EdgeProxy, FiltersInfoEndpointsAndKeepsEverythingElse) {
  EdgeHarness edge;
  auto client = edge.TcpClient();
  const TestResponse res = client->Send({.method = "GET", .target = "/info"});
  ASSERT_EQ(res.status, 200u) << res.error;
  EXPECT_FALSE(absl::StrContains(res.body, "\"/v0.7/traces\""));
  EXPECT_FALSE(absl::StrContains(res.body, "\"/v1.0/traces\""));
  EXPECT_TRUE(absl::StrContains(res.body, "\t\t\"/evp_proxy/v2/\",\n"));
  EXPECT_TRUE(absl::StrContains(res.body, "\"/v0.5/traces\""));
  const nlohmann::json got = nlohmann::json::parse(res.body);
  nlohmann::json want = nlohmann::json::parse(FakeAgent::InfoBody());
  auto& eps = want["endpoints"];
  eps.erase(std::remove(eps.begin(), eps.end(), "/v0.7/traces"), eps.end());
  eps.erase(std::remove(eps.begin(), eps.end(), "/v1.0/traces"), eps.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(res.Header("Content-Length"), std::to_string(res.body.size()));
  EXPECT_EQ(res.Header("Datadog-Agent-State"), "fakestate");
}

TEST(EdgeIngest, RefusesPayloadOfExactlyTheLimitWith413LikeTheAgent) {
  HarnessOptions o;
  o.server.max_payload_bytes = 1000;
  EdgeHarness edge(std::move(o));
  {
    auto client = edge.TcpClient();
    const TestResponse ok = client->Send({.body = std::string(999, '\x90')});
    EXPECT_EQ(ok.status, 200u) << ok.error;
  }
  for (bool chunked : {false, true}) {
    auto client = edge.TcpClient();
    const TestResponse res = client->Send({.body = std::string(1000, '\x90'), .chunked = chunked});
    EXPECT_EQ(res.status, 413u) << res.error;
    EXPECT_EQ(res.body, "payload-too-large\n");
    EXPECT_EQ(res.Header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_TRUE(client->ServerClosed());
  }
  EXPECT_EQ(edge.agent().request_count(), 1u);
  EXPECT_EQ(edge.Metric("llmobs_edge_payload_too_large_total"), 2);
}

TEST(EdgeIngest, AgentDownGives502WithJsonErrorAndCountsIt) {
  HarnessOptions o;
  o.agent_url_override = "unix://" + TempPath("nobody-listens.sock");
  EdgeHarness edge(std::move(o));
  auto client = edge.TcpClient();
  for (const std::string target : {"/v0.4/traces", "/v0.6/stats", "/info"}) {
    const TestResponse res =
        client->Send({.method = target == "/info" ? "GET" : "PUT", .target = target, .body = "x"});
    EXPECT_EQ(res.status, 502u) << target << " " << res.error;
    EXPECT_EQ(res.Header("Content-Type"), "application/json");
    EXPECT_TRUE(absl::StrContains(res.body, "\"error\":\"agent unreachable\"")) << res.body;
  }
  EXPECT_EQ(edge.Metric("llmobs_edge_upstream_unreachable_total{route=\"v0.4_traces\"}"), 1);
  EXPECT_EQ(edge.Metric("llmobs_edge_upstream_unreachable_total{route=\"stats\"}"), 1);
}

TEST(EdgeIngest, SlowAgentGives504AfterAgentTimeout) {
  HarnessOptions o;
  o.server.agent_timeout = milliseconds(300);
  EdgeHarness edge(std::move(o));
  edge.agent().set_handler([](const RecordedRequest& r) {
    FakeResponse res = FakeAgent::AgentLikeAnswer(r);
    res.delay = milliseconds(1500);
    return res;
  });
  auto client = edge.TcpClient();
  const auto start = std::chrono::steady_clock::now();
  const TestResponse res = client->Send({.body = std::string(10, '\x90')});
  EXPECT_EQ(res.status, 504u) << res.error;
  EXPECT_TRUE(absl::StrContains(res.body, "agent timeout"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1400));
  const TestResponse proxied = client->Send({.method = "POST", .target = "/v0.6/stats", .body = "s"});
  EXPECT_EQ(proxied.status, 504u) << proxied.error;
  EXPECT_EQ(edge.Metric("llmobs_edge_upstream_timeouts_total{route=\"v0.4_traces\"}"), 1);
}

TEST(EdgeIngest, ForwardsMalformedPayloadUnchangedAndRelaysAgents400) {
  EdgeHarness edge;
  edge.agent().set_handler([](const RecordedRequest&) {
    FakeResponse res;
    res.status = 400;
    res.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
    res.body = "msgp: attempted to decode type \"int\" with method for \"array\"\n";
    return res;
  });
  // "_llmobs" bytes make the chain try to decode; the payload is not a v0.4 array.
  const std::string body = std::string("\x05", 1) + "\xa7_llmobs";
  auto client = edge.TcpClient();
  const TestResponse res = client->Send({.body = body});
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(res.body, "msgp: attempted to decode type \"int\" with method for \"array\"\n");
  ASSERT_EQ(edge.agent().request_count(), 1u);
  EXPECT_EQ(edge.agent().requests()[0].body, body);
  EXPECT_EQ(edge.Metric("llmobs_edge_chain_payloads_total{outcome=\"decode_failed\"}"), 1);
}

// A stage that holds every payload in Process until opened, as a rescue commit waits for an
// fsync; it records the threads it ran on.
class GateStage final : public plugin::Stage {
 public:
  std::string_view name() const override { return "gate"; }
  absl::Status Process(const decoder::Payload&, const plugin::TraceRequest&, decoder::EditList*,
                       plugin::ForwardOptions*) override {
    std::unique_lock lock(mu_);
    ++entered_;
    threads_.insert(std::this_thread::get_id());
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return absl::OkStatus();
  }
  bool WaitEntered(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= n; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
  std::set<std::thread::id> threads_;
};

TEST(EdgeIngest, StagesRunOnPipelineThreadsSoABlockedStageDoesNotStallTheIoThread) {
  HarnessOptions o;
  o.threads = 1;  // one io thread: a stage blocking on it would stall every connection
  o.pipeline_threads = 2;
  auto gate = std::make_unique<GateStage>();
  GateStage* g = gate.get();
  o.stages.push_back(std::move(gate));
  EdgeHarness edge(std::move(o));
  decoder::testing::TestSpan span;
  span.meta_struct = {{"_llmobs", decoder::testing::EncodeLlmobsStruct("1", "llm")}};
  const std::string body = decoder::testing::EncodePayload({{span}});

  // Two trace payloads enter the stage and wait there...
  auto a = edge.TcpClient();
  auto b = edge.UnixClient();
  std::future<TestResponse> ra = std::async(std::launch::async, [&] { return a->Send({.body = body}); });
  std::future<TestResponse> rb = std::async(std::launch::async, [&] { return b->Send({.body = body}); });
  struct OpenOnExit {  // if an assertion fails, let the held requests finish before teardown
    GateStage* g;
    ~OpenOnExit() { g->Open(); }
  } open_on_exit{g};
  ASSERT_TRUE(g->WaitEntered(2));
  // ...while the io thread still proxies other requests and passes payloads without _llmobs.
  auto c = edge.TcpClient();
  const TestResponse other = c->Send({.method = "POST", .target = "/telemetry/proxy/api/v2/apmtelemetry", .body = "{}"});
  EXPECT_EQ(other.status / 100, 2u);  // the fake Agent's answer, relayed
  const TestResponse plain = c->Send({.body = decoder::testing::EncodePayload({{decoder::testing::TestSpan{}}})});
  EXPECT_EQ(plain.status, 200u);
  EXPECT_EQ(ra.wait_for(milliseconds(0)), std::future_status::timeout);

  g->Open();
  EXPECT_EQ(ra.get().status, 200u);
  EXPECT_EQ(rb.get().status, 200u);
  EXPECT_EQ(edge.agent().request_count(), 4u);
  const std::set<std::thread::id> ran_on = g->threads();
  EXPECT_EQ(ran_on.size(), 2u);  // both pool threads, neither of them the test's
  EXPECT_EQ(ran_on.count(std::this_thread::get_id()), 0u);
}

long PeakRssKb() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

TEST(EdgeProxy, Streams100MiBBothWaysInBoundedMemory) {
  HarnessOptions o;
  o.agent_max_stored_body = 1 << 20;
  EdgeHarness edge(std::move(o));
  constexpr uint64_t k100MiB = 100ull << 20;
  edge.agent().set_handler([](const RecordedRequest& r) {
    FakeResponse res;
    res.headers = {{"Content-Type", "application/octet-stream"}};
    if (r.method == "GET") res.generated_body_bytes = 100ull << 20;
    return res;
  });
  auto client = edge.TcpClient();
  const long before = PeakRssKb();
  const TestResponse up = client->Send({.method = "POST",
                                        .target = "/profiling/v1/input",
                                        .generated_body_bytes = k100MiB,
                                        .keep_body = false});
  ASSERT_EQ(up.status, 200u) << up.error;
  const auto recorded = edge.agent().requests();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0].body_size, k100MiB);
  const TestResponse down =
      client->Send({.method = "GET", .target = "/debugger/v1/input", .keep_body = false});
  ASSERT_EQ(down.status, 200u) << down.error;
  EXPECT_EQ(down.body_size, k100MiB);
  // The fake Agent keeps 1 MiB of a body; edge and client keep none of it. (Not under ASan:
  // its quarantine keeps freed memory resident on purpose.)
  const long grown_mb = (PeakRssKb() - before) / 1024;
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(grown_mb, 24) << "peak RSS grew by " << grown_mb << " MiB";
#endif
  EXPECT_EQ(edge.Metric("llmobs_edge_http_request_body_bytes_total{route=\"profiling\"}"),
            static_cast<double>(k100MiB));
}

TEST(EdgeIngest, KeepsClientAndAgentConnectionsAlive) {
  EdgeHarness edge;
  auto client = edge.TcpClient();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(client->Send({.body = std::string(20, '\x90')}).status, 200u);
    EXPECT_EQ(client->Send({.method = "POST", .target = "/v0.6/stats", .body = "s"}).status, 200u);
  }
  EXPECT_EQ(edge.agent().request_count(), 10u);
  EXPECT_EQ(edge.agent().connections(), 1u);
  EXPECT_EQ(edge.Metric("llmobs_edge_http_connections_accepted_total"), 1);
}

TEST(EdgeIngest, HonoursExpectContinueOnTracesAndProxiedPaths) {
  EdgeHarness edge;
  auto client = edge.TcpClient();
  for (const std::string target : {"/v0.4/traces", "/evp_proxy/v2/api/v2/llmobs"}) {
    const TestResponse res = client->Send({.method = "POST", .target = target,
                                           .body = std::string(100, 'a'), .expect_continue = true});
    EXPECT_TRUE(res.status == 200u || res.status == 202u) << target << " " << res.status;
  }
  const auto got = edge.agent().requests();
  ASSERT_EQ(got.size(), 2u);
  for (const auto& r : got) {
    EXPECT_FALSE(r.HasHeader("Expect"));
    EXPECT_EQ(r.body, std::string(100, 'a'));
  }
}

TEST(EdgeIngest, DechunksTracePayloadsAndStreamsChunkedProxyBodies) {
  EdgeHarness edge;
  auto client = edge.TcpClient();
  const std::string payload = decoder::testing::RealTracerTracePayloads()[0].body;
  EXPECT_EQ(client->Send({.body = payload, .chunked = true}).status, 200u);
  EXPECT_EQ(client->Send({.method = "POST", .target = "/telemetry/proxy/api/v2/apmtelemetry",
                          .body = "{\"a\":1}", .chunked = true})
                .status,
            202u);
  const auto got = edge.agent().requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[0].chunked);
  EXPECT_EQ(got[0].Header("Content-Length"), std::to_string(payload.size()));
  EXPECT_TRUE(got[0].body == payload);
  EXPECT_TRUE(got[1].chunked);
  EXPECT_EQ(got[1].body, "{\"a\":1}");
}

TEST(EdgeIngest, AnswersGarbageWith400AndCloses) {
  EdgeHarness edge;
  auto client = edge.TcpClient();
  const TestResponse res = client->SendRaw("THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(res.status, 400u) << res.error;
  EXPECT_TRUE(client->ServerClosed());
  EXPECT_EQ(edge.agent().request_count(), 0u);
}

TEST(EdgeIngest, ConnectionLimitHoldsNewConnectionsUntilOneCloses) {
  HarnessOptions o;
  o.server.max_connections = 1;
  EdgeHarness edge(std::move(o));
  auto first = edge.TcpClient();
  ASSERT_EQ(first->Send({.body = "x"}).status, 200u);
  auto second_done = std::async(std::launch::async, [&] {
    auto second = edge.TcpClient();
    return second->Send({.body = "y"}).status;
  });
  EXPECT_EQ(second_done.wait_for(milliseconds(300)), std::future_status::timeout);
  first.reset();  // closes the first connection
  EXPECT_EQ(second_done.get(), 200u);
}

TEST(EdgeIngest, DrainFinishesInFlightRequestAndClosesIdleConnections) {
  EdgeHarness edge;
  edge.agent().set_handler([](const RecordedRequest& r) {
    FakeResponse res = FakeAgent::AgentLikeAnswer(r);
    if (r.body == "slow") res.delay = milliseconds(500);
    return res;
  });
  auto idle = edge.TcpClient();
  ASSERT_EQ(idle->Send({.body = "x"}).status, 200u);
  auto busy = edge.TcpClient();
  auto in_flight = std::async(std::launch::async, [&] { return busy->Send({.body = "slow"}); });
  std::this_thread::sleep_for(milliseconds(150));
  edge.server().BeginShutdown();
  const TestResponse res = in_flight.get();
  EXPECT_EQ(res.status, 200u) << res.error;
  EXPECT_FALSE(res.keep_alive);  // told to go away after this answer
  EXPECT_TRUE(idle->ServerClosed());
  // No new connection is accepted any more.
  std::this_thread::sleep_for(milliseconds(50));
  auto late = edge.TcpClient();
  EXPECT_NE(late->Send({.body = "z"}).error, "");
}

}  // namespace
}  // namespace llmobs_edge::testing
