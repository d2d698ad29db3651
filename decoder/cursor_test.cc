#include "decoder/cursor.h"

#include <cstdint>
#include <limits>
#include <string>

#include "decoder/msgpack_writer.h"
#include "gtest/gtest.h"

namespace llmobs_edge::decoder {
namespace {

TEST(MsgpackCursor, ReadsEveryStringAndBinFormAsAView) {
  for (Width w : {Width::kSmallest, Width::k8, Width::k16, Width::k32}) {
    std::string bytes;
    AppendStr(&bytes, "hello", w);
    AppendBin(&bytes, "world", w == Width::kSmallest ? Width::k8 : w);
    MsgpackCursor c(bytes);
    std::string_view a, b;
    ASSERT_TRUE(c.ReadStrOrBin(&a));
    ASSERT_TRUE(c.ReadStrOrBin(&b));
    EXPECT_EQ(a, "hello");
    EXPECT_EQ(b, "world");
    EXPECT_TRUE(c.at_end());
    // Views point into the input: nothing was copied.
    EXPECT_GE(a.data(), bytes.data());
    EXPECT_LT(a.data(), bytes.data() + bytes.size());
  }
}

TEST(MsgpackCursor, NilReadsAsEmptyStringButNotAsKey) {
  std::string bytes;
  AppendNil(&bytes);
  MsgpackCursor c(bytes);
  std::string_view s = "x";
  ASSERT_TRUE(c.ReadStrOrBin(&s));
  EXPECT_TRUE(s.empty());
  MsgpackCursor k(bytes);
  EXPECT_FALSE(k.ReadKey(&s));
  EXPECT_EQ(k.error_offset(), 0u);
}

TEST(MsgpackCursor, IdsAcceptSignedIntsAsTwosComplementAndRejectFloats) {
  std::string bytes;
  AppendInt(&bytes, -1);
  AppendUint64Fixed(&bytes, 0xfedcba9876543210ull);
  AppendNil(&bytes);
  AppendFloat64(&bytes, 1.0);
  MsgpackCursor c(bytes);
  uint64_t v = 7;
  ASSERT_TRUE(c.ReadIdTolerant(&v));
  EXPECT_EQ(v, std::numeric_limits<uint64_t>::max());
  ASSERT_TRUE(c.ReadIdTolerant(&v));
  EXPECT_EQ(v, 0xfedcba9876543210ull);
  ASSERT_TRUE(c.ReadIdTolerant(&v));
  EXPECT_EQ(v, 0u);
  EXPECT_FALSE(c.ReadIdTolerant(&v));
  EXPECT_EQ(std::string(c.status().message()), std::string("offset 11: expected an integer (found float64)"));
}

TEST(MsgpackCursor, Int64RejectsUintAboveMaxInt64) {
  std::string bytes;
  AppendUint64Fixed(&bytes, uint64_t{1} << 63);
  MsgpackCursor c(bytes);
  int64_t v;
  EXPECT_FALSE(c.ReadInt64Tolerant(&v));
  EXPECT_NE(std::string(c.status().message()).find("overflows int64"), std::string::npos);
}

TEST(MsgpackCursor, Int32RejectsOverflowBothWays) {
  for (int64_t bad : {int64_t{1} << 31, -(int64_t{1} << 31) - 1}) {
    std::string bytes;
    AppendInt(&bytes, bad);
    MsgpackCursor c(bytes);
    int32_t v;
    EXPECT_FALSE(c.ReadInt32Tolerant(&v)) << bad;
  }
  std::string ok;
  AppendInt(&ok, -(int64_t{1} << 31));
  MsgpackCursor c(ok);
  int32_t v;
  ASSERT_TRUE(c.ReadInt32Tolerant(&v));
  EXPECT_EQ(v, std::numeric_limits<int32_t>::min());
}

TEST(MsgpackCursor, MetricsAcceptIntUintFloat64AndNilButNotFloat32) {
  std::string bytes;
  AppendInt(&bytes, -5);
  AppendUint(&bytes, 70000);
  AppendFloat64(&bytes, 1234.5);
  AppendNil(&bytes);
  AppendFloat32(&bytes, 1.5f);
  MsgpackCursor c(bytes);
  double d;
  ASSERT_TRUE(c.ReadFloat64Tolerant(&d));
  EXPECT_EQ(d, -5);
  ASSERT_TRUE(c.ReadFloat64Tolerant(&d));
  EXPECT_EQ(d, 70000);
  ASSERT_TRUE(c.ReadFloat64Tolerant(&d));
  EXPECT_EQ(d, 1234.5);
  ASSERT_TRUE(c.ReadFloat64Tolerant(&d));
  EXPECT_EQ(d, 0);
  EXPECT_FALSE(c.ReadFloat64Tolerant(&d));
  EXPECT_NE(std::string(c.status().message()).find("float32"), std::string::npos);
}

TEST(MsgpackCursor, LyingHeadersFailBeforeLooping) {
  // map32 announcing 2^32-1 pairs in a 5-byte buffer.
  const std::string map32("\xdf\xff\xff\xff\xff", 5);
  MsgpackCursor c(map32);
  uint32_t n;
  EXPECT_FALSE(c.ReadMapHeader(&n));
  EXPECT_NE(std::string(c.status().message()).find("exceeds the bytes left"), std::string::npos);
  const std::string str32("\xdb\x00\x01\x00\x00xx", 7);
  MsgpackCursor s(str32);
  std::string_view v;
  EXPECT_FALSE(s.ReadStrOrBin(&v));
}

TEST(MsgpackCursor, SkipWalksNestedValuesOfEveryType) {
  std::string bytes;
  AppendMapHeader(&bytes, 3, 5);
  AppendStr(&bytes, "a");
  AppendArrayHeader(&bytes, 4, 3);
  AppendFloat32(&bytes, 1.f);
  AppendFloat64(&bytes, 2.0);
  AppendBin(&bytes, "xyz", Width::k32);
  AppendBool(&bytes, true);
  AppendStr(&bytes, "ext");
  bytes += std::string("\xd6\x01\x00\x00\x00\x00", 6);  // fixext4
  AppendInt(&bytes, -1000000);
  AppendMapHeader(&bytes, 0);
  bytes += "tail";
  MsgpackCursor c(bytes);
  ASSERT_TRUE(c.Skip()) << c.status();
  EXPECT_EQ(c.remaining(), 4u);
}

TEST(MsgpackCursor, SkipOfDeeplyNestedArraysUsesNoRecursion) {
  std::string bytes(1'000'000, '\x91');  // a million nested 1-element arrays
  bytes.push_back('\xc0');
  MsgpackCursor c(bytes);
  ASSERT_TRUE(c.Skip());
  EXPECT_TRUE(c.at_end());
  bytes.pop_back();
  MsgpackCursor t(bytes);
  EXPECT_FALSE(t.Skip());
}

TEST(MsgpackCursor, RejectsNeverUsedTypeByte) {
  MsgpackCursor c(std::string_view("\xc1", 1));
  EXPECT_FALSE(c.Skip());
}

}  // namespace
}  // namespace llmobs_edge::decoder
