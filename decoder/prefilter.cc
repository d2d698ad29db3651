#include "decoder/prefilter.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace llmobs_edge::decoder {
namespace {

size_t FindScalar(const char* h, size_t n, const char* needle, size_t k, size_t from) {
  for (size_t i = from; i + k <= n; ++i) {
    if (h[i] == needle[0] && h[i + k - 1] == needle[k - 1] && std::memcmp(h + i, needle, k) == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

#if defined(__x86_64__)
// Candidate positions are where both the first and the last needle byte match (the classic
// "generic SIMD" substring filter); only those are confirmed with memcmp.
size_t FindSse2(const char* h, size_t n, const char* needle, size_t k) {
  const __m128i first = _mm_set1_epi8(needle[0]);
  const __m128i last = _mm_set1_epi8(needle[k - 1]);
  size_t i = 0;
  for (; i + k - 1 + 16 <= n; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i + k - 1));
    uint32_t mask = static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last))));
    while (mask != 0) {
      const size_t pos = i + static_cast<size_t>(__builtin_ctz(mask));
      if (std::memcmp(h + pos, needle, k) == 0) return pos;
      mask &= mask - 1;
    }
  }
  return FindScalar(h, n, needle, k, i);
}

__attribute__((target("avx2"))) size_t FindAvx2(const char* h, size_t n, const char* needle,
                                                size_t k) {
  const __m256i first = _mm256_set1_epi8(needle[0]);
  const __m256i last = _mm256_set1_epi8(needle[k - 1]);
  size_t i = 0;
  // Two 32-byte blocks per iteration: the common case is no candidate at all.
  for (; i + k - 1 + 64 <= n; i += 64) {
    const char* p = h + i;
    const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + k - 1));
    const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 + k - 1));
    const __m256i m0 = _mm256_and_si256(_mm256_cmpeq_epi8(a0, first), _mm256_cmpeq_epi8(b0, last));
    const __m256i m1 = _mm256_and_si256(_mm256_cmpeq_epi8(a1, first), _mm256_cmpeq_epi8(b1, last));
    if (_mm256_testz_si256(_mm256_or_si256(m0, m1), _mm256_or_si256(m0, m1))) continue;
    uint64_t mask = static_cast<uint32_t>(_mm256_movemask_epi8(m0)) |
                    (uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(m1))} << 32);
    while (mask != 0) {
      const size_t pos = i + static_cast<size_t>(__builtin_ctzll(mask));
      if (std::memcmp(h + pos, needle, k) == 0) return pos;
      mask &= mask - 1;
    }
  }
  return FindScalar(h, n, needle, k, i);
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

}  // namespace

namespace internal {
size_t FindBytesScalar(std::string_view h, std::string_view n) {
  return FindScalar(h.data(), h.size(), n.data(), n.size(), 0);
}
#if defined(__x86_64__)
size_t FindBytesSse2(std::string_view h, std::string_view n) {
  return FindSse2(h.data(), h.size(), n.data(), n.size());
}
size_t FindBytesAvx2(std::string_view h, std::string_view n) {
  return FindAvx2(h.data(), h.size(), n.data(), n.size());
}
bool CpuHasAvx2() { return HasAvx2(); }
#else
size_t FindBytesSse2(std::string_view h, std::string_view n) { return FindBytesScalar(h, n); }
size_t FindBytesAvx2(std::string_view h, std::string_view n) { return FindBytesScalar(h, n); }
bool CpuHasAvx2() { return false; }
#endif
}  // namespace internal

size_t FindBytes(std::string_view haystack, std::string_view needle) {
  const size_t n = haystack.size();
  const size_t k = needle.size();
  if (k == 0) return 0;
  if (k > n) return std::string_view::npos;
#if defined(__x86_64__)
  if (HasAvx2()) return FindAvx2(haystack.data(), n, needle.data(), k);
  return FindSse2(haystack.data(), n, needle.data(), k);
#else
  return FindScalar(haystack.data(), n, needle.data(), k, 0);
#endif
}

}  // namespace llmobs_edge::decoder
