#include "decoder/json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace llmobs_edge::decoder {
namespace {

// Index of the first byte at or after `i` that a JSON string cannot copy as is: a control byte
// (< 0x20), a byte of a multi-byte UTF-8 sequence (>= 0x80), '"' or '\\'. Returns n if none.
// Sixteen bytes per step where SSE2 is available (every x86-64): a signed compare with 0x20 is
// true for both the control bytes and the bytes >= 0x80.
inline size_t SkipPlainJsonBytes(const uint8_t* p, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i escaped = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
    const __m128i special = _mm_or_si128(_mm_cmplt_epi8(v, space), escaped);
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < n; ++i) {
    const uint8_t ch = p[i];
    if (ch < 0x20 || ch >= 0x80 || ch == '"' || ch == '\\') return i;
  }
  return n;
}

constexpr char kHex[] = "0123456789abcdef";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


void AppendBase64(std::string_view s, std::string* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  out->push_back('"');
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    const char q[4] = {kBase64[v >> 18], kBase64[(v >> 12) & 63], kBase64[(v >> 6) & 63],
                       kBase64[v & 63]};
    out->append(q, 4);
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t{p[i]} << 16;
    const char q[4] = {kBase64[v >> 18], kBase64[(v >> 12) & 63], '=', '='};
    out->append(q, 4);
  } else if (n - i == 2) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    const char q[4] = {kBase64[v >> 18], kBase64[(v >> 12) & 63], kBase64[(v >> 6) & 63], '='};
    out->append(q, 4);
  }
  out->push_back('"');
}

template <typename T>
void AppendInteger(T v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr - buf);
}

template <typename F>
void AppendFloating(F d, std::string* out, JsonStats* stats) {
  if (!std::isfinite(d)) {
    if (stats != nullptr) ++stats->non_finite_floats;
    out->append("null");
    return;
  }
  char buf[40];
  const auto r = std::to_chars(buf, buf + sizeof(buf), d);
  const std::string_view text(buf, r.ptr - buf);
  out->append(text);
  if (text.find_first_of(".e") == std::string_view::npos) out->append(".0");
}

struct Frame {
  uint32_t left;        // entries (map: pairs) still to read
  bool is_map;
  bool wrote_any;       // a comma goes before the next entry
};

// One scalar, or the header of a container. Scalars are written to `out`.
enum class Read { kScalar, kMap, kArray, kFail };

Read ReadOne(MsgpackCursor& c, std::string* out, const JsonOptions& options, JsonStats* stats,
             uint32_t* count) {
  uint8_t t;
  if (!c.PeekTag(&t)) {
    c.Fail("unexpected end of data inside a document");
    return Read::kFail;
  }
  if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
    return c.ReadMapHeader(count) ? Read::kMap : Read::kFail;
  }
  if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
    return c.ReadArrayHeader(count) ? Read::kArray : Read::kFail;
  }
  if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb) {
    std::string_view s;
    if (!c.ReadStrOrBin(&s)) return Read::kFail;
    AppendJsonString(s, out, stats);
    return Read::kScalar;
  }
  if (t == 0xc4 || t == 0xc5 || t == 0xc6) {
    std::string_view s;
    if (!c.ReadStrOrBin(&s)) return Read::kFail;
    if (stats != nullptr) ++stats->bin_values;
    if (options.bin_as_base64) {
      AppendBase64(s, out);
    } else {
      out->append("null");
    }
    return Read::kScalar;
  }
  switch (t) {
    case 0xc0:
      c.TryReadNil();
      out->append("null");
      return Read::kScalar;
    case 0xc2:
    case 0xc3:
      out->append(t == 0xc3 ? "true" : "false");
      c.Skip();
      return Read::kScalar;
    case 0xca: {
      if (c.remaining() < 5) {
        c.Fail("truncated float32");
        return Read::kFail;
      }
      const uint8_t* q = c.data() + 1;
      const uint32_t bits = (uint32_t{q[0]} << 24) | (uint32_t{q[1]} << 16) |
                            (uint32_t{q[2]} << 8) | q[3];
      float f;
      std::memcpy(&f, &bits, 4);
      c.Skip();
      // Printed through its exact double value, so the text reads back to the same number.
      AppendFloating(static_cast<double>(f), out, stats);
      return Read::kScalar;
    }
    case 0xcb: {
      double d;
      if (!c.ReadFloat64Tolerant(&d)) return Read::kFail;
      AppendFloating(d, out, stats);
      return Read::kScalar;
    }
    case 0xc1:
      c.Fail("invalid msgpack type byte 0xc1");
      return Read::kFail;
    default:
      break;
  }
  if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3)) {
    const bool is_unsigned = t <= 0x7f || (t >= 0xcc && t <= 0xcf);
    uint64_t bits;
    if (!c.ReadIdTolerant(&bits)) return Read::kFail;
    if (is_unsigned) {
      AppendInteger(bits, out);
    } else {
      AppendInteger(static_cast<int64_t>(bits), out);
    }
    return Read::kScalar;
  }
  // ext family
  if (!c.Skip()) return Read::kFail;
  if (stats != nullptr) ++stats->ext_values;
  out->append("null");
  return Read::kScalar;
}

