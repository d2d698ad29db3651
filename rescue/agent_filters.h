#pragma once
// The Agent's trace filters, as it publishes them in /info and applies them to each chunk's root
// span before sampling: `ignore_resources` (regular expressions on the root resource),
// `filter_tags` (exact require/reject on root meta) and `filter_tags_regex` (regex require/reject).
// A chunk they filter never reaches the backend, so its _llmobs events are a predicted drop. Built
// from the /info body (AgentProbe) and used by the drop predictor; RE2 gives Go's regexp semantics.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "decoder/payload.h"
#include "re2/re2.h"

namespace llmobs_edge::rescue {

class AgentFilters {
 public:
  enum class Verdict : uint8_t { kAllowed, kIgnoredResource, kFilteredByTags };

  // No filters: everything is allowed.
  AgentFilters() = default;
  // Parses the filters from an Agent /info JSON body. Absent fields mean no filter. An entry the
  // Agent would also have refused (an invalid regex) is skipped and reported in `warnings`; a body
  // that is not a JSON object is an error.
  static absl::StatusOr<std::shared_ptr<const AgentFilters>> FromInfo(
      std::string_view info_body, std::vector<std::string>* warnings = nullptr);

  // Applies the filters to the chunk's root span, in the Agent's order: ignore_resources first,
  // then reject, reject_regex, require, require_regex.
  Verdict Check(const decoder::Payload& payload, const decoder::SpanView& root) const;

  bool empty() const {
    return ignore_resources_.empty() && require_.empty() && reject_.empty() &&
           require_regex_.empty() && reject_regex_.empty();
  }
  size_t size() const {
    return ignore_resources_.size() + require_.size() + reject_.size() + require_regex_.size() +
           reject_regex_.size();
  }

 private:
  struct Tag {
    std::string key;
    std::string value;  // empty: only the key must be present
  };
  struct TagRegex {
    std::string key;
    std::unique_ptr<RE2> value;  // null: only the key must be present
  };

  std::vector<std::unique_ptr<RE2>> ignore_resources_;
  std::vector<Tag> require_, reject_;
  std::vector<TagRegex> require_regex_, reject_regex_;
};

std::string_view AgentFilterVerdictName(AgentFilters::Verdict verdict);

}  // namespace llmobs_edge::rescue
