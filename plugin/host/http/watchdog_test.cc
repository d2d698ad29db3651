#include "plugin/host/http/watchdog.h"

#include <chrono>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "gtest/gtest.h"

namespace llmobs_edge::http {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// Runs `ioc` for `d` of real time (the watchdog's timer is Asio's steady clock).
void RunFor(asio::io_context& ioc, milliseconds d) {
  ioc.restart();
  ioc.run_for(d);
}

TEST(Watchdog, FiresTheArmedActionAfterTheTimeout) {
  asio::io_context ioc;
  auto dog = Watchdog::Start(ioc.get_executor());
  int fired = 0;
  asio::post(ioc, [&] { dog->Arm(milliseconds(30), [&] { ++fired; }); });
  RunFor(ioc, milliseconds(10));
  EXPECT_EQ(fired, 0);
  EXPECT_FALSE(dog->expired());
  RunFor(ioc, milliseconds(100));
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(dog->expired());
  dog->Stop();
  RunFor(ioc, milliseconds(5));
}

TEST(Watchdog, DisarmedDeadlineNeverFiresEvenWhenTheTimerWakesUp) {
  asio::io_context ioc;
  auto dog = Watchdog::Start(ioc.get_executor());
  int fired = 0;
  asio::post(ioc, [&] {
    dog->Arm(milliseconds(20), [&] { ++fired; });
    dog->Disarm();  // the timer still waits for 20 ms; nothing is due when it wakes
  });
  RunFor(ioc, milliseconds(80));
  EXPECT_EQ(fired, 0);
  EXPECT_FALSE(dog->expired());
  dog->Stop();
  RunFor(ioc, milliseconds(5));
}

TEST(Watchdog, ReArmingPushesTheDeadlineLater) {
  asio::io_context ioc;
  auto dog = Watchdog::Start(ioc.get_executor());
  int first = 0, second = 0;
  asio::post(ioc, [&] { dog->Arm(milliseconds(40), [&] { ++first; }); });
  RunFor(ioc, milliseconds(25));
  asio::post(ioc, [&] { dog->Arm(milliseconds(60), [&] { ++second; }); });
  RunFor(ioc, milliseconds(40));  // past the first deadline: the timer wakes, waits again
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 0);
  RunFor(ioc, milliseconds(100));
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
  dog->Stop();
  RunFor(ioc, milliseconds(5));
}

TEST(Watchdog, AnEarlierDeadlineThanTheTimerWaitsForStillFiresOnTime) {
  asio::io_context ioc;
  auto dog = Watchdog::Start(ioc.get_executor());
  int fired = 0;
  asio::post(ioc, [&] {
    dog->Arm(milliseconds(10000), [] {});
    dog->Arm(milliseconds(20), [&] { ++fired; });
  });
  const auto t0 = std::chrono::steady_clock::now();
  while (fired == 0 && std::chrono::steady_clock::now() - t0 < milliseconds(2000)) {
    RunFor(ioc, milliseconds(10));
  }
  EXPECT_EQ(fired, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(1000));
  dog->Stop();
  RunFor(ioc, milliseconds(5));
}

}  // namespace
}  // namespace llmobs_edge::http
