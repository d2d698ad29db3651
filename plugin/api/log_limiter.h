#pragma once
// LogLimiter: lets a warning through at most once per interval and counts the ones it held back,
// so degraded modes (the Agent unreachable, payloads failing open) are logged without ever turning
// into a log line per request or per span. Lock-free; shared by the threads that hit the condition.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace llmobs_edge::plugin {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::steady_clock::duration interval = std::chrono::seconds(60))
      : interval_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(interval).count()) {}

  // True when this occurrence should be logged; `*suppressed` is then the number of occurrences
  // held back since the last one that was logged.
  bool Allow(uint64_t* suppressed) {
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    int64_t next = next_ns_.load(std::memory_order_relaxed);
    if (now >= next &&
        next_ns_.compare_exchange_strong(next, now + interval_ns_, std::memory_order_relaxed)) {
      *suppressed = held_back_.exchange(0, std::memory_order_relaxed);
      return true;
    }
    held_back_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

 private:
  const int64_t interval_ns_;
  std::atomic<int64_t> next_ns_{0};
  std::atomic<uint64_t> held_back_{0};
};

}  // namespace llmobs_edge::plugin
