// Tests of the gRPC ingest path against an in-test fake Agent (Boost.Beast on 127.0.0.1, port 0):
// payload and headers forwarded unchanged, the Agent's answer returned, Agent down / slow, the
// 429 translation, size limits, health, reflection, and the `submit` command end to end.

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp needs it
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include "decoder/test_payloads.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "plugin/host/chain.h"
#include "plugin/host/grpc/health_test.grpc.pb.h"
#include "plugin/host/grpc/ingest_server.h"
#include "plugin/host/grpc/submit_command.h"
#include "plugin/host/http/upstream.h"
#include "plugin/api/metrics.h"
#include "proto/ingest.grpc.pb.h"

namespace llmobs_edge::plugin::grpc_ingest {
namespace {

namespace asio = boost::asio;
namespace h = boost::beast::http;
using asio::ip::tcp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kRateBody[] = R"({"rate_by_service":{"service:,env:":1}})";

// What the fake Agent saw of one request.
struct Recorded {
  std::string method;
  std::string target;
  Headers headers;  // as received, in order
  std::string body;
};

// A tiny Datadog Agent: answers PUT /v0.4/traces like the real one. kOverloaded answers 429 when
// the request carries Datadog-Send-Real-Http-Status and 200 otherwise (the Agent's overload
// behaviour); kSilent reads the request and never answers.
class FakeAgent {
 public:
  enum class Mode { kOk, kOverloaded, kSilent };

  explicit FakeAgent(Mode mode) : mode_(mode), acceptor_(ioc_) {
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, Accept(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~FakeAgent() {
    ioc_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Recorded> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket s =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(ioc_, Serve(std::move(s)), asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket s) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      boost::system::error_code ec;
      h::request<h::string_body> req;
      co_await h::async_read(s, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      Recorded r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& f : req) r.headers.emplace_back(f.name_string(), f.value());
      r.body = req.body();
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(std::move(r));
      }
      if (mode_ == Mode::kSilent) {
        asio::steady_timer forever(s.get_executor(), std::chrono::hours(1));
        co_await forever.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      }
      const bool real = req.find("Datadog-Send-Real-Http-Status") != req.end();
      h::response<h::string_body> res{
          mode_ == Mode::kOverloaded && real ? h::status::too_many_requests : h::status::ok, 11};
      res.set(h::field::content_type, "application/json");
      res.set("Datadog-Agent-Version", "7.99.0");
      res.set("Datadog-Agent-State", "abc123");
      res.set(h::field::connection, "keep-alive");
      res.body() = kRateBody;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      co_await h::async_write(s, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !req.keep_alive()) co_return;
    }
  }

