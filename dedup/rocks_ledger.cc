// The RocksDB ledger's entry points (dedup/rocks_ledger.h, dedup/rocks_ledger_testing.h): option
// checks, the RocksDB tuning chosen at construction, shutdown and the test-only hooks. The rest
// of the class lives in the other rocks_ledger_*.cc files; rocks_ledger_internal.h has the map.

#include "dedup/rocks_ledger.h"

#include <algorithm>
#include <chrono>

#include "dedup/rocks_ledger_internal.h"
#include "dedup/rocks_ledger_testing.h"
#include "dedup/state_merge_operator.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/table_properties_collectors.h"

namespace llmobs_edge::dedup {
namespace internal {

RocksLedger::RocksLedger(const RocksLedgerOptions& options, const plugin::Clock* clock,
                         telemetry::Registry* metrics, rocksdb::Env* env)
    : options_(options),
      clock_(clock),
      metrics_(metrics),
      ttl_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(options.seen_ttl).count()),
      filter_factory_(NewSeenTtlFilterFactory(clock)) {
  db_options_.create_if_missing = true;
  db_options_.create_missing_column_families = true;
  if (env != nullptr) db_options_.env = env;
  // Replay the write-ahead log up to the first torn or corrupt record (the tail a crash leaves).
  db_options_.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Bounds the log: column families with old data in it are flushed past this size.
  db_options_.max_total_wal_size = 64ull << 20;
  db_options_.max_background_jobs = 2;
  // A commit group's memtable insert overlaps the next group's log write and fsync (at most two
  // commit writes are in flight, RocksLedger::write_slots_).
  db_options_.enable_pipelined_write = true;
  db_options_.keep_log_file_num = 3;
  db_options_.max_log_file_size = 4ull << 20;
  db_options_.stats_dump_period_sec = 0;
  // All memtables together stay under 64 MiB (the edge is a sidecar; the default is 64 MiB per
  // column family, times two while one flushes).
  db_options_.db_write_buffer_size = 64ull << 20;

  cf_options_[kMeta].write_buffer_size = 4ull << 20;
  // The counters are a base plus one merge operand per write (record::StateDelta).
  cf_options_[kMeta].merge_operator = NewStateMergeOperator();

  // Seen-set: most lookups miss (every LLM span of every payload is checked), so bloom filters
  // on tables and memtable; expired marks are dropped by compaction, and every file is
  // compacted at least once per TTL so that happens even without write pressure.
  rocksdb::ColumnFamilyOptions& seen = cf_options_[kSeen];
  // Table blocks are checksummed with XXH3: Debian's RocksDB is built portable, without the
  // SSE4.2 CRC-32C, and its table-driven CRC was the costliest part of flushes and reads.
  rocksdb::BlockBasedTableOptions table;
  table.checksum = rocksdb::kXXH3;
  for (rocksdb::ColumnFamilyOptions& o : cf_options_) {
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  }
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  seen.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  seen.memtable_prefix_bloom_size_ratio = 0.02;
  seen.memtable_whole_key_filtering = true;
  seen.compaction_filter_factory = filter_factory_;
  seen.periodic_compaction_seconds = static_cast<uint64_t>(std::max<int64_t>(
      3600, std::chrono::duration_cast<std::chrono::seconds>(options.seen_ttl).count()));

  // Outbox: a queue (append at the tail, delete at the head); compact files full of tombstones.
  cf_options_[kOutbox].table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/128,
                                                    /*deletion_trigger=*/64));
  cf_options_[kDeadLetters].write_buffer_size = 8ull << 20;
  // Outbox records usually die young (acknowledged within a second), so the files that hold
  // them briefly, L0 and L1, are not compressed: compressing them was 6-8% of the edge's CPU at
  // 10 KB events. Records of a long intake outage settle deeper and are compressed there. The
  // byte bounds count uncompressed bytes either way.
  for (Cf c : {kOutbox, kDeadLetters}) {
    cf_options_[c].compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression,
                                            rocksdb::kSnappyCompression};
  }
  // Memtable arena blocks below the allocator's mmap threshold (1 MiB, main.cc), so they come
  // from the heap and are reused; RocksDB's default here is exactly 1 MiB, a fresh mapping each.
  for (rocksdb::ColumnFamilyOptions& o : cf_options_) o.arena_block_size = 256ull << 10;

  write_options_.sync = options.sync == RocksLedgerOptions::Sync::kPerCommit;
}

RocksLedger::~RocksLedger() {
  {
    std::lock_guard lock(maintenance_mu_);
    stopping_ = true;
  }
  maintenance_cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
  std::lock_guard prepare_lock(prepare_mu_);
  std::lock_guard delete_lock(delete_mu_);
  std::unique_lock db_lock(db_mu_);
  if (db_ != nullptr && options_.sync == RocksLedgerOptions::Sync::kInterval) {
    db_->SyncWAL().PermitUncheckedError();
  }
  CloseDbLocked();
}

