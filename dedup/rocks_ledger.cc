// The RocksDB ledger. Every change is one WriteBatch that carries the change to the persisted
// counters as a merge operand (record::StateDelta), so the database is consistent after any
// crash and concurrent batches need no order between them.
//
// Commits: concurrent Commit calls are grouped. One leader at a time prepares a group: it waits
// out any write in flight that holds one of the group's seen keys, looks the keys up, assigns
// sequence numbers, registers the new keys and numbers as in flight and builds the batch. Once
// it holds one of two write slots it hands the leadership on and writes, so the next group is
// prepared while this one is in RocksDB, and with pipelined writes one group's memtable insert
// overlaps the next group's log write and fsync. A key is enqueued exactly once: the lookup
// runs after every earlier write of the key has ended. The outbox head never passes a sequence
// number still in flight, since groups may become visible out of order.
//
// Deletions (Ack, dead-lettering, attempts, dropping the oldest records for the bound, corrupt
// records) are serialised by delete_mu_ through their write, so no record is counted out twice.
// Readers (Seen, PeekOutbox, GetStats) take no writer lock. After a storage error the ledger
// reports unhealthy and retries the storage (RocksDB Resume(), else close and reopen) at most
// once per sync_interval.

#include "dedup/rocks_ledger.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <semaphore>
#include <shared_mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dedup/ledger_metrics.h"
#include "dedup/record.h"
#include "dedup/rocks_ledger_testing.h"
#include "dedup/state_merge_operator.h"
#include "plugin/api/thread_name.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/table_properties_collectors.h"
#include "rocksdb/write_batch.h"

namespace llmobs_edge::dedup {
namespace {

enum Cf : size_t { kMeta = 0, kSeen = 1, kOutbox = 2, kDeadLetters = 3, kCfCount = 4 };
constexpr const char* kCfNames[kCfCount] = {"default", "seen", "outbox", "dead_letters"};

// Commit calls merged into one write at most (the rest wait for the next round).
constexpr size_t kMaxGroupRequests = 64;
// Commit batches kept for reuse (one per write that can be in flight at once, roughly).
constexpr size_t kMaxSpareBatches = 8;
// Commit writes in RocksDB at once (see RocksLedger::write_slots_).
constexpr ptrdiff_t kCommitWriteSlots = 2;
// GetStats looks this far past corrupt records for the oldest readable one.
constexpr int kMaxStatsProbe = 16;

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

absl::StatusCode CodeOf(const rocksdb::Status& s) {
  if (s.IsCorruption()) return absl::StatusCode::kDataLoss;
  if (s.IsIOError() || s.IsBusy() || s.IsTryAgain() || s.IsTimedOut() || s.IsIncomplete() ||
      s.IsShutdownInProgress() || s.IsAborted()) {
    return absl::StatusCode::kUnavailable;
  }
  if (s.IsInvalidArgument() || s.IsNotSupported()) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  return absl::Status(CodeOf(s), absl::StrCat(what, ": ", s.ToString()));
}

// Drops seen marks whose expiry has passed. One instance per compaction, with the time read
// once when the compaction starts.
class SeenTtlFilter final : public rocksdb::CompactionFilter {
 public:
  explicit SeenTtlFilter(int64_t now_unix_ms) : now_unix_ms_(now_unix_ms) {}
  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    return !record::SeenInForce(View(value), now_unix_ms_);
  }
  const char* Name() const override { return "llmobs_edge.SeenTtlFilter"; }

 private:
  const int64_t now_unix_ms_;
};

class SeenTtlFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  explicit SeenTtlFilterFactory(const plugin::Clock* clock) : clock_(clock) {}
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    return std::make_unique<SeenTtlFilter>(absl::ToUnixMillis(clock_->Now()));
  }
  const char* Name() const override { return "llmobs_edge.SeenTtlFilterFactory"; }

 private:
  const plugin::Clock* const clock_;
};

struct Append {
  uint64_t seq;
  std::string value;
};

// Bytes the entries count against their bound once stored.
int64_t EntryBytes(const std::vector<Append>& appends) {
  int64_t bytes = 0;
  for (const Append& a : appends) {
    bytes += static_cast<int64_t>(record::SeqEntryBytes(a.value.size()));
  }
  return bytes;
}

