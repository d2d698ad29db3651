#pragma once
// Steady-state timing for the codec benchmark. Each operation is warmed up, a run is sized to last
// a fixed wall time, and several runs give the best and the median time per call. Operations are
// registered with Interleaved and timed round-robin (run 1 of every operation, then run 2 of
// every operation, ...), so a burst of load from another process on this shared machine spoils
// one run of many cells instead of every run of one cell. Wall-clock timing on one thread; each
// call's result is folded into a sink so the compiler cannot drop the work.

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <utility>
#include <vector>

namespace llmobs_edge::bench {

struct TimingBudget {
  double warmup_seconds = 0.05;  // run each operation at least this long before measuring
  double run_seconds = 0.12;     // each timed run lasts about this long
  int runs = 5;                  // timed runs per operation (>= ~0.6 s of work per cell)
};

// Seconds per call of one operation: the fastest run and the median run.
struct Timing {
  double best = 0;
  double median = 0;
  uint64_t calls = 0;     // calls timed in all runs together
  double cpu_share = 1;   // thread CPU time / wall time over the timed runs (< 1: preempted)
};

// Keeps `v` alive as far as the optimizer is concerned.
template <typename T>
inline void DoNotOptimize(const T& v) {
  asm volatile("" : : "r,m"(v) : "memory");
}

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU time consumed by the calling thread, in seconds.
inline double ThreadCpuNow() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

class Interleaved {
 public:
  // Registers `op` (no arguments, returns something integral) to be timed into `*out` by Run().
  // Whatever `op` refers to must stay alive until Run() returns.
  template <typename Op>
  void Add(Op op, Timing* out) {
    Job& j = jobs_.emplace_back();
    j.fn = [op](uint64_t n) mutable {
      uint64_t sink = 0;
      for (uint64_t i = 0; i < n; ++i) sink += static_cast<uint64_t>(op());
      return sink;
    };
    j.out = out;
  }

  void Run(const TimingBudget& budget, const char* what) {
    uint64_t sink = 0;
    // Warm-up (caches, branch predictors, the capacity of every reused buffer) and sizing.
    for (Job& j : jobs_) {
      const double t0 = Now();
      uint64_t calls = 0;
      double elapsed = 0;
      do {
        sink += j.fn(1);
        ++calls;
        elapsed = Now() - t0;
      } while (elapsed < budget.warmup_seconds || calls < 2);
      j.calls_per_run = std::max<uint64_t>(
          1, static_cast<uint64_t>(budget.run_seconds / (elapsed / static_cast<double>(calls))));
    }
    for (int r = 0; r < budget.runs; ++r) {
      std::fprintf(stderr, "  %s: pass %d of %d over %zu operations\n", what, r + 1, budget.runs,
                   jobs_.size());
      for (Job& j : jobs_) {
        const double cpu0 = ThreadCpuNow();
        const double wall0 = Now();
        sink += j.fn(j.calls_per_run);
        const double wall = Now() - wall0;
        j.cpu += ThreadCpuNow() - cpu0;
        j.wall += wall;
        j.samples.push_back(wall / static_cast<double>(j.calls_per_run));
      }
    }
    DoNotOptimize(sink);
    for (Job& j : jobs_) {
      std::sort(j.samples.begin(), j.samples.end());
      j.out->best = j.samples.front();
      j.out->median = j.samples[j.samples.size() / 2];
      j.out->calls = j.calls_per_run * j.samples.size();
      j.out->cpu_share = j.cpu / j.wall;
    }
    jobs_.clear();
  }

 private:
  struct Job {
    std::function<uint64_t(uint64_t)> fn;  // performs n calls of the operation
    Timing* out = nullptr;
    uint64_t calls_per_run = 1;
    std::vector<double> samples;
    double cpu = 0, wall = 0;
  };
  std::vector<Job> jobs_;
};

}  // namespace llmobs_edge::bench
