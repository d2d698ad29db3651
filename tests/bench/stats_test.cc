// The benchmark reports' statistics (tests/bench/stats.h): the figures behind every PASS/MISS.

#include "tests/bench/stats.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "gtest/gtest.h"

namespace llmobs_edge::bench {
namespace {

TEST(StatsTest, PercentileIsNearestRank) {
  EXPECT_EQ(Percentile({}, 0.5), 0);
  EXPECT_EQ(Percentile({3, 1, 2}, 0.5), 2);
  EXPECT_EQ(Percentile({3, 1, 2}, 1.0), 3);
  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  EXPECT_EQ(Percentile(hundred, 0.99), 99);
  EXPECT_EQ(Percentile(hundred, 0.5), 50);
  EXPECT_EQ(Percentile(hundred, 0.001), 1);
}

TEST(StatsTest, SummarizeOddEvenEmpty) {
  const Spread odd = Summarize({5, 1, 3});
  EXPECT_EQ(odd.n, 3u);
  EXPECT_EQ(odd.median, 3);
  EXPECT_EQ(odd.min, 1);
  EXPECT_EQ(odd.max, 5);
  const Spread even = Summarize({4, 1, 2, 10});
  EXPECT_EQ(even.median, 3);
  EXPECT_EQ(even.min, 1);
  EXPECT_EQ(even.max, 10);
  EXPECT_EQ(Summarize({}).n, 0u);
}

TEST(StatsTest, SummarizeSkipsNanAndSortsInfinityLast) {
  const double inf = std::numeric_limits<double>::infinity();
  const Spread s = Summarize({std::nan(""), 2, inf, 1});
  EXPECT_EQ(s.n, 3u);
  EXPECT_EQ(s.median, 2);
  EXPECT_EQ(s.min, 1);
  EXPECT_TRUE(std::isinf(s.max));
}

TEST(StatsTest, FormatSpread) {
  EXPECT_EQ(FormatSpread(Summarize({}), "%.1f"), "—");
  EXPECT_EQ(FormatSpread(Summarize({0.25}), "%.2f"), "0.25");
  EXPECT_EQ(FormatSpread(Summarize({0.3, 0.1, 0.2}), "%.1f"), "0.2 (0.1–0.3)");
  EXPECT_EQ(FormatSpread(Summarize({100, 100.2, 99.9}), "%.0f"), "100");  // no spread to show
  EXPECT_EQ(FormatSpreadThousands(Summarize({12345, 1000, 2000000})), "12,345 (1,000–2,000,000)");
  const auto never = [](double v) { return std::isinf(v) ? std::string("never") : Fmt("%.0f", v); };
  EXPECT_EQ(FormatSpread(Summarize({1, std::numeric_limits<double>::infinity(), 2}), never),
            "2 (1–never)");
}

TEST(StatsTest, Thousands) {
  EXPECT_EQ(Thousands(0), "0");
  EXPECT_EQ(Thousands(999.6), "1,000");
  EXPECT_EQ(Thousands(-1234567), "-1,234,567");
}

TEST(StatsTest, TargetLines) {
  std::vector<TargetLine> lines = {
      {"1 MiB: edge CPU <= 0.5 s/GB", "0.41 s/GB", true, true, false},
      {"20 MiB: added p50 < 10 ms", "12.0 ms", false, true, false},
      {"1 MiB over the Unix socket", "1.5 ms", false, true, true},
      {"10 KiB: edge CPU <= 40 µs per request", "", false, false, false},
  };
  std::ostringstream out;
  PrintTargets(out, lines);
  EXPECT_EQ(out.str(),
            "- **PASS** 1 MiB: edge CPU <= 0.5 s/GB: 0.41 s/GB\n"
            "- **MISS** 20 MiB: added p50 < 10 ms: 12.0 ms\n"
            "- **MISS** (informative) 1 MiB over the Unix socket: 1.5 ms\n"
            "- n/a 10 KiB: edge CPU <= 40 µs per request: not measured\n");
  EXPECT_EQ(TargetsPassed(lines), 1);
  EXPECT_EQ(TargetsMissed(lines), 1);
}

}  // namespace
}  // namespace llmobs_edge::bench