std::vector<uint64_t> SortedUnique(absl::Span<const uint64_t> seqs) {
  std::vector<uint64_t> v(seqs.begin(), seqs.end());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

void AtomicMax(std::atomic<uint64_t>& a, uint64_t v) {
  uint64_t cur = a.load();
  while (cur < v && !a.compare_exchange_weak(cur, v)) {
  }
}

uint64_t Sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Counters as the running process sees them: the loaded state plus every delta written since.
// Signed, because two concurrent writes may apply their deltas in the other order than RocksDB
// ordered them (an Ack's -n before its records' +n); what is published is clamped at zero.
struct Counters {
  int64_t outbox_records = 0;
  int64_t outbox_bytes = 0;
  int64_t dead_letter_records = 0;
  int64_t dead_letter_bytes = 0;
};

uint64_t Clamped(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

class RocksLedger final : public Ledger {
 public:
  RocksLedger(const RocksLedgerOptions& options, const plugin::Clock* clock,
              telemetry::Registry* metrics, rocksdb::Env* env);
  ~RocksLedger() override;

  // Opens the database, loads the counters and starts the maintenance thread.
  absl::Status Start();

  absl::StatusOr<CommitResult> Commit(absl::Span<const PendingEvent> events) override;
  absl::StatusOr<bool> Seen(const EventKey& key) override;
  absl::StatusOr<std::vector<OutboxRecord>> PeekOutbox(size_t max_records,
                                                       size_t max_bytes) override;
  absl::Status Ack(absl::Span<const uint64_t> seqs) override;
  absl::Status DeadLetter(absl::Span<const uint64_t> seqs, std::string_view reason) override;
  absl::Status RecordAttempt(absl::Span<const uint64_t> seqs) override;
  absl::StatusOr<size_t> RequeueDeadLetters() override;
  Stats GetStats() override;
  bool healthy() const override { return healthy_.load(); }

  absl::Status CompactAllForTesting();
  absl::Status PutRawForTesting(std::string_view cf, std::string_view key, std::string_view value);
  absl::StatusOr<size_t> CountRawForTesting(std::string_view cf);

 private:
  struct CommitRequest {
    absl::Span<const PendingEvent> events;
    // Encoded by the caller before it joins the queue, so the leader only looks up, numbers and
    // writes: seen_keys[i] and values[i] belong to events[i].
    std::vector<std::string> seen_keys;
    std::vector<std::string> values;
    absl::StatusOr<CommitResult> result;
    bool done = false;  // guarded by queue_mu_
  };

  // A group between its preparation and the end of its write. Holds the database handle
  // (shared) throughout, and delete_mu_ when it drops old records for the bound.
  struct PreparedGroup {
    std::shared_lock<std::shared_mutex> db_lock;
    std::unique_lock<std::mutex> delete_lock;
    std::unique_ptr<rocksdb::WriteBatch> batch;
    std::vector<CommitResult> results;
    std::vector<std::string_view> keys;  // registered in inflight_keys_
    uint64_t first_seq = 0;              // registered in inflight_seqs_ (0: none)
    int64_t inflight_bytes = 0;          // added to inflight_bytes_
    record::StateDelta delta;
    uint64_t dropped = 0;
    uint64_t new_head = 0;
  };

  // --- database handle (db_mu_ exclusive, with prepare_mu_ and delete_mu_ held, to change) ---
  absl::Status OpenDbLocked();
  void CloseDbLocked();
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return cfs_[c]; }
  absl::StatusOr<size_t> CfIndex(std::string_view name) const;
  absl::Status LoadStateLocked();

  // --- commits ---
  // Under prepare_mu_. Returns true when the group has a batch to write; otherwise every
  // request of the group has its result.
  bool PrepareGroup(const std::vector<CommitRequest*>& group, PreparedGroup* prepared);
  void WriteGroup(const std::vector<CommitRequest*>& group, PreparedGroup* prepared);
  // Releases what a prepared group registered as in flight (mem_mu_ held).
  void UnregisterLocked(const PreparedGroup& prepared);
  std::unique_ptr<rocksdb::WriteBatch> TakeBatch();
  void ReturnBatch(std::unique_ptr<rocksdb::WriteBatch> batch);

  // --- every write ---
  // Adds `delta` to `batch` as the counters' merge operand and writes it per the sync policy;
  // on success applies the delta to the in-memory counters.
  // `durable`: fsynced per the sync policy. Otherwise the write reaches the log (a process
  // crash keeps it) and is fsynced with the next durable write or sync; only writes whose loss
  // cannot lose an event use that (an acknowledgement lost to a power cut means a redelivery).
  enum class Durability { kPolicy, kWithNextSync };
  absl::Status WriteWithDelta(rocksdb::WriteBatch* batch, const record::StateDelta& delta,
                              absl::string_view what, Durability durability = Durability::kPolicy);
  void ApplyLocked(const record::StateDelta& delta);  // mem_mu_ held
  void PublishLocked();                               // mem_mu_ held
  // Drops the oldest entries of `c` (those stored, from `head`, then the front of `appends`)
  // until *bytes <= max_bytes; deletes go to `batch`, dropped appends are removed. The caller
  // holds delete_mu_ and db_mu_.
  absl::Status DropOldest(Cf c, uint64_t head, uint64_t max_bytes, int64_t* records,
                          int64_t* bytes, std::vector<Append>* appends, rocksdb::WriteBatch* batch,
                          uint64_t* dropped, uint64_t* new_head);
  void DeleteCorruptOutbox(const std::vector<uint64_t>& seqs);
  void ResetEmptyOutboxCounters();
  // The lowest outbox sequence number a write still in flight may add (next_seq_ when none):
  // the outbox head may not pass it, or the sender would never see those records.
  uint64_t SafeHead();
  absl::Status Unavailable() const;

  // --- health ---
  absl::Status Failure(const rocksdb::Status& s, absl::string_view what);
  void MarkHealthy();
  void MarkUnhealthy();
  // While unhealthy: takes prepare_mu_ and delete_mu_ and retries the storage (at most once per
  // sync_interval). The caller holds neither.
  void RecoverIfUnhealthy();
  void MaybeRecoverLocked();

  void MaintenanceLoop();
  int64_t NowMs() const { return absl::ToUnixMillis(clock_->Now()); }
  std::string Prefix() const { return absl::StrCat("ledger \"", options_.path, "\": "); }

  const RocksLedgerOptions options_;
  const plugin::Clock* const clock_;
  LedgerMetrics metrics_;
  const int64_t ttl_ms_;
  std::shared_ptr<SeenTtlFilterFactory> filter_factory_;
  rocksdb::DBOptions db_options_;
  rocksdb::ColumnFamilyOptions cf_options_[kCfCount];
  rocksdb::WriteOptions write_options_;

  // Lock order: prepare_mu_, delete_mu_, db_mu_, mem_mu_ (each optional).
  // One group preparation at a time; also held to recover the storage.
  std::mutex prepare_mu_;
  // Every write that deletes or rewrites outbox or dead-letter records, through its write.
  std::mutex delete_mu_;
  // Commit writes in RocksDB at once, a slot taken after the group's preparation (so the next
  // group is prepared while this one writes). Two: with enable_pipelined_write one group
  // inserts into the memtables while the next writes and fsyncs the log. More would meet in
  // RocksDB's own group commit, which copies every batch once more into one log record; with
  // no limit at all that measured far slower for these megabyte batches (docs/benchmarks.md).
  std::counting_semaphore<kCommitWriteSlots> write_slots_{kCommitWriteSlots};
  // Guards db_ and cfs_: shared by every reader and writer, exclusive to open and close.
  mutable std::shared_mutex db_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  // Recovery bookkeeping (prepare_mu_ and delete_mu_ to write; either to read).
  std::string last_open_error_;
  std::chrono::steady_clock::time_point last_recovery_{};
  std::atomic<bool> recovery_attempted_{false};

  // In-memory counters and what is in flight.
  std::mutex mem_mu_;
  std::condition_variable mem_cv_;  // an in-flight group finished
  Counters counters_;
  uint64_t next_seq_ = 1;
  uint64_t next_dead_letter_seq_ = 1;
  absl::flat_hash_map<std::string_view, int> inflight_keys_;
  std::map<uint64_t, int> inflight_seqs_;  // first sequence number of each write in flight
  int64_t inflight_bytes_ = 0;
  std::vector<std::unique_ptr<rocksdb::WriteBatch>> spare_batches_;

  // Lower bounds of the first live outbox / dead-letter seq (seeks skip delete tombstones).
  std::atomic<uint64_t> outbox_head_{1};
  std::atomic<uint64_t> dead_letter_head_{1};
  // Published copies of the counters for GetStats.
  std::atomic<uint64_t> stat_outbox_records_{0};
  std::atomic<uint64_t> stat_outbox_bytes_{0};
  std::atomic<uint64_t> stat_dead_letters_{0};
  std::atomic<bool> healthy_{true};

  // Group commit: who prepares next.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<CommitRequest*> queue_;
  bool leader_active_ = false;

  // Maintenance thread: interval fsync, storage retry while unhealthy.
  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  bool stopping_ = false;
  std::thread maintenance_;
};

RocksLedger::RocksLedger(const RocksLedgerOptions& options, const plugin::Clock* clock,
                         telemetry::Registry* metrics, rocksdb::Env* env)
    : options_(options),
      clock_(clock),
      metrics_(metrics),
      ttl_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(options.seen_ttl).count()),
      filter_factory_(std::make_shared<SeenTtlFilterFactory>(clock)) {
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

absl::Status RocksLedger::OpenDbLocked() {
  std::error_code ec;
  std::filesystem::create_directories(options_.path, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("ledger.path = \"", options_.path,
                     "\": cannot create the ledger directory: ", ec.message()));
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kCfCount; ++i) descriptors.emplace_back(kCfNames[i], cf_options_[i]);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options_, options_.path, descriptors, &handles, &raw);
  if (!s.ok()) {
    return absl::Status(CodeOf(s), absl::StrCat("ledger.path = \"", options_.path,
                                                "\": cannot open the ledger: ", s.ToString()));
  }
  db_.reset(raw);
  cfs_ = std::move(handles);
  return absl::OkStatus();
}

