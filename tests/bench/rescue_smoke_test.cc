// Keeps //tests/bench:rescue from rotting: runs the benchmark's code with --quick (both sync
// policies, 2 KB and 10 KB structs, 50 and 1 events per payload, 1 s of load each) against the
// real edge binary, and checks that every rescued event reached the Agent stand-in's EVP proxy
// exactly once: as many distinct span ids as events in 200-answered payloads, no duplicate, none
// missing or unexpected, the edge's rescued counter equal to both, every forwarded trace
// scrubbed, and a clean exit on SIGTERM. Timings are not checked.

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "decoder/reader.h"
#include "gtest/gtest.h"
#include "rescue/llmobs_event.h"
#include "tests/bench/rescue_bench.h"
#include "tests/bench/rescue_payload.h"
#include "tests/bench/rescue_sink.h"
#include "tests/integration/test_client.h"

namespace llmobs_edge::bench::rescue {
namespace {

TEST(RescueBenchSmokeTest, QuickRunDeliversEveryEventExactlyOnce) {
  Options options;
  options.quick = true;
  options.clients = {4};
  std::ostringstream report;
  const Result r = rescue::Run(options, report);
  ASSERT_TRUE(r.completed) << r.error;
  ASSERT_EQ(r.cases.size(), 8u) << report.str();
  for (const CaseResult& c : r.cases) {
    SCOPED_TRACE(c.sync + " " + std::to_string(c.struct_bytes) + " x " +
                 std::to_string(c.events_per_payload));
    EXPECT_GT(c.events_sent, 0u);
    EXPECT_EQ(c.failed_requests, 0u);
    EXPECT_TRUE(c.drained);
    EXPECT_EQ(c.rescued_metric, c.events_sent);
    EXPECT_EQ(c.delivered, c.events_sent);
    EXPECT_EQ(c.duplicates, 0u);
    EXPECT_EQ(c.missing, 0u);
    EXPECT_EQ(c.unexpected, 0u);
    EXPECT_EQ(c.window_mismatch, 0u);
    EXPECT_EQ(c.unscrubbed_payloads, 0u);
    EXPECT_EQ(c.edge_exit_code, 0);
  }
  EXPECT_TRUE(r.exactly_once()) << report.str();
  EXPECT_TRUE(r.target_measured);
  for (const char* section :
       {"## Rescued events per second", "## Resources", "## Edge threads",
        "## Delivery and exactly-once", "## Target", "edge minor faults/request", "edge CPU s/GB",
        "rescue 10 KB x 50, fsync per commit, 4 clients: >= 20,000 events/s",
        "rescue 2 KB x 50, fsync per commit, 4 clients: >= 40,000 events/s",
        "every event delivered exactly once, every run: yes"}) {
    EXPECT_NE(report.str().find(section), std::string::npos) << section << "\n" << report.str();
  }
}

TEST(RescueBenchSmokeTest, PayloadsHaveTheRequestedShape) {
  for (size_t size : {2048u, 10240u}) {
    for (int events : {1, 50}) {
      PayloadSpec spec;
      spec.struct_bytes = size;
      spec.events = events;
      const RescuePayload p = RescuePayload::Make(spec);
      EXPECT_EQ(p.events(), events);
      EXPECT_EQ(p.min_struct_bytes(), size);
      EXPECT_EQ(p.max_struct_bytes(), size);
      std::string a, b;
      p.Stamp(100, 7, &a);
      p.Stamp(100 + static_cast<uint64_t>(p.spans()), 7 + static_cast<uint64_t>(p.chunks()), &b);
      EXPECT_EQ(a.size(), p.bytes().size());
      EXPECT_NE(a, b);
      std::vector<uint64_t> ids;
      p.EventSpanIds(100, &ids);
      EXPECT_EQ(ids.size(), static_cast<size_t>(events));
    }
  }
}

// The stand-in's count is what the exactly-once check rests on: feed it the intake body the edge
// would send for a payload (the real event builder and envelope writer) and compare the span ids.
TEST(RescueBenchSmokeTest, StandInReadsEverySpanIdOfARealIntakeBody) {
  PayloadSpec spec;
  spec.struct_bytes = 2048;
  spec.events = 12;
  const RescuePayload p = RescuePayload::Make(spec);
  std::string bytes;
  p.Stamp(5000, 77, &bytes);
  decoder::Payload decoded;
  ASSERT_TRUE(decoder::PayloadReader().Read(bytes, &decoded).ok());
  ASSERT_EQ(decoded.llmobs_spans, 12u);
  ::llmobs_edge::rescue::EventBuilder builder;
  ::llmobs_edge::rescue::BuiltEvent event;
  std::string body = "[";
  for (const decoder::ChunkView& chunk : decoded.chunks) {
    for (const decoder::SpanView* sp = decoded.chunk_begin(chunk); sp != decoded.chunk_end(chunk);
         ++sp) {
      if (!sp->has_llmobs) continue;
      ASSERT_TRUE(builder.Build(decoded, chunk, *sp, &event).ok());
      if (body.size() > 1) body.push_back(',');
      ::llmobs_edge::rescue::AppendIntakeEnvelope(::llmobs_edge::rescue::AsIntakeEvent(event),
                                                 "4.12.0", &body);
    }
  }
  body.push_back(']');

  std::unique_ptr<RescueSink> sink = StartRescueSink();
  const std::string url = sink->url();
  auto client = testing::TestClient::Tcp(
      static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))));
  testing::TestRequest req;
  req.method = "POST";
  req.target = "/evp_proxy/v2/api/v2/llmobs";
  req.headers = {{"Content-Type", "application/json"},
                 {"X-Datadog-EVP-Subdomain", "llmobs-intake"}};
  req.body = body;
  for (int i = 0; i < 2; ++i) EXPECT_EQ(client->Send(req).status, 202u);  // a duplicate batch

  std::vector<uint64_t> want;
  p.EventSpanIds(5000, &want);
  want.insert(want.end(), want.begin(), want.end());
  std::vector<uint64_t> got = sink->TakeEventIds();
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
  const SinkCounts c = sink->counts();
  EXPECT_EQ(c.events, 24u);
  EXPECT_EQ(c.bad_envelopes, 0u);
  EXPECT_EQ(c.bad_subdomain, 0u);
}

}  // namespace
}  // namespace llmobs_edge::bench::rescue
