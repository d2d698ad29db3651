// Tests of the rescue stage on decoded payloads with the in-memory ledger: what is rescued, what
// rides the trace, what is never sent again, and that nothing but the rescued spans' marks change
// in the bytes forwarded to the Agent.

#include "rescue/rescue_stage.h"

#include <string>
#include <vector>

#include "decoder/reader.h"
#include "decoder/splice.h"
#include "decoder/test_payloads.h"
#include "dedup/memory_ledger.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace llmobs_edge::rescue {
namespace {

using decoder::testing::EncodeLlmobsStruct;
using decoder::testing::EncodePayload;
using decoder::testing::TestSpan;

TestSpan LlmSpan(uint64_t span_id, double priority, std::string trace = "6a1f0000000000000000000000000001") {
  TestSpan s;
  s.trace_id = 77;
  s.span_id = span_id;
  s.parent_id = 0;
  s.name = "llm.call";
  s.metrics = {{"_sampling_priority_v1", priority}};
  s.meta = {{"_dd.p.dm", "-4"}, {"env", "prod"}};
  s.meta_struct = {{"_llmobs", EncodeLlmobsStruct(trace, "chat")}};
  return s;
}

class RescueStageTest : public ::testing::Test {
 protected:
  RescueStageTest() : ledger_(&clock_) {
    RescueStage::Deps deps;
    deps.ledger = &ledger_;
    deps.metrics = &metrics_;
    deps.filters = [this] { return filters_; };
    deps.on_enqueued = [this] { ++notified_; };
    stage_ = std::make_unique<RescueStage>(RescueStage::Options{}, std::move(deps));
  }

  // Runs Process on `bytes`; returns the spliced payload (or the original when no edits).
  std::string Run(const std::string& bytes, absl::Status* status = nullptr) {
    payload_ = std::make_unique<decoder::Payload>();
    bytes_ = bytes;
    EXPECT_TRUE(decoder::PayloadReader().Read(bytes_, payload_.get()).ok());
    decoder::EditList edits;
    plugin::ForwardOptions options;
    plugin::TraceRequest request;
    request.headers = {{"Datadog-Meta-Tracer-Version", "9.9.9"}};
    const absl::Status st = stage_->Process(*payload_, request, &edits, &options);
    if (status) *status = st;
    want_real_status_ = options.want_real_http_status;
    if (!st.ok() || edits.empty()) return bytes_;
    std::string out;
    EXPECT_TRUE(decoder::Splicer().Splice(*payload_, edits, &out).ok());
    return out;
  }

  std::vector<dedup::OutboxRecord> Outbox() { return *ledger_.PeekOutbox(1000, 1 << 30); }
  double Metric(const std::string& sample) {
    const std::string text = metrics_.RenderOpenMetrics();
    const size_t at = text.find(sample + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + sample.size() + 1));
  }

  plugin::FakeClock clock_;
  dedup::MemoryLedger ledger_;
  telemetry::Registry metrics_;
  std::shared_ptr<const AgentFilters> filters_;
  std::unique_ptr<RescueStage> stage_;
  std::unique_ptr<decoder::Payload> payload_;
  std::string bytes_;
  int notified_ = 0;
  bool want_real_status_ = false;
};

