#include "rescue/rescue_plugin.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace llmobs_edge::rescue {

RescuePlugin::RescuePlugin(RescueStage::Options options, Deps deps)
    : options_(std::move(options)), deps_(std::move(deps)) {
  if (deps_.subscribe_agent_info) {
    deps_.subscribe_agent_info([this](std::string_view body) { LearnFilters(body); });
  }
}

std::shared_ptr<const AgentFilters> RescuePlugin::filters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return filters_;
}

void RescuePlugin::LearnFilters(std::string_view info_body) {
  std::vector<std::string> warnings;
  auto parsed = AgentFilters::FromInfo(info_body, &warnings);
  for (const std::string& w : warnings) {
    spdlog::warn("the Agent's /info has a filter the edge cannot use: {}", w);
  }
  if (!parsed.ok()) return;
  std::shared_ptr<const AgentFilters> filters = *std::move(parsed);
  std::lock_guard<std::mutex> lock(mu_);
  if (!filters_ || filters_->size() != filters->size()) {
    spdlog::info("learned {} trace filters from the Agent's /info", filters->size());
  }
  filters_ = std::move(filters);
}

absl::StatusOr<std::unique_ptr<plugin::Stage>> RescuePlugin::CreateStage(std::string_view name) {
  if (name != "rescue") return absl::NotFoundError(std::string(name));
  if (!deps_.ledger) return absl::FailedPreconditionError("the rescue stage needs the ledger");
  absl::StatusOr<dedup::Ledger*> ledger = deps_.ledger();
  if (!ledger.ok()) return ledger.status();
  RescueStage::Deps d;
  d.ledger = *ledger;
  d.metrics = deps_.metrics;
  d.filters = [this] { return filters(); };
  d.on_enqueued = deps_.on_enqueued;
  return std::make_unique<RescueStage>(options_, std::move(d));
}

}  // namespace llmobs_edge::rescue
