#include "decoder/reader.h"

#include <string>

#include "decoder/map_iterators.h"
#include "decoder/msgpack_writer.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"

namespace llmobs_edge::decoder {
namespace {

using testing::EncodeLlmobsStruct;
using testing::EncodePayload;
using testing::TestSpan;

TestSpan LlmSpan() {
  TestSpan s;
  s.trace_id = 4366906277992678920ull;
  s.span_id = 2264075030106042450ull;
  s.parent_id = 6714461642924179088ull;
  s.service = "chat-api";
  s.name = "generate-answer";
  s.resource = "llm";
  s.type = "llm";
  s.start = 1789500000467902311;
  s.duration = 1208774112;
  s.error = 1;
  s.meta = {{"env", "prod"}, {"error.type", "openai.RateLimitError"}, {"_dd.p.dm", "-4"},
            {"_dd.p.tid", "6aa99a6000000000"}};
  s.metrics = {{"_sampling_priority_v1", 0}, {"_dd.agent_psr", 0.25},
               {"_dd.span_sampling.mechanism", 8}};
  s.meta_struct = {{"other", "\x80"}, {"_llmobs", EncodeLlmobsStruct("6aa9", "generate-answer")}};
  return s;
}

TEST(PayloadReader, ReadsEveryFieldOfASpan) {
  for (bool wide : {false, true}) {
    TestSpan in = LlmSpan();
    in.wide = wide;
    const std::string bytes = EncodePayload({{in}});
    Payload p;
    ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
    ASSERT_EQ(p.chunks.size(), 1u);
    ASSERT_EQ(p.spans.size(), 1u);
    const SpanView& s = p.spans[0];
    EXPECT_EQ(s.service, "chat-api");
    EXPECT_EQ(s.name, "generate-answer");
    EXPECT_EQ(s.resource, "llm");
    EXPECT_EQ(s.type, "llm");
    EXPECT_EQ(s.trace_id, in.trace_id);
    EXPECT_EQ(s.span_id, in.span_id);
    EXPECT_EQ(s.parent_id, in.parent_id);
    EXPECT_EQ(s.start, in.start);
    EXPECT_EQ(s.duration, in.duration);
    EXPECT_EQ(s.error, 1);
    EXPECT_EQ(s.meta.count, 4u);
    EXPECT_EQ(s.metrics.count, 3u);
    EXPECT_EQ(s.meta_struct.count, 2u);
    EXPECT_FALSE(s.span_links.present);
    EXPECT_FALSE(s.span_events.present);
    EXPECT_TRUE(s.has(kFieldType) && s.has(kFieldMetaStruct));
    EXPECT_FALSE(s.has(kFieldSpanLinks));
    EXPECT_EQ(s.unknown_keys, 0u);
  }
}

TEST(PayloadReader, PicksUpTheFactsRescueNeeds) {
  const std::string bytes = EncodePayload({{LlmSpan()}});
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  const SpanView& s = p.spans[0];
  EXPECT_TRUE(s.has_priority);
  EXPECT_EQ(s.priority, 0);
  EXPECT_TRUE(s.has_span_sampling);
  EXPECT_EQ(s.span_sampling_mechanism, 8);
  EXPECT_TRUE(s.has_tid);
  EXPECT_EQ(s.tid, "6aa99a6000000000");
  EXPECT_TRUE(s.has_dm);
  EXPECT_EQ(s.dm, "-4");
  EXPECT_EQ(s.error_type, "openai.RateLimitError");
  EXPECT_FALSE(s.has_llmobs_submitted);
  ASSERT_TRUE(s.has_llmobs);
  EXPECT_EQ(s.llmobs, EncodeLlmobsStruct("6aa9", "generate-answer"));
  EXPECT_EQ(p.llmobs_spans, 1u);
}

TEST(PayloadReader, RecordsByteOffsetsOfChunksSpansAndMaps) {
  TestSpan a = LlmSpan();
  TestSpan b;
  b.meta = {{"k", "v"}};
  const std::string bytes = EncodePayload({{a, b}, {b}});
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  ASSERT_EQ(p.chunks.size(), 2u);
  EXPECT_EQ(p.header_size, 5);
  EXPECT_EQ(p.chunks[0].begin, 5u);
  EXPECT_EQ(p.chunks[0].header_size, 5);
  EXPECT_EQ(p.chunks[0].span_count, 2u);
  EXPECT_EQ(p.chunks[1].first_span, 2u);
  EXPECT_EQ(p.chunks[0].end, p.chunks[1].begin);
  EXPECT_EQ(p.chunks[1].end, bytes.size());
  EXPECT_EQ(p.end, bytes.size());
  // Each span's byte range is exactly its encoding.
  EXPECT_EQ(bytes.substr(p.spans[0].begin, p.spans[0].end - p.spans[0].begin),
            testing::EncodeSpan(a));
  EXPECT_EQ(p.spans[1].begin, p.spans[0].end);
  EXPECT_EQ(p.spans[2].chunk, 1u);
  EXPECT_EQ(p.spans[2].index, 2u);
  // Map ranges re-read on their own.
  const SpanView& s = p.spans[1];
  StringMapIterator it(bytes, s.meta);
  std::string_view k, v;
  ASSERT_TRUE(it.Next(&k, &v));
  EXPECT_EQ(k, "k");
  EXPECT_EQ(v, "v");
  EXPECT_FALSE(it.Next(&k, &v));
  EXPECT_GT(s.meta.begin, s.begin);
  EXPECT_LE(s.meta.end, s.end);
}

TEST(PayloadReader, IteratorsListMetricsAndMetaStruct) {
  const std::string bytes = EncodePayload({{LlmSpan()}});
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  MetricsIterator m(bytes, p.spans[0].metrics);
  std::string_view k;
  double d;
  ASSERT_TRUE(m.Next(&k, &d));
  EXPECT_EQ(k, "_sampling_priority_v1");
  ASSERT_TRUE(m.Next(&k, &d));
  EXPECT_EQ(d, 0.25);
  ASSERT_TRUE(m.Next(&k, &d));
  EXPECT_EQ(k, "_dd.span_sampling.mechanism");
  MetaStructIterator ms(bytes, p.spans[0].meta_struct);
  std::string_view bin;
  ASSERT_TRUE(ms.Next(&k, &bin));
  EXPECT_EQ(k, "other");
  ASSERT_TRUE(ms.Next(&k, &bin));
  EXPECT_EQ(k, "_llmobs");
  EXPECT_FALSE(ms.Next(&k, &bin));
  std::string_view value;
  EXPECT_TRUE(FindMeta(bytes, p.spans[0], "env", &value));
  EXPECT_EQ(value, "prod");
  EXPECT_FALSE(FindMeta(bytes, p.spans[0], "absent", &value));
}

TEST(PayloadReader, ReusedPayloadIsClearedBetweenReads) {
  PayloadReader reader;
  Payload p;
  ASSERT_TRUE(reader.Read(EncodePayload({{LlmSpan(), LlmSpan()}}), &p).ok());
  EXPECT_EQ(p.llmobs_spans, 2u);
  const std::string small = EncodePayload({{TestSpan()}});
  ASSERT_TRUE(reader.Read(small, &p).ok());
  EXPECT_EQ(p.spans.size(), 1u);
  EXPECT_EQ(p.llmobs_spans, 0u);
  EXPECT_FALSE(p.spans[0].has_llmobs);
}

TEST(PayloadReader, EmptyPayloadAndEmptyChunksAreValid) {
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(std::string("\x90", 1), &p).ok());
  EXPECT_TRUE(p.chunks.empty());
  ASSERT_TRUE(PayloadReader().Read(std::string("\x92\x90\x90", 3), &p).ok());
  EXPECT_EQ(p.chunks.size(), 2u);
  EXPECT_EQ(p.spans.size(), 0u);
}

TEST(PayloadReader, EnforcesSpanAndSizeLimits) {
  ReaderLimits limits;
  limits.max_spans = 2;
  const std::string three = EncodePayload({{TestSpan(), TestSpan(), TestSpan()}});
  Payload p;
  absl::Status st = PayloadReader(limits).Read(three, &p);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  limits = ReaderLimits();
  limits.max_payload_bytes = 10;
  st = PayloadReader(limits).Read(three, &p);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
}

TEST(PayloadReader, ErrorNamesChunkSpanOffsetAndField) {
  std::string bytes;
  AppendArrayHeader(&bytes, 1);
  AppendArrayHeader(&bytes, 1);
  AppendMapHeader(&bytes, 1);
  AppendStr(&bytes, "service");
  AppendArrayHeader(&bytes, 0);  // an array where the Agent wants a string
  Payload p;
  const absl::Status st = PayloadReader().Read(bytes, &p);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(st.message()),
            "chunk 0, span 0: offset 11: service: expected str, bin or nil (found fixarray)");
}

}  // namespace
}  // namespace llmobs_edge::decoder
