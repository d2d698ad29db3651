#pragma once
// The edits the benchmark asks the splicer for, shared by the main table and the breakdown. On
// every span carrying meta_struct["_llmobs"] it records what rescue records (mark the span
// submitted, drop the struct); a payload without any gets one SetMeta on 1% of its spans instead,
// so the splice path still runs on web traffic.

#include <cstdint>

#include "decoder/payload.h"
#include "decoder/splice.h"

namespace llmobs_edge::bench {

enum class EditMode {
  kAll,             // SetMeta + RemoveMetaStruct (what the benchmark measures)
  kSetMetaOnly,     // breakdown: only the SetMeta half
  kRemoveOnly,      // breakdown: only the RemoveMetaStruct half
};

inline void RecordEdits(const decoder::Payload& p, decoder::EditList* edits,
                        EditMode mode = EditMode::kAll) {
  edits->Clear();
  if (p.llmobs_spans > 0) {
    for (const auto& s : p.spans) {
      if (!s.has_llmobs) continue;
      if (mode != EditMode::kRemoveOnly) edits->SetMeta(s.index, "_dd.llmobs.submitted", "1");
      if (mode != EditMode::kSetMetaOnly) edits->RemoveMetaStruct(s.index, "_llmobs");
    }
  } else if (mode != EditMode::kRemoveOnly) {
    for (uint32_t i = 0; i < p.spans.size(); i += 100) {
      edits->SetMeta(i, "_dd.llmobs.submitted", "1");
    }
  }
}

}  // namespace llmobs_edge::bench
