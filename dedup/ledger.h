#pragma once
// The ledger: the durable seen-set + outbox + dead letters behind the edge's delivery contract
// (shared/DESIGN.md "Delivery contract", docs/ledger.md). The rescue stage commits rescued events
// and asks whether a span was already rescued; the intake sender peeks, acknowledges, retries and
// dead-letters outbox records. Both depend on this narrow interface only, so their tests use the
// in-memory fake (dedup/memory_ledger.h); production uses RocksDB (dedup/rocks_ledger.h).
//
// Contract shared by every implementation (dedup/ledger_test.cc runs one suite against both):
// - Commit is atomic: either every new key of the call gets its seen mark and its outbox record,
//   or (on error) none does. A key is "new" unless it holds an unexpired seen mark; a key that
//   appears twice in one call is new at most once. enqueued + already_seen == events.size().
// - A seen mark expires seen_ttl after the commit that wrote it; from then on the key is unseen
//   (Seen false, and a Commit enqueues it again) even before the storage has purged it.
// - The outbox is ordered by a sequence number assigned at commit, never reused. It is bounded
//   in bytes: a commit that would exceed the bound drops the oldest records (counted) in the same
//   atomic write. Commit never fails or blocks because the outbox is full.
// - Records carry a checksum; a corrupt record is never returned: it is skipped, counted and
//   deleted.
// - Every method is thread-safe. Commit and Seen are called from many ingest threads at once;
//   PeekOutbox/Ack/DeadLetter/RecordAttempt from the sender thread.
// - Errors are absl::Status values, never exceptions. After a storage error healthy() is false
//   until a write succeeds again; callers fail open (forward the trace untouched, count the
//   events they could not rescue). A Commit that returned an error may still turn out committed
//   after the storage recovers (the write reached the log but its sync failed): a failed commit
//   means "maybe committed", a successful one means "committed".

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace llmobs_edge::dedup {

// An event's identity: the LLMObs trace id (the string from the _llmobs struct) and the APM
// span id.
struct EventKey {
  std::string trace_id;
  uint64_t span_id = 0;

  friend bool operator==(const EventKey&, const EventKey&) = default;
};

struct PendingEvent {
  EventKey key;
  std::string_view event_json;  // the intake event; copied by Commit
};

struct CommitResult {
  size_t enqueued = 0;      // new keys: seen mark + outbox record written
  size_t already_seen = 0;  // keys seen before (or earlier in the same call): nothing written
};

struct OutboxRecord {
  uint64_t seq = 0;  // delivery order; the handle for Ack/DeadLetter/RecordAttempt
  EventKey key;
  std::string event_json;
  int64_t enqueued_unix_ms = 0;
  uint32_t attempts = 0;
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  // One atomic write: for each event whose key is not yet seen, a seen mark and an outbox record.
  // Keys repeated inside one call count once. Durable per the sync policy before returning.
  virtual absl::StatusOr<CommitResult> Commit(absl::Span<const PendingEvent> events) = 0;

  // Whether the key holds an unexpired seen mark ("stamp and scrub any span the ledger already
  // holds").
  virtual absl::StatusOr<bool> Seen(const EventKey& key) = 0;

  // Up to max_records records, oldest first, whose event_json sizes sum to at most max_bytes
  // (the first record is returned even if it alone is larger, so an oversized event cannot stall
  // the queue). Records stay in the outbox until acknowledged: peeking again returns them again.
  // Corrupt records are skipped, counted and deleted.
  virtual absl::StatusOr<std::vector<OutboxRecord>> PeekOutbox(size_t max_records,
                                                               size_t max_bytes) = 0;

  // Delivered (the intake answered 2xx): delete from the outbox. The seen mark stays until its
  // TTL. Unknown sequence numbers (already acknowledged, dropped or dead-lettered) are ignored.
  virtual absl::Status Ack(absl::Span<const uint64_t> seqs) = 0;

  // Refused for good: move to the dead letters (bounded in bytes, oldest dropped and counted).
  // Unknown sequence numbers are ignored.
  virtual absl::Status DeadLetter(absl::Span<const uint64_t> seqs, std::string_view reason) = 0;

  // attempts += 1 on each record (backoff bookkeeping). Unknown sequence numbers are ignored.
  virtual absl::Status RecordAttempt(absl::Span<const uint64_t> seqs) = 0;

  // Moves every dead letter back to the tail of the outbox (new sequence numbers, attempts 0,
  // enqueued now) in one atomic write; returns how many moved. `llmobs-edge ledger
  // requeue-dead-letters`.
  virtual absl::StatusOr<size_t> RequeueDeadLetters() = 0;

  struct Stats {
    uint64_t outbox_records = 0;
    uint64_t outbox_bytes = 0;  // key + value bytes of the outbox entries (what the bound counts)
    uint64_t dead_letters = 0;
    uint64_t seen_keys_estimate = 0;      // may include expired keys not purged yet
    int64_t oldest_enqueued_unix_ms = 0;  // 0 when the outbox is empty
  };
  virtual Stats GetStats() = 0;

  // False after a storage error until a write succeeds again: /ready reports not-ready.
  virtual bool healthy() const = 0;
};

}  // namespace llmobs_edge::dedup
