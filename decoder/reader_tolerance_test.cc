// One test per decoder tolerance rule of the Datadog Agent (shared/reference/agent-protocol.md
// §5.5): what the Agent accepts must decode, what it rejects with 400 must be an error.

#include <functional>
#include <string>

#include "decoder/msgpack_writer.h"
#include "decoder/reader.h"
#include "gtest/gtest.h"

namespace llmobs_edge::decoder {
namespace {

// A payload with one chunk holding one span whose map is written by `fill` (`pairs` entries).
std::string OneSpan(uint32_t pairs, const std::function<void(std::string*)>& fill) {
  std::string out;
  AppendArrayHeader(&out, 1);
  AppendArrayHeader(&out, 1);
  AppendMapHeader(&out, pairs);
  fill(&out);
  return out;
}

absl::Status Decode(const std::string& bytes, Payload* p) { return PayloadReader().Read(bytes, p); }

TEST(ReaderTolerance, AcceptsBinKeysAndBinStrings) {
  const std::string bytes = OneSpan(2, [](std::string* o) {
    AppendBin(o, "service");
    AppendBin(o, "svc");
    AppendBin(o, "meta");
    AppendMapHeader(o, 1);
    AppendBin(o, "_dd.p.tid");
    AppendBin(o, "6b017f4200000000");
  });
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok());
  EXPECT_EQ(p.spans[0].service, "svc");
  EXPECT_EQ(p.spans[0].tid, "6b017f4200000000");
}

TEST(ReaderTolerance, AcceptsEveryStrWidth) {
  for (Width w : {Width::kSmallest, Width::k8, Width::k16, Width::k32}) {
    const std::string bytes = OneSpan(1, [w](std::string* o) {
      AppendStr(o, "name", w);
      AppendStr(o, "web.request", w);
    });
    Payload p;
    ASSERT_TRUE(Decode(bytes, &p).ok());
    EXPECT_EQ(p.spans[0].name, "web.request");
  }
}

TEST(ReaderTolerance, NilScalarsReadAsZeroValues) {
  const char* keys[] = {"service", "name",  "resource", "type",     "trace_id",
                        "span_id", "start", "duration", "parent_id", "error"};
  const std::string bytes = OneSpan(10, [&](std::string* o) {
    for (const char* k : keys) {
      AppendStr(o, k);
      AppendNil(o);
    }
  });
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok()) << Decode(bytes, &p);
  const SpanView& s = p.spans[0];
  EXPECT_EQ(s.service, "");
  EXPECT_EQ(s.trace_id, 0u);
  EXPECT_EQ(s.start, 0);
  EXPECT_EQ(s.error, 0);
  EXPECT_TRUE(s.has(kFieldService) && s.has(kFieldError));
}

TEST(ReaderTolerance, NilMetaAndMetricsMapsAreAbsentMaps) {
  const std::string bytes = OneSpan(2, [](std::string* o) {
    AppendStr(o, "meta");
    AppendNil(o);
    AppendStr(o, "metrics");
    AppendNil(o);
  });
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok());
  EXPECT_TRUE(p.spans[0].has(kFieldMeta));
  EXPECT_FALSE(p.spans[0].meta.present);
  EXPECT_FALSE(p.spans[0].metrics.present);
}

TEST(ReaderTolerance, NilMetaValuesAndKeysReadAsEmptyStrings) {
  const std::string bytes = OneSpan(1, [](std::string* o) {
    AppendStr(o, "meta");
    AppendMapHeader(o, 1);
    AppendNil(o);
    AppendNil(o);
  });
  Payload p;
  EXPECT_TRUE(Decode(bytes, &p).ok());
}

TEST(ReaderTolerance, SignedIdsAreReinterpretedAsUint64) {
  const std::string bytes = OneSpan(2, [](std::string* o) {
    AppendStr(o, "trace_id");
    AppendInt(o, -2);
    AppendStr(o, "span_id");
    AppendInt(o, 42);
  });
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok());
  EXPECT_EQ(p.spans[0].trace_id, 0xfffffffffffffffeull);
  EXPECT_EQ(p.spans[0].span_id, 42u);
}

