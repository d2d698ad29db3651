// HTTP and gRPC ingest run one pipeline: the same payload and tracer headers sent both ways reach
// the Agent as the same request (method, path, headers, bytes), and both tracers get the Agent's
// answer. Runs the assembled service (plugin/host/service.h) against the in-process fake Agent.

#include <chrono>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"
#include "plugin/host/config/config.h"
#include "plugin/host/service.h"
#include "plugin/host/registration.h"
#include "proto/ingest.grpc.pb.h"
#include "tests/integration/edge_binary.h"
#include "tests/integration/edge_harness.h"

namespace llmobs_edge::testing {
namespace {

Headers WithoutFraming(const Headers& headers) {
  Headers out;
  for (const auto& [n, v] : headers) {
    if (!absl::EqualsIgnoreCase(n, "content-length") && !absl::EqualsIgnoreCase(n, "host")) {
      out.emplace_back(n, v);
    }
  }
  return out;
}

TEST(IngestParity, HttpAndGrpcForwardTheSameRequestToTheAgent) {
  FakeAgent agent({});
  config::Config c = config::DefaultConfig();
  c.mutable_ingest()->set_port(PickFreePort());
  c.mutable_ingest()->set_socket("");
  c.mutable_ingest()->set_grpc_address("127.0.0.1:" + std::to_string(PickFreePort()));
  c.mutable_telemetry()->set_port(0);
  c.mutable_agent()->set_url(agent.url());
  c.mutable_logging()->set_level("off");
  c.mutable_ledger()->set_path(TempPath("ledger"));
  auto service = plugin::Service::Create(c, plugin::ProductPlugins());
  ASSERT_TRUE(service.ok()) << service.status();
  ASSERT_TRUE((*service)->Start().ok());

  // A payload with _llmobs (decoded by the chain) and a real tracer payload (skipped).
  decoder::testing::TestSpan llm;
  llm.meta_struct = {{"_llmobs", decoder::testing::EncodeLlmobsStruct("42", "llm.call")}};
  const std::vector<std::string> payloads = {
      decoder::testing::EncodePayload({{llm}}),
      decoder::testing::RealTracerTracePayloads()[0].body};
  const Headers tracer_headers = {{"Content-Type", "application/msgpack"},
                                  {"Datadog-Meta-Lang", "python"},
                                  {"Datadog-Meta-Tracer-Version", "4.12.0"},
                                  {"X-Datadog-Trace-Count", "1"},
                                  {"Datadog-Container-ID", "abc"},
                                  {"Datadog-Entity-ID", "in-7"},
                                  {"Datadog-External-Env", "it-false,cn-app,pu-123"},
                                  {"Datadog-Client-Computed-Stats", "yes"}};

  auto channel = grpc::CreateChannel((*service)->grpc_address(), grpc::InsecureChannelCredentials());
  auto stub = llmobs_edge::v1::TraceIngest::NewStub(channel);
  auto http = TestClient::Tcp(c.ingest().port());
  for (const std::string& payload : payloads) {
    agent.Clear();
    TestRequest req;
    req.headers = tracer_headers;
    req.headers.emplace_back("Host", "localhost");
    req.body = payload;
    const TestResponse hr = http->Send(req);
    ASSERT_EQ(hr.status, 200u) << hr.error;

    llmobs_edge::v1::SubmitRequest sreq;
    sreq.set_payload(payload);
    for (const auto& [n, v] : tracer_headers) {
      auto* h = sreq.add_headers();
      h->set_name(n);
      h->set_value(v);
    }
    llmobs_edge::v1::SubmitResponse sres;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status st = stub->Submit(&ctx, sreq, &sres);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(sres.status(), 200u);
    EXPECT_EQ(sres.body(), hr.body);
    EXPECT_EQ(sres.rate_by_service().at("service:,env:"), 1.0);

    std::vector<RecordedRequest> got;  // (the Agent probe's GET /info may land here too)
    for (const auto& r : agent.requests()) {
      if (r.target == "/v0.4/traces") got.push_back(r);
    }
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].method, got[1].method);
    EXPECT_EQ(got[0].target, got[1].target);
    EXPECT_TRUE(got[0].body == got[1].body);
    // The real tracer payload has no _llmobs and passes byte-identical; the LLM span's chunk has
    // no priority, so the rescue stage stamps and scrubs it the same way on both paths.
    EXPECT_EQ(got[0].body == payload, payload.find("_llmobs") == std::string::npos);
    EXPECT_EQ(WithoutFraming(got[0].headers), WithoutFraming(got[1].headers));
    EXPECT_EQ(got[0].Header("Content-Length"), got[1].Header("Content-Length"));
  }
  (*service)->Shutdown();
}

}  // namespace
}  // namespace llmobs_edge::testing
