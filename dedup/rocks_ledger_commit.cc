// The RocksDB ledger's commit pipeline: Commit() groups concurrent calls, one leader at a time
// prepares a group (waits out in-flight keys, looks them up, numbers the records, bounds the
// outbox) and writes it in one of two write slots while the next group is prepared. Part of
// RocksLedger (rocks_ledger_internal.h); the rescue stage calls Commit() through dedup/ledger.h.

#include <algorithm>

#include "dedup/rocks_ledger_internal.h"

namespace llmobs_edge::dedup::internal {
namespace {

// Commit calls merged into one write at most (the rest wait for the next round).
constexpr size_t kMaxGroupRequests = 64;
// Commit batches kept for reuse (one per write that can be in flight at once, roughly).
constexpr size_t kMaxSpareBatches = 8;

}  // namespace

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

}  // namespace llmobs_edge::dedup::internal
