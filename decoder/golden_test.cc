// Golden tests on every real v0.4 request captured from dd-trace 6.21.0 (tests/golden/real-tracer):
// decode, re-encode without edits byte-identically, and match every field against the capture
// tool's own decoding (request-NNN.decoded.json).

#include <cstdlib>
#include <map>
#include <string>

#include "decoder/json.h"
#include "decoder/map_iterators.h"
#include "decoder/prefilter.h"
#include "decoder/reader.h"
#include "decoder/splice.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace llmobs_edge::decoder {
namespace {

using nlohmann::json;
using testing::AllRealTracerRequests;
using testing::RealTracerTracePayloads;

// The capture writes 64-bit integers as decimal strings and small ones as numbers.
uint64_t U64(const json& v) {
  return v.is_string() ? std::strtoull(v.get<std::string>().c_str(), nullptr, 10)
                       : v.get<uint64_t>();
}
int64_t I64(const json& v) {
  return v.is_string() ? std::strtoll(v.get<std::string>().c_str(), nullptr, 10)
                       : v.get<int64_t>();
}

TEST(Golden, ThereAreFiveRealTracePayloads) { EXPECT_EQ(RealTracerTracePayloads().size(), 5u); }

TEST(Golden, EveryRealPayloadDecodesAndReencodesByteIdentically) {
  Splicer splicer;
  for (const auto& r : RealTracerTracePayloads()) {
    Payload p;
    ASSERT_TRUE(PayloadReader().Read(r.body, &p).ok()) << r.name;
    EXPECT_EQ(p.end, r.body.size()) << r.name;
    std::string out;
    ASSERT_TRUE(splicer.Splice(p, EditList(), &out).ok());
    EXPECT_EQ(out, r.body) << r.name;
    // dd-trace-js never puts _llmobs in meta_struct: the prefilter must say so.
    EXPECT_FALSE(MayContainLlmobs(r.body)) << r.name;
  }
}

TEST(Golden, EveryFieldMatchesTheCapturedDecoding) {
  for (const auto& r : RealTracerTracePayloads()) {
    SCOPED_TRACE(r.name);
    const json golden = json::parse(r.decoded_json);
    const json& traces = golden.at("traces");
    const json& wire = golden.at("wire").at("traces");
    Payload p;
    ASSERT_TRUE(PayloadReader().Read(r.body, &p).ok());
    ASSERT_EQ(p.chunks.size(), traces.size());
    size_t checked_meta_struct = 0;
    for (size_t c = 0; c < traces.size(); ++c) {
      const ChunkView& chunk = p.chunks[c];
      ASSERT_EQ(chunk.span_count, traces[c].size());
      for (size_t i = 0; i < traces[c].size(); ++i) {
        const json& g = traces[c][i];
        const SpanView& s = p.spans[chunk.first_span + i];
        EXPECT_EQ(s.entry_count, wire[c].at("spans")[i].at("field_order").size());
        EXPECT_EQ(s.trace_id, U64(g.at("trace_id")));
        EXPECT_EQ(s.span_id, U64(g.at("span_id")));
        EXPECT_EQ(s.parent_id, U64(g.at("parent_id")));
        EXPECT_EQ(s.start, I64(g.at("start")));
        EXPECT_EQ(s.duration, I64(g.at("duration")));
        EXPECT_EQ(s.error, g.at("error").get<int>());
        EXPECT_EQ(s.name, g.at("name").get<std::string>());
        EXPECT_EQ(s.resource, g.at("resource").get<std::string>());
        EXPECT_EQ(s.service, g.at("service").get<std::string>());
        EXPECT_EQ(s.type, g.value("type", std::string()));

        std::map<std::string, std::string> meta;
        StringMapIterator mi(r.body, s.meta);
        std::string_view k, v;
        while (mi.Next(&k, &v)) meta[std::string(k)] = std::string(v);
        EXPECT_EQ(meta, g.value("meta", json::object()).get<decltype(meta)>());

        std::map<std::string, double> metrics;
        MetricsIterator ti(r.body, s.metrics);
        double d;
        while (ti.Next(&k, &d)) metrics[std::string(k)] = d;
        EXPECT_EQ(metrics, g.value("metrics", json::object()).get<decltype(metrics)>());
        if (g.at("metrics").contains("_sampling_priority_v1")) {
          EXPECT_TRUE(s.has_priority);
          EXPECT_EQ(s.priority, g.at("metrics").at("_sampling_priority_v1").get<double>());
        }

        const json ms = g.value("meta_struct", json::object());
        EXPECT_EQ(s.meta_struct.count, ms.size());
        MetaStructIterator si(r.body, s.meta_struct);
        std::string_view bin;
        while (si.Next(&k, &bin)) {
          const json& expected = ms.at(std::string(k));
          EXPECT_EQ(bin.size(), expected.at("$msgpack_bin_bytes").get<size_t>());
          std::string text;
          ASSERT_TRUE(MsgpackToJson(bin, &text).ok());
          EXPECT_EQ(json::parse(text), expected.at("$decoded"));
          ++checked_meta_struct;
        }
      }
    }
    if (r.name == "aiguard-meta-struct/request-005") {
      EXPECT_EQ(checked_meta_struct, 1u);
    }
  }
}

TEST(Golden, EditingOneRealSpanLeavesEveryOtherByteInPlace) {
  for (const auto& r : RealTracerTracePayloads()) {
    Payload p;
    ASSERT_TRUE(PayloadReader().Read(r.body, &p).ok());
    const uint32_t target = static_cast<uint32_t>(p.spans.size() / 2);
    EditList edits;
    edits.SetMeta(target, "_dd.llmobs.submitted", "1");
    edits.RemoveMetaStruct(target, "_llmobs");
    std::string out;
    ASSERT_TRUE(Splicer().Splice(p, edits, &out).ok());
    Payload q;
    ASSERT_TRUE(PayloadReader().Read(out, &q).ok()) << r.name;
    const SpanView& before = p.spans[target];
    const SpanView& after = q.spans[target];
    const size_t grew = out.size() - r.body.size();
    EXPECT_EQ(grew, (after.end - after.begin) - (before.end - before.begin));
    EXPECT_EQ(out.substr(0, before.begin), r.body.substr(0, before.begin)) << r.name;
    EXPECT_EQ(out.substr(after.end), r.body.substr(before.end)) << r.name;
    EXPECT_TRUE(after.llmobs_already_submitted());
    EXPECT_EQ(after.priority, before.priority);
    EXPECT_EQ(after.dm, before.dm);
  }
}

TEST(Golden, NonTraceBodiesAreRejectedCleanly) {
  size_t rejected = 0;
  for (const auto& r : AllRealTracerRequests()) {
    if (r.path == "/v0.4/traces") continue;
    Payload p;
    EXPECT_FALSE(PayloadReader().Read(r.body, &p).ok()) << r.name;
    ++rejected;
  }
  EXPECT_GT(rejected, 20u);
}

}  // namespace
}  // namespace llmobs_edge::decoder
