#pragma once
// The production Ledger: one RocksDB database (column families "seen", "outbox", "dead_letters"
// and "default" for the persisted counters) under `ledger.path`. main() opens it and hands it to
// the rescue stage and the intake sender; docs/ledger.md describes the format, the durability of
// each sync policy (its loss window), TTL, bounds, corruption handling and crash behaviour.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dedup/ledger.h"
#include "plugin/api/clock.h"
#include "plugin/api/metrics.h"

namespace llmobs_edge::dedup {

struct RocksLedgerOptions {
  // Directory of the database (created with its parents if missing). Setting `ledger.path`.
  std::string path;

  // When a write is durable (`ledger.sync`). Every write goes through RocksDB's write-ahead log;
  // what differs is when the log is fsynced:
  //   kPerCommit: every write is fsynced before it returns. Loss window: none (a power loss keeps
  //               every commit that returned, given storage that honours fsync).
  //   kInterval:  a background thread fsyncs the log every sync_interval. A process crash
  //               (kill -9) loses nothing (the log is in the OS page cache); a power loss or
  //               kernel crash loses up to sync_interval of commits.
  //   kNone:      never fsynced by the ledger. A process crash loses nothing; a power loss loses
  //               what the OS had not written back yet (Linux: typically up to ~30 s).
  enum class Sync { kPerCommit, kInterval, kNone };
  Sync sync = Sync::kPerCommit;
  // kInterval's fsync period; also how often a ledger that lost its storage retries it
  // (`ledger.sync_interval_ms`).
  std::chrono::milliseconds sync_interval{1000};
  // How long a key stays in the seen-set after the commit that wrote it (`ledger.seen_ttl_hours`).
  std::chrono::hours seen_ttl{24};
  // Outbox bound: key + value bytes of the records (`ledger.max_outbox_bytes`). When a write
  // would exceed it, the oldest records are dropped (counted) in the same atomic write.
  uint64_t max_outbox_bytes = 1ull << 30;
  // Dead-letter bound, same rule (`ledger.max_dead_letter_bytes`).
  uint64_t max_dead_letter_bytes = 64ull << 20;
};

// Opens (or creates) the ledger. Errors name the setting and the path, e.g.
// `ledger.path = "/var/lib/llmobs-edge": cannot open the ledger: IO error: ...`. `clock` must
// outlive the ledger and be safe to read from RocksDB's background threads; `metrics` may be null.
absl::StatusOr<std::unique_ptr<Ledger>> OpenRocksLedger(const RocksLedgerOptions& options,
                                                        const plugin::Clock* clock,
                                                        telemetry::Registry* metrics);

}  // namespace llmobs_edge::dedup