  const Mode mode_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Recorded> requests_;
};

// An address where nothing listens: a port that was bound, then closed.
std::string DownAgentUrl() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = a.local_endpoint().port();
  a.close();
  return "http://127.0.0.1:" + std::to_string(port);
}

// Records what the chain showed it and asks for real statuses, as the rescue stage does.
class RealStatusStage : public Stage {
 public:
  std::string_view name() const override { return "real_status"; }
  bool NeedsEveryPayload() const override { return true; }
  absl::Status Process(const decoder::Payload& p, const TraceRequest& r, decoder::EditList*,
                       ForwardOptions* options) override {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(std::string(r.transport) + " " + std::string(r.method) + " " +
                   std::string(r.target) + " lang=" + std::string(r.Header("datadog-meta-lang")));
    options->want_real_http_status = true;
    return absl::OkStatus();
  }
  absl::Status AfterForward(const decoder::Payload&, const TraceRequest&,
                            const AgentOutcome& outcome, bool) override {
    std::lock_guard<std::mutex> lock(mu);
    outcomes.push_back(outcome);
    return absl::OkStatus();
  }
  std::mutex mu;
  std::vector<std::string> seen;
  std::vector<AgentOutcome> outcomes;
};

// The edge: an io_context run by 2 threads, the Agent pool, a chain and the gRPC server.
class Edge {
 public:
  Edge(const std::string& agent_url, std::unique_ptr<Stage> stage = nullptr,
       IngestServer::Options options = {})
      : work_(ioc_.get_executor()) {
    pool_ = std::make_unique<http::AgentPool>(*http::ParseAgentUrl(agent_url));
    std::vector<std::unique_ptr<Stage>> stages;
    if (stage) stages.push_back(std::move(stage));
    chain_ = std::make_unique<StageChain>(std::move(stages), decoder::ReaderLimits{}, &metrics_);
    options.address = "127.0.0.1:0";
    server_ = std::make_unique<IngestServer>(options, ioc_, *chain_, *pool_, metrics_);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    const absl::Status st = server_->Start();
    EXPECT_TRUE(st.ok()) << st;
    channel_ = ::grpc::CreateChannel(server_->address(), ::grpc::InsecureChannelCredentials());
    stub_ = llmobs_edge::v1::TraceIngest::NewStub(channel_);
  }
  ~Edge() {
    server_->Shutdown(std::chrono::milliseconds(100));
    pool_->CloseIdle();
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  ::grpc::Status Submit(const std::string& payload, const Headers& headers,
                        llmobs_edge::v1::SubmitResponse* response) {
    llmobs_edge::v1::SubmitRequest req;
    req.set_payload(payload);
    for (const auto& [n, v] : headers) {
      auto* hd = req.add_headers();
      hd->set_name(n);
      hd->set_value(v);
    }
    ::grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return stub_->Submit(&ctx, req, response);
  }

  IngestServer& server() { return *server_; }
  std::shared_ptr<::grpc::Channel> channel() { return channel_; }
  telemetry::Registry& metrics() { return metrics_; }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  telemetry::Registry metrics_;
  std::unique_ptr<http::AgentPool> pool_;
  std::unique_ptr<StageChain> chain_;
  std::unique_ptr<IngestServer> server_;
  std::shared_ptr<::grpc::Channel> channel_;
  std::unique_ptr<llmobs_edge::v1::TraceIngest::Stub> stub_;
};

// The headers dd-trace-js 6.21.0 sent with these payloads, plus the identity headers other
// tracers send and two hop-by-hop headers the edge must not forward.
Headers TracerHeaders(const std::string& trace_count) {
  return {{"Content-Type", "application/msgpack"},
          {"Datadog-Meta-Tracer-Version", "6.21.0"},
          {"X-Datadog-Trace-Count", trace_count},
          {"Datadog-Meta-Lang", "nodejs"},
          {"Datadog-Meta-Lang-Version", "v22.23.3"},
          {"Datadog-Meta-Lang-Interpreter", "v8"},
          {"Content-Length", "1"},
          {"Datadog-Container-ID", "0123456789abcdef"},
          {"Datadog-Entity-ID", "in-1"},
          {"Datadog-External-Env", "it-false,cn-app,pu-1234"},
          {"Datadog-Client-Computed-Stats", "yes"},
          {"datadog-meta-custom", "Kept As Spelled"},
          {"Connection", "keep-alive"}};
}

std::string Rendered(Edge& edge) { return edge.metrics().RenderOpenMetrics(); }

TEST(IngestServerTest, ForwardsPayloadBytesAndHeadersToTheAgentUnchanged) {
  FakeAgent agent(FakeAgent::Mode::kOk);
  Edge edge(agent.url());
  const auto payloads = decoder::testing::RealTracerTracePayloads();
  ASSERT_FALSE(payloads.empty());
  for (const auto& p : payloads) {
    llmobs_edge::v1::SubmitResponse response;
    const ::grpc::Status st = edge.Submit(p.body, TracerHeaders("1"), &response);
    ASSERT_TRUE(st.ok()) << p.name << ": " << st.error_message();
  }
  const std::vector<Recorded> seen = agent.requests();
  ASSERT_EQ(seen.size(), payloads.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    SCOPED_TRACE(payloads[i].name);
    EXPECT_EQ(seen[i].method, "PUT");
    EXPECT_EQ(seen[i].target, "/v0.4/traces");
    EXPECT_EQ(seen[i].body, payloads[i].body);  // byte for byte
    EXPECT_THAT(seen[i].headers,
                ElementsAre(Pair("Host", "localhost"), Pair("Content-Type", "application/msgpack"),
                            Pair("Datadog-Meta-Tracer-Version", "6.21.0"),
                            Pair("X-Datadog-Trace-Count", "1"), Pair("Datadog-Meta-Lang", "nodejs"),
                            Pair("Datadog-Meta-Lang-Version", "v22.23.3"),
                            Pair("Datadog-Meta-Lang-Interpreter", "v8"),
                            Pair("Datadog-Container-ID", "0123456789abcdef"),
                            Pair("Datadog-Entity-ID", "in-1"),
                            Pair("Datadog-External-Env", "it-false,cn-app,pu-1234"),
                            Pair("Datadog-Client-Computed-Stats", "yes"),
                            Pair("datadog-meta-custom", "Kept As Spelled"),
                            Pair("Content-Length", std::to_string(payloads[i].body.size()))));
  }
  const std::string text = Rendered(edge);
  EXPECT_THAT(text, HasSubstr("llmobs_edge_grpc_requests_total{code=\"OK\"} " +
                              std::to_string(payloads.size())));
  size_t bytes = 0;
  for (const auto& p : payloads) bytes += p.body.size();
  EXPECT_THAT(text, HasSubstr("llmobs_edge_grpc_payload_bytes_total " + std::to_string(bytes)));
}

TEST(IngestServerTest, KeepsTheTracersHostAndAddsContentTypeWhenAbsent) {
  FakeAgent agent(FakeAgent::Mode::kOk);
  Edge edge(agent.url());
  const std::string payload = decoder::testing::RealTracerTracePayloads().front().body;
  llmobs_edge::v1::SubmitResponse response;
  ASSERT_TRUE(edge.Submit(payload, {{"Host", "agent:8126"}, {"X-Datadog-Trace-Count", "1"}},
                          &response)
                  .ok());
  const auto seen = agent.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_THAT(seen[0].headers,
              ElementsAre(Pair("Host", "agent:8126"), Pair("X-Datadog-Trace-Count", "1"),
                          Pair("Content-Type", "application/msgpack"),
                          Pair("Content-Length", std::to_string(payload.size()))));
}

TEST(IngestServerTest, ReturnsTheAgentsStatusBodyHeadersAndRateByService) {
  FakeAgent agent(FakeAgent::Mode::kOk);
  Edge edge(agent.url());
  llmobs_edge::v1::SubmitResponse response;
  const ::grpc::Status st =
      edge.Submit(decoder::testing::RealTracerTracePayloads().front().body, TracerHeaders("1"),
                  &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.status(), 200u);
  EXPECT_EQ(response.body(), kRateBody);
  Headers headers;
  for (const auto& hd : response.headers()) headers.emplace_back(hd.name(), hd.value());
  // End-to-end headers only: Connection (hop-by-hop) and Content-Length (framing) stay behind.
  EXPECT_THAT(headers, ElementsAre(Pair("Content-Type", "application/json"),
                                   Pair("Datadog-Agent-Version", "7.99.0"),
                                   Pair("Datadog-Agent-State", "abc123")));
  ASSERT_EQ(response.rate_by_service().size(), 1u);
  EXPECT_EQ(response.rate_by_service().at("service:,env:"), 1.0);
}

TEST(IngestServerTest, ConcurrentSubmitsAllReachTheAgentIntact) {
  FakeAgent agent(FakeAgent::Mode::kOverloaded);
  Edge edge(agent.url(), std::make_unique<RealStatusStage>());
  const auto payloads = decoder::testing::RealTracerTracePayloads();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const auto& p = payloads[(t + i) % payloads.size()];
        llmobs_edge::v1::SubmitResponse response;
        const ::grpc::Status st = edge.Submit(p.body, TracerHeaders("1"), &response);
        if (st.ok() && response.status() == 200 && response.body() == kRateBody) ok.fetch_add(1);
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  const auto seen = agent.requests();
  ASSERT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& r : seen) {
    bool known = false;
    for (const auto& p : payloads) known = known || r.body == p.body;
    EXPECT_TRUE(known);
  }
}

TEST(IngestServerTest, AgentDownIsUnavailableAndStagesLearnIt) {
  auto stage = std::make_unique<RealStatusStage>();
  RealStatusStage* seen = stage.get();
  Edge edge(DownAgentUrl(), std::move(stage));
  llmobs_edge::v1::SubmitResponse response;
  const ::grpc::Status st =
      edge.Submit(decoder::testing::RealTracerTracePayloads().front().body, TracerHeaders("1"),
                  &response);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(st.error_message(), HasSubstr("agent unreachable"));
  std::lock_guard<std::mutex> lock(seen->mu);
  ASSERT_EQ(seen->outcomes.size(), 1u);
  EXPECT_EQ(seen->outcomes[0].kind, AgentOutcome::Kind::kUnreachable);
  EXPECT_THAT(Rendered(edge), HasSubstr("llmobs_edge_grpc_requests_total{code=\"UNAVAILABLE\"} 1"));
}

TEST(IngestServerTest, AgentSilentBeyondTheTimeoutIsDeadlineExceeded) {
  FakeAgent agent(FakeAgent::Mode::kSilent);
  IngestServer::Options options;
  options.agent_timeout = std::chrono::milliseconds(300);
  auto stage = std::make_unique<RealStatusStage>();
  RealStatusStage* seen = stage.get();
  Edge edge(agent.url(), std::move(stage), options);
  llmobs_edge::v1::SubmitResponse response;
  const ::grpc::Status st =
      edge.Submit(decoder::testing::RealTracerTracePayloads().front().body, TracerHeaders("1"),
                  &response);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(st.error_message(), HasSubstr("agent timeout"));
  std::lock_guard<std::mutex> lock(seen->mu);
  ASSERT_EQ(seen->outcomes.size(), 1u);
  EXPECT_EQ(seen->outcomes[0].kind, AgentOutcome::Kind::kTimeout);
}

TEST(IngestServerTest, TranslatesTheAgents429To200WhenAStageAskedForRealStatuses) {
  FakeAgent agent(FakeAgent::Mode::kOverloaded);
  auto stage = std::make_unique<RealStatusStage>();
  RealStatusStage* seen = stage.get();
  Edge edge(agent.url(), std::move(stage));
  llmobs_edge::v1::SubmitResponse response;
  const ::grpc::Status st =
      edge.Submit(decoder::testing::RealTracerTracePayloads().front().body, TracerHeaders("1"),
                  &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.status(), 200u);  // what the tracer would have got without asking
  EXPECT_EQ(response.body(), kRateBody);
  const auto requests = agent.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_THAT(requests[0].headers,
              ::testing::Contains(Pair("Datadog-Send-Real-Http-Status", "true")));
  std::lock_guard<std::mutex> lock(seen->mu);
  EXPECT_THAT(seen->seen, ElementsAre("grpc PUT /v0.4/traces lang=nodejs"));
  ASSERT_EQ(seen->outcomes.size(), 1u);
  EXPECT_EQ(seen->outcomes[0].kind, AgentOutcome::Kind::kAnswered);
  EXPECT_EQ(seen->outcomes[0].status, 429u);  // the stages see the truth
}

TEST(IngestServerTest, TracerThatAsksForRealStatusesGetsThe429) {
  FakeAgent agent(FakeAgent::Mode::kOverloaded);
  Edge edge(agent.url(), std::make_unique<RealStatusStage>());
  Headers headers = TracerHeaders("1");
  headers.emplace_back("Datadog-Send-Real-Http-Status", "1");
  llmobs_edge::v1::SubmitResponse response;
  ASSERT_TRUE(
      edge.Submit(decoder::testing::RealTracerTracePayloads().front().body, headers, &response)
          .ok());
  EXPECT_EQ(response.status(), 429u);
  const auto requests = agent.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_THAT(requests[0].headers, ::testing::Contains(Pair("Datadog-Send-Real-Http-Status", "1")));
  EXPECT_THAT(requests[0].headers,
              ::testing::Not(::testing::Contains(Pair("Datadog-Send-Real-Http-Status", "true"))));
}

TEST(IngestServerTest, OversizedPayloadIsResourceExhausted) {
  FakeAgent agent(FakeAgent::Mode::kOk);
  IngestServer::Options options;
  options.max_payload_bytes = 1024;
  Edge edge(agent.url(), nullptr, options);
  llmobs_edge::v1::SubmitResponse response;
  // Exactly the limit is refused, like HTTP's 413 (and the Agent).
  ::grpc::Status st = edge.Submit(std::string(1024, '\x90'), TracerHeaders("0"), &response);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(st.error_message(), "payload-too-large");
  // Far over the message limit (payload limit + 64 KiB): gRPC itself refuses it.
  st = edge.Submit(std::string(1024 + 128 * 1024, '\x90'), TracerHeaders("0"), &response);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::RESOURCE_EXHAUSTED);
  // One byte under the limit goes through.
  st = edge.Submit(std::string(1023, '\x90'), TracerHeaders("0"), &response);
  EXPECT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(agent.requests().size(), 1u);
  EXPECT_EQ(agent.requests()[0].body.size(), 1023u);
}

