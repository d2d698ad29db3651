#pragma once
// The rescue feature as a plugin: it offers the "rescue" trace stage (rescue_stage.h) and writes
// the "llmobs" durable stream (the ledger the intake sender delivers). It claims no HTTP route:
// /v0.4/traces is the host's trace pipeline, which runs the stages `pipeline.stages` names. The
// host's registration file (plugin/host/registration.cc) builds it with its dependencies.

#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dedup/ledger.h"
#include "plugin/api/metrics.h"
#include "plugin/api/plugin.h"
#include "rescue/agent_filters.h"
#include "rescue/rescue_stage.h"

namespace llmobs_edge::rescue {

class RescuePlugin final : public plugin::Plugin {
 public:
  struct Deps {
    telemetry::Registry* metrics = nullptr;
    // Opens (once) and returns the "llmobs" stream; called only when the stage is configured.
    std::function<absl::StatusOr<dedup::Ledger*>()> ledger;
    // Subscribes to the Agent's /info answers (200 bodies), from which the plugin learns the
    // Agent's trace filters; may be empty (no filters known, ever).
    std::function<void(std::function<void(std::string_view body)>)> subscribe_agent_info;
    // Wakes the stream's delivery after a commit enqueued events.
    std::function<void()> on_enqueued;
  };

  RescuePlugin(RescueStage::Options options, Deps deps);

  std::string_view name() const override { return "rescue"; }
  std::string_view config_section() const override { return "rescue"; }
  std::vector<std::string> StageNames() const override { return {"rescue"}; }
  std::vector<std::string> Streams() const override { return {"llmobs"}; }
  absl::StatusOr<std::unique_ptr<plugin::Stage>> CreateStage(std::string_view name) override;

  // The Agent's trace filters from the last /info that parsed (null before).
  std::shared_ptr<const AgentFilters> filters() const;

 private:
  void LearnFilters(std::string_view info_body);

  RescueStage::Options options_;
  Deps deps_;
  mutable std::mutex mu_;
  std::shared_ptr<const AgentFilters> filters_;
};

}  // namespace llmobs_edge::rescue
