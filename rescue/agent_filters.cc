#include "rescue/agent_filters.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "decoder/map_iterators.h"
#include "nlohmann/json.hpp"

namespace llmobs_edge::rescue {
namespace {

// "key:value" or "key", both trimmed, as the Agent splits its filter_tags entries.
std::pair<std::string, std::string> SplitTag(const std::string& tag) {
  const size_t colon = tag.find(':');
  if (colon == std::string::npos) {
    return {std::string(absl::StripAsciiWhitespace(tag)), ""};
  }
  return {std::string(absl::StripAsciiWhitespace(absl::string_view(tag).substr(0, colon))),
          std::string(absl::StripAsciiWhitespace(absl::string_view(tag).substr(colon + 1)))};
}

std::vector<std::string> Strings(const nlohmann::json& doc, const char* a, const char* b) {
  std::vector<std::string> out;
  auto it = doc.find(a);
  if (it == doc.end() || !it->is_object()) return out;
  auto jt = it->find(b);
  if (jt == it->end() || !jt->is_array()) return out;
  for (const auto& v : *jt) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::unique_ptr<RE2> Compile(const std::string& pattern, const std::string& where,
                             std::vector<std::string>* warnings) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, options);
  if (!re->ok()) {
    if (warnings) warnings->push_back(absl::StrCat(where, " \"", pattern, "\": ", re->error()));
    return nullptr;
  }
  return re;
}

// The value of meta[key] in the root span (the last one, as the Agent's map keeps).
bool FindRootMeta(const decoder::Payload& payload, const decoder::SpanView& root,
                  std::string_view key, std::string_view* value) {
  return decoder::FindMeta(payload.bytes, root, key, value);
}

}  // namespace

std::string_view AgentFilterVerdictName(AgentFilters::Verdict verdict) {
  switch (verdict) {
    case AgentFilters::Verdict::kAllowed: return "allowed";
    case AgentFilters::Verdict::kIgnoredResource: return "ignored_resource";
    case AgentFilters::Verdict::kFilteredByTags: return "filtered_by_tags";
  }
  return "unknown";
}

absl::StatusOr<std::shared_ptr<const AgentFilters>> AgentFilters::FromInfo(
    std::string_view body, std::vector<std::string>* warnings) {
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return absl::InvalidArgumentError("the Agent's /info answer is not a JSON object");
  }
  auto f = std::make_shared<AgentFilters>();
  if (auto it = doc.find("ignore_resources"); it != doc.end() && it->is_array()) {
    for (const auto& v : *it) {
      if (!v.is_string()) continue;
      if (auto re = Compile(v.get<std::string>(), "ignore_resources", warnings)) {
        f->ignore_resources_.push_back(std::move(re));
      }
    }
  }
  for (const std::string& t : Strings(doc, "filter_tags", "require")) {
    auto [k, v] = SplitTag(t);
    f->require_.push_back({std::move(k), std::move(v)});
  }
  for (const std::string& t : Strings(doc, "filter_tags", "reject")) {
    auto [k, v] = SplitTag(t);
    f->reject_.push_back({std::move(k), std::move(v)});
  }
  for (const char* which : {"require", "reject"}) {
    for (const std::string& t : Strings(doc, "filter_tags_regex", which)) {
      auto [k, v] = SplitTag(t);
      TagRegex tr{std::move(k), nullptr};
      if (!v.empty()) {
        tr.value = Compile(v, absl::StrCat("filter_tags_regex.", which), warnings);
        if (!tr.value) continue;  // the Agent refuses an invalid regex too
      }
      (std::string_view(which) == "require" ? f->require_regex_ : f->reject_regex_)
          .push_back(std::move(tr));
    }
  }
  return std::shared_ptr<const AgentFilters>(std::move(f));
}

AgentFilters::Verdict AgentFilters::Check(const decoder::Payload& payload,
                                          const decoder::SpanView& root) const {
  if (empty()) return Verdict::kAllowed;
  // The normalizer gives a root without resource its name before the filters run.
  const std::string_view res = root.resource.empty() ? root.name : root.resource;
  const re2::StringPiece resource(res.data(), res.size());
  for (const auto& re : ignore_resources_) {
    if (RE2::PartialMatch(resource, *re)) return Verdict::kIgnoredResource;
  }
  std::string_view v;
  for (const Tag& t : reject_) {
    if (FindRootMeta(payload, root, t.key, &v) && (t.value.empty() || v == t.value)) {
      return Verdict::kFilteredByTags;
    }
  }
  for (const TagRegex& t : reject_regex_) {
    if (FindRootMeta(payload, root, t.key, &v) &&
        (!t.value || RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), *t.value))) {
      return Verdict::kFilteredByTags;
    }
  }
  for (const Tag& t : require_) {
    if (!FindRootMeta(payload, root, t.key, &v) || (!t.value.empty() && v != t.value)) {
      return Verdict::kFilteredByTags;
    }
  }
  for (const TagRegex& t : require_regex_) {
    if (!FindRootMeta(payload, root, t.key, &v) ||
        (t.value && !RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), *t.value))) {
      return Verdict::kFilteredByTags;
    }
  }
  return Verdict::kAllowed;
}

}  // namespace llmobs_edge::rescue
