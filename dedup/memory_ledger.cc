// The in-memory Ledger: ordered maps of the same encoded entries the RocksDB ledger stores, one
// mutex, the same bounds and checksum handling, plus failure injection for tests.

#include "dedup/memory_ledger.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "dedup/record.h"

namespace llmobs_edge::dedup {

MemoryLedger::MemoryLedger(const plugin::Clock* clock, MemoryLedgerOptions options,
                           telemetry::Registry* metrics)
    : clock_(clock), options_(options), metrics_(metrics) {
  UpdateGauges();
}

std::unique_ptr<Ledger> NewMemoryLedger(const plugin::Clock* clock) {
  return std::make_unique<MemoryLedger>(clock);
}

int64_t MemoryLedger::NowMs() const { return absl::ToUnixMillis(clock_->Now()); }

absl::Status MemoryLedger::Inject(Failure& f) {
  if (f.remaining == 0) return absl::OkStatus();
  if (f.remaining > 0) --f.remaining;
  healthy_ = false;
  metrics_.healthy.Set(0);
  metrics_.disk_errors.Inc();
  return f.status;
}

void MemoryLedger::WriteSucceeded() {
  healthy_ = true;
  metrics_.healthy.Set(1);
  UpdateGauges();
}

void MemoryLedger::UpdateGauges() {
  metrics_.outbox_records.Set(static_cast<int64_t>(outbox_.size()));
  metrics_.outbox_bytes.Set(static_cast<int64_t>(outbox_bytes_));
  metrics_.dead_letters.Set(static_cast<int64_t>(dead_letters_.size()));
  metrics_.dead_letter_bytes.Set(static_cast<int64_t>(dead_letter_bytes_));
}

void MemoryLedger::EraseOutbox(std::map<uint64_t, std::string>::iterator it) {
  outbox_bytes_ -= std::min(outbox_bytes_, record::SeqEntryBytes(it->second.size()));
  outbox_.erase(it);
  if (outbox_.empty()) outbox_bytes_ = 0;
}

void MemoryLedger::EnforceOutboxBound() {
  while (outbox_bytes_ > options_.max_outbox_bytes && !outbox_.empty()) {
    EraseOutbox(outbox_.begin());
    metrics_.outbox_dropped.Inc();
  }
}

void MemoryLedger::EnforceDeadLetterBound() {
  while (dead_letter_bytes_ > options_.max_dead_letter_bytes && !dead_letters_.empty()) {
    auto it = dead_letters_.begin();
    dead_letter_bytes_ -= std::min(dead_letter_bytes_, record::SeqEntryBytes(it->second.size()));
    dead_letters_.erase(it);
    metrics_.dead_letters_dropped.Inc();
  }
  if (dead_letters_.empty()) dead_letter_bytes_ = 0;
}

absl::StatusOr<CommitResult> MemoryLedger::Commit(absl::Span<const PendingEvent> events) {
  const auto start = clock_->Steady();
  std::lock_guard lock(mu_);
  if (events.empty()) return CommitResult{};
  if (absl::Status s = Inject(write_failure_); !s.ok()) {
    metrics_.commit_errors.Inc();
    metrics_.commit_failed_events.Inc(events.size());
    return s;
  }
  const int64_t now = NowMs();
  const int64_t expires =
      now + std::chrono::duration_cast<std::chrono::milliseconds>(options_.seen_ttl).count();
  CommitResult result;
  for (const PendingEvent& e : events) {
    std::string key = record::SeenKey(e.key);
    auto it = seen_.find(key);
    if (it != seen_.end() && record::SeenInForce(it->second, now)) {
      ++result.already_seen;
      continue;
    }
    seen_[std::move(key)] = record::SeenValue(expires);
    std::string value = record::EncodeOutbox(e.key, e.event_json, now, 0);
    outbox_bytes_ += record::SeqEntryBytes(value.size());
    outbox_.emplace(next_seq_++, std::move(value));
    ++result.enqueued;
  }
  EnforceOutboxBound();
  metrics_.commits.Inc();
  metrics_.enqueued.Inc(result.enqueued);
  metrics_.already_seen.Inc(result.already_seen);
  WriteSucceeded();
  metrics_.commit_seconds.Observe(std::chrono::duration<double>(clock_->Steady() - start).count());
  return result;
}

absl::StatusOr<bool> MemoryLedger::Seen(const EventKey& key) {
  std::lock_guard lock(mu_);
  if (absl::Status s = Inject(read_failure_); !s.ok()) return s;
  auto it = seen_.find(record::SeenKey(key));
  if (it == seen_.end()) return false;
  int64_t expires = 0;
  if (!record::ParseSeenValue(it->second, &expires)) {
    metrics_.corrupt_seen.Inc();
    return false;
  }
  return expires > NowMs();
}

absl::StatusOr<std::vector<OutboxRecord>> MemoryLedger::PeekOutbox(size_t max_records,
                                                                   size_t max_bytes) {
  std::lock_guard lock(mu_);
  if (absl::Status s = Inject(read_failure_); !s.ok()) return s;
  std::vector<OutboxRecord> out;
  size_t bytes = 0;
  bool deleted = false;
  for (auto it = outbox_.begin(); it != outbox_.end() && out.size() < max_records;) {
    absl::StatusOr<OutboxRecord> r = record::DecodeOutbox(it->first, it->second);
    if (!r.ok()) {
      auto next = std::next(it);
      EraseOutbox(it);
      it = next;
      metrics_.corrupt_outbox.Inc();
      deleted = true;
      continue;
    }
    if (!out.empty() && bytes + r->event_json.size() > max_bytes) break;
    bytes += r->event_json.size();
    out.push_back(*std::move(r));
    ++it;
  }
  if (deleted) UpdateGauges();
  return out;
}

absl::Status MemoryLedger::Ack(absl::Span<const uint64_t> seqs) {
  std::lock_guard lock(mu_);
  if (absl::Status s = Inject(write_failure_); !s.ok()) return s;
  for (uint64_t seq : seqs) {
    auto it = outbox_.find(seq);
    if (it == outbox_.end()) continue;
    EraseOutbox(it);
    metrics_.acked.Inc();
  }
  WriteSucceeded();
  return absl::OkStatus();
}

absl::Status MemoryLedger::DeadLetter(absl::Span<const uint64_t> seqs, std::string_view reason) {
  std::lock_guard lock(mu_);
  if (absl::Status s = Inject(write_failure_); !s.ok()) return s;
  const int64_t now = NowMs();
  for (uint64_t seq : seqs) {
    auto it = outbox_.find(seq);
    if (it == outbox_.end()) continue;
    absl::StatusOr<OutboxRecord> r = record::DecodeOutbox(seq, it->second);
    EraseOutbox(it);
    if (!r.ok()) {
      metrics_.corrupt_outbox.Inc();
      continue;
    }
    std::string value = record::EncodeDeadLetter(*r, reason, now);
    dead_letter_bytes_ += record::SeqEntryBytes(value.size());
    dead_letters_.emplace(next_dead_letter_seq_++, std::move(value));
    metrics_.dead_lettered.Inc();
  }
  EnforceDeadLetterBound();
  WriteSucceeded();
  return absl::OkStatus();
}

absl::Status MemoryLedger::RecordAttempt(absl::Span<const uint64_t> seqs) {
  std::lock_guard lock(mu_);
  if (absl::Status s = Inject(write_failure_); !s.ok()) return s;
  for (uint64_t seq : seqs) {
    auto it = outbox_.find(seq);
    if (it == outbox_.end()) continue;
    absl::StatusOr<OutboxRecord> r = record::DecodeOutbox(seq, it->second);
    if (!r.ok()) {
      EraseOutbox(it);
      metrics_.corrupt_outbox.Inc();
      continue;
    }
    std::string value =
        record::EncodeOutbox(r->key, r->event_json, r->enqueued_unix_ms, r->attempts + 1);
    outbox_bytes_ -= std::min(outbox_bytes_, record::SeqEntryBytes(it->second.size()));
    outbox_bytes_ += record::SeqEntryBytes(value.size());
    it->second = std::move(value);
  }
  WriteSucceeded();
  return absl::OkStatus();
}

absl::StatusOr<size_t> MemoryLedger::RequeueDeadLetters() {
  std::lock_guard lock(mu_);
  if (absl::Status s = Inject(write_failure_); !s.ok()) return s;
  const int64_t now = NowMs();
  size_t moved = 0;
  for (const auto& [seq, value] : dead_letters_) {
    absl::StatusOr<record::DeadLetter> d = record::DecodeDeadLetter(seq, value);
    if (!d.ok()) {
      metrics_.corrupt_dead_letters.Inc();
      continue;
    }
    std::string encoded = record::EncodeOutbox(d->record.key, d->record.event_json, now, 0);
    outbox_bytes_ += record::SeqEntryBytes(encoded.size());
    outbox_.emplace(next_seq_++, std::move(encoded));
    ++moved;
  }
  dead_letters_.clear();
  dead_letter_bytes_ = 0;
  EnforceOutboxBound();
  metrics_.requeued.Inc(moved);
  WriteSucceeded();
  return moved;
}

Ledger::Stats MemoryLedger::GetStats() {
  std::lock_guard lock(mu_);
  Stats s;
  s.outbox_records = outbox_.size();
  s.outbox_bytes = outbox_bytes_;
  s.dead_letters = dead_letters_.size();
  s.seen_keys_estimate = seen_.size();
  for (const auto& [seq, value] : outbox_) {
    absl::StatusOr<OutboxRecord> r = record::DecodeOutbox(seq, value);
    if (r.ok()) {
      s.oldest_enqueued_unix_ms = r->enqueued_unix_ms;
      break;
    }
  }
  return s;
}

bool MemoryLedger::healthy() const {
  std::lock_guard lock(mu_);
  return healthy_;
}

void MemoryLedger::FailWrites(absl::Status status, int times) {
  std::lock_guard lock(mu_);
  write_failure_ = {std::move(status), times};
}

void MemoryLedger::FailReads(absl::Status status, int times) {
  std::lock_guard lock(mu_);
  read_failure_ = {std::move(status), times};
}

void MemoryLedger::ClearFailures() {
  std::lock_guard lock(mu_);
  write_failure_ = {};
  read_failure_ = {};
}

void MemoryLedger::PutRawOutbox(uint64_t seq, std::string value) {
  std::lock_guard lock(mu_);
  outbox_[seq] = std::move(value);
}

void MemoryLedger::PutRawDeadLetter(uint64_t seq, std::string value) {
  std::lock_guard lock(mu_);
  dead_letters_[seq] = std::move(value);
}

void MemoryLedger::PurgeExpiredSeen() {
  std::lock_guard lock(mu_);
  const int64_t now = NowMs();
  absl::erase_if(seen_, [now](const auto& kv) { return !record::SeenInForce(kv.second, now); });
}

size_t MemoryLedger::seen_entries() const {
  std::lock_guard lock(mu_);
  return seen_.size();
}

}  // namespace llmobs_edge::dedup
