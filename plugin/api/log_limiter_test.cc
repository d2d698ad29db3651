// Tests of LogLimiter: one occurrence per interval gets through, the rest are counted.

#include "plugin/api/log_limiter.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace llmobs_edge::plugin {
namespace {

TEST(LogLimiter, LetsTheFirstThroughAndCountsTheHeldBackOnes) {
  LogLimiter limiter(std::chrono::milliseconds(200));
  uint64_t suppressed = 99;
  EXPECT_TRUE(limiter.Allow(&suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.Allow(&suppressed));
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_TRUE(limiter.Allow(&suppressed));
  EXPECT_EQ(suppressed, 5u);
}

TEST(LogLimiter, ExactlyOneThreadWinsPerInterval) {
  LogLimiter limiter(std::chrono::hours(1));
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      uint64_t s;
      for (int i = 0; i < 1000; ++i) allowed += limiter.Allow(&s) ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 1);
}

}  // namespace
}  // namespace llmobs_edge::plugin