void RocksLedger::CloseDbLocked() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* h : cfs_) {
    db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  cfs_.clear();
  // After a background error Close() reports it again; there is nothing more to do about it.
  db_->Close().PermitUncheckedError();
  db_.reset();
}

absl::StatusOr<size_t> RocksLedger::CfIndex(std::string_view name) const {
  for (size_t i = 0; i < kCfCount; ++i) {
    if (name == kCfNames[i]) return i;
  }
  return absl::InvalidArgumentError(absl::StrCat("no column family \"", std::string(name), "\""));
}

absl::Status RocksLedger::Start() {
  {
    std::lock_guard prepare_lock(prepare_mu_);
    std::lock_guard delete_lock(delete_mu_);
    std::unique_lock db_lock(db_mu_);
    if (absl::Status s = OpenDbLocked(); !s.ok()) return s;
    if (absl::Status s = LoadStateLocked(); !s.ok()) {
      CloseDbLocked();
      return absl::Status(s.code(), absl::StrCat("ledger.path = \"", options_.path,
                                                 "\": cannot open the ledger: ", s.message()));
    }
  }
  maintenance_ = std::thread([this] {
    plugin::SetCurrentThreadName("ledger-maint");
    MaintenanceLoop();
  });
  return absl::OkStatus();
}

// Reads the persisted counters (RocksDB folds the base and its merge operands); rebuilds them by
// a scan if they are missing (new database) or unreadable. Either way the sequence numbers are
// moved past the last stored keys. Runs with every lock held exclusively, so nothing is in
// flight.
absl::Status RocksLedger::LoadStateLocked() {
  record::State state;
  bool rebuild = false;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kMeta), record::kStateKey, &value);
  if (s.ok()) {
    absl::StatusOr<record::State> decoded = record::DecodeState(value);
    if (decoded.ok()) {
      state = *decoded;
    } else if (decoded.status().code() == absl::StatusCode::kFailedPrecondition) {
      return decoded.status();
    } else {
      rebuild = true;
    }
  } else if (s.IsNotFound()) {
    rebuild = true;
  } else if (s.IsCorruption()) {
    // The merge operator refuses only a base of a newer format (corrupt operands fold into an
    // unreadable value, rebuilt above); otherwise the column family itself is damaged.
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the ledger state (", s.ToString(),
        "): written in a newer format than this binary's version ", record::kFormatVersion,
        ", or damaged"));
  } else {
    return FromRocks(s, "reading the ledger state");
  }

  struct Scan {
    uint64_t first = 0, last = 0, records = 0, bytes = 0;
    bool any = false;
  };
  auto scan = [&](Cf c, bool full, Scan* out) -> absl::Status {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(c)));
    it->SeekToLast();
    if (it->Valid()) record::ParseSeqKey(View(it->key()), &out->last);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      uint64_t seq = 0;
      if (!out->any) {
        record::ParseSeqKey(View(it->key()), &seq);
        out->first = seq;
        out->any = true;
        if (!full) break;
      }
      ++out->records;
      out->bytes += record::SeqEntryBytes(it->value().size());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scanning the ledger");
    return absl::OkStatus();
  };
  Scan outbox, dead;
  if (absl::Status st = scan(kOutbox, rebuild, &outbox); !st.ok()) return st;
  if (absl::Status st = scan(kDeadLetters, rebuild, &dead); !st.ok()) return st;
  if (rebuild) {
    state.outbox_records = outbox.records;
    state.outbox_bytes = outbox.bytes;
    state.dead_letter_records = dead.records;
    state.dead_letter_bytes = dead.bytes;
  }
  if (outbox.any) state.next_seq = std::max(state.next_seq, outbox.last + 1);
  if (dead.any) state.next_dead_letter_seq = std::max(state.next_dead_letter_seq, dead.last + 1);
  state.next_seq = std::max<uint64_t>(state.next_seq, 1);
  state.next_dead_letter_seq = std::max<uint64_t>(state.next_dead_letter_seq, 1);
  if (rebuild) {
    // A new base: the operands before it no longer count.
    rocksdb::WriteBatch batch;
    rocksdb::Status w = batch.Put(cf(kMeta), record::kStateKey, record::EncodeState(state));
    if (w.ok()) w = db_->Write(write_options_, &batch);
    if (!w.ok()) return FromRocks(w, "writing the ledger state");
  }
  std::lock_guard mem_lock(mem_mu_);
  counters_.outbox_records = static_cast<int64_t>(state.outbox_records);
  counters_.outbox_bytes = static_cast<int64_t>(state.outbox_bytes);
  counters_.dead_letter_records = static_cast<int64_t>(state.dead_letter_records);
  counters_.dead_letter_bytes = static_cast<int64_t>(state.dead_letter_bytes);
  next_seq_ = state.next_seq;
  next_dead_letter_seq_ = state.next_dead_letter_seq;
  inflight_keys_.clear();
  inflight_seqs_.clear();
  inflight_bytes_ = 0;
  outbox_head_.store(outbox.any ? outbox.first : state.next_seq);
  dead_letter_head_.store(dead.any ? dead.first : state.next_dead_letter_seq);
  PublishLocked();
  return absl::OkStatus();
}

void RocksLedger::PublishLocked() {
  stat_outbox_records_.store(Clamped(counters_.outbox_records));
  stat_outbox_bytes_.store(Clamped(counters_.outbox_bytes));
  stat_dead_letters_.store(Clamped(counters_.dead_letter_records));
  metrics_.outbox_records.Set(static_cast<int64_t>(Clamped(counters_.outbox_records)));
  metrics_.outbox_bytes.Set(static_cast<int64_t>(Clamped(counters_.outbox_bytes)));
  metrics_.dead_letters.Set(static_cast<int64_t>(Clamped(counters_.dead_letter_records)));
  metrics_.dead_letter_bytes.Set(static_cast<int64_t>(Clamped(counters_.dead_letter_bytes)));
}

