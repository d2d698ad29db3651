// Key/value encodings of the ledger: big-endian fixed-width keys, protobuf values with a CRC-32C
// over a fixed little-endian framing of their fields (proto/ledger.proto has the framing).

#include "dedup/record.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "dedup/crc32c.h"
#include "proto/ledger.pb.h"

namespace llmobs_edge::dedup::record {
namespace {

void PutBigEndian64(uint64_t v, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
}

uint64_t GetBigEndian64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

// Incremental CRC over little-endian fixed-width integers and length-prefixed byte strings.
class Framer {
 public:
  Framer& U32(uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    crc_ = Crc32cExtend(crc_, std::string_view(b, 4));
    return *this;
  }
  Framer& U64(uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    crc_ = Crc32cExtend(crc_, std::string_view(b, 8));
    return *this;
  }
  Framer& Bytes(std::string_view s) {
    U64(s.size());
    crc_ = Crc32cExtend(crc_, s);
    return *this;
  }
  uint32_t crc() const { return crc_; }

 private:
  uint32_t crc_ = 0;
};

uint32_t OutboxCrc(std::string_view trace_id, uint64_t span_id, std::string_view event_json,
                   int64_t enqueued_unix_ms, uint32_t attempts) {
  return Framer()
      .U64(span_id)
      .U64(static_cast<uint64_t>(enqueued_unix_ms))
      .U32(attempts)
      .Bytes(trace_id)
      .Bytes(event_json)
      .crc();
}

uint32_t DeadLetterCrc(uint32_t record_crc, int64_t dead_lettered_unix_ms,
                       std::string_view reason) {
  return Framer()
      .U32(record_crc)
      .U64(static_cast<uint64_t>(dead_lettered_unix_ms))
      .Bytes(reason)
      .crc();
}

uint32_t StateCrc(uint32_t version, const State& s) {
  return Framer()
      .U32(version)
      .U64(s.next_seq)
      .U64(s.outbox_records)
      .U64(s.outbox_bytes)
      .U64(s.next_dead_letter_seq)
      .U64(s.dead_letter_records)
      .U64(s.dead_letter_bytes)
      .crc();
}

uint32_t DeltaCrc(const StateDelta& d) {
  return Framer()
      .U64(d.next_seq)
      .U64(static_cast<uint64_t>(d.outbox_records))
      .U64(static_cast<uint64_t>(d.outbox_bytes))
      .U64(d.next_dead_letter_seq)
      .U64(static_cast<uint64_t>(d.dead_letter_records))
      .U64(static_cast<uint64_t>(d.dead_letter_bytes))
      .crc();
}

uint64_t AddClamped(uint64_t base, int64_t delta) {
  if (delta >= 0) return base + static_cast<uint64_t>(delta);
  const uint64_t minus = static_cast<uint64_t>(-(delta + 1)) + 1;  // |delta| without overflow
  return base > minus ? base - minus : 0;
}

void FillOutboxProto(const EventKey& key, std::string_view event_json, int64_t enqueued_unix_ms,
                     uint32_t attempts, ledger::v1::OutboxRecord* p) {
  p->set_trace_id(key.trace_id);
  p->set_span_id(key.span_id);
  p->set_event_json(std::string(event_json));
  p->set_enqueued_unix_ms(enqueued_unix_ms);
  p->set_attempts(attempts);
  p->set_crc32c(OutboxCrc(key.trace_id, key.span_id, event_json, enqueued_unix_ms, attempts));
}

absl::StatusOr<OutboxRecord> FromOutboxProto(uint64_t seq, ledger::v1::OutboxRecord* p) {
  if (p->crc32c() != OutboxCrc(p->trace_id(), p->span_id(), p->event_json(), p->enqueued_unix_ms(),
                               p->attempts())) {
    return absl::DataLossError(absl::StrCat("outbox record ", seq, ": checksum mismatch"));
  }
  OutboxRecord r;
  r.seq = seq;
  r.key.trace_id = std::move(*p->mutable_trace_id());
  r.key.span_id = p->span_id();
  r.event_json = std::move(*p->mutable_event_json());
  r.enqueued_unix_ms = p->enqueued_unix_ms();
  r.attempts = p->attempts();
  return r;
}

}  // namespace

std::string SeqKey(uint64_t seq) {
  std::string key(8, '\0');
  PutBigEndian64(seq, key.data());
  return key;
}

bool ParseSeqKey(std::string_view key, uint64_t* seq) {
  if (key.size() != 8) return false;
  *seq = GetBigEndian64(key.data());
  return true;
}

std::string SeenKey(const EventKey& key) {
  std::string out;
  out.reserve(key.trace_id.size() + 8);
  out.append(key.trace_id);
  out.resize(key.trace_id.size() + 8);
  PutBigEndian64(key.span_id, out.data() + key.trace_id.size());
  return out;
}

std::string SeenValue(int64_t expires_unix_ms) {
  std::string v(8, '\0');
  PutBigEndian64(static_cast<uint64_t>(expires_unix_ms), v.data());
  return v;
}

bool ParseSeenValue(std::string_view value, int64_t* expires_unix_ms) {
  if (value.size() != 8) return false;
  *expires_unix_ms = static_cast<int64_t>(GetBigEndian64(value.data()));
  return true;
}

bool SeenInForce(std::string_view value, int64_t now_unix_ms) {
  int64_t expires = 0;
  return ParseSeenValue(value, &expires) && expires > now_unix_ms;
}

std::string EncodeOutbox(const EventKey& key, std::string_view event_json, int64_t enqueued_unix_ms,
                         uint32_t attempts) {
  ledger::v1::OutboxRecord p;
  FillOutboxProto(key, event_json, enqueued_unix_ms, attempts, &p);
  return p.SerializeAsString();
}

absl::StatusOr<OutboxRecord> DecodeOutbox(uint64_t seq, std::string_view value) {
  ledger::v1::OutboxRecord p;
  if (!p.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(absl::StrCat("outbox record ", seq, ": does not parse"));
  }
  return FromOutboxProto(seq, &p);
}

std::string EncodeDeadLetter(const OutboxRecord& record, std::string_view reason,
                             int64_t dead_lettered_unix_ms) {
  reason = reason.substr(0, std::min(reason.size(), kMaxReasonBytes));
  ledger::v1::DeadLetterRecord p;
  FillOutboxProto(record.key, record.event_json, record.enqueued_unix_ms, record.attempts,
                  p.mutable_record());
  p.set_reason(std::string(reason));
  p.set_dead_lettered_unix_ms(dead_lettered_unix_ms);
  p.set_crc32c(DeadLetterCrc(p.record().crc32c(), dead_lettered_unix_ms, reason));
  return p.SerializeAsString();
}

absl::StatusOr<DeadLetter> DecodeDeadLetter(uint64_t seq, std::string_view value) {
  ledger::v1::DeadLetterRecord p;
  if (!p.ParseFromArray(value.data(), static_cast<int>(value.size())) || !p.has_record()) {
    return absl::DataLossError(absl::StrCat("dead letter ", seq, ": does not parse"));
  }
  if (p.crc32c() != DeadLetterCrc(p.record().crc32c(), p.dead_lettered_unix_ms(), p.reason())) {
    return absl::DataLossError(absl::StrCat("dead letter ", seq, ": checksum mismatch"));
  }
  absl::StatusOr<OutboxRecord> record = FromOutboxProto(seq, p.mutable_record());
  if (!record.ok()) {
    return absl::DataLossError(absl::StrCat("dead letter ", seq, ": record checksum mismatch"));
  }
  DeadLetter d;
  d.record = *std::move(record);
  d.reason = std::move(*p.mutable_reason());
  d.dead_lettered_unix_ms = p.dead_lettered_unix_ms();
  return d;
}

std::string EncodeState(const State& state) {
  ledger::v1::LedgerState p;
  p.set_format_version(kFormatVersion);
  p.set_next_seq(state.next_seq);
  p.set_outbox_records(state.outbox_records);
  p.set_outbox_bytes(state.outbox_bytes);
  p.set_next_dead_letter_seq(state.next_dead_letter_seq);
  p.set_dead_letter_records(state.dead_letter_records);
  p.set_dead_letter_bytes(state.dead_letter_bytes);
  p.set_crc32c(StateCrc(kFormatVersion, state));
  return p.SerializeAsString();
}

absl::StatusOr<State> DecodeState(std::string_view value) {
  ledger::v1::LedgerState p;
  if (!p.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError("ledger state: does not parse");
  }
  State s;
  s.next_seq = p.next_seq();
  s.outbox_records = p.outbox_records();
  s.outbox_bytes = p.outbox_bytes();
  s.next_dead_letter_seq = p.next_dead_letter_seq();
  s.dead_letter_records = p.dead_letter_records();
  s.dead_letter_bytes = p.dead_letter_bytes();
  if (p.crc32c() != StateCrc(p.format_version(), s)) {
    return absl::DataLossError("ledger state: checksum mismatch");
  }
  if (p.format_version() < kOldestReadableFormatVersion || p.format_version() > kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("the ledger was written in format version ", p.format_version(),
                     "; this binary reads version ", kFormatVersion));
  }
  return s;
}

