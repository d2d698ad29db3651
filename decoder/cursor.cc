#include "decoder/cursor.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace llmobs_edge::decoder {

const char* MsgpackTypeName(uint8_t t) {
  if (t <= 0x7f) return "positive_fixint";
  if (t <= 0x8f) return "fixmap";
  if (t <= 0x9f) return "fixarray";
  if (t <= 0xbf) return "fixstr";
  if (t >= 0xe0) return "negative_fixint";
  switch (t) {
    case 0xc0: return "nil";
    case 0xc1: return "never_used";
    case 0xc2: return "false";
    case 0xc3: return "true";
    case 0xc4: return "bin8";
    case 0xc5: return "bin16";
    case 0xc6: return "bin32";
    case 0xc7: return "ext8";
    case 0xc8: return "ext16";
    case 0xc9: return "ext32";
    case 0xca: return "float32";
    case 0xcb: return "float64";
    case 0xcc: return "uint8";
    case 0xcd: return "uint16";
    case 0xce: return "uint32";
    case 0xcf: return "uint64";
    case 0xd0: return "int8";
    case 0xd1: return "int16";
    case 0xd2: return "int32";
    case 0xd3: return "int64";
    case 0xd4: return "fixext1";
    case 0xd5: return "fixext2";
    case 0xd6: return "fixext4";
    case 0xd7: return "fixext8";
    case 0xd8: return "fixext16";
    case 0xd9: return "str8";
    case 0xda: return "str16";
    case 0xdb: return "str32";
    case 0xdc: return "array16";
    case 0xdd: return "array32";
    case 0xde: return "map16";
    default: return "map32";  // 0xdf
  }
}

absl::Status MsgpackCursor::status() const {
  if (reason_ == nullptr) return absl::OkStatus();
  std::string message = absl::StrCat("offset ", error_offset_, ": ");
  if (context_ != nullptr) absl::StrAppend(&message, context_, ": ");
  absl::StrAppend(&message, reason_);
  if (found_tag_ >= 0) {
    absl::StrAppend(&message, " (found ", MsgpackTypeName(static_cast<uint8_t>(found_tag_)), ")");
  }
  return absl::InvalidArgumentError(message);
}

int MsgpackCursor::ContainerHeaderSize(uint8_t t) {
  if ((t >= 0x80 && t <= 0x9f)) return 1;
  if (t == 0xdc || t == 0xde) return 3;
  if (t == 0xdd || t == 0xdf) return 5;
  return 0;
}

bool MsgpackCursor::ReadMapHeader(uint32_t* n) {
  if (p_ >= end_) return Fail("unexpected end of data, expected a map");
  const uint8_t t = *p_;
  uint32_t count;
  size_t header;
  if ((t & 0xf0) == 0x80) {
    count = t & 0x0f;
    header = 1;
  } else if (t == 0xde) {
    if (remaining() < 3) return Fail("truncated map header");
    count = Load16(p_ + 1);
    header = 3;
  } else if (t == 0xdf) {
    if (remaining() < 5) return Fail("truncated map header");
    count = Load32(p_ + 1);
    header = 5;
  } else {
    return Fail("expected a map");
  }
  if (uint64_t{count} * 2 > remaining() - header) {
    return Fail("map length exceeds the bytes left");
  }
  p_ += header;
  *n = count;
  return true;
}

bool MsgpackCursor::ReadArrayHeader(uint32_t* n) {
  if (p_ >= end_) return Fail("unexpected end of data, expected an array");
  const uint8_t t = *p_;
  uint32_t count;
  size_t header;
  if ((t & 0xf0) == 0x90) {
    count = t & 0x0f;
    header = 1;
  } else if (t == 0xdc) {
    if (remaining() < 3) return Fail("truncated array header");
    count = Load16(p_ + 1);
    header = 3;
  } else if (t == 0xdd) {
    if (remaining() < 5) return Fail("truncated array header");
    count = Load32(p_ + 1);
    header = 5;
  } else {
    return Fail("expected an array");
  }
  if (count > remaining() - header) return Fail("array length exceeds the bytes left");
  p_ += header;
  *n = count;
  return true;
}

bool MsgpackCursor::ReadStr(std::string_view* s) {
  if (p_ >= end_) return Fail("unexpected end of data, expected a str");
  const uint8_t t = *p_;
  if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb) return ReadStrOrBin(s);
  return Fail("expected a str");
}

bool MsgpackCursor::ReadBin(std::string_view* s) {
  if (p_ >= end_) return Fail("unexpected end of data, expected a bin");
  const uint8_t t = *p_;
  if (t == 0xc4 || t == 0xc5 || t == 0xc6) return ReadStrOrBin(s);
  return Fail("expected a bin");
}

