#include "decoder/splice.h"

#include <map>
#include <random>
#include <string>

#include "decoder/map_iterators.h"
#include "decoder/msgpack_writer.h"
#include "decoder/reader.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"
#include "msgpack.hpp"

namespace llmobs_edge::decoder {
namespace {

using testing::EncodeLlmobsStruct;
using testing::EncodePayload;
using testing::TestSpan;

std::string SpanBytes(const Payload& p, uint32_t i) {
  return std::string(p.bytes.substr(p.spans[i].begin, p.spans[i].end - p.spans[i].begin));
}

// An independent decoding (msgpack-c) of one span's meta / meta_struct, for checking edits.
std::map<std::string, std::string> MapOf(const std::string& payload, size_t chunk, size_t span,
                                         const std::string& field) {
  msgpack::object_handle oh = msgpack::unpack(payload.data(), payload.size());
  const msgpack::object& s = oh.get().via.array.ptr[chunk].via.array.ptr[span];
  std::map<std::string, std::string> out;
  for (uint32_t i = 0; i < s.via.map.size; ++i) {
    const auto& kv = s.via.map.ptr[i];
    if (kv.key.as<std::string>() != field) continue;
    out.clear();  // last occurrence wins
    for (uint32_t j = 0; j < kv.val.via.map.size; ++j) {
      const auto& e = kv.val.via.map.ptr[j];
      if (e.val.type == msgpack::type::BIN) {
        out[e.key.as<std::string>()] = std::string(e.val.via.bin.ptr, e.val.via.bin.size);
      } else {
        out[e.key.as<std::string>()] = e.val.as<std::string>();
      }
    }
  }
  return out;
}

TestSpan Llm(uint64_t span_id) {
  TestSpan s;
  s.span_id = span_id;
  s.type = "llm";
  s.meta = {{"env", "prod"}, {"_dd.p.dm", "-0"}};
  s.metrics = {{"_sampling_priority_v1", 0}};
  s.meta_struct = {{"_llmobs", EncodeLlmobsStruct("abc", "x")}};
  return s;
}

TEST(Splicer, WithoutEditsReturnsTheSameBytes) {
  const std::string bytes = EncodePayload({{Llm(1), TestSpan()}, {TestSpan()}}) + "trailing";
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  std::string out;
  ASSERT_TRUE(Splicer().Splice(p, EditList(), &out).ok());
  EXPECT_EQ(out, bytes);
}

TEST(Splicer, StampsAndScrubsOneSpanAndCopiesEverythingElse) {
  for (bool wide : {false, true}) {
    TestSpan a = Llm(1), b = Llm(2), c = TestSpan();
    a.wide = b.wide = c.wide = wide;
    const std::string bytes = EncodePayload({{a, b}, {c}}) + "tail";
    Payload p;
    ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
    EditList edits;
    edits.SetMeta(1, "_dd.llmobs.submitted", "1");
    edits.RemoveMetaStruct(1, "_llmobs");
    std::string out;
    ASSERT_TRUE(Splicer().Splice(p, edits, &out).ok());

    Payload q;
    ASSERT_TRUE(PayloadReader().Read(out, &q).ok());
    ASSERT_EQ(q.spans.size(), 3u);
    // Untouched spans and the bytes around the edited one are identical.
    EXPECT_EQ(SpanBytes(q, 0), SpanBytes(p, 0));
    EXPECT_EQ(SpanBytes(q, 2), SpanBytes(p, 2));
    EXPECT_EQ(out.substr(0, p.spans[1].begin), bytes.substr(0, p.spans[1].begin));
    EXPECT_EQ(out.substr(q.spans[1].end), bytes.substr(p.spans[1].end));
    // The edited span: stamped, scrubbed, meta_struct dropped because it became empty.
    const SpanView& s = q.spans[1];
    EXPECT_TRUE(s.llmobs_already_submitted());
    EXPECT_FALSE(s.has_llmobs);
    EXPECT_FALSE(s.has(kFieldMetaStruct));
    EXPECT_EQ(s.entry_count, p.spans[1].entry_count - 1);
    // Every other field of the edited span is unchanged, priority and decision maker included.
    EXPECT_EQ(s.span_id, 2u);
    EXPECT_EQ(s.type, "llm");
    EXPECT_EQ(s.priority, 0);
    EXPECT_EQ(s.dm, "-0");
    const auto meta = MapOf(out, 0, 1, "meta");
    EXPECT_EQ(meta.size(), 3u);
    EXPECT_EQ(meta.at("env"), "prod");
    EXPECT_EQ(meta.at("_dd.llmobs.submitted"), "1");
    // map32 stays map32 (dd-trace-js style), fixmap stays fixmap.
    EXPECT_EQ(static_cast<uint8_t>(out[s.meta.begin]), wide ? 0xdf : 0x83);
  }
}

TEST(Splicer, KeepsOtherMetaStructEntries) {
  TestSpan a = Llm(1);
  a.meta_struct.insert(a.meta_struct.begin(), {"ai_guard", "\x80"});
  const std::string bytes = EncodePayload({{a}});
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  EditList edits;
  edits.RemoveMetaStruct(0, "_llmobs");
  std::string out;
  ASSERT_TRUE(Splicer().Splice(p, edits, &out).ok());
  const auto ms = MapOf(out, 0, 0, "meta_struct");
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms.at("ai_guard"), "\x80");
}

TEST(Splicer, ReplacesAnExistingKeyAndLastSetWins) {
  TestSpan a = Llm(1);
  a.meta.push_back({"_dd.llmobs.submitted", "0"});
  const std::string bytes = EncodePayload({{a}});
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  EditList edits;
  edits.SetMeta(0, "_dd.llmobs.submitted", "x");
  edits.SetMeta(0, "_dd.llmobs.submitted", "1");
  std::string out;
  ASSERT_TRUE(Splicer().Splice(p, edits, &out).ok());
  Payload q;
  ASSERT_TRUE(PayloadReader().Read(out, &q).ok());
  EXPECT_EQ(q.spans[0].meta.count, 3u);
  EXPECT_EQ(q.spans[0].llmobs_submitted, "1");
}

TEST(Splicer, CreatesMetaWhenTheSpanHasNone) {
  TestSpan a;
  a.meta_struct = {{"_llmobs", "\x80"}};
  const std::string bytes = EncodePayload({{a}});
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  EditList edits;
  edits.SetMeta(0, "_dd.llmobs.submitted", "1");
  edits.RemoveMetaStruct(0, "_llmobs");
  std::string out;
  ASSERT_TRUE(Splicer().Splice(p, edits, &out).ok());
  Payload q;
  ASSERT_TRUE(PayloadReader().Read(out, &q).ok());
  EXPECT_TRUE(q.spans[0].llmobs_already_submitted());
  EXPECT_EQ(q.spans[0].entry_count, p.spans[0].entry_count);  // +meta, -meta_struct
}

TEST(Splicer, ReplacesANilMetaWithAMap) {
  std::string bytes;
  AppendArrayHeader(&bytes, 1);
  AppendArrayHeader(&bytes, 1);
  AppendMapHeader(&bytes, 1);
  AppendStr(&bytes, "meta");
  AppendNil(&bytes);
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  EditList edits;
  edits.SetMeta(0, "k", "v");
  std::string out;
  ASSERT_TRUE(Splicer().Splice(p, edits, &out).ok());
  Payload q;
  ASSERT_TRUE(PayloadReader().Read(out, &q).ok());
  std::string_view v;
  EXPECT_TRUE(FindMeta(out, q.spans[0], "k", &v));
  EXPECT_EQ(q.spans[0].entry_count, 1u);
}

TEST(Splicer, WidensAFixmapHeaderThatOverflows) {
  TestSpan a;
  for (int i = 0; i < 15; ++i) a.meta.push_back({"k" + std::to_string(i), "v"});
  const std::string bytes = EncodePayload({{a}});
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  ASSERT_EQ(static_cast<uint8_t>(bytes[p.spans[0].meta.begin]), 0x8f);
  EditList edits;
  edits.SetMeta(0, "_dd.llmobs.submitted", "1");
  std::string out;
  ASSERT_TRUE(Splicer().Splice(p, edits, &out).ok());
  Payload q;
  ASSERT_TRUE(PayloadReader().Read(out, &q).ok());
  EXPECT_EQ(static_cast<uint8_t>(out[q.spans[0].meta.begin]), 0xde);
  EXPECT_EQ(q.spans[0].meta.count, 16u);
}

TEST(Splicer, DuplicateMetaStructKeysAreAllRemoved) {
  std::string bytes;
  AppendArrayHeader(&bytes, 1);
  AppendArrayHeader(&bytes, 1);
  AppendMapHeader(&bytes, 2);
  AppendStr(&bytes, "meta_struct");
  AppendMapHeader(&bytes, 2);
  AppendStr(&bytes, "_llmobs");
  AppendBin(&bytes, "\x80");
  AppendStr(&bytes, "a");
  AppendBin(&bytes, "\x80");
  AppendStr(&bytes, "meta_struct");
  AppendMapHeader(&bytes, 1);
  AppendStr(&bytes, "_llmobs");
  AppendBin(&bytes, "\x80");
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  EditList edits;
  edits.RemoveMetaStruct(0, "_llmobs");
  std::string out;
  ASSERT_TRUE(Splicer().Splice(p, edits, &out).ok());
  EXPECT_EQ(out.find("_llmobs"), std::string::npos);
  Payload q;
  ASSERT_TRUE(PayloadReader().Read(out, &q).ok());
  // The emptied last meta_struct stays (as {}) so the first one does not take effect.
  EXPECT_EQ(q.spans[0].entry_count, 2u);
  EXPECT_EQ(q.spans[0].meta_struct.count, 0u);
}

TEST(Splicer, RejectsAnEditForASpanThatDoesNotExist) {
  const std::string bytes = EncodePayload({{TestSpan()}});
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  EditList edits;
  edits.SetMeta(5, "k", "v");
  std::string out;
  EXPECT_FALSE(Splicer().Splice(p, edits, &out).ok());
}

// Property: for random payloads and random edits, the output decodes (with our reader and with
// msgpack-c), edited spans carry exactly the edits, and every other span is byte-identical.
TEST(Splicer, RandomPayloadsAndEditsRoundTrip) {
  std::mt19937_64 rng(20261121);
  Splicer splicer;
  PayloadReader reader;
  Payload p, q;
  std::string out;
  for (int round = 0; round < 300; ++round) {
    std::vector<std::vector<TestSpan>> chunks(1 + rng() % 4);
    for (auto& chunk : chunks) {
      chunk.resize(1 + rng() % 5);
      for (auto& s : chunk) {
        s.wide = rng() % 2;
        s.trace_id = rng();
        s.span_id = rng();
        s.name = std::string(rng() % 40, 'n');
        for (int m = rng() % 18; m > 0; --m) {
          s.meta.push_back({"key" + std::to_string(rng() % 30), std::string(rng() % 50, 'v')});
        }
        if (rng() % 3 == 0) s.metrics.push_back({"_sampling_priority_v1", double(rng() % 3) - 1});
        if (rng() % 2 == 0) s.meta_struct.push_back({"_llmobs", EncodeLlmobsStruct("t", "n")});
        if (rng() % 4 == 0) s.meta_struct.push_back({"other", std::string(rng() % 300, 'b')});
      }
    }
    const std::string bytes = EncodePayload(chunks);
    ASSERT_TRUE(reader.Read(bytes, &p).ok());
    EditList edits;
    std::vector<bool> edited(p.spans.size());
    for (uint32_t i = 0; i < p.spans.size(); ++i) {
      if (rng() % 3 != 0) continue;
      edited[i] = true;
      edits.SetMeta(i, "_dd.llmobs.submitted", "1");
      edits.RemoveMetaStruct(i, "_llmobs");
      if (rng() % 2) edits.SetMeta(i, "key7", "w");  // replaces an existing key if present
    }
    ASSERT_TRUE(splicer.Splice(p, edits, &out).ok());
    // The fast path (from the reader's offsets) and the general path (pair by pair) agree.
    std::string general;
    Splicer slow;
    slow.ForceGeneralPathForTesting(true);
    ASSERT_TRUE(slow.Splice(p, edits, &general).ok());
    ASSERT_EQ(out, general);
    ASSERT_TRUE(reader.Read(out, &q).ok());
    ASSERT_EQ(q.spans.size(), p.spans.size());
    ASSERT_EQ(q.chunks.size(), p.chunks.size());
    ASSERT_NO_THROW(msgpack::unpack(out.data(), out.size()));
    for (uint32_t i = 0; i < p.spans.size(); ++i) {
      if (!edited[i]) {
        ASSERT_EQ(SpanBytes(q, i), SpanBytes(p, i));
        continue;
      }
      const SpanView& s = q.spans[i];
      EXPECT_TRUE(s.llmobs_already_submitted());
      EXPECT_FALSE(s.has_llmobs);
      EXPECT_EQ(s.trace_id, p.spans[i].trace_id);
      EXPECT_EQ(s.span_id, p.spans[i].span_id);
      EXPECT_EQ(s.name, p.spans[i].name);
      EXPECT_EQ(s.has_priority, p.spans[i].has_priority);
      EXPECT_EQ(s.priority, p.spans[i].priority);
    }
  }
}

}  // namespace
}  // namespace llmobs_edge::decoder
