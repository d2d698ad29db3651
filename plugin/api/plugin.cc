#include "plugin/api/plugin.h"

#include "absl/strings/match.h"

namespace llmobs_edge::plugin {

std::string_view RouteModeName(RouteMode mode) {
  switch (mode) {
    case RouteMode::kTraceStages:
      return "trace stages";
    case RouteMode::kFilterAnswer:
      return "forwarded, answer filtered";
    case RouteMode::kBuffered:
      return "buffered, handled";
  }
  return "?";
}

std::string_view RouteRequest::Header(std::string_view name) const {
  for (const auto& [n, value] : headers) {
    if (absl::EqualsIgnoreCase(absl::string_view(n.data(), n.size()),
                               absl::string_view(name.data(), name.size()))) {
      return value;
    }
  }
  return {};
}

}  // namespace llmobs_edge::plugin
