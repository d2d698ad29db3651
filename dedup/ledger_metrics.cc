// Registration of the ledger's metrics (names and help texts; docs/ledger.md lists them).

#include "dedup/ledger_metrics.h"

namespace llmobs_edge::dedup {
namespace {

telemetry::CounterFamily& Corrupt(telemetry::Registry* r) {
  return r->AddCounterFamily(
      "llmobs_edge_ledger_corrupt_skipped",
      "Ledger records that failed their checksum or did not parse: skipped and deleted.",
      {"column_family"});
}

}  // namespace

LedgerMetrics::LedgerMetrics(telemetry::Registry* registry)
    : owned_(registry == nullptr ? std::make_unique<telemetry::Registry>() : nullptr),
      registry_(registry == nullptr ? owned_.get() : registry),
      commit_seconds(registry_->AddHistogram(
          "llmobs_edge_ledger_commit_seconds",
          "Latency of a ledger commit (seen marks + outbox records, durable per ledger.sync).",
          telemetry::ExponentialBuckets(0.00005, 2, 16))),
      commits(registry_->AddCounter("llmobs_edge_ledger_commits",
                                    "Ledger commits (calls) that succeeded.")),
      commit_errors(registry_->AddCounter("llmobs_edge_ledger_commit_errors",
                                          "Ledger commits (calls) that failed.")),
      commit_failed_events(registry_->AddCounter(
          "llmobs_edge_ledger_commit_failed_events",
          "Events of failed ledger commits: the edge could not rescue them.")),
      enqueued(registry_->AddCounter("llmobs_edge_ledger_enqueued",
                                     "Events committed to the outbox (new keys).")),
      already_seen(registry_->AddCounter(
          "llmobs_edge_ledger_already_seen",
          "Events not enqueued because their key was already in the seen-set.")),
      corrupt_outbox(Corrupt(registry_).WithLabels({"outbox"})),
      corrupt_dead_letters(Corrupt(registry_).WithLabels({"dead_letters"})),
      corrupt_seen(Corrupt(registry_).WithLabels({"seen"})),
      outbox_dropped(registry_->AddCounter("llmobs_edge_ledger_outbox_dropped",
                                           "Outbox records dropped (oldest first) because the "
                                           "outbox reached ledger.max_outbox_bytes.")),
      acked(registry_->AddCounter("llmobs_edge_ledger_acked",
                                  "Outbox records deleted after delivery.")),
      dead_lettered(registry_->AddCounter("llmobs_edge_ledger_dead_lettered",
                                          "Outbox records moved to the dead letters.")),
      dead_letters_dropped(registry_->AddCounter("llmobs_edge_ledger_dead_letters_dropped",
                                                 "Dead letters dropped (oldest first) because they "
                                                 "reached ledger.max_dead_letter_bytes.")),
      requeued(registry_->AddCounter("llmobs_edge_ledger_requeued",
                                     "Dead letters moved back to the outbox.")),
      disk_errors(registry_->AddCounter("llmobs_edge_ledger_disk_errors",
                                        "Ledger storage operations that failed.")),
      outbox_records(registry_->AddGauge("llmobs_edge_ledger_outbox_records",
                                         "Records waiting in the outbox.")),
      outbox_bytes(registry_->AddGauge("llmobs_edge_ledger_outbox_bytes",
                                       "Bytes (keys + values) of the outbox records.")),
      dead_letters(
          registry_->AddGauge("llmobs_edge_ledger_dead_letters", "Records in the dead letters.")),
      dead_letter_bytes(registry_->AddGauge("llmobs_edge_ledger_dead_letter_bytes",
                                            "Bytes (keys + values) of the dead letters.")),
      healthy(registry_->AddGauge(
          "llmobs_edge_ledger_healthy",
          "1 while the ledger's storage works, 0 after an error until a write succeeds.")) {
  healthy.Set(1);
}

}  // namespace llmobs_edge::dedup
