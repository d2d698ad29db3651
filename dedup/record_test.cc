// The ledger's encodings: round trips, key order, the documented checksum framing, and that
// every single-bit corruption of a stored value is detected.

#include "dedup/record.h"
#include "dedup/record_testing.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "dedup/crc32c.h"
#include "gtest/gtest.h"
#include "proto/ledger.pb.h"

namespace llmobs_edge::dedup::record {
namespace {

using testing::LittleEndian;

TEST(Record, SeqKeysSortInSequenceOrder) {
  EXPECT_LT(SeqKey(1), SeqKey(2));
  EXPECT_LT(SeqKey(255), SeqKey(256));
  EXPECT_LT(SeqKey(0xFFFFFFFFull), SeqKey(0x100000000ull));
  uint64_t seq = 0;
  ASSERT_TRUE(ParseSeqKey(SeqKey(0x0102030405060708ull), &seq));
  EXPECT_EQ(seq, 0x0102030405060708ull);
  EXPECT_EQ(SeqKey(0x0102030405060708ull), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_FALSE(ParseSeqKey("short", &seq));
}

TEST(Record, SeenKeyIsTraceIdThenBigEndianSpanId) {
  EXPECT_EQ(SeenKey({"ab", 0x0102}), std::string("ab\0\0\0\0\0\0\x01\x02", 10));
  // The fixed-size span id comes last, so different (trace, span) pairs never collide.
  EXPECT_NE(SeenKey({std::string("a\0", 2), 1}), SeenKey({"a", 1}));
  EXPECT_NE(SeenKey({"", 1}), SeenKey({"", 2}));
}

TEST(Record, SeenValueHoldsTheExpiry) {
  int64_t at = 0;
  ASSERT_TRUE(ParseSeenValue(SeenValue(1'800'000'000'123), &at));
  EXPECT_EQ(at, 1'800'000'000'123);
  EXPECT_TRUE(SeenInForce(SeenValue(1000), 999));
  EXPECT_FALSE(SeenInForce(SeenValue(1000), 1000));  // expired at the expiry instant
  EXPECT_FALSE(SeenInForce("garbage", 0));           // malformed: counts as unseen
}

TEST(Record, OutboxRoundTrip) {
  const std::string trace_id("\xff\x00not-utf8", 10);
  const std::string value = EncodeOutbox({trace_id, 42}, R"({"span_id":"42"})", 1234, 3);
  absl::StatusOr<OutboxRecord> r = DecodeOutbox(7, value);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->seq, 7u);
  EXPECT_EQ(r->key.trace_id, trace_id);
  EXPECT_EQ(r->key.span_id, 42u);
  EXPECT_EQ(r->event_json, R"({"span_id":"42"})");
  EXPECT_EQ(r->enqueued_unix_ms, 1234);
  EXPECT_EQ(r->attempts, 3u);
}

TEST(Record, OutboxChecksumFollowsTheDocumentedFraming) {
  const std::string value = EncodeOutbox({"trace", 9}, "{}", -5, 2);
  ledger::v1::OutboxRecord p;
  ASSERT_TRUE(p.ParseFromString(value));
  const std::string framing = LittleEndian(9, 8) + LittleEndian(static_cast<uint64_t>(-5), 8) +
                              LittleEndian(2, 4) + LittleEndian(5, 8) + "trace" +
                              LittleEndian(2, 8) + "{}";
  EXPECT_EQ(p.crc32c(), Crc32c(framing));
}

TEST(Record, EverySingleBitFlipOfAnOutboxRecordIsDetected) {
  const std::string value = EncodeOutbox({"0123456789abcdef", 0x1122334455667788ull},
                                         R"({"meta":{"input":"hi"}})", 1'800'000'000'000, 1);
  for (size_t i = 0; i < value.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = value;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_FALSE(DecodeOutbox(1, bad).ok()) << "byte " << i << " bit " << bit;
    }
  }
  EXPECT_FALSE(DecodeOutbox(1, value.substr(0, value.size() - 1)).ok());
  EXPECT_FALSE(DecodeOutbox(1, "").ok());
  EXPECT_EQ(DecodeOutbox(1, "garbage").status().code(), absl::StatusCode::kDataLoss);
}

TEST(Record, DeadLetterRoundTripAndCorruption) {
  OutboxRecord r;
  r.key = {"t", 5};
  r.event_json = "{\"a\":1}";
  r.enqueued_unix_ms = 10;
  r.attempts = 4;
  const std::string value = EncodeDeadLetter(r, "intake 400", 20);
  absl::StatusOr<DeadLetter> d = DecodeDeadLetter(3, value);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->record.key, r.key);
  EXPECT_EQ(d->record.event_json, r.event_json);
  EXPECT_EQ(d->record.attempts, 4u);
  EXPECT_EQ(d->reason, "intake 400");
  EXPECT_EQ(d->dead_lettered_unix_ms, 20);
  for (size_t i = 0; i < value.size(); ++i) {
    std::string bad = value;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    EXPECT_FALSE(DecodeDeadLetter(3, bad).ok()) << "byte " << i;
  }
  // Long reasons are truncated.
  d = DecodeDeadLetter(3, EncodeDeadLetter(r, std::string(5000, 'x'), 20));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->reason.size(), kMaxReasonBytes);
}

TEST(Record, StateRoundTripAndVersionCheck) {
  State s;
  s.next_seq = 100;
  s.outbox_records = 3;
  s.outbox_bytes = 300;
  s.next_dead_letter_seq = 7;
  s.dead_letter_records = 1;
  s.dead_letter_bytes = 50;
  absl::StatusOr<State> back = DecodeState(EncodeState(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(DecodeState("garbage").status().code(), absl::StatusCode::kDataLoss);

  // A state written by a newer format (valid checksum) is refused with a clear message.
  const uint32_t newer = kFormatVersion + 1;
  back = DecodeState(testing::EncodeStateAsVersion(newer, State{}));
  EXPECT_EQ(back.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(back.status().message().find(absl::StrCat("format version ", newer)),
            absl::string_view::npos);

  // Format 1 (before the counters became merge operands) is still read.
  back = DecodeState(testing::EncodeStateAsVersion(1, State{}));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->next_seq, 1u);
}

}  // namespace
}  // namespace llmobs_edge::dedup::record
