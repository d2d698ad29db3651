#include "decoder/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

#include "decoder/msgpack_writer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace llmobs_edge::decoder {
namespace {

std::string ToJson(const std::string& doc, JsonStats* stats = nullptr, JsonOptions opts = {}) {
  std::string out;
  const absl::Status st = MsgpackToJson(doc, &out, opts, stats);
  EXPECT_TRUE(st.ok()) << st;
  return out;
}

TEST(MsgpackToJson, IntegersAreExactOverTheFullRanges) {
  std::string doc;
  AppendArrayHeader(&doc, 5);
  AppendUint64Fixed(&doc, std::numeric_limits<uint64_t>::max());
  AppendInt(&doc, std::numeric_limits<int64_t>::min());
  AppendInt(&doc, -1);
  AppendUint(&doc, 0);
  AppendUint64Fixed(&doc, 9007199254740993ull);  // 2^53 + 1: not a double
  EXPECT_EQ(ToJson(doc),
            "[18446744073709551615,-9223372036854775808,-1,0,9007199254740993]");
}

TEST(MsgpackToJson, FloatsRoundTripAndKeepTheirFloatness) {
  const double values[] = {0.2, 31.0, 1234.5, 1e300, 5e-324, -0.0, 0.1 + 0.2, 1e21};
  for (double d : values) {
    std::string doc;
    AppendFloat64(&doc, d);
    const std::string text = ToJson(doc);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), d) << text;
    EXPECT_NE(text.find_first_of(".e"), std::string::npos) << text;
  }
  std::string doc;
  AppendFloat64(&doc, 31.0);
  EXPECT_EQ(ToJson(doc), "31.0");
  doc.clear();
  AppendFloat64(&doc, 0.2);
  EXPECT_EQ(ToJson(doc), "0.2");
}

TEST(MsgpackToJson, Float32PrintsItsExactValue) {
  std::string doc;
  AppendFloat32(&doc, 0.1f);
  const std::string text = ToJson(doc);
  EXPECT_EQ(std::strtod(text.c_str(), nullptr), static_cast<double>(0.1f));
}

TEST(MsgpackToJson, NonFiniteFloatsBecomeNullAndAreCounted) {
  std::string doc;
  AppendArrayHeader(&doc, 3);
  AppendFloat64(&doc, std::nan(""));
  AppendFloat64(&doc, INFINITY);
  AppendFloat32(&doc, -INFINITY);
  JsonStats stats;
  EXPECT_EQ(ToJson(doc, &stats), "[null,null,null]");
  EXPECT_EQ(stats.non_finite_floats, 3u);
}

TEST(MsgpackToJson, StringsAreEscaped) {
  std::string doc;
  AppendStr(&doc, std::string("q\"b\\n\n\t\x01\x1f/", 10));
  EXPECT_EQ(ToJson(doc), R"("q\"b\\n\n\t\u0001\u001f/")");
}

