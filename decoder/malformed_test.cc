// Malformed inputs never crash the codec: the real payloads truncated at every offset, every byte
// replaced with hostile values, lying length headers, wrong types and deep nesting all return
// errors (or, for harmless mutations, still decode and splice). Run under ASan/UBSan in CI.

#include <string>

#include "decoder/json.h"
#include "decoder/msgpack_writer.h"
#include "decoder/reader.h"
#include "decoder/splice.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"

namespace llmobs_edge::decoder {
namespace {

using testing::RealTracerTracePayloads;

TEST(Malformed, EveryTruncationOfARealPayloadIsAnError) {
  PayloadReader reader;
  Payload p;
  for (const auto& r : RealTracerTracePayloads()) {
    for (size_t len = 0; len < r.body.size(); ++len) {
      // A copy of exactly `len` bytes, so ASan sees any read past the end.
      const std::string cut = r.body.substr(0, len);
      ASSERT_FALSE(reader.Read(cut, &p).ok()) << r.name << " at " << len;
    }
  }
}

// Decodes, and when that works, splices an edit on every span and decodes the result again.
void DecodeAndSplice(const std::string& bytes) {
  Payload p;
  if (!PayloadReader().Read(bytes, &p).ok()) return;
  EditList edits;
  for (uint32_t i = 0; i < p.spans.size(); ++i) {
    edits.SetMeta(i, "_dd.llmobs.submitted", "1");
    edits.RemoveMetaStruct(i, "_llmobs");
  }
  std::string out;
  ASSERT_TRUE(Splicer().Splice(p, edits, &out).ok());
  Payload q;
  ASSERT_TRUE(PayloadReader().Read(out, &q).ok());
  ASSERT_EQ(q.spans.size(), p.spans.size());
}

TEST(Malformed, EveryByteReplacedWithHostileValuesNeverCrashes) {
  const uint8_t hostile[] = {0x00, 0x7f, 0x80, 0x8f, 0x9f, 0xbf, 0xc0, 0xc1,
                             0xc6, 0xca, 0xcb, 0xdb, 0xdd, 0xdf, 0xe0, 0xff};
  for (const auto& r : RealTracerTracePayloads()) {
    if (r.body.size() > 6000) continue;  // the three smaller payloads keep this test fast
    for (size_t i = 0; i < r.body.size(); ++i) {
      for (uint8_t b : hostile) {
        std::string m = r.body;
        m[i] = static_cast<char>(b);
        DecodeAndSplice(m);
      }
    }
  }
}

TEST(Malformed, LyingLengthHeadersAreErrors) {
  // A str32 announcing 4 GiB, a map32 and an array32 announcing 2^32-1 entries, at span level.
  const std::string lies[] = {
      std::string("\x91\x91\x81\xa4name\xdb\xff\xff\xff\xff", 13),
      std::string("\x91\x91\xdf\xff\xff\xff\xff\xa4name", 12),
      std::string("\x91\xdd\xff\xff\xff\xff\x80", 7),
      std::string("\xdd\xff\xff\xff\xff\x90", 6),
      std::string("\x91\x91\x81\xa4meta\xdf\x00\x01\x00\x00", 13),
  };
  for (const auto& bytes : lies) {
    Payload p;
    const absl::Status st = PayloadReader().Read(bytes, &p);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(std::string(st.message()).find("exceeds the bytes left"), std::string::npos) << st;
  }
}

TEST(Malformed, DeepNestingInsideAnUnknownKeyIsBoundedByTheBytes) {
  std::string bytes("\x91\x91\x81\xa5" "extra", 9);
  bytes += std::string(500000, '\x91');
  bytes.push_back('\xc0');
  Payload p;
  ASSERT_TRUE(PayloadReader().Read(bytes, &p).ok());
  bytes.pop_back();
  EXPECT_FALSE(PayloadReader().Read(bytes, &p).ok());
}

TEST(Malformed, WrongTypesForEveryKnownFieldAreErrors) {
  const char* fields[] = {"service", "name", "resource", "type", "trace_id", "span_id",
                          "parent_id", "start", "duration", "error", "meta", "metrics",
                          "meta_struct", "span_links", "span_events"};
  for (const char* f : fields) {
    std::string bytes;
    AppendArrayHeader(&bytes, 1);
    AppendArrayHeader(&bytes, 1);
    AppendMapHeader(&bytes, 1);
    AppendStr(&bytes, f);
    AppendBool(&bytes, true);  // no field of the schema accepts a bool
    Payload p;
    const absl::Status st = PayloadReader().Read(bytes, &p);
    EXPECT_FALSE(st.ok()) << f;
    EXPECT_NE(std::string(st.message()).find(f), std::string::npos) << st;
  }
}

TEST(Malformed, JsonTranscoderSurvivesEveryTruncationOfARealDocument) {
  for (const auto& r : RealTracerTracePayloads()) {
    Payload p;
    ASSERT_TRUE(PayloadReader().Read(r.body, &p).ok());
    for (const SpanView& s : p.spans) {
      if (!s.meta_struct.present) continue;
      // The whole meta_struct map and each prefix of it, as documents.
      const std::string doc(r.body.substr(s.meta_struct.begin, s.meta_struct.end - s.meta_struct.begin));
      std::string out;
      ASSERT_TRUE(MsgpackToJson(doc, &out).ok());
      for (size_t len = 0; len < doc.size(); ++len) {
        out.clear();
        EXPECT_FALSE(MsgpackToJson(doc.substr(0, len), &out).ok());
      }
    }
  }
}

}  // namespace
}  // namespace llmobs_edge::decoder
