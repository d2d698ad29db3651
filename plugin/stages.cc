#include "plugin/stages.h"

#include "rescue/rescue_stage.h"

namespace llmobs_edge::plugin {

const StageRegistry& ProductStages() {
  static const StageRegistry* registry = [] {
    auto* r = new StageRegistry();
    r->Register("rescue", [](const config::v1::Config& config, const StageDeps& deps)
                              -> absl::StatusOr<std::unique_ptr<Stage>> {
      if (deps.ledger == nullptr) {
        return absl::FailedPreconditionError("the rescue stage needs the ledger");
      }
      rescue::RescueStage::Options options;
      options.rescue_without_priority = config.rescue().rescue_without_priority();
      rescue::RescueStage::Deps d;
      d.ledger = deps.ledger;
      d.metrics = deps.metrics;
      d.filters = deps.agent_filters;
      d.on_enqueued = deps.on_enqueued;
      return std::make_unique<rescue::RescueStage>(std::move(options), std::move(d));
    });
    return r;
  }();
  return *registry;
}

}  // namespace llmobs_edge::plugin
