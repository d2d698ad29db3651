#pragma once
// Appends msgpack values to a std::string. The splicer uses it to re-encode edited spans; tests and
// the benchmark use it to build payloads, including the exotic forms tracers emit (map32 headers,
// str32 strings, bin keys), which is why every header can be given a minimum width.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace llmobs_edge::decoder {

enum class Width : uint8_t { kSmallest = 0, k8 = 1, k16 = 2, k32 = 4 };

namespace internal {
inline void Put16(std::string* out, uint32_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 2);
}
inline void Put32(std::string* out, uint32_t v) {
  const uint32_t be = __builtin_bswap32(v);
  out->append(reinterpret_cast<const char*>(&be), 4);
}
inline void Put64(std::string* out, uint64_t v) {
  const uint64_t be = __builtin_bswap64(v);
  out->append(reinterpret_cast<const char*>(&be), 8);
}
}  // namespace internal

// Map/array header. `header_bytes` (1, 3 or 5) asks for at least that width; a count that does not
// fit is written in the next width that does.
inline void AppendContainerHeader(std::string* out, bool is_map, uint32_t n, int header_bytes = 1) {
  if (header_bytes <= 1 && n <= 15) {
    out->push_back(static_cast<char>((is_map ? 0x80 : 0x90) | n));
  } else if (header_bytes <= 3 && n <= 0xffff) {
    out->push_back(static_cast<char>(is_map ? 0xde : 0xdc));
    internal::Put16(out, n);
  } else {
    out->push_back(static_cast<char>(is_map ? 0xdf : 0xdd));
    internal::Put32(out, n);
  }
}
inline void AppendMapHeader(std::string* out, uint32_t n, int header_bytes = 1) {
  AppendContainerHeader(out, true, n, header_bytes);
}
inline void AppendArrayHeader(std::string* out, uint32_t n, int header_bytes = 1) {
  AppendContainerHeader(out, false, n, header_bytes);
}

// str in the smallest form, or at least `width` (k32 = str32, as dd-trace-js writes long strings).
inline void AppendStr(std::string* out, std::string_view s, Width width = Width::kSmallest) {
  const size_t n = s.size();
  if (width == Width::kSmallest && n <= 31) {
    out->push_back(static_cast<char>(0xa0 | n));
  } else if (width <= Width::k8 && n <= 0xff) {
    out->push_back(static_cast<char>(0xd9));
    out->push_back(static_cast<char>(n));
  } else if (width <= Width::k16 && n <= 0xffff) {
    out->push_back(static_cast<char>(0xda));
    internal::Put16(out, static_cast<uint32_t>(n));
  } else {
    out->push_back(static_cast<char>(0xdb));
    internal::Put32(out, static_cast<uint32_t>(n));
  }
  out->append(s.data(), n);
}

inline void AppendBin(std::string* out, std::string_view s, Width width = Width::kSmallest) {
  const size_t n = s.size();
  if (width <= Width::k8 && n <= 0xff) {
    out->push_back(static_cast<char>(0xc4));
    out->push_back(static_cast<char>(n));
  } else if (width <= Width::k16 && n <= 0xffff) {
    out->push_back(static_cast<char>(0xc5));
    internal::Put16(out, static_cast<uint32_t>(n));
  } else {
    out->push_back(static_cast<char>(0xc6));
    internal::Put32(out, static_cast<uint32_t>(n));
  }
  out->append(s.data(), n);
}

inline void AppendNil(std::string* out) { out->push_back(static_cast<char>(0xc0)); }
inline void AppendBool(std::string* out, bool b) {
  out->push_back(static_cast<char>(b ? 0xc3 : 0xc2));
}

// Unsigned integer in the smallest form.
inline void AppendUint(std::string* out, uint64_t v) {
  if (v <= 0x7f) {
    out->push_back(static_cast<char>(v));
  } else if (v <= 0xff) {
    out->push_back(static_cast<char>(0xcc));
    out->push_back(static_cast<char>(v));
  } else if (v <= 0xffff) {
    out->push_back(static_cast<char>(0xcd));
    internal::Put16(out, static_cast<uint32_t>(v));
  } else if (v <= 0xffffffffu) {
    out->push_back(static_cast<char>(0xce));
    internal::Put32(out, static_cast<uint32_t>(v));
  } else {
    out->push_back(static_cast<char>(0xcf));
    internal::Put64(out, v);
  }
}
// Always uint64 (0xcf + 8 bytes), as dd-trace-js and libdatadog write ids.
inline void AppendUint64Fixed(std::string* out, uint64_t v) {
  out->push_back(static_cast<char>(0xcf));
  internal::Put64(out, v);
}
// Signed integer in the smallest form (non-negative values as uint forms, as msgpack-c does).
inline void AppendInt(std::string* out, int64_t v) {
  if (v >= 0) return AppendUint(out, static_cast<uint64_t>(v));
  if (v >= -32) {
    out->push_back(static_cast<char>(v));
  } else if (v >= -128) {
    out->push_back(static_cast<char>(0xd0));
    out->push_back(static_cast<char>(v));
  } else if (v >= -32768) {
    out->push_back(static_cast<char>(0xd1));
    internal::Put16(out, static_cast<uint32_t>(v));
  } else if (v >= INT32_MIN) {
    out->push_back(static_cast<char>(0xd2));
    internal::Put32(out, static_cast<uint32_t>(v));
  } else {
    out->push_back(static_cast<char>(0xd3));
    internal::Put64(out, static_cast<uint64_t>(v));
  }
}
inline void AppendFloat64(std::string* out, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  out->push_back(static_cast<char>(0xcb));
  internal::Put64(out, bits);
}
inline void AppendFloat32(std::string* out, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  out->push_back(static_cast<char>(0xca));
  internal::Put32(out, bits);
}

}  // namespace llmobs_edge::decoder