void RocksLedger::ApplyLocked(const record::StateDelta& d) {
  counters_.outbox_records += d.outbox_records;
  counters_.outbox_bytes += d.outbox_bytes;
  counters_.dead_letter_records += d.dead_letter_records;
  counters_.dead_letter_bytes += d.dead_letter_bytes;
  PublishLocked();
}

absl::Status RocksLedger::Failure(const rocksdb::Status& s, absl::string_view what) {
  metrics_.disk_errors.Inc();
  MarkUnhealthy();
  return absl::Status(CodeOf(s), absl::StrCat(Prefix(), what, ": ", s.ToString()));
}

void RocksLedger::MarkHealthy() {
  healthy_.store(true);
  metrics_.healthy.Set(1);
}

void RocksLedger::MarkUnhealthy() {
  healthy_.store(false);
  metrics_.healthy.Set(0);
}

absl::Status RocksLedger::Unavailable() const {
  return absl::UnavailableError(absl::StrCat(Prefix(), "storage unavailable, retried every ",
                                             options_.sync_interval.count(),
                                             " ms; last error: ", last_open_error_));
}

void RocksLedger::RecoverIfUnhealthy() {
  if (healthy_.load()) return;
  std::lock_guard prepare_lock(prepare_mu_);
  std::lock_guard delete_lock(delete_mu_);
  if (!healthy_.load()) MaybeRecoverLocked();
}

// At most once per sync_interval, ask RocksDB to resume; if it cannot (a failed log write is
// fatal to a RocksDB instance), close and reopen the database, which replays the log. The
// ledger turns healthy only when a write then succeeds.
void RocksLedger::MaybeRecoverLocked() {
  const auto now = clock_->Steady();
  if (recovery_attempted_.load() && now - last_recovery_ < options_.sync_interval) return;
  recovery_attempted_.store(true);
  last_recovery_ = now;
  if (db_ != nullptr) {
    rocksdb::Status s = db_->Resume();
    if (s.ok() || s.IsBusy()) return;  // Busy: RocksDB's own recovery is under way
  }
  std::unique_lock db_lock(db_mu_);  // waits for the writes in flight to finish
  CloseDbLocked();
  absl::Status s = OpenDbLocked();
  if (s.ok()) {
    s = LoadStateLocked();
    if (!s.ok()) CloseDbLocked();
  }
  if (!s.ok()) {
    metrics_.disk_errors.Inc();
    last_open_error_ = std::string(s.message());
  }
}

absl::Status RocksLedger::WriteWithDelta(rocksdb::WriteBatch* batch,
                                         const record::StateDelta& delta, absl::string_view what,
                                         Durability durability) {
  rocksdb::Status s =
      batch->Merge(cf(kMeta), record::kStateKey, record::EncodeStateDelta(delta));
  if (s.ok()) {
    s = db_->Write(durability == Durability::kPolicy ? write_options_ : rocksdb::WriteOptions(),
                   batch);
  }
  if (!s.ok()) return Failure(s, what);
  {
    std::lock_guard mem_lock(mem_mu_);
    next_seq_ = std::max(next_seq_, delta.next_seq);
    next_dead_letter_seq_ = std::max(next_dead_letter_seq_, delta.next_dead_letter_seq);
    ApplyLocked(delta);
  }
  recovery_attempted_.store(false);
  MarkHealthy();
  return absl::OkStatus();
}

absl::Status RocksLedger::DropOldest(Cf c, uint64_t head, uint64_t max_bytes, int64_t* records,
                                     int64_t* bytes, std::vector<Append>* appends,
                                     rocksdb::WriteBatch* batch, uint64_t* dropped,
                                     uint64_t* new_head) {
  const int64_t max = static_cast<int64_t>(std::min<uint64_t>(max_bytes, INT64_MAX));
  if (*bytes <= max) return absl::OkStatus();
  // As in PeekOutbox: read before the scan's snapshot. An outbox write still in flight may
  // become visible after the scan with sequence numbers below those dropped; the head must not
  // pass them. (Dead letters have a single writer at a time.)
  const uint64_t safe_head = c == kOutbox ? SafeHead() : UINT64_MAX;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(c)));
  for (it->Seek(record::SeqKey(head)); it->Valid() && *bytes > max; it->Next()) {
    uint64_t seq = 0;
    record::ParseSeqKey(View(it->key()), &seq);
    rocksdb::Status s = batch->Delete(cf(c), it->key());
    if (!s.ok()) return Failure(s, "dropping the oldest records");
    *bytes -= static_cast<int64_t>(record::SeqEntryBytes(it->value().size()));
    *records -= 1;
    ++*dropped;
    *new_head = std::max(*new_head, seq + 1);
  }
  if (!it->status().ok()) return Failure(it->status(), "reading the oldest records");
  size_t n = 0;
  while (*bytes > max && n < appends->size()) {
    const Append& a = (*appends)[n++];
    *bytes -= static_cast<int64_t>(record::SeqEntryBytes(a.value.size()));
    *records -= 1;
    ++*dropped;
    *new_head = std::max(*new_head, a.seq + 1);
  }
  appends->erase(appends->begin(), appends->begin() + static_cast<ptrdiff_t>(n));
  *new_head = std::min(*new_head, safe_head);
  return absl::OkStatus();
}

uint64_t RocksLedger::SafeHead() {
  std::lock_guard mem_lock(mem_mu_);
  return inflight_seqs_.empty() ? next_seq_ : inflight_seqs_.begin()->first;
}


std::unique_ptr<rocksdb::WriteBatch> RocksLedger::TakeBatch() {
  {
    std::lock_guard mem_lock(mem_mu_);
    if (!spare_batches_.empty()) {
      std::unique_ptr<rocksdb::WriteBatch> b = std::move(spare_batches_.back());
      spare_batches_.pop_back();
      return b;
    }
  }
  return std::make_unique<rocksdb::WriteBatch>();
}

// Batches are kept between commits so their buffers (often over a megabyte) are reused instead
// of being mapped, faulted in and unmapped for every commit; an unusually big one is dropped.
void RocksLedger::ReturnBatch(std::unique_ptr<rocksdb::WriteBatch> batch) {
  if (batch == nullptr || batch->GetDataSize() > (64ull << 20)) return;
  batch->Clear();
  std::lock_guard mem_lock(mem_mu_);
  if (spare_batches_.size() < kMaxSpareBatches) spare_batches_.push_back(std::move(batch));
}