TEST_F(RescueStageTest, StampsAndScrubsLlmSpanOfDroppedChunk) {
  TestSpan child;
  child.trace_id = 77;
  child.span_id = 9;
  child.parent_id = 5;
  const std::string in = EncodePayload({{LlmSpan(5, 0), child}});
  const std::string out = Run(in);
  ASSERT_EQ(Outbox().size(), 1u);
  EXPECT_EQ(notified_, 1);
  EXPECT_TRUE(want_real_status_);
  // The outbox record is one complete intake envelope for span 5.
  const nlohmann::json env = nlohmann::json::parse(Outbox()[0].event_json);
  EXPECT_EQ(env["_dd.stage"], "raw");
  EXPECT_EQ(env["event_type"], "span");
  EXPECT_EQ(env["spans"][0]["span_id"], "5");
  EXPECT_EQ(Outbox()[0].key.span_id, 5u);
  // The forwarded payload equals the tracer's with only the mark added and the struct removed.
  TestSpan expected = LlmSpan(5, 0);
  expected.meta.emplace_back("_dd.llmobs.submitted", "1");
  expected.meta_struct.clear();
  EXPECT_EQ(out, EncodePayload({{expected, child}}));
  EXPECT_EQ(Metric("llmobs_edge_rescue_events_total{outcome=\"rescued\"}"), 1);
  EXPECT_EQ(Metric("llmobs_edge_rescue_chunks_total{fate=\"priority_drop\"}"), 1);
}

TEST_F(RescueStageTest, LeavesKeptChunkByteIdentical) {
  const std::string in = EncodePayload({{LlmSpan(5, 1)}});
  EXPECT_EQ(Run(in), in);
  EXPECT_TRUE(Outbox().empty());
  EXPECT_EQ(Metric("llmobs_edge_rescue_events_total{outcome=\"kept\"}"), 1);
}

TEST_F(RescueStageTest, RescuesEveryPriorityAtOrBelowZeroAndMissingPriority) {
  for (double p : {-1.0, 0.0}) {
    Run(EncodePayload({{LlmSpan(static_cast<uint64_t>(10 + p), p)}}));
  }
  TestSpan none = LlmSpan(20, 0);
  none.metrics.clear();
  Run(EncodePayload({{none}}));
  EXPECT_EQ(Outbox().size(), 3u);
  Run(EncodePayload({{LlmSpan(30, 2)}}));
  EXPECT_EQ(Outbox().size(), 3u);
}

TEST_F(RescueStageTest, NeverResendsWhatTheSdkSubmittedButRemovesTheLeftoverStruct) {
  TestSpan s = LlmSpan(5, 0);
  s.meta.emplace_back("_dd.llmobs.submitted", "1");
  const std::string out = Run(EncodePayload({{s}}));
  EXPECT_TRUE(Outbox().empty());
  TestSpan expected = s;
  expected.meta_struct.clear();
  EXPECT_EQ(out, EncodePayload({{expected}}));
  EXPECT_EQ(Metric("llmobs_edge_rescue_events_total{outcome=\"already_submitted\"}"), 1);
}

TEST_F(RescueStageTest, TracerRetryOfTheSamePayloadEnqueuesOnceAndScrubsEachTime) {
  const std::string in = EncodePayload({{LlmSpan(5, 0)}});
  const std::string first = Run(in);
  const std::string second = Run(in);
  const std::string third = Run(in);
  EXPECT_EQ(Outbox().size(), 1u);
  EXPECT_EQ(first, second);
  EXPECT_EQ(second, third);
  EXPECT_EQ(Metric("llmobs_edge_rescue_events_total{outcome=\"deduplicated\"}"), 2);
}

TEST_F(RescueStageTest, SameSpanTwiceInOnePayloadIsOneEvent) {
  const std::string in = EncodePayload({{LlmSpan(5, 0)}, {LlmSpan(5, 0)}});
  Run(in);
  EXPECT_EQ(Outbox().size(), 1u);
}

TEST_F(RescueStageTest, KeptChunkSpanWhoseKeyTheLedgerHoldsIsScrubbed) {
  Run(EncodePayload({{LlmSpan(5, 0)}}));  // rescued
  // The tracer (or another path) now sends the same span in a kept chunk.
  const std::string out = Run(EncodePayload({{LlmSpan(5, 2)}}));
  TestSpan expected = LlmSpan(5, 2);
  expected.meta.emplace_back("_dd.llmobs.submitted", "1");
  expected.meta_struct.clear();
  EXPECT_EQ(out, EncodePayload({{expected}}));
  EXPECT_EQ(Outbox().size(), 1u);
}

