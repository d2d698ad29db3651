#pragma once
// The ledger's open options from the `ledger` settings (proto/config.proto), in one place for the
// service that runs the ledger and the `llmobs-edge ledger` tools that inspect it.

#include <chrono>

#include "dedup/rocks_ledger.h"
#include "proto/config.pb.h"

namespace llmobs_edge::plugin {

inline dedup::RocksLedgerOptions LedgerOptionsFromConfig(const config::v1::Ledger& l) {
  dedup::RocksLedgerOptions o;
  o.path = l.path();
  o.sync = l.sync() == "interval" ? dedup::RocksLedgerOptions::Sync::kInterval
           : l.sync() == "none"   ? dedup::RocksLedgerOptions::Sync::kNone
                                  : dedup::RocksLedgerOptions::Sync::kPerCommit;
  o.sync_interval = std::chrono::milliseconds(l.sync_interval_ms());
  o.seen_ttl = std::chrono::hours(l.seen_ttl_hours());
  o.max_outbox_bytes = l.max_outbox_bytes();
  o.max_dead_letter_bytes = l.max_dead_letter_bytes();
  return o;
}

}  // namespace llmobs_edge::plugin
