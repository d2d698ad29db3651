#pragma once
// MsgpackCursor: a bounds-checked, allocation-free reader over untrusted msgpack bytes. The v0.4
// reader, the splicer and the JSON transcoder use it to read headers, scalars and strings in place
// (string bodies are returned as views, never copied) and to skip whole values without recursion.
// Every read checks the remaining length first; a failed read records the offset and a static
// reason, so the hot path never builds an absl::Status until the very end.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace llmobs_edge::decoder {

// A short, stable name of the msgpack type whose first byte is `tag` ("fixstr", "map32", ...).
const char* MsgpackTypeName(uint8_t tag);

class MsgpackCursor {
 public:
  explicit MsgpackCursor(std::string_view bytes, size_t start = 0)
      : base_(reinterpret_cast<const uint8_t*>(bytes.data())),
        p_(base_ + (start <= bytes.size() ? start : bytes.size())),
        end_(base_ + bytes.size()) {}

  size_t offset() const { return static_cast<size_t>(p_ - base_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool at_end() const { return p_ >= end_; }
  const uint8_t* data() const { return p_; }

  bool ok() const { return reason_ == nullptr; }
  size_t error_offset() const { return error_offset_; }
  const char* error_reason() const { return reason_; }
  // "offset 123: <reason> (found map32)"; OK when no read failed.
  absl::Status status() const;

  // After a failed read, names what was being read ("meta value"); the first context sticks.
  // Always returns false.
  bool Context(const char* what) {
    if (context_ == nullptr) context_ = what;
    return false;
  }
  // Rejects a nil (msgpack keys may be str or bin, never nil) before a ReadStrOrBin.
  bool ReadKey(std::string_view* s) {
    if (p_ < end_ && *p_ == 0xc0) return Fail("a key must be str or bin");
    return ReadStrOrBin(s);
  }

  // Records a failure at the current offset. Always returns false so callers can `return Fail(..)`.
  bool Fail(const char* reason) { return FailAt(offset(), reason); }
  bool FailAt(size_t at, const char* reason) {
    if (reason_ == nullptr) {
      reason_ = reason;
      error_offset_ = at;
      found_tag_ = at < static_cast<size_t>(end_ - base_) ? static_cast<int>(base_[at]) : -1;
    }
    return false;
  }

  bool PeekTag(uint8_t* tag) const {
    if (p_ >= end_) return false;
    *tag = *p_;
    return true;
  }
  // Consumes a nil if one is next. Returns whether it did.
  bool TryReadNil() {
    if (p_ < end_ && *p_ == 0xc0) {
      ++p_;
      return true;
    }
    return false;
  }

  // Map or array header (no nil). The entry count is checked against the bytes left: every entry
  // takes at least one byte, so a lying header fails here instead of driving a long loop.
  bool ReadMapHeader(uint32_t* n);
  bool ReadArrayHeader(uint32_t* n);
  // Byte width of the header just read or of a header at `tag` (1, 3 or 5); 0 if not a map/array.
  static int ContainerHeaderSize(uint8_t tag);

  // str8/16/32, fixstr, bin8/16/32 or nil ("" for nil): the Agent's string tolerance.
  [[gnu::always_inline]] inline bool ReadStrOrBin(std::string_view* s);
  // Strict forms.
  bool ReadStr(std::string_view* s);
  bool ReadBin(std::string_view* s);

  // Integers with the Agent's tolerance (agent-protocol.md §5.5).
  // IDs: uint, or signed int reinterpreted as two's complement; nil -> 0; float -> error.
  bool ReadIdTolerant(uint64_t* v);
  // start / duration: int or uint <= INT64_MAX; nil -> 0.
  bool ReadInt64Tolerant(int64_t* v);
  // error: int or uint within int32; nil -> 0.
  bool ReadInt32Tolerant(int32_t* v);
  // metrics values: int, uint, float64; nil -> 0; float32 -> error.
  bool ReadFloat64Tolerant(double* v);

  // Skips exactly one complete value of any type, iteratively (no recursion, no depth limit
  // needed: work is bounded by the bytes left).
  bool Skip();

 private:
  inline uint32_t Load16(const uint8_t* q) const { return (uint32_t{q[0]} << 8) | q[1]; }
  inline uint32_t Load32(const uint8_t* q) const {
    uint32_t v;
    std::memcpy(&v, q, 4);
    return __builtin_bswap32(v);
  }
  inline uint64_t Load64(const uint8_t* q) const {
    uint64_t v;
    std::memcpy(&v, q, 8);
    return __builtin_bswap64(v);
  }
  // Reads any integer (int or uint family, fixints included). `is_signed` tells which family.
  bool ReadAnyInt(uint64_t* bits, bool* is_signed, bool* is_nil);
  bool StringBody(size_t header, size_t len, std::string_view* s) {
    if (len > remaining() - header) return Fail("string or bin length exceeds the bytes left");
    *s = std::string_view(reinterpret_cast<const char*>(p_ + header), len);
    p_ += header + len;
    return true;
  }

  const uint8_t* base_;
  const uint8_t* p_;
  const uint8_t* end_;
  const char* reason_ = nullptr;
  const char* context_ = nullptr;
  size_t error_offset_ = 0;
  int found_tag_ = -1;
};

[[gnu::always_inline]] inline bool MsgpackCursor::ReadStrOrBin(std::string_view* s) {
  if (p_ >= end_) return Fail("unexpected end of data, expected a string");
  const uint8_t t = *p_;
  if ((t & 0xe0) == 0xa0) return StringBody(1, t & 0x1f, s);
  switch (t) {
    case 0xc0:
      ++p_;
      *s = std::string_view();
      return true;
    case 0xd9:
    case 0xc4:
      if (remaining() < 2) return Fail("truncated string header");
      return StringBody(2, p_[1], s);
    case 0xda:
    case 0xc5:
      if (remaining() < 3) return Fail("truncated string header");
      return StringBody(3, Load16(p_ + 1), s);
    case 0xdb:
    case 0xc6:
      if (remaining() < 5) return Fail("truncated string header");
      return StringBody(5, Load32(p_ + 1), s);
    default:
      return Fail("expected str, bin or nil");
  }
}

}  // namespace llmobs_edge::decoder