TEST_F(RescueStageTest, AgentFiltersMakeAKeptChunkADrop) {
  filters_ = *AgentFilters::FromInfo(R"({"filter_tags":{"reject":["env:prod"]}})");
  Run(EncodePayload({{LlmSpan(5, 2)}}));
  EXPECT_EQ(Outbox().size(), 1u);
  EXPECT_EQ(Metric("llmobs_edge_rescue_chunks_total{fate=\"agent_filtered_by_tags\"}"), 1);
}

TEST_F(RescueStageTest, UndecodableStructStaysOnItsSpanAndIsCounted) {
  TestSpan s = LlmSpan(5, 0);
  s.meta_struct = {{"_llmobs", std::string("\x93\x01\x02\x03", 4)}};  // an array, not a map
  const std::string in = EncodePayload({{s}});
  EXPECT_EQ(Run(in), in);
  EXPECT_TRUE(Outbox().empty());
  EXPECT_EQ(Metric("llmobs_edge_rescue_events_total{outcome=\"unrescuable\"}"), 1);
}

TEST_F(RescueStageTest, LedgerFailureFailsOpenAndCountsTheLostEvents) {
  ledger_.FailWrites(absl::UnavailableError("disk full"), 1);
  absl::Status st;
  const std::string in = EncodePayload({{LlmSpan(5, 0), LlmSpan(6, 0)}});
  EXPECT_EQ(Run(in, &st), in);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(Metric("llmobs_edge_rescue_events_total{outcome=\"lost\"}"), 2);
  // Next time the ledger works again and the retry is rescued.
  Run(in);
  EXPECT_EQ(Outbox().size(), 2u);
}

TEST_F(RescueStageTest, AfterRefusalRescuesEveryEventNotYetInTheLedger) {
  // One kept chunk (rides the trace) and one dropped chunk (rescued in Process).
  Run(EncodePayload({{LlmSpan(5, 2)}, {LlmSpan(6, 0)}}));
  ASSERT_EQ(Outbox().size(), 1u);
  plugin::TraceRequest request;
  ASSERT_TRUE(stage_
                  ->AfterForward(*payload_, request,
                                 plugin::AgentOutcome{plugin::AgentOutcome::Kind::kAnswered, 413},
                                 true)
                  .ok());
  EXPECT_EQ(Outbox().size(), 2u);
  EXPECT_EQ(Metric("llmobs_edge_rescue_after_refusal_events_total{cause=\"agent_413\"}"), 1);
  // A payload the Agent took needs nothing more.
  Run(EncodePayload({{LlmSpan(7, 2)}}));
  ASSERT_TRUE(stage_
                  ->AfterForward(*payload_, request,
                                 plugin::AgentOutcome{plugin::AgentOutcome::Kind::kAnswered, 200},
                                 true)
                  .ok());
  EXPECT_EQ(Outbox().size(), 2u);
}

TEST_F(RescueStageTest, AfterUnreachableAgentRescuesWithItsCause) {
  Run(EncodePayload({{LlmSpan(5, 2)}}));
  plugin::TraceRequest request;
  ASSERT_TRUE(stage_
                  ->AfterForward(*payload_, request,
                                 plugin::AgentOutcome{plugin::AgentOutcome::Kind::kUnreachable, 0},
                                 true)
                  .ok());
  EXPECT_EQ(Outbox().size(), 1u);
  EXPECT_EQ(Metric("llmobs_edge_rescue_after_refusal_events_total{cause=\"agent_unreachable\"}"),
            1);
}

TEST(LlmobsTraceId, ReadsTheStructsTraceId) {
  EXPECT_EQ(LlmobsTraceId(EncodeLlmobsStruct("abc123", "x")), "abc123");
  EXPECT_EQ(LlmobsTraceId(std::string("\x90", 1)), "");
  EXPECT_EQ(LlmobsTraceId(""), "");
}

}  // namespace
}  // namespace llmobs_edge::rescue
