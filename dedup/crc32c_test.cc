// CRC-32C: the RFC 3720 test vectors, incremental extension, and the hardware path against the
// portable table on many lengths and alignments.

#include "dedup/crc32c.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace llmobs_edge::dedup {
namespace {

TEST(Crc32c, MatchesKnownVectors) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32c, ExtendEqualsOneShot) {
  const std::string data = "the quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    const std::string_view a = std::string_view(data).substr(0, cut);
    const std::string_view b = std::string_view(data).substr(cut);
    EXPECT_EQ(Crc32cExtend(Crc32c(a), b), Crc32c(data)) << cut;
  }
}

TEST(Crc32c, HardwareAgreesWithPortable) {
  if (!internal::Crc32cHardwareAvailable()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::mt19937 rng(42);
  std::string buffer(4096 + 16, '\0');
  for (char& c : buffer) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4096}) {
      const std::string_view s = std::string_view(buffer).substr(offset, len);
      EXPECT_EQ(internal::Crc32cExtendHardware(0x1234u, s),
                internal::Crc32cExtendPortable(0x1234u, s))
          << offset << " " << len;
    }
  }
}

}  // namespace
}  // namespace llmobs_edge::dedup
