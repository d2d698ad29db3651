#pragma once
// Drop prediction: decides, per chunk of a decoded v0.4 payload, whether the Datadog Agent will
// drop it, using the Agent's own rules (shared/DESIGN.md "The rescue rule"): the chunk root and
// priority exactly as the Agent determines them, priority <= 0 or none, and the normalizer's
// whole-chunk drops (zero ids, mixed trace ids). Pure and allocation-free; the rescue stage and
// `llmobs-edge inspect` call it, and it also says how each _llmobs span of the chunk would fare.

#include <cstdint>
#include <string_view>

#include "decoder/payload.h"
#include "rescue/agent_filters.h"

namespace llmobs_edge::rescue {

struct DropPolicy {
  // A chunk without any _sampling_priority_v1 is left to the Agent's score sampler, which may
  // drop it; by default the edge does not bet an LLM event on it and predicts a drop.
  bool rescue_without_priority = true;
  // The Agent's ignore_resources / filter_tags / filter_tags_regex, learned from its /info;
  // null = none known.
  const AgentFilters* filters = nullptr;
};

enum class ChunkFate : uint8_t {
  kKept,             // priority > 0: the Agent keeps it, events ride the trace
  kEmpty,            // no spans: nothing to do
  kPriorityDrop,     // priority <= 0
  kNoPriority,       // no priority and DropPolicy::rescue_without_priority
  kNoPriorityKept,   // no priority, left to the Agent's sampler (policy says so)
  kZeroId,           // the normalizer drops chunks with a zero trace_id or span_id
  kMixedTraceIds,    // ... and chunks whose spans do not share one trace_id
  kIgnoredResource,  // the Agent's ignore_resources matches the root resource
  kFilteredByTags,   // the Agent's filter_tags / filter_tags_regex reject the root
};

// Stable, low-cardinality name (counters, inspect output): "kept", "priority_drop", ...
std::string_view ChunkFateName(ChunkFate fate);

struct ChunkVerdict {
  ChunkFate fate = ChunkFate::kEmpty;
  bool predicted_drop = false;
  int32_t root = -1;        // index into Payload::spans, -1 for an empty chunk
  bool has_priority = false;
  double priority = 0;
  int32_t priority_span = -1;  // the span whose metric gave the priority
};

// The Agent's traceutil.GetRoot, made deterministic as libdatadog does it: the last span whose
// parent_id is 0 (after the normalizer's parent_id == trace_id == span_id fix-up), else the last
// span whose parent is not in the chunk, else the last span. -1 for an empty chunk.
int32_t FindRoot(const decoder::Payload& payload, const decoder::ChunkView& chunk);

ChunkVerdict PredictChunk(const decoder::Payload& payload, const decoder::ChunkView& chunk,
                          const DropPolicy& policy);

// What happens to one span's meta_struct["_llmobs"] given its chunk's verdict.
enum class SpanFate : uint8_t {
  kNoLlmobs,           // the span carries no _llmobs
  kAlreadySubmitted,   // meta _dd.llmobs.submitted == "1": the SDK shipped it; never again
  kRidesTrace,         // chunk kept: the intake extracts it from the trace
  kRidesSingleSpan,    // chunk dropped by sampling, but single-span sampling keeps this span
  kRescue,             // predicted lost: the edge must deliver it
};

std::string_view SpanFateName(SpanFate fate);

SpanFate PredictSpan(const decoder::SpanView& span, const ChunkVerdict& chunk);

}  // namespace llmobs_edge::rescue
