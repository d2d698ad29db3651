#include "plugin/api/buffer_pool.h"

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace llmobs_edge::plugin {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = BufferPool::TimePoint;

constexpr size_t kMiB = 1u << 20;

TEST(ByteBufferTest, GrowingKeepsTheBytesAlreadyWritten) {
  ByteBuffer b(10);
  b.Append("hello");
  b.ResizeUninitialized(3 * kMiB);  // moves to a mapping
  EXPECT_EQ(std::string(b.data(), 5), "hello");
  EXPECT_EQ(b.size(), 3 * kMiB);
  EXPECT_GE(b.capacity(), 3 * kMiB);
  b.data()[3 * kMiB - 1] = 'x';  // the whole size is writable
  b.Clear();
  EXPECT_EQ(b.size(), 0u);
  EXPECT_GE(b.capacity(), 3 * kMiB);
}

TEST(ByteBufferTest, CapacitiesAreSizeClasses) {
  EXPECT_EQ(ByteBuffer::CapacityFor(0), 4096u);
  EXPECT_EQ(ByteBuffer::CapacityFor(4097), 8192u);
  EXPECT_EQ(ByteBuffer::CapacityFor(1048756), 2 * kMiB);
  EXPECT_EQ(ByteBuffer::CapacityFor(20 * kMiB + 1), 32 * kMiB);
}

TEST(ByteBufferTest, MoveLeavesTheSourceEmpty) {
  ByteBuffer a(100);
  a.Append("abc");
  ByteBuffer b = std::move(a);
  EXPECT_EQ(b.view(), "abc");
  EXPECT_EQ(a.capacity(), 0u);  // NOLINT(bugprone-use-after-move): checked on purpose
  EXPECT_EQ(a.data(), nullptr);
}

TEST(BufferPoolTest, AGivenBackBufferIsReusedWithItsStorage) {
  BufferPool pool;
  const TimePoint t0{};
  ByteBuffer a = pool.Acquire(kMiB + 100, t0);
  const char* storage = a.data();
  a.ResizeUninitialized(kMiB + 100);
  pool.Release(std::move(a), t0);
  ByteBuffer b = pool.Acquire(kMiB, t0);  // same size class
  EXPECT_EQ(b.data(), storage);
  EXPECT_EQ(b.size(), 0u);
  const BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.acquired, 2u);
  EXPECT_EQ(s.allocated, 1u);
  EXPECT_EQ(s.reused, 1u);
  EXPECT_EQ(s.leased_bytes, 2 * kMiB);
  EXPECT_EQ(s.idle_bytes, 0u);
}

TEST(BufferPoolTest, AcquireTakesTheSmallestIdleBufferThatFits) {
  BufferPool pool;
  const TimePoint t0{};
  ByteBuffer small = pool.Acquire(5000, t0);
  ByteBuffer mid = pool.Acquire(kMiB, t0);
  ByteBuffer big = pool.Acquire(16 * kMiB, t0);
  const char* mid_storage = mid.data();
  pool.Release(std::move(big), t0);
  pool.Release(std::move(small), t0);
  pool.Release(std::move(mid), t0);
  ByteBuffer got = pool.Acquire(600 * 1024, t0);
  EXPECT_EQ(got.data(), mid_storage);
  EXPECT_EQ(got.capacity(), kMiB);
  EXPECT_EQ(pool.stats().idle_buffers, 2u);
}

TEST(BufferPoolTest, ABufferOverTheIdleBoundIsFreedAtOnce) {
  BufferPool pool(BufferPoolOptions{.max_idle_bytes = 4 * kMiB});
  const TimePoint t0{};
  ByteBuffer a = pool.Acquire(3 * kMiB, t0);  // 4 MiB class
  ByteBuffer b = pool.Acquire(3 * kMiB, t0);
  pool.Release(std::move(a), t0);
  pool.Release(std::move(b), t0);
  const BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.idle_bytes, 4 * kMiB);
  EXPECT_EQ(s.idle_buffers, 1u);
  EXPECT_EQ(s.freed, 1u);
}

TEST(BufferPoolTest, IdleBuffersBeyondTheWarmSetAreFreedAfterTheIdleTime) {
  BufferPool pool(BufferPoolOptions{
      .max_idle_bytes = 256 * kMiB, .warm_bytes = 2 * kMiB, .idle_release = milliseconds(5000)});
  const TimePoint t0{};
  std::vector<ByteBuffer> held;
  held.push_back(pool.Acquire(kMiB, t0));       // 1 MiB: warm
  held.push_back(pool.Acquire(20 * kMiB, t0));  // 32 MiB: not
  held.push_back(pool.Acquire(20 * kMiB, t0));
  for (auto& b : held) pool.Release(std::move(b), t0);
  EXPECT_EQ(pool.stats().idle_bytes, 65 * kMiB);

  EXPECT_EQ(pool.Trim(t0 + seconds(4)), 0u);  // not idle long enough
  EXPECT_EQ(pool.Trim(t0 + seconds(5)), 64 * kMiB);
  const BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.idle_bytes, kMiB);
  EXPECT_EQ(s.idle_buffers, 1u);
  EXPECT_EQ(pool.Trim(t0 + seconds(3600)), 0u);  // the warm set stays
}

TEST(BufferPoolTest, ReleaseAndAcquireTrimAtMostOncePerSecond) {
  BufferPool pool(BufferPoolOptions{.warm_bytes = 0, .idle_release = milliseconds(100)});
  const TimePoint t0 = TimePoint{} + seconds(100);
  ByteBuffer a = pool.Acquire(8 * kMiB, t0);
  pool.Release(std::move(a), t0);  // trims (first time): nothing idle long enough
  EXPECT_EQ(pool.stats().idle_buffers, 1u);
  ByteBuffer b = pool.Acquire(100, t0 + milliseconds(500));  // within the second: no trim
  EXPECT_EQ(pool.stats().idle_buffers, 1u);
  pool.Release(std::move(b), t0 + milliseconds(1500));  // trims: the 8 MiB one goes
  const BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.idle_buffers, 1u);
  EXPECT_EQ(s.idle_bytes, 4096u);
}

TEST(BufferPoolTest, LeaseGivesTheBufferBackWhenItEnds) {
  BufferPool pool;
  {
    BufferLease lease(&pool, 70000);
    lease->ResizeUninitialized(70000);
    std::memset(lease->data(), 'a', 70000);
    EXPECT_EQ(pool.stats().leased_bytes, 128u * 1024);
  }
  BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.leased_bytes, 0u);
  EXPECT_EQ(s.idle_buffers, 1u);
  BufferLease moved;
  {
    BufferLease lease(&pool, 100);
    moved = std::move(lease);
  }
  EXPECT_EQ(pool.stats().idle_buffers, 1u);  // still on loan through `moved`
  moved.Return();
  EXPECT_EQ(pool.stats().idle_buffers, 2u);
}

TEST(BufferPoolTest, ConcurrentLeasesNeverShareStorage) {
  BufferPool pool;
  std::vector<std::thread> threads;
  std::atomic<int> overlaps{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        BufferLease lease(&pool, 4096 * (1 + (i % 8)));
        lease->ResizeUninitialized(4096);
        std::memset(lease->data(), 'a' + t, 4096);
        std::this_thread::yield();
        for (size_t k = 0; k < 4096; k += 512) {
          if (lease->data()[k] != 'a' + t) overlaps.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(pool.stats().leased_bytes, 0u);
}

}  // namespace
}  // namespace llmobs_edge::plugin
