#pragma once
// msgpack -> JSON transcoder for meta_struct documents (the `_llmobs` struct above all). Integers
// are exact (full uint64 and int64); float64 values print as the shortest text that reads back to
// the same double, with ".0" kept on integral floats so the int/float distinction survives; output
// is always valid UTF-8 (each invalid byte becomes U+FFFD, as the Agent repairs strings). Types
// JSON cannot hold are handled explicitly (JsonOptions). Iterative, with a depth limit, so hostile
// documents cannot exhaust the stack. Used by rescue (event building) and inspect.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "decoder/cursor.h"

namespace llmobs_edge::decoder {

struct JsonOptions {
  // Containers nested deeper than this make the conversion fail.
  int max_depth = 64;
  // bin values: base64 text in a JSON string (true), or null (false).
  bool bin_as_base64 = true;
};

// What the transcoder had to change; all zero for a document produced by a tracer SDK.
struct JsonStats {
  uint32_t repaired_utf8_bytes = 0;  // invalid UTF-8 bytes written as U+FFFD
  uint32_t non_finite_floats = 0;    // NaN / +-Inf written as null
  uint32_t ext_values = 0;           // msgpack ext values written as null
  uint32_t bin_values = 0;           // bin values (base64 or null)
  uint32_t skipped_keys = 0;         // map keys that are maps or arrays: pair skipped
  uint32_t converted_keys = 0;       // non-string keys written as their text (1 -> "1")
};

// Converts exactly one complete msgpack document (trailing bytes are an error) and appends the
// JSON to `out`. On error `out` may hold a partial document.
absl::Status MsgpackToJson(std::string_view doc, std::string* out, const JsonOptions& options = {},
                           JsonStats* stats = nullptr);

// Converts the one value at `cursor` (which advances past it) and appends the JSON to `out`. For
// callers that walk a document themselves and transcode sub-values (the event builder).
bool AppendJsonValue(MsgpackCursor& cursor, std::string* out, const JsonOptions& options,
                     JsonStats* stats);

// Appends `s` as a quoted JSON string, escaping as needed and repairing invalid UTF-8.
void AppendJsonString(std::string_view s, std::string* out, JsonStats* stats = nullptr);

// Shortest round-trip text of a double; integral values keep ".0". Non-finite -> "null".
void AppendJsonDouble(double d, std::string* out, JsonStats* stats = nullptr);

// Length of the well-formed UTF-8 sequence at p (n > 0 bytes available; RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF), or 0 if the bytes there are not one. The
// transcoder's validity rule, shared with the intake event builder.
size_t Utf8SequenceLength(const uint8_t* p, size_t n);

}  // namespace llmobs_edge::decoder
