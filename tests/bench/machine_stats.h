#pragma once
// What the benchmark programs (codec, proxy, rescue) read off the machine for their reports:
// files under /proc, the CPU model, the load average, machine-wide CPU ticks and the program's
// own CPU time. One copy, so the three reports measure contention the same way.

#include <cstdint>
#include <ostream>
#include <string>

namespace llmobs_edge::bench {

// The whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);

// The value after "key: " on the first line of `path` starting with `prefix` ("unknown" if none),
// e.g. FirstLineWith("/proc/cpuinfo", "model name").
std::string FirstLineWith(const std::string& path, const std::string& prefix);

// The 1, 5 and 15 minute load averages from /proc/loadavg, e.g. "1.58 2.74 2.64".
std::string LoadAverage();

// Machine-wide CPU ticks from /proc/stat's "cpu" line.
struct MachineTicks {
  uint64_t all = 0;     // every state
  uint64_t busy = 0;    // all - idle - iowait
  uint64_t steal = 0;   // taken by the hypervisor
  uint64_t iowait = 0;  // idle with I/O outstanding
};
MachineTicks ReadMachineTicks();

// user + system CPU seconds of this process (getrusage).
double SelfCpuSeconds();

// The opening lines every benchmark report shares: "# llmobs-edge <title>" (with the --quick
// mark), then the date, the machine (CPUs, CPU model, kernel) and the build mode, one "- " line
// each.
void PrintReportHeader(std::ostream& out, const std::string& title, bool quick);

}  // namespace llmobs_edge::bench
