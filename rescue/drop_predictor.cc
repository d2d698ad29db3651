#include "rescue/drop_predictor.h"

namespace llmobs_edge::rescue {
namespace {

using decoder::ChunkView;
using decoder::Payload;
using decoder::SpanView;

// The normalizer sets parent_id = 0 when parent_id == trace_id == span_id.
uint64_t EffectiveParent(const SpanView& s) {
  return (s.parent_id == s.trace_id && s.parent_id == s.span_id) ? 0 : s.parent_id;
}

// Chunks are small (tens of spans); the quadratic parent lookup beats building a hash set, and
// large chunks only reach it when no span has parent_id 0.
bool HasSpanId(const SpanView* begin, const SpanView* end, uint64_t id) {
  for (const SpanView* s = begin; s != end; ++s) {
    if (s->span_id == id) return true;
  }
  return false;
}

}  // namespace

std::string_view ChunkFateName(ChunkFate fate) {
  switch (fate) {
    case ChunkFate::kKept: return "kept";
    case ChunkFate::kEmpty: return "empty";
    case ChunkFate::kPriorityDrop: return "priority_drop";
    case ChunkFate::kNoPriority: return "no_priority";
    case ChunkFate::kNoPriorityKept: return "no_priority_left_to_agent";
    case ChunkFate::kZeroId: return "zero_id";
    case ChunkFate::kMixedTraceIds: return "mixed_trace_ids";
    case ChunkFate::kIgnoredResource: return "agent_ignored_resource";
    case ChunkFate::kFilteredByTags: return "agent_filtered_by_tags";
  }
  return "unknown";
}

std::string_view SpanFateName(SpanFate fate) {
  switch (fate) {
    case SpanFate::kNoLlmobs: return "no_llmobs";
    case SpanFate::kAlreadySubmitted: return "already_submitted";
    case SpanFate::kRidesTrace: return "rides_trace";
    case SpanFate::kRidesSingleSpan: return "rides_single_span_sampling";
    case SpanFate::kRescue: return "rescue";
  }
  return "unknown";
}

int32_t FindRoot(const Payload& payload, const ChunkView& chunk) {
  const SpanView* begin = payload.chunk_begin(chunk);
  const SpanView* end = payload.chunk_end(chunk);
  if (begin == end) return -1;
  for (const SpanView* s = end; s != begin;) {
    --s;
    if (EffectiveParent(*s) == 0) return static_cast<int32_t>(s->index);
  }
  for (const SpanView* s = end; s != begin;) {
    --s;
    if (!HasSpanId(begin, end, s->parent_id)) return static_cast<int32_t>(s->index);
  }
  return static_cast<int32_t>((end - 1)->index);
}

ChunkVerdict PredictChunk(const Payload& payload, const ChunkView& chunk,
                          const DropPolicy& policy) {
  ChunkVerdict v;
  const SpanView* begin = payload.chunk_begin(chunk);
  const SpanView* end = payload.chunk_end(chunk);
  if (begin == end) return v;

  v.root = FindRoot(payload, chunk);
  const SpanView& root = payload.spans[v.root];
  if (root.has_priority) {
    v.has_priority = true;
    v.priority = root.priority;
    v.priority_span = v.root;
  } else {
    for (const SpanView* s = begin; s != end; ++s) {
      if (s->has_priority) {
        v.has_priority = true;
        v.priority = s->priority;
        v.priority_span = static_cast<int32_t>(s->index);
        break;
      }
    }
  }

  // The normalizer runs first and drops the whole chunk.
  bool zero_id = false;
  bool mixed = false;
  for (const SpanView* s = begin; s != end; ++s) {
    zero_id |= s->trace_id == 0 || s->span_id == 0;
    mixed |= s->trace_id != begin->trace_id;
  }
  if (zero_id) {
    v.fate = ChunkFate::kZeroId;
  } else if (mixed) {
    v.fate = ChunkFate::kMixedTraceIds;
  } else if (const AgentFilters::Verdict f =
                 policy.filters ? policy.filters->Check(payload, root)
                                : AgentFilters::Verdict::kAllowed;
             f != AgentFilters::Verdict::kAllowed) {
    // Then the Agent's filters, on the root, before any sampler.
    v.fate = f == AgentFilters::Verdict::kIgnoredResource ? ChunkFate::kIgnoredResource
                                                           : ChunkFate::kFilteredByTags;
  } else if (v.has_priority) {
    // The Agent truncates the metric to an integer: int32(root.Metrics[...]).
    v.fate = static_cast<int32_t>(v.priority) > 0 ? ChunkFate::kKept : ChunkFate::kPriorityDrop;
  } else {
    v.fate = policy.rescue_without_priority ? ChunkFate::kNoPriority : ChunkFate::kNoPriorityKept;
  }
  v.predicted_drop = v.fate == ChunkFate::kZeroId || v.fate == ChunkFate::kMixedTraceIds ||
                     v.fate == ChunkFate::kIgnoredResource ||
                     v.fate == ChunkFate::kFilteredByTags ||
                     v.fate == ChunkFate::kPriorityDrop || v.fate == ChunkFate::kNoPriority;
  return v;
}

SpanFate PredictSpan(const SpanView& span, const ChunkVerdict& chunk) {
  if (!span.has_llmobs) return SpanFate::kNoLlmobs;
  if (span.llmobs_already_submitted()) return SpanFate::kAlreadySubmitted;
  if (!chunk.predicted_drop) return SpanFate::kRidesTrace;
  // Single-span sampling keeps such spans of a chunk that sampling dropped (not of one the
  // normalizer dropped: that happens before sampling).
  const bool sampling_drop =
      chunk.fate == ChunkFate::kPriorityDrop || chunk.fate == ChunkFate::kNoPriority;
  if (sampling_drop && span.has_span_sampling && span.span_sampling_mechanism == 8) {
    return SpanFate::kRidesSingleSpan;
  }
  return SpanFate::kRescue;
}

}  // namespace llmobs_edge::rescue
