#pragma once
// Sub-step timings that locate where the codec's time goes, printed after the main table: scan +
// splice split into read, edit recording, and splice (with all edits, with only SetMeta, with only
// RemoveMetaStruct, with none), and the _llmobs -> JSON transcoder split into its string escaping
// and the rest. Also a --profile loop so `perf record` can attribute one operation.

#include <string>
#include <string_view>
#include <vector>

#include "tests/bench/timing.h"

namespace llmobs_edge::bench {

struct NamedPayload {
  std::string name;
  std::string_view bytes;
};

// Prints the two breakdown tables (markdown) for `files`.
void PrintBreakdown(const std::vector<NamedPayload>& files, const TimingBudget& budget);

// Runs one operation ("scan", "splice", "splice-only", "json", "prefilter") over `bytes` for `seconds`, for
// profilers. Returns the number of calls.
uint64_t ProfileLoop(const std::string& op, std::string_view bytes, double seconds);

}  // namespace llmobs_edge::bench
