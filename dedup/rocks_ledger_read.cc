// The RocksDB ledger's readers: Seen (the rescue stage's lookup), PeekOutbox (the intake
// sender's next batch, from the outbox head) and GetStats. They take no writer lock; PeekOutbox
// hands corrupt records and stale counters to the repairs in rocks_ledger_maintenance.cc.

#include <algorithm>

#include "dedup/rocks_ledger_internal.h"

namespace llmobs_edge::dedup::internal {
namespace {

// GetStats looks this far past corrupt records for the oldest readable one.
constexpr int kMaxStatsProbe = 16;

}  // namespace

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

}  // namespace llmobs_edge::dedup::internal
