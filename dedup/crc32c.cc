// CRC-32C: a reflected table (polynomial 0x82F63B78) and, on x86-64 with SSE4.2, the crc32
// instruction, chosen once at first use.

#include "dedup/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace llmobs_edge::dedup {
namespace internal {
namespace {

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

}  // namespace

uint32_t Crc32cExtendPortable(uint32_t crc, std::string_view data) {
  uint32_t c = ~crc;
  for (unsigned char b : data) c = kTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__)
bool Crc32cHardwareAvailable() {
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}

__attribute__((target("sse4.2"))) uint32_t Crc32cExtendHardware(uint32_t crc,
                                                                std::string_view data) {
  uint64_t c = static_cast<uint32_t>(~crc);
  const char* p = data.data();
  size_t n = data.size();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
    ++p;
    --n;
  }
  return ~c32;
}
#else
bool Crc32cHardwareAvailable() { return false; }
uint32_t Crc32cExtendHardware(uint32_t crc, std::string_view data) {
  return Crc32cExtendPortable(crc, data);
}
#endif

}  // namespace internal

uint32_t Crc32cExtend(uint32_t crc, std::string_view data) {
  if (internal::Crc32cHardwareAvailable()) return internal::Crc32cExtendHardware(crc, data);
  return internal::Crc32cExtendPortable(crc, data);
}

}  // namespace llmobs_edge::dedup
