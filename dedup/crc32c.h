#pragma once
// CRC-32C (Castagnoli, the checksum of iSCSI, ext4 and RocksDB) for the ledger's record
// checksums (dedup/record.cc). Neither Debian's RocksDB headers nor its Abseil (20220623) export
// one, so this is a small implementation: the SSE4.2 crc32 instruction when the CPU has it,
// otherwise a byte-wise table.

#include <cstdint>
#include <string_view>

namespace llmobs_edge::dedup {

// Extends `crc` (the value returned for the bytes so far; 0 to start) with `data`.
// Crc32c("123456789") == 0xE3069283.
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);
inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data); }

namespace internal {
// The two implementations, exposed so the test can check both against each other.
uint32_t Crc32cExtendPortable(uint32_t crc, std::string_view data);
bool Crc32cHardwareAvailable();
uint32_t Crc32cExtendHardware(uint32_t crc, std::string_view data);  // only if available
}  // namespace internal

}  // namespace llmobs_edge::dedup