absl::StatusOr<size_t> RocksLedger::CfIndex(std::string_view name) const {
  for (size_t i = 0; i < kCfCount; ++i) {
    if (name == kCfNames[i]) return i;
  }
  return absl::InvalidArgumentError(absl::StrCat("no column family \"", std::string(name), "\""));
}

absl::Status RocksLedger::CompactAllForTesting() {
  std::shared_lock lock(db_mu_);
  if (db_ == nullptr) return absl::UnavailableError("no database");
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (rocksdb::ColumnFamilyHandle* h : cfs_) {
    rocksdb::Status s = db_->CompactRange(options, h, nullptr, nullptr);
    if (!s.ok()) return FromRocks(s, "compacting");
  }
  return absl::OkStatus();
}

absl::Status RocksLedger::PutRawForTesting(std::string_view cf_name, std::string_view key,
                                           std::string_view value) {
  absl::StatusOr<size_t> i = CfIndex(cf_name);
  if (!i.ok()) return i.status();
  std::shared_lock lock(db_mu_);
  if (db_ == nullptr) return absl::UnavailableError("no database");
  rocksdb::Status s =
      db_->Put(rocksdb::WriteOptions(), cfs_[*i], rocksdb::Slice(key.data(), key.size()),
               rocksdb::Slice(value.data(), value.size()));
  return s.ok() ? absl::OkStatus() : FromRocks(s, "raw put");
}

absl::StatusOr<size_t> RocksLedger::CountRawForTesting(std::string_view cf_name) {
  absl::StatusOr<size_t> i = CfIndex(cf_name);
  if (!i.ok()) return i.status();
  std::shared_lock lock(db_mu_);
  if (db_ == nullptr) return absl::UnavailableError("no database");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cfs_[*i]));
  size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  if (!it->status().ok()) return FromRocks(it->status(), "raw scan");
  return n;
}

}  // namespace internal

namespace {

using internal::RocksLedger;

absl::StatusOr<std::unique_ptr<Ledger>> Open(const RocksLedgerOptions& options,
                                             const plugin::Clock* clock,
                                             telemetry::Registry* metrics, rocksdb::Env* env) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError(
        "ledger.path: must be set (the directory of the ledger database)");
  }
  if (clock == nullptr) return absl::InvalidArgumentError("ledger: no clock");
  if (options.seen_ttl.count() <= 0) {
    return absl::InvalidArgumentError("ledger.seen_ttl_hours: must be at least 1");
  }
  if (options.sync_interval.count() <= 0) {
    return absl::InvalidArgumentError("ledger.sync_interval_ms: must be at least 1");
  }
  if (options.max_outbox_bytes == 0) {
    return absl::InvalidArgumentError("ledger.max_outbox_bytes: must be at least 1");
  }
  if (options.max_dead_letter_bytes == 0) {
    return absl::InvalidArgumentError("ledger.max_dead_letter_bytes: must be at least 1");
  }
  auto ledger = std::make_unique<RocksLedger>(options, clock, metrics, env);
  if (absl::Status s = ledger->Start(); !s.ok()) return s;
  return std::unique_ptr<Ledger>(std::move(ledger));
}

RocksLedger* AsRocks(Ledger& ledger) { return dynamic_cast<RocksLedger*>(&ledger); }

}  // namespace

absl::StatusOr<std::unique_ptr<Ledger>> OpenRocksLedger(const RocksLedgerOptions& options,
                                                        const plugin::Clock* clock,
                                                        telemetry::Registry* metrics) {
  return Open(options, clock, metrics, nullptr);
}

namespace testing {

absl::StatusOr<std::unique_ptr<Ledger>> OpenRocksLedgerWithEnv(const RocksLedgerOptions& options,
                                                               const plugin::Clock* clock,
                                                               telemetry::Registry* metrics,
                                                               rocksdb::Env* env) {
  return Open(options, clock, metrics, env);
}

absl::Status CompactAll(Ledger& ledger) {
  RocksLedger* r = AsRocks(ledger);
  if (r == nullptr) return absl::InvalidArgumentError("not a RocksDB ledger");
  return r->CompactAllForTesting();
}

absl::Status PutRaw(Ledger& ledger, std::string_view column_family, std::string_view key,
                    std::string_view value) {
  RocksLedger* r = AsRocks(ledger);
  if (r == nullptr) return absl::InvalidArgumentError("not a RocksDB ledger");
  return r->PutRawForTesting(column_family, key, value);
}

absl::StatusOr<size_t> CountRaw(Ledger& ledger, std::string_view column_family) {
  RocksLedger* r = AsRocks(ledger);
  if (r == nullptr) return absl::InvalidArgumentError("not a RocksDB ledger");
  return r->CountRawForTesting(column_family);
}

}  // namespace testing
}  // namespace llmobs_edge::dedup
