#pragma once
// The RocksDB ledger's class, private to dedup/rocks_ledger*.cc: the one definition its source
// files share (commit pipeline, recovery, delivery bookkeeping, maintenance, reading), with the
// helpers they have in common. Everyone else opens the ledger through dedup/rocks_ledger.h.
//
// Where things are: rocks_ledger.cc (construction and tuning, entry points, test hooks),
// rocks_ledger_recovery.cc (open, persisted counters, health and storage retry),
// rocks_ledger_commit.cc (group commit), rocks_ledger_delivery.cc (Ack, attempts, dead letters),
// rocks_ledger_maintenance.cc (TTL, background thread, byte bounds, repairs) and
// rocks_ledger_read.cc (Seen, PeekOutbox, GetStats).
//
// Every change is one WriteBatch that carries the change to the persisted
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

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <semaphore>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dedup/ledger_metrics.h"
#include "dedup/record.h"
#include "dedup/rocks_ledger.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace llmobs_edge::dedup::internal {

enum Cf : size_t { kMeta = 0, kSeen = 1, kOutbox = 2, kDeadLetters = 3, kCfCount = 4 };
constexpr const char* kCfNames[kCfCount] = {"default", "seen", "outbox", "dead_letters"};

// Commit writes in RocksDB at once (see RocksLedger::write_slots_).
constexpr ptrdiff_t kCommitWriteSlots = 2;

inline std::string_view View(const rocksdb::Slice& s) {
  return std::string_view(s.data(), s.size());
}

inline absl::StatusCode CodeOf(const rocksdb::Status& s) {
  if (s.IsCorruption()) return absl::StatusCode::kDataLoss;
  if (s.IsIOError() || s.IsBusy() || s.IsTryAgain() || s.IsTimedOut() || s.IsIncomplete() ||
      s.IsShutdownInProgress() || s.IsAborted()) {
    return absl::StatusCode::kUnavailable;
  }
  if (s.IsInvalidArgument() || s.IsNotSupported()) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

inline absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  return absl::Status(CodeOf(s), absl::StrCat(what, ": ", s.ToString()));
}

// The seen-set's compaction filter factory (rocks_ledger_maintenance.cc): drops expired marks.
std::shared_ptr<rocksdb::CompactionFilterFactory> NewSeenTtlFilterFactory(
    const plugin::Clock* clock);

struct Append {
  uint64_t seq;
  std::string value;
};

// Bytes the entries count against their bound once stored.
inline int64_t EntryBytes(const std::vector<Append>& appends) {
  int64_t bytes = 0;
  for (const Append& a : appends) {
    bytes += static_cast<int64_t>(record::SeqEntryBytes(a.value.size()));
  }
  return bytes;
}

inline std::vector<uint64_t> SortedUnique(absl::Span<const uint64_t> seqs) {
  std::vector<uint64_t> v(seqs.begin(), seqs.end());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

inline void AtomicMax(std::atomic<uint64_t>& a, uint64_t v) {
  uint64_t cur = a.load();
  while (cur < v && !a.compare_exchange_weak(cur, v)) {
  }
}

// Counters as the running process sees them: the loaded state plus every delta written since.
// Signed, because two concurrent writes may apply their deltas in the other order than RocksDB
// ordered them (an Ack's -n before its records' +n); what is published is clamped at zero.
struct Counters {
  int64_t outbox_records = 0;
  int64_t outbox_bytes = 0;
  int64_t dead_letter_records = 0;
  int64_t dead_letter_bytes = 0;
};

inline uint64_t Clamped(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

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
  std::shared_ptr<rocksdb::CompactionFilterFactory> filter_factory_;
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

}  // namespace llmobs_edge::dedup::internal
