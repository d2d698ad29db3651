#include "decoder/prefilter.h"

#include <random>
#include <vector>
#include <string>

#include "gtest/gtest.h"

namespace llmobs_edge::decoder {
namespace {

TEST(Prefilter, FindsKeyAtEveryOffsetAndAlignment) {
  for (size_t len : {7u, 8u, 31u, 63u, 64u, 65u, 100u, 200u, 1000u}) {
    for (size_t at = 0; at + 7 <= len; ++at) {
      std::string h(len, 'x');
      h.replace(at, 7, "_llmobs");
      ASSERT_EQ(FindBytes(h, "_llmobs"), at) << len << " " << at;
      ASSERT_TRUE(MayContainLlmobs(h));
    }
  }
}

TEST(Prefilter, IgnoresNearMissesWithMatchingFirstAndLastByte) {
  std::string h;
  for (int i = 0; i < 500; ++i) h += "_llmoXs_lsmobs__llmob";
  EXPECT_FALSE(MayContainLlmobs(h));
  h += "_llmobs";
  EXPECT_EQ(FindBytes(h, "_llmobs"), h.size() - 7);
}

TEST(Prefilter, AgreesWithStdFindOnRandomInput) {
  std::mt19937 rng(42);
  const std::string alphabet = "_lmobsx";
  for (int round = 0; round < 2000; ++round) {
    std::string h(rng() % 300, ' ');
    for (char& ch : h) ch = alphabet[rng() % alphabet.size()];
    for (std::string needle : {"_llmobs", "s", "_l", "obs_l"}) {
      ASSERT_EQ(FindBytes(h, needle), h.find(needle)) << h << " / " << needle;
    }
  }
}

TEST(Prefilter, EveryImplementationAgreesWithStdFind) {
  using Impl = size_t (*)(std::string_view, std::string_view);
  std::vector<Impl> impls = {internal::FindBytesScalar, internal::FindBytesSse2};
  if (internal::CpuHasAvx2()) impls.push_back(internal::FindBytesAvx2);
  std::mt19937 rng(7);
  const std::string alphabet = "_lmobs";
  for (int round = 0; round < 3000; ++round) {
    // Exact-size copies so ASan sees any read past the end.
    std::string h(rng() % 200 + 7, ' ');
    for (char& ch : h) ch = alphabet[rng() % alphabet.size()];
    for (const std::string needle : {"_llmobs", "_l", "s", "mobs_llmobs"}) {
      if (needle.size() > h.size()) continue;
      const size_t expected = h.find(needle);
      for (Impl impl : impls) ASSERT_EQ(impl(h, needle), expected) << h << " / " << needle;
    }
  }
}

TEST(Prefilter, HandlesEmptyAndShortInputs) {
  EXPECT_FALSE(MayContainLlmobs(""));
  EXPECT_FALSE(MayContainLlmobs("_llmob"));
  EXPECT_TRUE(MayContainLlmobs("_llmobs"));
  EXPECT_EQ(FindBytes("abc", ""), 0u);
}

}  // namespace
}  // namespace llmobs_edge::decoder
