#pragma once
// The ledger's metrics, registered once per ledger (RocksDB or in-memory fake: the same names, so
// tests read either the same way). Counters count events/records, not calls, unless the name
// says otherwise; gauges are set whenever the value changes. docs/ledger.md lists them.

#include <memory>

#include "plugin/api/metrics.h"

namespace llmobs_edge::dedup {

class LedgerMetrics {
 private:
  // First member: the references below are bound from it.
  std::unique_ptr<telemetry::Registry> owned_;
  telemetry::Registry* registry_;

 public:
  // `registry` may be null: the metrics then live in a private registry.
  explicit LedgerMetrics(telemetry::Registry* registry);
  LedgerMetrics(const LedgerMetrics&) = delete;
  LedgerMetrics& operator=(const LedgerMetrics&) = delete;

  telemetry::Histogram& commit_seconds;      // Commit latency, including the group-commit wait
  telemetry::Counter& commits;               // Commit calls that succeeded
  telemetry::Counter& commit_errors;         // Commit calls that failed
  telemetry::Counter& commit_failed_events;  // events of failed Commit calls (not rescued)
  telemetry::Counter& enqueued;
  telemetry::Counter& already_seen;
  telemetry::Counter& corrupt_outbox;        // corrupt_skipped{column_family="outbox"}
  telemetry::Counter& corrupt_dead_letters;  // corrupt_skipped{column_family="dead_letters"}
  telemetry::Counter& corrupt_seen;          // corrupt_skipped{column_family="seen"}
  telemetry::Counter& outbox_dropped;        // dropped because the outbox was full
  telemetry::Counter& acked;
  telemetry::Counter& dead_lettered;
  telemetry::Counter& dead_letters_dropped;  // dropped because the dead letters were full
  telemetry::Counter& requeued;
  telemetry::Counter& disk_errors;  // failed storage operations
  telemetry::Gauge& outbox_records;
  telemetry::Gauge& outbox_bytes;
  telemetry::Gauge& dead_letters;
  telemetry::Gauge& dead_letter_bytes;
  telemetry::Gauge& healthy;  // 1 healthy, 0 after a storage error until a write succeeds
};

}  // namespace llmobs_edge::dedup