absl::StatusOr<CommitResult> RocksLedger::Commit(absl::Span<const PendingEvent> events) {
  if (events.empty()) return CommitResult{};
  const auto start = clock_->Steady();
  CommitRequest request;
  request.events = events;
  request.seen_keys.reserve(events.size());
  request.values.reserve(events.size());
  const int64_t enqueued_ms = NowMs();
  for (const PendingEvent& e : events) {
    request.seen_keys.push_back(record::SeenKey(e.key));
    request.values.push_back(record::EncodeOutbox(e.key, e.event_json, enqueued_ms, 0));
  }
  RecoverIfUnhealthy();
  {
    std::unique_lock lock(queue_mu_);
    queue_.push_back(&request);
    while (!request.done) {
      // Lead only while requests wait: ours may already be in a group another thread writes.
      queue_cv_.wait(lock, [&] { return request.done || (!leader_active_ && !queue_.empty()); });
      if (request.done) break;
      // Lead: prepare the oldest waiting requests (ours among them unless the queue is long),
      // hand the leadership on, then write them while the next leader prepares.
      leader_active_ = true;
      std::vector<CommitRequest*> group;
      while (!queue_.empty() && group.size() < kMaxGroupRequests) {
        group.push_back(queue_.front());
        queue_.pop_front();
      }
      lock.unlock();
      PreparedGroup prepared;
      const bool write = PrepareGroup(group, &prepared);
      // Still the leader until a write slot is ours, so the requests that arrive meanwhile
      // gather into the next group instead of splitting into many small ones.
      if (write) write_slots_.acquire();
      lock.lock();
      leader_active_ = false;
      queue_cv_.notify_all();
      if (write) {
        lock.unlock();
        WriteGroup(group, &prepared);
        write_slots_.release();
        lock.lock();
      }
      for (CommitRequest* r : group) r->done = true;
      queue_cv_.notify_all();
    }
  }
  if (request.result.ok()) {
    metrics_.commits.Inc();
    metrics_.enqueued.Inc(request.result->enqueued);
    metrics_.already_seen.Inc(request.result->already_seen);
  } else {
    metrics_.commit_errors.Inc();
    metrics_.commit_failed_events.Inc(events.size());
  }
  metrics_.commit_seconds.Observe(std::chrono::duration<double>(clock_->Steady() - start).count());
  return std::move(request.result);
}

bool RocksLedger::PrepareGroup(const std::vector<CommitRequest*>& group, PreparedGroup* p) {
  auto fail_all = [&](const absl::Status& s) {
    for (CommitRequest* r : group) r->result = s;
    return false;
  };
  std::lock_guard prepare_lock(prepare_mu_);

  // The distinct seen keys of the group.
  size_t total = 0;
  for (const CommitRequest* r : group) total += r->events.size();
  std::vector<rocksdb::Slice> keys;
  keys.reserve(total);
  absl::flat_hash_map<std::string_view, size_t> index;
  index.reserve(total);
  std::vector<size_t> slot;
  slot.reserve(total);
  for (const CommitRequest* r : group) {
    for (const std::string& key : r->seen_keys) {
      auto [it, inserted] = index.emplace(key, keys.size());
      if (inserted) keys.emplace_back(key);
      slot.push_back(it->second);
    }
  }

  // A key that a write in flight holds is decided once that write has ended (its seen mark is
  // then visible). Only preparers register keys, and this one holds prepare_mu_, so no new
  // conflict can appear between this wait and the lookup.
  {
    std::unique_lock mem_lock(mem_mu_);
    mem_cv_.wait(mem_lock, [&] {
      for (const rocksdb::Slice& key : keys) {
        if (inflight_keys_.contains(View(key))) return false;
      }
      return true;
    });
  }
  p->db_lock = std::shared_lock(db_mu_);
  if (db_ == nullptr) return fail_all(Unavailable());
  std::vector<bool> seen(keys.size(), false);
  {
    std::vector<rocksdb::ColumnFamilyHandle*> handles(keys.size(), cf(kSeen));
    std::vector<std::string> values;
    std::vector<rocksdb::Status> statuses =
        db_->MultiGet(rocksdb::ReadOptions(), handles, keys, &values);
    const int64_t now = NowMs();
    for (size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].ok()) {
        int64_t at = 0;
        if (!record::ParseSeenValue(values[i], &at)) metrics_.corrupt_seen.Inc();
        seen[i] = record::SeenInForce(values[i], now);
      } else if (!statuses[i].IsNotFound()) {
        return fail_all(Failure(statuses[i], "reading the seen-set"));
      }
    }
  }

  const int64_t expires = NowMs() + ttl_ms_;
  const std::string seen_value = record::SeenValue(expires);
  p->batch = TakeBatch();
  rocksdb::WriteBatch& batch = *p->batch;
  p->results.assign(group.size(), CommitResult{});
  std::vector<Append> appends;
  appends.reserve(total);
  int64_t bytes = 0;
  size_t e = 0;
  for (size_t g = 0; g < group.size(); ++g) {
    for (size_t i = 0; i < group[g]->events.size(); ++i) {
      const size_t k = slot[e++];
      if (seen[k]) {
        ++p->results[g].already_seen;
        continue;
      }
      seen[k] = true;
      ++p->results[g].enqueued;
      rocksdb::Status s = batch.Put(cf(kSeen), keys[k], seen_value);
      if (!s.ok()) return fail_all(Failure(s, "building the commit"));
      p->keys.push_back(View(keys[k]));
      bytes += static_cast<int64_t>(record::SeqEntryBytes(group[g]->values[i].size()));
      appends.push_back(Append{0, std::move(group[g]->values[i])});
    }
  }
  if (appends.empty()) {
    ReturnBatch(std::move(p->batch));
    for (size_t g = 0; g < group.size(); ++g) group[g]->result = p->results[g];
    return false;
  }

  // Number the records and register the write as in flight; project the outbox size over what
  // is committed and what is in flight.
  int64_t projected_records = 0;
  int64_t projected_bytes = 0;
  {
    std::lock_guard mem_lock(mem_mu_);
    p->first_seq = next_seq_;
    for (Append& a : appends) a.seq = next_seq_++;
    inflight_seqs_[p->first_seq]++;
    for (std::string_view key : p->keys) inflight_keys_[key]++;
    p->inflight_bytes = bytes;
    inflight_bytes_ += bytes;
    projected_records = counters_.outbox_records + static_cast<int64_t>(appends.size());
    projected_bytes = counters_.outbox_bytes + inflight_bytes_;
  }
  // A failure from here on: the write never happens; release what was registered.
  auto abandon = [&](const absl::Status& status) {
    {
      std::lock_guard mem_lock(mem_mu_);
      UnregisterLocked(*p);
    }
    mem_cv_.notify_all();
    ReturnBatch(std::move(p->batch));
    return fail_all(status);
  };
  p->delta.next_seq = appends.back().seq + 1;
  p->delta.outbox_records = static_cast<int64_t>(appends.size());
  p->delta.outbox_bytes = bytes;
  const int64_t max_bytes =
      static_cast<int64_t>(std::min<uint64_t>(options_.max_outbox_bytes, INT64_MAX));
  if (projected_bytes > max_bytes) {
    // Over the bound: drop the oldest records in this same write. Deleters are serialised
    // (delete_mu_, held until the write ends), so no record is dropped twice. Project again
    // once the lock is ours: a group that held it has since written its own drops.
    p->delete_lock = std::unique_lock(delete_mu_);
    {
      std::lock_guard mem_lock(mem_mu_);
      projected_bytes = counters_.outbox_bytes + inflight_bytes_;
    }
    int64_t records = projected_records;
    int64_t after = projected_bytes;
    absl::Status s = DropOldest(kOutbox, outbox_head_.load(), options_.max_outbox_bytes, &records,
                                &after, &appends, &batch, &p->dropped, &p->new_head);
    if (!s.ok()) return abandon(s);
    p->delta.outbox_records -= projected_records - records;
    p->delta.outbox_bytes -= projected_bytes - after;
  }
  for (const Append& a : appends) {
    rocksdb::Status put = batch.Put(cf(kOutbox), record::SeqKey(a.seq), a.value);
    if (!put.ok()) return abandon(Failure(put, "building the commit"));
  }
  return true;
}