// A map key: strings as they are, scalars as their JSON text in quotes; containers and ext are
// skipped with their value. Returns false with *skip = true for a skipped pair.
bool AppendKey(MsgpackCursor& c, std::string* out, const JsonOptions& options, JsonStats* stats,
               bool* skip) {
  uint8_t t = 0;
  c.PeekTag(&t);
  *skip = false;
  if ((t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb) || (t >= 0xc4 && t <= 0xc6)) {
    std::string_view s;
    if (!c.ReadStrOrBin(&s)) return false;
    if (t >= 0xc4 && t <= 0xc6 && stats != nullptr) ++stats->converted_keys;
    AppendJsonString(s, out, stats);
    return true;
  }
  const bool container = (t & 0xe0) == 0x80 || (t >= 0xdc && t <= 0xdf);
  const bool ext = (t >= 0xc7 && t <= 0xc9) || (t >= 0xd4 && t <= 0xd8);
  if (container || ext) {
    if (stats != nullptr) ++stats->skipped_keys;
    *skip = true;
    return c.Skip() && c.Skip();
  }
  std::string text;
  uint32_t unused;
  if (ReadOne(c, &text, options, stats, &unused) != Read::kScalar) return false;
  if (stats != nullptr) ++stats->converted_keys;
  AppendJsonString(text, out, stats);
  return true;
}

}  // namespace

size_t Utf8SequenceLength(const uint8_t* p, size_t n) {
  const uint8_t b0 = p[0];
  auto cont = [&](size_t i, uint8_t lo = 0x80, uint8_t hi = 0xbf) {
    return i < n && p[i] >= lo && p[i] <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 == 0xee || b0 == 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

void AppendJsonString(std::string_view s, std::string* out, JsonStats* stats) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  out->push_back('"');
  size_t run = 0;
  size_t i = 0;
  for (;;) {
    i = SkipPlainJsonBytes(p, i, n);
    if (i >= n) break;
    const uint8_t ch = p[i];
    if (ch >= 0x80) {
      const size_t len = Utf8SequenceLength(p + i, n - i);
      if (len > 0) {  // valid UTF-8 is copied as is: it stays in the current run
        i += len;
        continue;
      }
      out->append(s.data() + run, i - run);
      out->append("\xEF\xBF\xBD");
      if (stats != nullptr) ++stats->repaired_utf8_bytes;
      run = ++i;
      continue;
    }
    out->append(s.data() + run, i - run);
    switch (ch) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[ch >> 4], kHex[ch & 15]};
        out->append(esc, 6);
      }
    }
    run = ++i;
  }
  out->append(s.data() + run, n - run);
  out->push_back('"');
}

void AppendJsonDouble(double d, std::string* out, JsonStats* stats) {
  AppendFloating(d, out, stats);
}

bool AppendJsonValue(MsgpackCursor& c, std::string* out, const JsonOptions& options,
                     JsonStats* stats) {
  std::vector<Frame> stack;
  for (;;) {
    if (!stack.empty()) {
      Frame& f = stack.back();
      if (f.left == 0) {
        out->push_back(f.is_map ? '}' : ']');
        stack.pop_back();
        if (stack.empty()) return true;
        continue;
      }
      --f.left;
      if (f.is_map) {
        const size_t mark = out->size();
        if (f.wrote_any) out->push_back(',');
        bool skip = false;
        if (!AppendKey(c, out, options, stats, &skip)) return c.Context("map key");
        if (skip) {
          out->resize(mark);
          continue;
        }
        out->push_back(':');
      } else if (f.wrote_any) {
        out->push_back(',');
      }
      f.wrote_any = true;
    }
    uint32_t count = 0;
    const size_t at = c.offset();
    const Read read = ReadOne(c, out, options, stats, &count);
    if (read == Read::kFail) return false;
    if (read == Read::kScalar) {
      if (stack.empty()) return true;
      continue;
    }
    if (static_cast<int>(stack.size()) >= options.max_depth) {
      return c.FailAt(at, "document nested deeper than the depth limit");
    }
    const bool is_map = read == Read::kMap;
    out->push_back(is_map ? '{' : '[');
    stack.push_back(Frame{count, is_map, false});
  }
}

absl::Status MsgpackToJson(std::string_view doc, std::string* out, const JsonOptions& options,
                           JsonStats* stats) {
  MsgpackCursor c(doc);
  if (!AppendJsonValue(c, out, options, stats)) return c.status();
  if (!c.at_end()) {
    c.Fail("trailing bytes after the document");
    return c.status();
  }
  return absl::OkStatus();
}

}  // namespace llmobs_edge::decoder
