// The RocksDB ledger's maintenance: the seen-set's TTL compaction filter, the background thread
// (interval fsync, storage probe while unhealthy), dropping the oldest records for the byte
// bounds, and repairs after corruption (deleting undecodable records, resetting the counters of
// an empty outbox). Part of RocksLedger (rocks_ledger_internal.h).

#include <algorithm>

#include "dedup/rocks_ledger_internal.h"

namespace llmobs_edge::dedup::internal {
namespace {

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

}  // namespace

std::shared_ptr<rocksdb::CompactionFilterFactory> NewSeenTtlFilterFactory(
    const plugin::Clock* clock) {
  return std::make_shared<SeenTtlFilterFactory>(clock);
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

}  // namespace llmobs_edge::dedup::internal
