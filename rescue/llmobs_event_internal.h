#pragma once
// The event builder's shared parts, private to rescue/llmobs_event*.cc: the msgpack and UTF-8
// helpers and EventBuilder::Parsed, the map of the struct's fields that reading
// (llmobs_event_parse.cc) fills and writing (llmobs_event_emit.cc) and Build (llmobs_event.cc) use.
//
// How an event is made (llmobs.md §2): one pass over the top-level map of the `_llmobs` struct
// records where each field the event needs lives; tags are rendered and sorted in the builder's
// buffers; then the event is written in dd-trace-py's key order, transcoding nested values straight
// from the struct bytes (maps sorted and deduplicated per nesting level, scalars by decoder/json.h).

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "decoder/cursor.h"
#include "decoder/json.h"
#include "rescue/llmobs_event.h"

namespace llmobs_edge::rescue {
namespace event_internal {

using decoder::JsonStats;
using decoder::MsgpackCursor;

inline constexpr std::string_view kStructName = "meta_struct[\"_llmobs\"]";

inline bool IsStrOrBin(uint8_t t) {
  return (t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb) || (t >= 0xc4 && t <= 0xc6);
}
inline bool IsBin(uint8_t t) { return t >= 0xc4 && t <= 0xc6; }
inline bool IsMap(uint8_t t) { return (t & 0xf0) == 0x80 || t == 0xde || t == 0xdf; }
inline bool IsArray(uint8_t t) { return (t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd; }
inline bool IsExt(uint8_t t) { return (t >= 0xc7 && t <= 0xc9) || (t >= 0xd4 && t <= 0xd8); }
inline bool IsUnsigned(uint8_t t) { return t <= 0x7f || (t >= 0xcc && t <= 0xcf); }
inline bool IsSigned(uint8_t t) { return t >= 0xe0 || (t >= 0xd0 && t <= 0xd3); }

using decoder::Utf8SequenceLength;

inline bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  for (size_t i = 0, n = s.size(); i < n;) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(p + i, n - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// Appends `s` with every invalid UTF-8 byte replaced by U+FFFD, as AppendJsonString does, so
// strings sorted here sort as the intake will see them.
inline void AppendRepairedUtf8(std::string_view s, std::string* out, JsonStats* stats) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0, run = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(p + i, n - i);
    if (len > 0) {
      i += len;
      continue;
    }
    out->append(s.data() + run, i - run);
    out->append("\xEF\xBF\xBD");
    if (stats != nullptr) ++stats->repaired_utf8_bytes;
    run = ++i;
  }
  out->append(s.data() + run, n - run);
}

template <typename T>
inline void AppendInteger(T v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr - buf);
}

inline std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (const std::string_view p : parts) s.append(p);
  return s;
}

inline absl::Status StructError(std::string_view field, const MsgpackCursor& c) {
  const absl::Status status = c.status();
  const std::string_view reason(status.message().data(), status.message().size());
  return absl::InvalidArgumentError(Cat({kStructName, " ", field, ": ", reason}));
}

}  // namespace event_internal

// Where the fields of the struct that the conversion reads are (last occurrence wins; nil counts
// as absent). Offsets are into `doc`.
struct EventBuilder::Parsed {
  struct Text {
    std::string_view value;
    bool present = false;
  };
  struct Range {
    uint32_t begin = 0;
    uint32_t count = 0;
    bool present = false;
  };
  std::string_view doc;
  Text trace_id, parent_id, name, session_id, pagent_name, pagent_span_id;
  Range tags, metrics, meta, dd, span_links, config;
  bool tags_is_list = false;
};

}  // namespace llmobs_edge::rescue
