#pragma once
// Test-only access to the RocksDB ledger (dedup/ledger_test.cc): open it on an injected
// rocksdb::Env (to simulate disk errors), force compactions (to run the TTL compaction filter)
// and read or write column families directly (to plant corrupt records). Not for production use.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dedup/rocks_ledger.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace llmobs_edge::dedup::testing {

absl::StatusOr<std::unique_ptr<Ledger>> OpenRocksLedgerWithEnv(const RocksLedgerOptions& options,
                                                               const plugin::Clock* clock,
                                                               telemetry::Registry* metrics,
                                                               rocksdb::Env* env);

// `ledger` must come from OpenRocksLedger/OpenRocksLedgerWithEnv. Column families: "default",
// "seen", "outbox", "dead_letters".
absl::Status CompactAll(Ledger& ledger);  // flush + full compaction of every column family
absl::Status PutRaw(Ledger& ledger, std::string_view column_family, std::string_view key,
                    std::string_view value);  // bypasses encoding and accounting
absl::StatusOr<size_t> CountRaw(Ledger& ledger, std::string_view column_family);

}  // namespace llmobs_edge::dedup::testing
