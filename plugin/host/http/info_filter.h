#pragma once
// Filters the `endpoints` list of the Agent's /info answer: trace formats the edge cannot process
// that could carry meta_struct (/v0.7/traces, /v1.0/traces) are removed so tracers fall back to
// v0.4; everything else, `/evp_proxy/v2/` included, stays exactly as the Agent wrote it, byte for
// byte (only the removed entries and their separators disappear). The HTTP proxy applies it to
// every 200 answer of GET /info.

#include <string>
#include <string_view>
#include <vector>

namespace llmobs_edge::http {

// The endpoints the edge hides from tracers.
const std::vector<std::string_view>& HiddenInfoEndpoints();

// Returns true and writes the filtered document to `out` when `body` is a JSON object whose
// top-level `endpoints` array lists a hidden endpoint; false (leave the body alone) when there is
// nothing to remove or the body is not a JSON object the filter understands.
bool FilterInfoEndpoints(std::string_view body, std::string* out);

}  // namespace llmobs_edge::http