StateDelta& StateDelta::operator+=(const StateDelta& o) {
  next_seq = std::max(next_seq, o.next_seq);
  outbox_records += o.outbox_records;
  outbox_bytes += o.outbox_bytes;
  next_dead_letter_seq = std::max(next_dead_letter_seq, o.next_dead_letter_seq);
  dead_letter_records += o.dead_letter_records;
  dead_letter_bytes += o.dead_letter_bytes;
  return *this;
}

std::string EncodeStateDelta(const StateDelta& d) {
  ledger::v1::LedgerStateDelta p;
  p.set_next_seq(d.next_seq);
  p.set_outbox_records(d.outbox_records);
  p.set_outbox_bytes(d.outbox_bytes);
  p.set_next_dead_letter_seq(d.next_dead_letter_seq);
  p.set_dead_letter_records(d.dead_letter_records);
  p.set_dead_letter_bytes(d.dead_letter_bytes);
  p.set_crc32c(DeltaCrc(d));
  return p.SerializeAsString();
}

absl::StatusOr<StateDelta> DecodeStateDelta(std::string_view value) {
  ledger::v1::LedgerStateDelta p;
  if (!p.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError("ledger state delta: does not parse");
  }
  StateDelta d;
  d.next_seq = p.next_seq();
  d.outbox_records = p.outbox_records();
  d.outbox_bytes = p.outbox_bytes();
  d.next_dead_letter_seq = p.next_dead_letter_seq();
  d.dead_letter_records = p.dead_letter_records();
  d.dead_letter_bytes = p.dead_letter_bytes();
  if (p.crc32c() != DeltaCrc(d))
    return absl::DataLossError("ledger state delta: checksum mismatch");
  return d;
}

State Apply(const State& base, const StateDelta& d) {
  State s = base;
  s.next_seq = std::max(s.next_seq, d.next_seq);
  s.outbox_records = AddClamped(s.outbox_records, d.outbox_records);
  s.outbox_bytes = AddClamped(s.outbox_bytes, d.outbox_bytes);
  s.next_dead_letter_seq = std::max(s.next_dead_letter_seq, d.next_dead_letter_seq);
  s.dead_letter_records = AddClamped(s.dead_letter_records, d.dead_letter_records);
  s.dead_letter_bytes = AddClamped(s.dead_letter_bytes, d.dead_letter_bytes);
  return s;
}

}  // namespace llmobs_edge::dedup::record