void RocksLedger::UnregisterLocked(const PreparedGroup& p) {
  for (std::string_view key : p.keys) {
    auto it = inflight_keys_.find(key);
    if (it != inflight_keys_.end() && --it->second == 0) inflight_keys_.erase(it);
  }
  if (p.first_seq != 0) {
    auto it = inflight_seqs_.find(p.first_seq);
    if (it != inflight_seqs_.end() && --it->second == 0) inflight_seqs_.erase(it);
  }
  inflight_bytes_ -= p.inflight_bytes;
}

void RocksLedger::WriteGroup(const std::vector<CommitRequest*>& group, PreparedGroup* p) {
  rocksdb::Status s = p->batch->Merge(cf(kMeta), record::kStateKey,
                                      record::EncodeStateDelta(p->delta));
  if (s.ok()) s = db_->Write(write_options_, p->batch.get());
  {
    // Unregister and apply together, so the outbox projection never counts the group twice.
    std::lock_guard mem_lock(mem_mu_);
    UnregisterLocked(*p);
    if (s.ok()) ApplyLocked(p->delta);
  }
  mem_cv_.notify_all();
  ReturnBatch(std::move(p->batch));
  if (!s.ok()) {
    const absl::Status error = Failure(s, "committing rescued events");
    for (CommitRequest* r : group) r->result = error;
    return;
  }
  recovery_attempted_.store(false);
  MarkHealthy();
  AtomicMax(outbox_head_, p->new_head);  // DropOldest bounded it by SafeHead
  metrics_.outbox_dropped.Inc(p->dropped);
  for (size_t g = 0; g < group.size(); ++g) group[g]->result = p->results[g];
}

absl::StatusOr<bool> RocksLedger::Seen(const EventKey& key) {
  std::shared_lock lock(db_mu_);
  if (db_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(Prefix(), "storage unavailable"));
  }
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kSeen), record::SeenKey(key), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return Failure(s, "reading the seen-set");
  int64_t expires = 0;
  if (!record::ParseSeenValue(value, &expires)) {
    metrics_.corrupt_seen.Inc();
    return false;
  }
  return expires > NowMs();
}

absl::StatusOr<std::vector<OutboxRecord>> RocksLedger::PeekOutbox(size_t max_records,
                                                                  size_t max_bytes) {
  std::vector<OutboxRecord> out;
  std::vector<uint64_t> corrupt;
  bool empty = false;
  {
    std::shared_lock lock(db_mu_);
    if (db_ == nullptr) {
      return absl::UnavailableError(absl::StrCat(Prefix(), "storage unavailable"));
    }
    if (max_records == 0) return out;
    // Read before the snapshot: every record below it that will ever exist is in the snapshot.
    const uint64_t safe_head = SafeHead();
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kOutbox)));
    size_t bytes = 0;
    bool first = true;
    it->Seek(record::SeqKey(outbox_head_.load()));
    empty = !it->Valid();
    for (; it->Valid() && out.size() < max_records; it->Next()) {
      uint64_t seq = 0;
      if (!record::ParseSeqKey(View(it->key()), &seq)) continue;
      if (first) {
        // Nothing below `seq` exists in this snapshot, nor will below `safe_head`.
        AtomicMax(outbox_head_, std::min(seq, safe_head));
        first = false;
      }
      absl::StatusOr<OutboxRecord> r = record::DecodeOutbox(seq, View(it->value()));
      if (!r.ok()) {
        corrupt.push_back(seq);
        continue;
      }
      if (!out.empty() && bytes + r->event_json.size() > max_bytes) break;
      bytes += r->event_json.size();
      out.push_back(*std::move(r));
    }
    if (!it->status().ok()) return Failure(it->status(), "reading the outbox");
  }
  if (!corrupt.empty()) DeleteCorruptOutbox(corrupt);
  if (empty && (stat_outbox_records_.load() != 0 || stat_outbox_bytes_.load() != 0)) {
    ResetEmptyOutboxCounters();
  }
  return out;
}

// Deletes the records that still fail to decode (counted once each).
void RocksLedger::DeleteCorruptOutbox(const std::vector<uint64_t>& seqs) {
  RecoverIfUnhealthy();
  std::lock_guard delete_lock(delete_mu_);
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return;
  record::StateDelta delta;
  rocksdb::WriteBatch batch;
  uint64_t deleted = 0;
  for (uint64_t seq : seqs) {
    std::string value;
    const std::string key = record::SeqKey(seq);
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kOutbox), key, &value);
    if (s.IsNotFound()) continue;
    if (!s.ok()) {
      Failure(s, "reading a corrupt outbox record").IgnoreError();
      return;
    }
    if (record::DecodeOutbox(seq, value).ok()) continue;
    if (!batch.Delete(cf(kOutbox), key).ok()) return;
    delta.outbox_records -= 1;
    delta.outbox_bytes -= static_cast<int64_t>(record::SeqEntryBytes(value.size()));
    ++deleted;
  }
  if (deleted == 0) return;
  if (WriteWithDelta(&batch, delta, "deleting corrupt outbox records").ok()) {
    metrics_.corrupt_outbox.Inc(deleted);
  }
}

