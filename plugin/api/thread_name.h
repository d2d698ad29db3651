#pragma once
// Names the calling thread (Linux: at most 15 bytes, shown in /proc/PID/task/TID/comm, top -H,
// gdb and perf), so operators and the benchmarks can tell the edge's threads apart. Used by the
// service's ingest and pipeline threads, the intake sender and the ledger's maintenance thread.

#include <pthread.h>

#include <string>
#include <string_view>

namespace llmobs_edge::plugin {

inline void SetCurrentThreadName(std::string_view name) {
  const std::string n(name.substr(0, 15));
  pthread_setname_np(pthread_self(), n.c_str());
}

}  // namespace llmobs_edge::plugin
