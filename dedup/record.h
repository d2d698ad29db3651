#pragma once
// The ledger's key and value encodings (format: proto/ledger.proto, docs/ledger.md), shared by
// the RocksDB ledger and the in-memory fake so both store and count the same bytes. Decoding
// verifies the CRC-32C and returns DataLossError for anything that does not check out.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dedup/ledger.h"

namespace llmobs_edge::dedup::record {

// Format 2: the counters are a LedgerState base plus LedgerStateDelta merge operands. Format 1
// (one LedgerState rewritten by every write) is still read, as a base.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kOldestReadableFormatVersion = 1;
inline constexpr size_t kMaxReasonBytes = 1024;

// Outbox and dead-letter keys: the sequence number, 8 bytes big-endian (byte order = seq order).
std::string SeqKey(uint64_t seq);
bool ParseSeqKey(std::string_view key, uint64_t* seq);

// Seen-set key: the trace id bytes followed by the span id, 8 bytes big-endian. Unambiguous
// because the span id has a fixed size and comes last.
std::string SeenKey(const EventKey& key);
// Seen-set value: the expiry time, Unix milliseconds as 8 bytes big-endian.
std::string SeenValue(int64_t expires_unix_ms);
bool ParseSeenValue(std::string_view value, int64_t* expires_unix_ms);
// Whether a seen mark with this value is still in force at `now_unix_ms`. A malformed value is
// not (the key counts as unseen: a possible duplicate beats a certain loss).
bool SeenInForce(std::string_view value, int64_t now_unix_ms);

// Bytes an outbox or dead-letter entry counts against its bound.
inline uint64_t EntryBytes(size_t key_size, size_t value_size) { return key_size + value_size; }
inline uint64_t SeqEntryBytes(size_t value_size) { return EntryBytes(8, value_size); }

std::string EncodeOutbox(const EventKey& key, std::string_view event_json, int64_t enqueued_unix_ms,
                         uint32_t attempts);
// `seq` only fills OutboxRecord::seq. DataLossError when the value is corrupt.
absl::StatusOr<OutboxRecord> DecodeOutbox(uint64_t seq, std::string_view value);

struct DeadLetter {
  OutboxRecord record;
  std::string reason;
  int64_t dead_lettered_unix_ms = 0;
};
// `reason` is truncated to kMaxReasonBytes.
std::string EncodeDeadLetter(const OutboxRecord& record, std::string_view reason,
                             int64_t dead_lettered_unix_ms);
absl::StatusOr<DeadLetter> DecodeDeadLetter(uint64_t seq, std::string_view value);

// The persisted counters (LedgerState).
struct State {
  uint64_t next_seq = 1;
  uint64_t outbox_records = 0;
  uint64_t outbox_bytes = 0;
  uint64_t next_dead_letter_seq = 1;
  uint64_t dead_letter_records = 0;
  uint64_t dead_letter_bytes = 0;

  friend bool operator==(const State&, const State&) = default;
};
inline constexpr std::string_view kStateKey = "state";
std::string EncodeState(const State& state);
// DataLossError when corrupt; FailedPreconditionError naming the version when the format is
// newer than this binary's.
absl::StatusOr<State> DecodeState(std::string_view value);

// One write's change to the counters (LedgerStateDelta, the merge operand of kStateKey). Counts
// add; the next sequence numbers take the maximum, 0 meaning unchanged. Deltas commute, so
// concurrent writes may reach the log in any order.
struct StateDelta {
  uint64_t next_seq = 0;
  int64_t outbox_records = 0;
  int64_t outbox_bytes = 0;
  uint64_t next_dead_letter_seq = 0;
  int64_t dead_letter_records = 0;
  int64_t dead_letter_bytes = 0;

  StateDelta& operator+=(const StateDelta& other);
  friend bool operator==(const StateDelta&, const StateDelta&) = default;
};
std::string EncodeStateDelta(const StateDelta& delta);
// DataLossError when corrupt.
absl::StatusOr<StateDelta> DecodeStateDelta(std::string_view value);
// `base` with `delta` applied; a count that would go below zero (only after corruption from
// outside) stays at zero.
State Apply(const State& base, const StateDelta& delta);

}  // namespace llmobs_edge::dedup::record
