#pragma once
// The prefilter answers "could this payload contain meta_struct[\"_llmobs\"] at all?" by searching
// the raw bytes of the key. Every msgpack string or bin form stores the key's 7 bytes verbatim, so
// a payload without them cannot carry an _llmobs struct and needs no parsing. The ingest path calls
// it on every v0.4 body before anything else; it must run at close to memory speed.

#include <cstddef>
#include <string_view>

namespace llmobs_edge::decoder {

inline constexpr std::string_view kLlmobsKey = "_llmobs";

// Offset of the first occurrence of `needle` in `haystack`, or npos. SIMD (AVX2 when the CPU has
// it, else SSE2) first/last-byte filter with a memcmp to confirm; any needle length >= 1.
size_t FindBytes(std::string_view haystack, std::string_view needle);

namespace internal {
// The implementations FindBytes picks from, exposed so tests run each one whatever the CPU.
// Each returns FindBytes' answer for needles of length 1 to haystack size.
size_t FindBytesScalar(std::string_view haystack, std::string_view needle);
size_t FindBytesSse2(std::string_view haystack, std::string_view needle);  // x86-64 only
size_t FindBytesAvx2(std::string_view haystack, std::string_view needle);  // needs AVX2
bool CpuHasAvx2();
}  // namespace internal

// True if `payload` may contain an _llmobs key (false means it certainly does not).
inline bool MayContainLlmobs(std::string_view payload) {
  return FindBytes(payload, kLlmobsKey) != std::string_view::npos;
}

}  // namespace llmobs_edge::decoder