TEST(ReaderTolerance, MetricsAcceptIntUintFloat64AndNil) {
  const std::string bytes = OneSpan(1, [](std::string* o) {
    AppendStr(o, "metrics");
    AppendMapHeader(o, 4);
    AppendStr(o, "_sampling_priority_v1");
    AppendInt(o, -1);
    AppendStr(o, "a");
    AppendUint64Fixed(o, 7);
    AppendStr(o, "b");
    AppendFloat64(o, 1234.5);
    AppendStr(o, "c");
    AppendNil(o);
  });
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok());
  EXPECT_TRUE(p.spans[0].has_priority);
  EXPECT_EQ(p.spans[0].priority, -1);
}

TEST(ReaderTolerance, UnknownKeysOfAnyShapeAreSkipped) {
  const std::string bytes = OneSpan(3, [](std::string* o) {
    AppendStr(o, "future_field");
    AppendMapHeader(o, 1);
    AppendStr(o, "x");
    AppendArrayHeader(o, 2);
    AppendFloat32(o, 1.f);
    AppendBool(o, true);
    AppendStr(o, "name");
    AppendStr(o, "op");
    AppendStr(o, "other");
    AppendFloat32(o, 2.f);  // float32 is fine where the Agent does not look
  });
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok());
  EXPECT_EQ(p.spans[0].name, "op");
  EXPECT_EQ(p.spans[0].unknown_keys, 2u);
}

TEST(ReaderTolerance, InvalidUtf8IsLeftForTheAgentToRepair) {
  const std::string bytes = OneSpan(1, [](std::string* o) {
    AppendStr(o, "resource");
    AppendStr(o, std::string("GET /\xff\xfe", 7));
  });
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok());
  EXPECT_EQ(p.spans[0].resource, std::string("GET /\xff\xfe", 7));
}

TEST(ReaderTolerance, DuplicateKeysLastOneWins) {
  const std::string bytes = OneSpan(4, [](std::string* o) {
    AppendStr(o, "name");
    AppendStr(o, "first");
    AppendStr(o, "meta");
    AppendMapHeader(o, 1);
    AppendStr(o, "_dd.p.tid");
    AppendStr(o, "1111111111111111");
    AppendStr(o, "name");
    AppendStr(o, "second");
    AppendStr(o, "meta");
    AppendMapHeader(o, 1);
    AppendStr(o, "env");
    AppendStr(o, "prod");
  });
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok());
  EXPECT_EQ(p.spans[0].name, "second");
  EXPECT_FALSE(p.spans[0].has_tid);  // the first meta map was replaced entirely
  EXPECT_EQ(p.spans[0].meta.count, 1u);
}

TEST(ReaderTolerance, NilSpansAreCountedAndSkipped) {
  std::string bytes;
  AppendArrayHeader(&bytes, 1);
  AppendArrayHeader(&bytes, 3);
  AppendNil(&bytes);
  AppendMapHeader(&bytes, 0);
  AppendNil(&bytes);
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok());
  EXPECT_EQ(p.chunks[0].entry_count, 3u);
  EXPECT_EQ(p.chunks[0].span_count, 1u);
  EXPECT_EQ(p.chunks[0].nil_spans, 2u);
}

TEST(ReaderTolerance, TrailingBytesAfterThePayloadAreIgnored) {
  std::string bytes("\x91\x90", 2);
  bytes += "trailing";
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok());
  EXPECT_EQ(p.end, 2u);
}

TEST(ReaderTolerance, SpanLinksAndEventsInTheirNativeForms) {
  const std::string bytes = OneSpan(2, [](std::string* o) {
    AppendStr(o, "span_links");
    AppendArrayHeader(o, 2);
    AppendMapHeader(o, 6);
    AppendStr(o, "trace_id");
    AppendUint64Fixed(o, 1);
    AppendStr(o, "trace_id_high");
    AppendUint64Fixed(o, 2);
    AppendStr(o, "span_id");
    AppendInt(o, -3);
    AppendStr(o, "attributes");
    AppendMapHeader(o, 1);
    AppendStr(o, "link.reason");
    AppendStr(o, "follows-from");
    AppendStr(o, "tracestate");
    AppendStr(o, "dd=s:1");
    AppendStr(o, "flags");
    AppendUint(o, 0x80000001u);
    AppendNil(o);
    AppendStr(o, "span_events");
    AppendArrayHeader(o, 1);
    AppendMapHeader(o, 3);
    AppendStr(o, "name");
    AppendStr(o, "cache.miss");
    AppendStr(o, "time_unix_nano");
    AppendFloat64(o, 1795260181316321800.0);  // dd-trace-js writes float64
    AppendStr(o, "attributes");
    AppendMapHeader(o, 1);
    AppendStr(o, "attempt");
    AppendMapHeader(o, 2);
    AppendStr(o, "type");
    AppendUint(o, 2);
    AppendStr(o, "int_value");
    AppendUint(o, 2);
  });
  Payload p;
  ASSERT_TRUE(Decode(bytes, &p).ok()) << Decode(bytes, &p);
  EXPECT_TRUE(p.spans[0].span_links.present);
  EXPECT_EQ(p.spans[0].span_links.count, 2u);
  EXPECT_EQ(p.spans[0].span_events.count, 1u);
}