TEST(IngestServerTest, EmptyPayloadAndUnsafeHeadersAreInvalidArguments) {
  FakeAgent agent(FakeAgent::Mode::kOk);
  Edge edge(agent.url());
  const std::string payload = decoder::testing::RealTracerTracePayloads().front().body;
  llmobs_edge::v1::SubmitResponse response;
  EXPECT_EQ(edge.Submit("", TracerHeaders("0"), &response).error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(edge.Submit(payload, {{"Bad Name", "x"}}, &response).error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(edge.Submit(payload, {{"", "x"}}, &response).error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(edge.Submit(payload, {{"X-Evil", "a\r\nInjected: 1"}}, &response).error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(agent.requests().empty());
  EXPECT_THAT(Rendered(edge),
              HasSubstr("llmobs_edge_grpc_requests_total{code=\"INVALID_ARGUMENT\"} 4"));
}

TEST(IngestServerTest, HealthServiceReportsServing) {
  FakeAgent agent(FakeAgent::Mode::kOk);
  Edge edge(agent.url());
  auto health = ::grpc::health::v1::Health::NewStub(edge.channel());
  for (const std::string service : {"", "llmobs_edge.v1.TraceIngest"}) {
    ::grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    ::grpc::health::v1::HealthCheckResponse res;
    ::grpc::ClientContext ctx;
    const ::grpc::Status st = health->Check(&ctx, req, &res);
    ASSERT_TRUE(st.ok()) << service << ": " << st.error_message();
    EXPECT_EQ(res.status(), ::grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  ::grpc::health::v1::HealthCheckRequest req;
  req.set_service("no.such.Service");
  ::grpc::health::v1::HealthCheckResponse res;
  ::grpc::ClientContext ctx;
  EXPECT_EQ(health->Check(&ctx, req, &res).error_code(), ::grpc::StatusCode::NOT_FOUND);
}

// Waits for the completion of the operation tagged `tag` (operations are issued one at a time).
bool Await(::grpc::CompletionQueue& cq, intptr_t tag) {
  void* got = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&got, &ok));
  EXPECT_EQ(got, reinterpret_cast<void*>(tag));
  return ok;
}

TEST(IngestServerTest, ReflectionListsTheIngestService) {
  FakeAgent agent(FakeAgent::Mode::kOk);
  Edge edge(agent.url());
  // grpc.reflection.v1alpha.ServerReflectionRequest{list_services: ""}, encoded by hand: Debian
  // ships the reflection server but no client stubs.
  const std::string request("\x3a\x00", 2);
  ::grpc::GenericStub stub(edge.channel());
  ::grpc::CompletionQueue cq;
  ::grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto call = stub.PrepareCall(
      &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(Await(cq, 1));
  ::grpc::Slice slice(request);
  ::grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  ASSERT_TRUE(Await(cq, 2));
  call->WritesDone(reinterpret_cast<void*>(3));
  ASSERT_TRUE(Await(cq, 3));
  ::grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(4));
  ASSERT_TRUE(Await(cq, 4));
  ::grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  Await(cq, 5);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<::grpc::Slice> slices;
  ASSERT_TRUE(in.Dump(&slices).ok());
  std::string answer;
  for (const auto& s : slices) answer.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_THAT(answer, HasSubstr("llmobs_edge.v1.TraceIngest"));
  EXPECT_THAT(answer, HasSubstr("grpc.health.v1.Health"));
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

TEST(IngestServerTest, ShutdownIsIdempotentAndRefusesNewCalls) {
  FakeAgent agent(FakeAgent::Mode::kOk);
  Edge edge(agent.url());
  edge.server().Shutdown(std::chrono::milliseconds(100));
  edge.server().Shutdown(std::chrono::milliseconds(100));
  llmobs_edge::v1::SubmitResponse response;
  EXPECT_FALSE(
      edge.Submit(decoder::testing::RealTracerTracePayloads().front().body, {}, &response).ok());
}

TEST(IngestServerTest, StartFailsNamingTheSettingWhenTheAddressIsTaken) {
  FakeAgent agent(FakeAgent::Mode::kOk);
  Edge edge(agent.url());
  asio::io_context ioc;
  telemetry::Registry metrics;
  http::AgentPool pool(*http::ParseAgentUrl(agent.url()));
  StageChain chain({}, decoder::ReaderLimits{}, &metrics);
  IngestServer::Options options;
  options.address = edge.server().address();
  IngestServer second(options, ioc, chain, pool, metrics);
  const absl::Status st = second.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("ingest.grpc_address"));
}

std::string WriteTmp(const std::string& name, const std::string& bytes) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(IngestServerTest, SubmitCommandPrintsTheAgentsAnswerAsJson) {
  FakeAgent agent(FakeAgent::Mode::kOk);
  Edge edge(agent.url());
  const std::string payload = decoder::testing::RealTracerTracePayloads().front().body;
  WriteTmp("payload.msgpack", payload);
  const char* dir = std::getenv("TEST_TMPDIR");
  std::ostringstream out, err;
  const int rc = RunSubmit(edge.server().address(), "payload.msgpack", dir ? dir : "/tmp",
                           {{"Datadog-Meta-Lang", "nodejs"}, {"X-Datadog-Trace-Count", "1"}},
                           out, err);
  EXPECT_EQ(rc, 0) << err.str();
  const nlohmann::json doc = nlohmann::json::parse(out.str());
  EXPECT_EQ(doc["status"], 200);
  EXPECT_EQ(doc["body"], kRateBody);
  EXPECT_EQ(doc["headers"], nlohmann::json::parse(
                                R"([["Content-Type","application/json"],
                                    ["Datadog-Agent-Version","7.99.0"],
                                    ["Datadog-Agent-State","abc123"]])"));
  EXPECT_EQ(doc["rate_by_service"], nlohmann::json::parse(R"({"service:,env:":1.0})"));
  const auto seen = agent.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].body, payload);
  EXPECT_THAT(seen[0].headers, ::testing::Contains(Pair("Datadog-Meta-Lang", "nodejs")));
}

TEST(IngestServerTest, SubmitCommandExitCodes) {
  FakeAgent overloaded(FakeAgent::Mode::kOverloaded);
  Edge edge(overloaded.url());
  const std::string path =
      WriteTmp("codes.msgpack", decoder::testing::RealTracerTracePayloads().front().body);
  {
    std::ostringstream out, err;  // the Agent answered, but not 2xx
    EXPECT_EQ(RunSubmit(edge.server().address(), path, "", {{"Datadog-Send-Real-Http-Status", "1"}},
                        out, err),
              1);
    EXPECT_EQ(nlohmann::json::parse(out.str())["status"], 429);
  }
  {
    std::ostringstream out, err;  // no such file
    EXPECT_EQ(RunSubmit(edge.server().address(), "missing.msgpack", "/nonexistent", {}, out, err),
              2);
    EXPECT_THAT(err.str(), HasSubstr("cannot read /nonexistent/missing.msgpack"));
  }
  {
    Edge down(DownAgentUrl());  // the edge answers UNAVAILABLE: a transport error
    std::ostringstream out, err;
    EXPECT_EQ(RunSubmit(down.server().address(), path, "", {}, out, err), 2);
    EXPECT_THAT(err.str(), HasSubstr("UNAVAILABLE"));
    EXPECT_TRUE(out.str().empty());
  }
}

}  // namespace
}  // namespace llmobs_edge::plugin::grpc_ingest
