#pragma once
// A deterministic in-memory Ledger with the RocksDB ledger's semantics (dedup/ledger.h), for the
// rescue-stage and intake-sender tests and for dedup/ledger_test.cc, which runs one suite against
// both implementations. It stores the same encoded bytes as the RocksDB ledger (dedup/record.h),
// so byte accounting, bounds and checksums behave identically, and it has hooks to inject
// storage failures and corrupt records. One mutex serialises everything; nothing is durable.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "dedup/ledger.h"
#include "dedup/ledger_metrics.h"
#include "plugin/api/clock.h"
#include "plugin/api/metrics.h"

namespace llmobs_edge::dedup {

struct MemoryLedgerOptions {
  std::chrono::hours seen_ttl{24};
  uint64_t max_outbox_bytes = 1ull << 30;
  uint64_t max_dead_letter_bytes = 64ull << 20;
};

class MemoryLedger final : public Ledger {
 public:
  // `clock` must outlive the ledger; `metrics` may be null.
  explicit MemoryLedger(const plugin::Clock* clock, MemoryLedgerOptions options = {},
                        telemetry::Registry* metrics = nullptr);

  absl::StatusOr<CommitResult> Commit(absl::Span<const PendingEvent> events) override;
  absl::StatusOr<bool> Seen(const EventKey& key) override;
  absl::StatusOr<std::vector<OutboxRecord>> PeekOutbox(size_t max_records,
                                                       size_t max_bytes) override;
  absl::Status Ack(absl::Span<const uint64_t> seqs) override;
  absl::Status DeadLetter(absl::Span<const uint64_t> seqs, std::string_view reason) override;
  absl::Status RecordAttempt(absl::Span<const uint64_t> seqs) override;
  absl::StatusOr<size_t> RequeueDeadLetters() override;
  Stats GetStats() override;
  bool healthy() const override;

  // --- Test hooks ---
  // The next `times` writes (Commit, Ack, DeadLetter, RecordAttempt, RequeueDeadLetters; -1:
  // every write until ClearFailures) fail with `status` and change nothing, like a disk error.
  void FailWrites(absl::Status status, int times = -1);
  // The same for reads (Seen, PeekOutbox).
  void FailReads(absl::Status status, int times = -1);
  void ClearFailures();
  // Stores raw bytes as the value of an outbox entry / dead letter, bypassing encoding and byte
  // accounting (what bit rot would do). Overwrite an existing seq to model a damaged record.
  void PutRawOutbox(uint64_t seq, std::string value);
  void PutRawDeadLetter(uint64_t seq, std::string value);
  // Removes expired seen marks: what the RocksDB ledger's compaction filter does.
  void PurgeExpiredSeen();
  size_t seen_entries() const;  // stored seen marks, expired ones included

 private:
  struct Failure {
    absl::Status status;
    int remaining = 0;  // -1: until cleared
  };
  // mu_ held. OkStatus, or the injected failure (counted, health lost).
  absl::Status Inject(Failure& f);
  void WriteSucceeded();  // mu_ held
  int64_t NowMs() const;
  // mu_ held: drop oldest outbox / dead-letter entries while over the bound.
  void EnforceOutboxBound();
  void EnforceDeadLetterBound();
  void EraseOutbox(std::map<uint64_t, std::string>::iterator it);  // with accounting
  void UpdateGauges();

  const plugin::Clock* const clock_;
  const MemoryLedgerOptions options_;
  LedgerMetrics metrics_;

  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::string> seen_;  // SeenKey -> SeenValue
  std::map<uint64_t, std::string> outbox_;              // seq -> encoded OutboxRecord
  std::map<uint64_t, std::string> dead_letters_;        // dead-letter seq -> DeadLetterRecord
  uint64_t next_seq_ = 1;
  uint64_t next_dead_letter_seq_ = 1;
  uint64_t outbox_bytes_ = 0;
  uint64_t dead_letter_bytes_ = 0;
  bool healthy_ = true;
  Failure write_failure_;
  Failure read_failure_;
};

// The fake with default bounds (24 h TTL, 1 GiB outbox, 64 MiB dead letters) and private
// metrics. Construct MemoryLedger directly for other bounds, shared metrics or the hooks.
std::unique_ptr<Ledger> NewMemoryLedger(const plugin::Clock* clock);

}  // namespace llmobs_edge::dedup