// --- What the Agent rejects (the whole payload gets 400) ---

void ExpectRejected(const std::string& bytes, const std::string& fragment) {
  Payload p;
  const absl::Status st = Decode(bytes, &p);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find(fragment), std::string::npos) << st;
}

TEST(ReaderTolerance, RejectsNilChunk) {
  ExpectRejected(std::string("\x91\xc0", 2), "nil chunk");
}

TEST(ReaderTolerance, RejectsNilMetaStruct) {
  ExpectRejected(OneSpan(1, [](std::string* o) {
                   AppendStr(o, "meta_struct");
                   AppendNil(o);
                 }),
                 "nil meta_struct");
}

TEST(ReaderTolerance, RejectsBinMetaStructKeys) {
  ExpectRejected(OneSpan(1, [](std::string* o) {
                   AppendStr(o, "meta_struct");
                   AppendMapHeader(o, 1);
                   AppendBin(o, "_llmobs");
                   AppendBin(o, "\x80");
                 }),
                 "meta_struct key: expected a str (found bin8)");
}

TEST(ReaderTolerance, RejectsStrMetaStructValues) {
  ExpectRejected(OneSpan(1, [](std::string* o) {
                   AppendStr(o, "meta_struct");
                   AppendMapHeader(o, 1);
                   AppendStr(o, "_llmobs");
                   AppendStr(o, "\x80");
                 }),
                 "meta_struct value: expected a bin (found fixstr)");
}

TEST(ReaderTolerance, RejectsFloatIds) {
  ExpectRejected(OneSpan(1, [](std::string* o) {
                   AppendStr(o, "span_id");
                   AppendFloat64(o, 1.0);
                 }),
                 "span_id: expected an integer (found float64)");
}

TEST(ReaderTolerance, RejectsFloat32Metrics) {
  ExpectRejected(OneSpan(1, [](std::string* o) {
                   AppendStr(o, "metrics");
                   AppendMapHeader(o, 1);
                   AppendStr(o, "m");
                   AppendFloat32(o, 1.f);
                 }),
                 "metrics value: float32");
}

TEST(ReaderTolerance, RejectsStartAboveMaxInt64) {
  ExpectRejected(OneSpan(1, [](std::string* o) {
                   AppendStr(o, "start");
                   AppendUint64Fixed(o, 0x8000000000000000ull);
                 }),
                 "start: found uint64, overflows int64");
}

TEST(ReaderTolerance, RejectsErrorOutsideInt32) {
  ExpectRejected(OneSpan(1, [](std::string* o) {
                   AppendStr(o, "error");
                   AppendUint(o, 0x80000000u);
                 }),
                 "error: integer overflows int32");
}

TEST(ReaderTolerance, RejectsNonStringWhereAStringIsExpected) {
  ExpectRejected(OneSpan(1, [](std::string* o) {
                   AppendStr(o, "meta");
                   AppendMapHeader(o, 1);
                   AppendStr(o, "k");
                   AppendUint(o, 1);
                 }),
                 "meta value: expected str, bin or nil (found positive_fixint)");
}

TEST(ReaderTolerance, RejectsNilOrNumericSpanKeys) {
  ExpectRejected(OneSpan(1, [](std::string* o) {
                   AppendNil(o);
                   AppendNil(o);
                 }),
                 "span key");
}

TEST(ReaderTolerance, RejectsASpanThatIsNotAMap) {
  ExpectRejected(std::string("\x91\x91\x90", 3), "span: expected a map (found fixarray)");
}

TEST(ReaderTolerance, RejectsATopLevelThatIsNotAnArray) {
  ExpectRejected(std::string("{\"a\":1}"), "payload (an array of chunks)");
}

}  // namespace
}  // namespace llmobs_edge::decoder
