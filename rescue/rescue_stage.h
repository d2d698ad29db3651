#pragma once
// The rescue stage: for each chunk the Agent will drop (drop_predictor.h, with the Agent's
// filters learned from /info), turns every span's meta_struct["_llmobs"] into an intake event,
// commits all of a payload's events to the ledger in one write, and only then records the edits
// that stamp `_dd.llmobs.submitted` = "1" and remove the struct. Spans already stamped by their
// SDK are never sent again; a span whose key the ledger already holds is stamped and scrubbed in
// any chunk. When the Agent does not take the payload, AfterForward rescues every event of it the
// ledger does not hold yet. Stateless between calls; safe on many ingest threads at once.

#include <functional>
#include <memory>
#include <string>

#include "dedup/ledger.h"
#include "plugin/api/clock.h"
#include "plugin/api/stage.h"
#include "plugin/api/metrics.h"
#include "rescue/agent_filters.h"
#include "rescue/drop_predictor.h"
#include "rescue/llmobs_event.h"

namespace llmobs_edge::rescue {

class RescueStage final : public plugin::Stage {
 public:
  struct Deps {
    dedup::Ledger* ledger = nullptr;
    telemetry::Registry* metrics = nullptr;
    // The Agent's current filters (from its /info); may return null (none known).
    std::function<std::shared_ptr<const AgentFilters>()> filters;
    // Called after a commit enqueued events (wakes the intake sender).
    std::function<void()> on_enqueued;
  };
  struct Options {
    bool rescue_without_priority = true;
    EventBuilder::Options event;
    // _dd.tracer_version of events whose struct has none and whose request has no
    // Datadog-Meta-Tracer-Version header.
    std::string default_tracer_version = "llmobs-edge";
  };

  RescueStage(Options options, Deps deps);

  std::string_view name() const override { return "rescue"; }
  absl::Status Process(const decoder::Payload& payload, const plugin::TraceRequest& request,
                       decoder::EditList* edits, plugin::ForwardOptions* options) override;
  absl::Status AfterForward(const decoder::Payload& payload, const plugin::TraceRequest& request,
                            const plugin::AgentOutcome& outcome, bool forwarded_edits) override;

 private:
  struct Metrics;
  Options options_;
  Deps deps_;
  std::shared_ptr<Metrics> m_;
};

// The LLMObs trace id of a `_llmobs` struct (its "trace_id" string), or "" when it has none that
// a cheap walk can read (the event builder then decides).
std::string_view LlmobsTraceId(std::string_view llmobs_struct);

}  // namespace llmobs_edge::rescue