bool MsgpackCursor::ReadAnyInt(uint64_t* bits, bool* is_signed, bool* is_nil) {
  if (p_ >= end_) return Fail("unexpected end of data, expected an integer");
  const uint8_t t = *p_;
  *is_nil = false;
  if (t <= 0x7f) {
    *bits = t;
    *is_signed = false;
    ++p_;
    return true;
  }
  if (t >= 0xe0) {
    *bits = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(t)));
    *is_signed = true;
    ++p_;
    return true;
  }
  size_t need;
  switch (t) {
    case 0xc0:
      *is_nil = true;
      *bits = 0;
      *is_signed = false;
      ++p_;
      return true;
    case 0xcc: case 0xd0: need = 2; break;
    case 0xcd: case 0xd1: need = 3; break;
    case 0xce: case 0xd2: need = 5; break;
    case 0xcf: case 0xd3: need = 9; break;
    default:
      return Fail("expected an integer");
  }
  if (remaining() < need) return Fail("truncated integer");
  const uint8_t* q = p_ + 1;
  switch (t) {
    case 0xcc: *bits = q[0]; *is_signed = false; break;
    case 0xcd: *bits = Load16(q); *is_signed = false; break;
    case 0xce: *bits = Load32(q); *is_signed = false; break;
    case 0xcf: *bits = Load64(q); *is_signed = false; break;
    case 0xd0:
      *bits = static_cast<uint64_t>(int64_t{static_cast<int8_t>(q[0])});
      *is_signed = true;
      break;
    case 0xd1:
      *bits = static_cast<uint64_t>(int64_t{static_cast<int16_t>(Load16(q))});
      *is_signed = true;
      break;
    case 0xd2:
      *bits = static_cast<uint64_t>(int64_t{static_cast<int32_t>(Load32(q))});
      *is_signed = true;
      break;
    default:
      *bits = Load64(q);
      *is_signed = true;
      break;
  }
  p_ += need;
  return true;
}

bool MsgpackCursor::ReadIdTolerant(uint64_t* v) {
  bool is_signed, is_nil;
  return ReadAnyInt(v, &is_signed, &is_nil);
}

bool MsgpackCursor::ReadInt64Tolerant(int64_t* v) {
  const size_t at = offset();
  uint64_t bits;
  bool is_signed, is_nil;
  if (!ReadAnyInt(&bits, &is_signed, &is_nil)) return false;
  if (!is_signed && bits > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return FailAt(at, "found uint64, overflows int64");
  }
  *v = static_cast<int64_t>(bits);
  return true;
}

bool MsgpackCursor::ReadInt32Tolerant(int32_t* v) {
  const size_t at = offset();
  uint64_t bits;
  bool is_signed, is_nil;
  if (!ReadAnyInt(&bits, &is_signed, &is_nil)) return false;
  const int64_t s = static_cast<int64_t>(bits);
  if (is_signed ? (s < std::numeric_limits<int32_t>::min() ||
                   s > std::numeric_limits<int32_t>::max())
                : bits > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return FailAt(at, "integer overflows int32");
  }
  *v = static_cast<int32_t>(s);
  return true;
}

bool MsgpackCursor::ReadFloat64Tolerant(double* v) {
  if (p_ >= end_) return Fail("unexpected end of data, expected a number");
  const uint8_t t = *p_;
  if (t == 0xcb) {
    if (remaining() < 9) return Fail("truncated float64");
    const uint64_t bits = Load64(p_ + 1);
    std::memcpy(v, &bits, 8);
    p_ += 9;
    return true;
  }
  if (t == 0xca) return Fail("float32 is not accepted by the Agent");
  const bool is_int = t <= 0x7f || t >= 0xe0 || t == 0xc0 || (t >= 0xcc && t <= 0xd3);
  if (!is_int) return Fail("expected a number");
  uint64_t bits;
  bool is_signed, is_nil;
  if (!ReadAnyInt(&bits, &is_signed, &is_nil)) return false;
  *v = is_signed ? static_cast<double>(static_cast<int64_t>(bits)) : static_cast<double>(bits);
  return true;
}

bool MsgpackCursor::Skip() {
  uint64_t pending = 1;
  while (pending > 0) {
    if (p_ >= end_) return Fail("unexpected end of data inside a value");
    const uint8_t t = *p_;
    --pending;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
      ++p_;
      continue;
    }
    if ((t & 0xe0) == 0xa0) {
      const size_t len = t & 0x1f;
      if (len > remaining() - 1) return Fail("string length exceeds the bytes left");
      p_ += 1 + len;
      continue;
    }
    if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
      uint32_t n;
      if (!ReadMapHeader(&n)) return false;
      pending += uint64_t{n} * 2;
      continue;
    }
    if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
      uint32_t n;
      if (!ReadArrayHeader(&n)) return false;
      pending += n;
      continue;
    }
    size_t fixed = 0;  // total bytes of a fixed-size value
    size_t len_bytes = 0;  // size of a length prefix that follows the tag
    size_t extra = 0;  // bytes between the length and the body (ext type byte)
    switch (t) {
      case 0xcc: case 0xd0: fixed = 2; break;
      case 0xcd: case 0xd1: fixed = 3; break;
      case 0xce: case 0xd2: case 0xca: fixed = 5; break;
      case 0xcf: case 0xd3: case 0xcb: fixed = 9; break;
      case 0xd4: fixed = 3; break;
      case 0xd5: fixed = 4; break;
      case 0xd6: fixed = 6; break;
      case 0xd7: fixed = 10; break;
      case 0xd8: fixed = 18; break;
      case 0xc4: case 0xd9: len_bytes = 1; break;
      case 0xc5: case 0xda: len_bytes = 2; break;
      case 0xc6: case 0xdb: len_bytes = 4; break;
      case 0xc7: len_bytes = 1; extra = 1; break;
      case 0xc8: len_bytes = 2; extra = 1; break;
      case 0xc9: len_bytes = 4; extra = 1; break;
      default:
        return Fail("invalid msgpack type byte 0xc1");
    }
    if (fixed > 0) {
      if (remaining() < fixed) return Fail("truncated value");
      p_ += fixed;
      continue;
    }
    if (remaining() < 1 + len_bytes + extra) return Fail("truncated length header");
    size_t len = len_bytes == 1 ? p_[1] : len_bytes == 2 ? Load16(p_ + 1) : Load32(p_ + 1);
    const size_t header = 1 + len_bytes + extra;
    if (len > remaining() - header) return Fail("length exceeds the bytes left");
    p_ += header + len;
  }
  return true;
}

}  // namespace llmobs_edge::decoder
