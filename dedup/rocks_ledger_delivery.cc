// The RocksDB ledger's delivery bookkeeping, called by the intake sender: acknowledged records are
// deleted, failed attempts counted, permanent failures moved to the dead letters (bounded by
// max_dead_letter_bytes) and dead letters requeued. Part of RocksLedger (rocks_ledger_internal.h);
// every change here holds delete_mu_ through its write.

#include <algorithm>

#include "dedup/rocks_ledger_internal.h"

namespace llmobs_edge::dedup::internal {

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

}  // namespace llmobs_edge::dedup::internal
