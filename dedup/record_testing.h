#pragma once
// Test-only: a LedgerState value of any format version, with its checksum computed here from the
// framing documented in proto/ledger.proto (independently of dedup/record.cc). The format-version
// tests of the record encoding, the merge operator and the RocksDB ledger build their "newer"
// and "older" states with it.

#include <cstdint>
#include <string>

#include "dedup/crc32c.h"
#include "dedup/record.h"
#include "proto/ledger.pb.h"

namespace llmobs_edge::dedup::record::testing {

inline std::string LittleEndian(uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return out;
}

inline std::string EncodeStateAsVersion(uint32_t version, const State& s) {
  ledger::v1::LedgerState p;
  p.set_format_version(version);
  p.set_next_seq(s.next_seq);
  p.set_outbox_records(s.outbox_records);
  p.set_outbox_bytes(s.outbox_bytes);
  p.set_next_dead_letter_seq(s.next_dead_letter_seq);
  p.set_dead_letter_records(s.dead_letter_records);
  p.set_dead_letter_bytes(s.dead_letter_bytes);
  p.set_crc32c(Crc32c(
      LittleEndian(version, 4) + LittleEndian(s.next_seq, 8) + LittleEndian(s.outbox_records, 8) +
      LittleEndian(s.outbox_bytes, 8) + LittleEndian(s.next_dead_letter_seq, 8) +
      LittleEndian(s.dead_letter_records, 8) + LittleEndian(s.dead_letter_bytes, 8)));
  return p.SerializeAsString();
}

}  // namespace llmobs_edge::dedup::record::testing
