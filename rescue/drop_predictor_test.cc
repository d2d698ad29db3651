#include "rescue/drop_predictor.h"

#include <string>

#include "decoder/reader.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"

namespace llmobs_edge::rescue {
namespace {

using decoder::Payload;
using decoder::PayloadReader;
using decoder::testing::EncodePayload;
using decoder::testing::RealTracerTracePayloads;
using decoder::testing::TestSpan;

TestSpan Span(uint64_t id, uint64_t parent, double priority = -100) {
  TestSpan s;
  s.trace_id = 77;
  s.span_id = id;
  s.parent_id = parent;
  if (priority != -100) s.metrics = {{"_sampling_priority_v1", priority}};
  return s;
}

ChunkVerdict Predict(const std::vector<TestSpan>& chunk, Payload* p, std::string* bytes,
                     DropPolicy policy = {}) {
  *bytes = EncodePayload({chunk});
  EXPECT_TRUE(PayloadReader().Read(*bytes, p).ok());
  return PredictChunk(*p, p->chunks[0], policy);
}

TEST(FindRoot, PicksTheLastSpanWithoutParent) {
  Payload p;
  std::string b;
  const ChunkVerdict v = Predict({Span(1, 0), Span(2, 1), Span(3, 0)}, &p, &b);
  EXPECT_EQ(v.root, 2);
}

TEST(FindRoot, FindsTheOrphanWhenNoSpanHasParentZero) {
  // A server span whose parent is a client span in another chunk (web/request-004 chunk 1).
  Payload p;
  std::string b;
  const ChunkVerdict v = Predict({Span(5, 4), Span(6, 7), Span(7, 999)}, &p, &b);
  EXPECT_EQ(v.root, 2);
}

TEST(FindRoot, FallsBackToTheLastSpanOnACycle) {
  Payload p;
  std::string b;
  const ChunkVerdict v = Predict({Span(1, 2), Span(2, 1)}, &p, &b);
  EXPECT_EQ(v.root, 1);
}

TEST(FindRoot, AppliesTheNormalizersSelfParentFixUp) {
  Payload p;
  std::string b;
  TestSpan self = Span(77, 77);  // parent_id == trace_id == span_id
  const ChunkVerdict v = Predict({self, Span(8, 77)}, &p, &b);
  EXPECT_EQ(v.root, 0);
}

TEST(PredictChunk, AgentIgnoreResourcesDropsAKeptChunk) {
  auto filters = AgentFilters::FromInfo(R"({"ignore_resources":["^GET /health"]})");
  ASSERT_TRUE(filters.ok());
  DropPolicy policy;
  policy.filters = filters->get();
  Payload p;
  std::string b;
  TestSpan root = Span(1, 0, 2);
  root.resource = "GET /health";
  ChunkVerdict v = Predict({Span(2, 1, 2), root}, &p, &b, policy);
  EXPECT_EQ(v.fate, ChunkFate::kIgnoredResource);
  EXPECT_TRUE(v.predicted_drop);
  EXPECT_EQ(ChunkFateName(v.fate), "agent_ignored_resource");
  // A child's resource does not matter: the Agent looks at the root only.
  TestSpan child = Span(2, 1, 2);
  child.resource = "GET /health";
  v = Predict({child, Span(1, 0, 2)}, &p, &b, policy);
  EXPECT_EQ(v.fate, ChunkFate::kKept);
}

TEST(PredictChunk, AgentFilterTagsDropAKeptChunk) {
  auto filters = AgentFilters::FromInfo(R"({"filter_tags":{"require":["env:prod"]}})");
  ASSERT_TRUE(filters.ok());
  DropPolicy policy;
  policy.filters = filters->get();
  Payload p;
  std::string b;
  TestSpan root = Span(1, 0, 1);
  root.meta = {{"env", "staging"}};
  EXPECT_EQ(Predict({root}, &p, &b, policy).fate, ChunkFate::kFilteredByTags);
  root.meta = {{"env", "prod"}};
  EXPECT_EQ(Predict({root}, &p, &b, policy).fate, ChunkFate::kKept);
}

TEST(PredictChunk, NormalizerDropsComeBeforeAgentFilters) {
  auto filters = AgentFilters::FromInfo(R"({"ignore_resources":[".*"]})");
  DropPolicy policy;
  policy.filters = filters->get();
  Payload p;
  std::string b;
  TestSpan zero = Span(0, 0, 1);
  EXPECT_EQ(Predict({zero}, &p, &b, policy).fate, ChunkFate::kZeroId);
}

TEST(PredictChunk, PriorityComesFromTheRootFirst) {
  Payload p;
  std::string b;
  const ChunkVerdict v = Predict({Span(2, 1, 2), Span(1, 0, 0)}, &p, &b);
  EXPECT_EQ(v.root, 1);
  EXPECT_EQ(v.priority, 0);
  EXPECT_EQ(v.fate, ChunkFate::kPriorityDrop);
  EXPECT_TRUE(v.predicted_drop);
}

TEST(PredictChunk, ElseFromTheFirstSpanCarryingIt) {
  // dd-trace-py puts the priority on trace[0] only, which need not be the root.
  Payload p;
  std::string b;
  const ChunkVerdict v = Predict({Span(2, 1), Span(3, 1, 1), Span(4, 1, 0), Span(1, 0)}, &p, &b);
  EXPECT_EQ(v.priority_span, 1);
  EXPECT_EQ(v.fate, ChunkFate::kKept);
  EXPECT_FALSE(v.predicted_drop);
}

TEST(PredictChunk, KeepsPositivePrioritiesAndDropsTheRest) {
  struct Case {
    double priority;
    ChunkFate fate;
  } cases[] = {{2, ChunkFate::kKept},          {1, ChunkFate::kKept},
               {0, ChunkFate::kPriorityDrop},  {-1, ChunkFate::kPriorityDrop},
               {0.5, ChunkFate::kPriorityDrop}};  // the Agent truncates to int32
  for (const Case& c : cases) {
    Payload p;
    std::string b;
    EXPECT_EQ(Predict({Span(1, 0, c.priority)}, &p, &b).fate, c.fate) << c.priority;
  }
}

TEST(PredictChunk, NoPriorityIsADropUnlessConfiguredOtherwise) {
  Payload p;
  std::string b;
  EXPECT_EQ(Predict({Span(1, 0)}, &p, &b).fate, ChunkFate::kNoPriority);
  DropPolicy lenient;
  lenient.rescue_without_priority = false;
  const ChunkVerdict v = Predict({Span(1, 0)}, &p, &b, lenient);
  EXPECT_EQ(v.fate, ChunkFate::kNoPriorityKept);
  EXPECT_FALSE(v.predicted_drop);
}

TEST(PredictChunk, NormalizerDropsWinOverAKeepPriority) {
  Payload p;
  std::string b;
  TestSpan zero = Span(0, 0, 2);
  EXPECT_EQ(Predict({zero}, &p, &b).fate, ChunkFate::kZeroId);
  TestSpan other = Span(2, 1, 2);
  other.trace_id = 78;
  EXPECT_EQ(Predict({Span(1, 0, 2), other}, &p, &b).fate, ChunkFate::kMixedTraceIds);
}

TEST(PredictSpan, ClassifiesLlmobsSpansByChunkVerdict) {
  TestSpan llm = Span(2, 1);
  llm.meta_struct = {{"_llmobs", "\x80"}};
  TestSpan submitted = llm;
  submitted.span_id = 3;
  submitted.meta = {{"_dd.llmobs.submitted", "1"}};
  TestSpan sss = llm;
  sss.span_id = 4;
  sss.metrics = {{"_dd.span_sampling.mechanism", 8}};
  const std::string bytes = EncodePayload({{Span(1, 0, 0), llm, submitted, sss, Span(5, 1)},
                                           {[&] { TestSpan s = llm; s.trace_id = 9;
                                                  s.metrics = {{"_sampling_priority_v1", 1}};
                                                  return s; }()}});
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  const ChunkVerdict dropped = PredictChunk(p, p.chunks[0], {});
  ASSERT_TRUE(dropped.predicted_drop);
  EXPECT_EQ(PredictSpan(p.spans[1], dropped), SpanFate::kRescue);
  EXPECT_EQ(PredictSpan(p.spans[2], dropped), SpanFate::kAlreadySubmitted);
  EXPECT_EQ(PredictSpan(p.spans[3], dropped), SpanFate::kRidesSingleSpan);
  EXPECT_EQ(PredictSpan(p.spans[4], dropped), SpanFate::kNoLlmobs);
  const ChunkVerdict kept = PredictChunk(p, p.chunks[1], {});
  EXPECT_EQ(PredictSpan(p.spans[5], kept), SpanFate::kRidesTrace);
}

TEST(PredictChunk, RealSamplingCapturesMatchTheTracersDecisions) {
  // sampling/request-004: manual-keep (2), manual-drop (-1), auto (1);
  // sampling/request-005: auto after rate 0 (0), priority tag keep (2).
  std::vector<std::vector<ChunkFate>> expected = {
      {},
      {},
      {ChunkFate::kKept, ChunkFate::kPriorityDrop, ChunkFate::kKept},
      {ChunkFate::kPriorityDrop, ChunkFate::kKept},
      {}};
  const auto payloads = RealTracerTracePayloads();
  size_t checked = 0;
  for (const auto& r : payloads) {
    Payload p;
    ASSERT_TRUE(PayloadReader().Read(r.body, &p).ok());
    std::vector<ChunkFate> fates;
    for (const auto& c : p.chunks) fates.push_back(PredictChunk(p, c, {}).fate);
    if (r.name == "sampling/request-004") {
      EXPECT_EQ(fates, expected[2]);
      ++checked;
    } else if (r.name == "sampling/request-005") {
      EXPECT_EQ(fates, expected[3]);
      ++checked;
    } else if (r.name == "llmobs-agent-proxy/request-006") {
      // Chunk 5 is background.job with manual.drop; chunk 3 has an orphan root.
      ASSERT_EQ(fates.size(), 6u);
      EXPECT_EQ(fates[5], ChunkFate::kPriorityDrop);
      EXPECT_EQ(fates[0], ChunkFate::kKept);
      EXPECT_EQ(p.spans[FindRoot(p, p.chunks[3])].parent_id != 0, true);
      ++checked;
    } else if (r.name == "web/request-004") {
      for (ChunkFate f : fates) EXPECT_EQ(f, ChunkFate::kKept);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 4u);
}

}  // namespace
}  // namespace llmobs_edge::rescue
