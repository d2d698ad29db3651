#pragma once
// The clock stages and the service read time from, injected so tests use a fake clock. Wall time
// (absl::Now) for timestamps; monotonic readings (steady) for durations and deadlines.

#include <chrono>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace llmobs_edge::plugin {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  virtual std::chrono::steady_clock::time_point Steady() const = 0;
};

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::now();
  }
};

// Tests: time moves only when told to.
class FakeClock final : public Clock {
 public:
  absl::Time Now() const override { return now_; }
  std::chrono::steady_clock::time_point Steady() const override { return steady_; }
  void Advance(absl::Duration d) {
    now_ += d;
    steady_ += absl::ToChronoNanoseconds(d);
  }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  std::chrono::steady_clock::time_point steady_{};
};

}  // namespace llmobs_edge::plugin