// The counters disagree with an empty outbox (records were corrupted from outside): reset them.
// With no commit in flight (prepare_mu_ held, the writes in flight waited for), so the counters
// describe exactly what is stored.
void RocksLedger::ResetEmptyOutboxCounters() {
  RecoverIfUnhealthy();
  std::lock_guard prepare_lock(prepare_mu_);
  std::lock_guard delete_lock(delete_mu_);
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return;
  record::StateDelta delta;
  {
    std::unique_lock mem_lock(mem_mu_);
    mem_cv_.wait(mem_lock, [&] { return inflight_seqs_.empty(); });
    delta.outbox_records = -counters_.outbox_records;
    delta.outbox_bytes = -counters_.outbox_bytes;
  }
  if (delta.outbox_records == 0 && delta.outbox_bytes == 0) return;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kOutbox)));
  it->Seek(record::SeqKey(outbox_head_.load()));
  if (it->Valid() || !it->status().ok()) return;
  it.reset();
  rocksdb::WriteBatch batch;
  WriteWithDelta(&batch, delta, "resetting the outbox counters").IgnoreError();
}

absl::Status RocksLedger::Ack(absl::Span<const uint64_t> seqs) {
  RecoverIfUnhealthy();
  std::lock_guard delete_lock(delete_mu_);
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return Unavailable();
  const std::vector<uint64_t> unique = SortedUnique(seqs);
  record::StateDelta delta;
  rocksdb::WriteBatch batch;
  uint64_t acked = 0;
  // Acknowledged records are mostly one run from the head: walk them with one iterator, which
  // sees each value's size in place, instead of a point lookup and a copy per record.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kOutbox)));
  for (uint64_t seq : unique) {
    const std::string key = record::SeqKey(seq);
    if (!it->Valid() || it->key().compare(key) > 0) {
      it->Seek(key);
    } else {
      for (int steps = 0; it->Valid() && it->key().compare(key) < 0 && steps < 8; ++steps) {
        it->Next();
      }
      if (it->Valid() && it->key().compare(key) < 0) it->Seek(key);
    }
    if (!it->status().ok()) return Failure(it->status(), "reading acknowledged records");
    if (!it->Valid() || it->key() != rocksdb::Slice(key)) continue;  // unknown or gone
    rocksdb::Status s = batch.Delete(cf(kOutbox), key);
    if (!s.ok()) return Failure(s, "building the ack");
    delta.outbox_records -= 1;
    delta.outbox_bytes -= static_cast<int64_t>(record::SeqEntryBytes(it->value().size()));
    ++acked;
  }
  it.reset();
  if (acked == 0) return absl::OkStatus();
  if (absl::Status s = WriteWithDelta(&batch, delta, "deleting acknowledged records",
                                       Durability::kWithNextSync); !s.ok()) {
    return s;
  }
  metrics_.acked.Inc(acked);
  return absl::OkStatus();
}

absl::Status RocksLedger::DeadLetter(absl::Span<const uint64_t> seqs, std::string_view reason) {
  RecoverIfUnhealthy();
  std::lock_guard delete_lock(delete_mu_);
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return Unavailable();
  const std::vector<uint64_t> unique = SortedUnique(seqs);
  const int64_t now = NowMs();
  record::StateDelta delta;
  uint64_t next_dead_letter_seq = 0;
  int64_t dead_records = 0;
  int64_t dead_bytes = 0;
  {
    std::lock_guard mem_lock(mem_mu_);
    next_dead_letter_seq = next_dead_letter_seq_;  // only deleters (delete_mu_) take these
    dead_records = counters_.dead_letter_records;
    dead_bytes = counters_.dead_letter_bytes;
  }
  rocksdb::WriteBatch batch;
  std::vector<Append> appends;
  uint64_t corrupt = 0;
  bool changed = false;
  for (uint64_t seq : unique) {
    const std::string key = record::SeqKey(seq);
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kOutbox), key, &value);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return Failure(s, "reading records to dead-letter");
    if (s = batch.Delete(cf(kOutbox), key); !s.ok()) return Failure(s, "building the move");
    changed = true;
    delta.outbox_records -= 1;
    delta.outbox_bytes -= static_cast<int64_t>(record::SeqEntryBytes(value.size()));
    absl::StatusOr<OutboxRecord> r = record::DecodeOutbox(seq, value);
    if (!r.ok()) {
      ++corrupt;
      continue;
    }
    Append a{next_dead_letter_seq++, record::EncodeDeadLetter(*r, reason, now)};
    dead_records += 1;
    dead_bytes += static_cast<int64_t>(record::SeqEntryBytes(a.value.size()));
    appends.push_back(std::move(a));
  }
  if (!changed) return absl::OkStatus();
  const uint64_t moved = appends.size();
  const int64_t records_before = dead_records;
  const int64_t bytes_before = dead_bytes;
  uint64_t dropped = 0;
  uint64_t new_head = 0;
  // Counts so far: the committed dead letters plus these; DropOldest brings them under the bound.
  const int64_t added_records = static_cast<int64_t>(moved);
  const int64_t added_bytes = EntryBytes(appends);
  if (absl::Status s =
          DropOldest(kDeadLetters, dead_letter_head_.load(), options_.max_dead_letter_bytes,
                     &dead_records, &dead_bytes, &appends, &batch, &dropped, &new_head);
      !s.ok()) {
    return s;
  }
  delta.dead_letter_records = added_records - (records_before - dead_records);
  delta.dead_letter_bytes = added_bytes - (bytes_before - dead_bytes);
  delta.next_dead_letter_seq = next_dead_letter_seq;
  for (const Append& a : appends) {
    if (rocksdb::Status s = batch.Put(cf(kDeadLetters), record::SeqKey(a.seq), a.value); !s.ok()) {
      return Failure(s, "building the move");
    }
  }
  if (absl::Status s = WriteWithDelta(&batch, delta, "moving records to the dead letters");
      !s.ok()) {
    return s;
  }
  AtomicMax(dead_letter_head_, new_head);
  metrics_.dead_lettered.Inc(moved);
  metrics_.dead_letters_dropped.Inc(dropped);
  metrics_.corrupt_outbox.Inc(corrupt);
  return absl::OkStatus();
}