TEST(MsgpackToJson, ValidUtf8IsKeptAndInvalidBytesAreRepaired) {
  std::string doc;
  AppendStr(&doc, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(ToJson(doc), "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
  struct Case {
    std::string in;
    std::string out;
    uint32_t repaired;
  } cases[] = {
      {"a\xff" "b", "a\xEF\xBF\xBD" "b", 1},
      {"\xc0\xaf", "\xEF\xBF\xBD\xEF\xBF\xBD", 2},                   // overlong '/'
      {"\xed\xa0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 3},   // surrogate U+D800
      {"\xf4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 4},  // > U+10FFFF
      {"\xe2\x82", "\xEF\xBF\xBD\xEF\xBF\xBD", 2},                   // truncated sequence
  };
  for (const Case& c : cases) {
    std::string d;
    AppendStr(&d, c.in);
    JsonStats stats;
    EXPECT_EQ(ToJson(d, &stats), "\"" + c.out + "\"");
    EXPECT_EQ(stats.repaired_utf8_bytes, c.repaired);
  }
}

// The escaper scans 16 bytes at a time; a byte-at-a-time model must agree for every special
// byte at every offset around the block boundaries, in strings of every length up to 70.
std::string ModelJsonString(std::string_view s, uint32_t* repaired) {
  std::string out = "\"";
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  for (size_t i = 0; i < s.size();) {
    const uint8_t ch = p[i];
    if (ch == '"') {
      out += "\\\"";
    } else if (ch == '\\') {
      out += "\\\\";
    } else if (ch < 0x20) {
      const char* named = ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : ch == '\t' ? "\\t"
                        : ch == '\b' ? "\\b" : ch == '\f' ? "\\f" : nullptr;
      if (named != nullptr) {
        out += named;
      } else {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
        out += buf;
      }
    } else if (ch < 0x80) {
      out.push_back(static_cast<char>(ch));
    } else if (const size_t len = Utf8SequenceLength(p + i, s.size() - i); len > 0) {
      out.append(s.substr(i, len));
      i += len;
      continue;
    } else {
      out += "\xEF\xBF\xBD";
      ++*repaired;
    }
    ++i;
  }
  return out + "\"";
}

TEST(AppendJsonString, AgreesWithAByteAtATimeModelAtEveryOffset) {
  const std::string specials[] = {"\"", "\\", "\n", std::string(1, '\0'), "\x1f", "\x7f",
                                  "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff",
                                  "\xe2\x82", "\xc3"};
  size_t checked = 0;
  for (size_t len = 0; len <= 70; ++len) {
    for (const std::string& sp : specials) {
      for (size_t at = 0; at + sp.size() <= len; ++at) {
        std::string in(len, 'a');
        in.replace(at, sp.size(), sp);
        uint32_t want_repaired = 0;
        const std::string want = ModelJsonString(in, &want_repaired);
        std::string got = "prefix";
        JsonStats stats;
        AppendJsonString(in, &got, &stats);
        ASSERT_EQ(got, "prefix" + want) << "len " << len << " at " << at;
        ASSERT_EQ(stats.repaired_utf8_bytes, want_repaired) << "len " << len << " at " << at;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 20000u);
}

TEST(MsgpackToJson, BinIsBase64OrNullOnRequest) {
  std::string doc;
  AppendArrayHeader(&doc, 4);
  AppendBin(&doc, "");
  AppendBin(&doc, "f");
  AppendBin(&doc, "fo");
  AppendBin(&doc, "foo");
  JsonStats stats;
  EXPECT_EQ(ToJson(doc, &stats), R"(["","Zg==","Zm8=","Zm9v"])");
  EXPECT_EQ(stats.bin_values, 4u);
  JsonOptions opts;
  opts.bin_as_base64 = false;
  EXPECT_EQ(ToJson(doc, nullptr, opts), "[null,null,null,null]");
}

TEST(MsgpackToJson, ExtValuesBecomeNull) {
  std::string doc("\x92\xd4\x01\x02\xc7\x02\x05\xaa\xbb", 9);
  JsonStats stats;
  EXPECT_EQ(ToJson(doc, &stats), "[null,null]");
  EXPECT_EQ(stats.ext_values, 2u);
}

TEST(MsgpackToJson, NonStringKeysAreConvertedAndContainerKeysSkipped) {
  std::string doc;
  AppendMapHeader(&doc, 6);
  AppendUint(&doc, 1);
  AppendStr(&doc, "one");
  AppendBool(&doc, true);
  AppendStr(&doc, "t");
  AppendNil(&doc);
  AppendStr(&doc, "n");
  AppendArrayHeader(&doc, 1);  // container key: skipped with its value
  AppendUint(&doc, 1);
  AppendStr(&doc, "skipped");
  AppendFloat64(&doc, 1.5);
  AppendStr(&doc, "f");
  AppendBin(&doc, "bk");
  AppendStr(&doc, "b");
  JsonStats stats;
  EXPECT_EQ(ToJson(doc, &stats), R"({"1":"one","true":"t","null":"n","1.5":"f","bk":"b"})");
  EXPECT_EQ(stats.skipped_keys, 1u);
  EXPECT_EQ(stats.converted_keys, 5u);
}

TEST(MsgpackToJson, SkippedFirstKeyLeavesNoStrayComma) {
  std::string doc;
  AppendMapHeader(&doc, 2);
  AppendMapHeader(&doc, 0);
  AppendUint(&doc, 1);
  AppendStr(&doc, "k");
  AppendUint(&doc, 2);
  EXPECT_EQ(ToJson(doc), R"({"k":2})");
}

TEST(MsgpackToJson, DepthLimitIsEnforcedWithoutRecursion) {
  JsonOptions opts;
  opts.max_depth = 8;
  std::string ok(8, '\x91');
  ok.push_back('\xc0');
  std::string out;
  EXPECT_TRUE(MsgpackToJson(ok, &out, opts).ok());
  EXPECT_EQ(out, "[[[[[[[[null]]]]]]]]");
  std::string deep(9, '\x91');
  deep.push_back('\xc0');
  out.clear();
  const absl::Status st = MsgpackToJson(deep, &out, opts);
  EXPECT_NE(std::string(st.message()).find("depth limit"), std::string::npos) << st;
  // Default limit against a hostile document of a million levels.
  std::string hostile(1'000'000, '\x91');
  out.clear();
  EXPECT_FALSE(MsgpackToJson(hostile, &out).ok());
}

TEST(MsgpackToJson, RejectsTrailingBytesAndTruncation) {
  std::string out;
  EXPECT_FALSE(MsgpackToJson(std::string("\x80\x80", 2), &out).ok());
  out.clear();
  EXPECT_FALSE(MsgpackToJson(std::string("\x82\xa1k", 3), &out).ok());
  out.clear();
  EXPECT_FALSE(MsgpackToJson("", &out).ok());
}

// Property: any document nlohmann::json can encode transcodes back to an equal JSON value.
nlohmann::json RandomJson(std::mt19937_64& rng, int depth) {
  switch (depth > 3 ? rng() % 5 : rng() % 7) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<int64_t>(rng());
    case 3: return rng();
    case 4: {
      std::string s(rng() % 40, ' ');
      for (char& c : s) c = static_cast<char>(0x20 + rng() % 0x5f);
      if (rng() % 3 == 0) s += "\xc3\xa9\xe2\x82\xac";
      return s;
    }
    case 5: {
      nlohmann::json a = nlohmann::json::array();
      for (int i = rng() % 6; i > 0; --i) a.push_back(RandomJson(rng, depth + 1));
      return a;
    }
    default: {
      nlohmann::json o = nlohmann::json::object();
      for (int i = rng() % 6; i > 0; --i) o["k" + std::to_string(rng() % 100)] = RandomJson(rng, depth + 1);
      if (rng() % 2) o["f"] = std::ldexp(static_cast<double>(rng() % 1000000), -(int)(rng() % 60));
      return o;
    }
  }
}

TEST(MsgpackToJson, RandomDocumentsRoundTripThroughAnIndependentDecoder) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const nlohmann::json value = RandomJson(rng, 0);
    const std::vector<uint8_t> packed = nlohmann::json::to_msgpack(value);
    std::string out;
    const absl::Status st = MsgpackToJson(
        std::string_view(reinterpret_cast<const char*>(packed.data()), packed.size()), &out);
    ASSERT_TRUE(st.ok()) << st;
    const nlohmann::json back = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(back.is_discarded()) << out;
    ASSERT_EQ(back, value) << out;
  }
}

}  // namespace
}  // namespace llmobs_edge::decoder
