#pragma once
// The report behind `llmobs-edge inspect`: decodes a v0.4 payload and describes, as JSON, each
// chunk (root, priority, predicted-drop verdict and its reason) and each span that carries
// meta_struct["_llmobs"] (the struct as JSON, and whether the edge would rescue it, the SDK
// already submitted it, or it rides the trace). This is what a user runs when LLM spans go missing.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "rescue/drop_predictor.h"

namespace llmobs_edge::plugin {

struct InspectOptions {
  rescue::DropPolicy policy;
  bool pretty = true;           // indented output
  bool include_structs = true;  // embed each _llmobs struct as JSON
};

// The JSON report, or the decoder's error (chunk, span, byte offset and reason).
absl::StatusOr<std::string> BuildInspectReport(std::string_view payload,
                                               const InspectOptions& options);

}  // namespace llmobs_edge::plugin