absl::Status RocksLedger::RecordAttempt(absl::Span<const uint64_t> seqs) {
  RecoverIfUnhealthy();
  std::lock_guard delete_lock(delete_mu_);
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return Unavailable();
  const std::vector<uint64_t> unique = SortedUnique(seqs);
  record::StateDelta delta;
  rocksdb::WriteBatch batch;
  uint64_t corrupt = 0;
  bool changed = false;
  for (uint64_t seq : unique) {
    const std::string key = record::SeqKey(seq);
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kOutbox), key, &value);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return Failure(s, "reading records to update");
    changed = true;
    delta.outbox_bytes -= static_cast<int64_t>(record::SeqEntryBytes(value.size()));
    absl::StatusOr<OutboxRecord> r = record::DecodeOutbox(seq, value);
    if (!r.ok()) {
      delta.outbox_records -= 1;
      ++corrupt;
      if (s = batch.Delete(cf(kOutbox), key); !s.ok()) return Failure(s, "building the update");
      continue;
    }
    std::string updated =
        record::EncodeOutbox(r->key, r->event_json, r->enqueued_unix_ms, r->attempts + 1);
    delta.outbox_bytes += static_cast<int64_t>(record::SeqEntryBytes(updated.size()));
    if (s = batch.Put(cf(kOutbox), key, updated); !s.ok()) {
      return Failure(s, "building the update");
    }
  }
  if (!changed) return absl::OkStatus();
  if (absl::Status s = WriteWithDelta(&batch, delta, "recording delivery attempts",
                                       Durability::kWithNextSync); !s.ok()) {
    return s;
  }
  metrics_.corrupt_outbox.Inc(corrupt);
  return absl::OkStatus();
}

// Moves every dead letter to the tail of the outbox. Its sequence numbers are registered as in
// flight like a commit's, so the outbox head cannot pass them before they are written.
absl::StatusOr<size_t> RocksLedger::RequeueDeadLetters() {
  RecoverIfUnhealthy();
  std::lock_guard delete_lock(delete_mu_);
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return Unavailable();
  const int64_t now = NowMs();
  rocksdb::WriteBatch batch;
  std::vector<Append> appends;
  uint64_t corrupt = 0;
  bool changed = false;
  record::StateDelta delta;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kDeadLetters)));
  for (it->Seek(record::SeqKey(dead_letter_head_.load())); it->Valid(); it->Next()) {
    changed = true;
    if (rocksdb::Status s = batch.Delete(cf(kDeadLetters), it->key()); !s.ok()) {
      return Failure(s, "building the requeue");
    }
    uint64_t seq = 0;
    record::ParseSeqKey(View(it->key()), &seq);
    delta.dead_letter_records -= 1;
    delta.dead_letter_bytes -= static_cast<int64_t>(record::SeqEntryBytes(it->value().size()));
    absl::StatusOr<record::DeadLetter> d = record::DecodeDeadLetter(seq, View(it->value()));
    if (!d.ok()) {
      ++corrupt;
      continue;
    }
    appends.push_back(
        Append{0, record::EncodeOutbox(d->record.key, d->record.event_json, now, 0)});
  }
  if (!it->status().ok()) return Failure(it->status(), "reading the dead letters");
  it.reset();
  if (!changed) return 0;
  const size_t moved = appends.size();
  const int64_t bytes = EntryBytes(appends);
  PreparedGroup reservation;  // only its in-flight registration is used
  int64_t records = 0;
  int64_t projected_bytes = 0;
  {
    std::lock_guard mem_lock(mem_mu_);
    reservation.first_seq = next_seq_;
    for (Append& a : appends) a.seq = next_seq_++;
    inflight_seqs_[reservation.first_seq]++;
    reservation.inflight_bytes = bytes;
    inflight_bytes_ += bytes;
    records = counters_.outbox_records + static_cast<int64_t>(appends.size());
    projected_bytes = counters_.outbox_bytes + inflight_bytes_;
  }
  auto unregister = [&] {
    std::lock_guard mem_lock(mem_mu_);
    UnregisterLocked(reservation);
    mem_cv_.notify_all();
  };
  const int64_t records_before = records;
  const int64_t bytes_before = projected_bytes;
  uint64_t dropped = 0;
  uint64_t new_head = 0;
  if (absl::Status s = DropOldest(kOutbox, outbox_head_.load(), options_.max_outbox_bytes, &records,
                                  &projected_bytes, &appends, &batch, &dropped, &new_head);
      !s.ok()) {
    unregister();
    return s;
  }
  delta.next_seq = reservation.first_seq + moved;
  delta.outbox_records = static_cast<int64_t>(moved) - (records_before - records);
  delta.outbox_bytes = bytes - (bytes_before - projected_bytes);
  for (const Append& a : appends) {
    if (rocksdb::Status s = batch.Put(cf(kOutbox), record::SeqKey(a.seq), a.value); !s.ok()) {
      unregister();
      return Failure(s, "building the requeue");
    }
  }
  absl::Status s = WriteWithDelta(&batch, delta, "requeueing dead letters");
  unregister();
  if (!s.ok()) return s;
  {
    std::lock_guard mem_lock(mem_mu_);
    dead_letter_head_.store(next_dead_letter_seq_);
  }
  AtomicMax(outbox_head_, new_head);  // DropOldest bounded it by SafeHead
  metrics_.requeued.Inc(moved);
  metrics_.outbox_dropped.Inc(dropped);
  metrics_.corrupt_dead_letters.Inc(corrupt);
  return moved;
}

Ledger::Stats RocksLedger::GetStats() {
  Stats stats;
  stats.outbox_records = stat_outbox_records_.load();
  stats.outbox_bytes = stat_outbox_bytes_.load();
  stats.dead_letters = stat_dead_letters_.load();
  std::shared_lock lock(db_mu_);
  if (db_ == nullptr) return stats;
  uint64_t keys = 0;
  if (db_->GetIntProperty(cf(kSeen), rocksdb::DB::Properties::kEstimateNumKeys, &keys)) {
    stats.seen_keys_estimate = keys;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kOutbox)));
  int probed = 0;
  for (it->Seek(record::SeqKey(outbox_head_.load())); it->Valid() && probed < kMaxStatsProbe;
       it->Next(), ++probed) {
    uint64_t seq = 0;
    record::ParseSeqKey(View(it->key()), &seq);
    absl::StatusOr<OutboxRecord> r = record::DecodeOutbox(seq, View(it->value()));
    if (r.ok()) {
      stats.oldest_enqueued_unix_ms = r->enqueued_unix_ms;
      break;
    }
  }
  return stats;
}

void RocksLedger::MaintenanceLoop() {
  std::unique_lock lock(maintenance_mu_);
  while (!stopping_) {
    maintenance_cv_.wait_for(lock, options_.sync_interval, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (options_.sync == RocksLedgerOptions::Sync::kInterval) {
      std::shared_lock db_lock(db_mu_);
      if (db_ != nullptr) {
        if (rocksdb::Status s = db_->SyncWAL(); !s.ok()) {
          Failure(s, "syncing the write-ahead log").IgnoreError();
        }
      }
    }
    if (!healthy_.load()) {
      // Probe: recover if possible, then write an empty change of the counters (a real, synced
      // write).
      RecoverIfUnhealthy();
      std::shared_lock db_lock(db_mu_);
      if (!healthy_.load() && db_ != nullptr) {
        rocksdb::WriteBatch batch;
        WriteWithDelta(&batch, record::StateDelta{}, "probing the storage").IgnoreError();
      }
    }
    lock.lock();
  }
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
