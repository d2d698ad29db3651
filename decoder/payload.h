#pragma once
// Zero-copy views of a decoded v0.4 trace payload: chunks, spans, every span field, and the byte
// offsets of each span and of its meta / metrics / meta_struct maps. PayloadReader fills them in
// one pass; the rescue logic, `llmobs-edge inspect` and the splicer read them. Every string_view
// points into the caller's payload bytes, which must outlive the Payload.

#include <cstdint>
#include <string_view>
#include <vector>

namespace llmobs_edge::decoder {

// A map or array value inside the payload: where it starts (its header), where it ends, and its
// entry count. `present` is false when the key was absent or the value was nil.
struct ValueRange {
  uint32_t begin = 0;
  uint32_t end = 0;
  uint32_t count = 0;
  bool present = false;
};

// Bits of SpanView::fields: which schema keys the span map contained (nil counts as present).
enum SpanField : uint32_t {
  kFieldService = 1u << 0,
  kFieldName = 1u << 1,
  kFieldResource = 1u << 2,
  kFieldTraceId = 1u << 3,
  kFieldSpanId = 1u << 4,
  kFieldParentId = 1u << 5,
  kFieldStart = 1u << 6,
  kFieldDuration = 1u << 7,
  kFieldError = 1u << 8,
  kFieldMeta = 1u << 9,
  kFieldMetrics = 1u << 10,
  kFieldType = 1u << 11,
  kFieldMetaStruct = 1u << 12,
  kFieldSpanLinks = 1u << 13,
  kFieldSpanEvents = 1u << 14,
};

struct SpanView {
  // Byte layout: the span map spans [begin, end); its header is `header_size` bytes (1, 3, 5)
  // and announces `entry_count` key/value pairs. `index` is the span's position in
  // Payload::spans, `chunk` its chunk's position in Payload::chunks.
  uint32_t begin = 0;
  uint32_t end = 0;
  uint32_t index = 0;
  uint32_t chunk = 0;
  uint32_t entry_count = 0;
  uint8_t header_size = 0;
  uint32_t fields = 0;       // SpanField bits
  uint32_t unknown_keys = 0;  // keys outside the schema (skipped, as the Agent does)

  // Scalar fields, with the Agent's defaults for absent or nil values.
  std::string_view service, name, resource, type;
  uint64_t trace_id = 0;
  uint64_t span_id = 0;
  uint64_t parent_id = 0;
  int64_t start = 0;
  int64_t duration = 0;
  int32_t error = 0;

  // Maps and arrays (the last occurrence of a duplicated key, as in the Agent).
  ValueRange meta, metrics, meta_struct, span_links, span_events;
  // Where the (last) "meta" / "meta_struct" key starts, and how often each key occurs, so the
  // splicer can copy everything around them verbatim without re-parsing the span.
  uint32_t meta_key = 0;
  uint32_t meta_struct_key = 0;
  uint8_t meta_keys = 0;
  uint8_t meta_struct_keys = 0;

  // Facts the reader picks up while it walks meta / metrics / meta_struct anyway, so no caller
  // needs a second pass. `has_*` tells presence; values are views into the payload.
  bool has_priority = false;            // metrics["_sampling_priority_v1"]
  double priority = 0;
  bool has_span_sampling = false;       // metrics["_dd.span_sampling.mechanism"]
  double span_sampling_mechanism = 0;
  bool has_tid = false;                 // meta["_dd.p.tid"]
  std::string_view tid;
  bool has_dm = false;                  // meta["_dd.p.dm"]
  std::string_view dm;
  bool has_error_type = false;          // meta["error.type"]
  std::string_view error_type;
  bool has_llmobs_submitted = false;    // meta["_dd.llmobs.submitted"]
  std::string_view llmobs_submitted;
  bool has_llmobs = false;              // meta_struct["_llmobs"]
  std::string_view llmobs;              // the bin body: a standalone msgpack document

  bool has(SpanField f) const { return (fields & f) != 0; }
  bool llmobs_already_submitted() const {
    return has_llmobs_submitted && llmobs_submitted == "1";
  }
};

struct ChunkView {
  uint32_t begin = 0;
  uint32_t end = 0;
  uint8_t header_size = 0;
  uint32_t entry_count = 0;  // array entries, nil spans included
  uint32_t first_span = 0;   // index into Payload::spans
  uint32_t span_count = 0;   // non-nil spans
  uint32_t nil_spans = 0;    // nil entries (allowed by the Agent, skipped)
};

struct Payload {
  std::string_view bytes;
  uint8_t header_size = 0;
  uint32_t end = 0;  // end of the top-level array; bytes after it are trailing (kept verbatim)
  std::vector<ChunkView> chunks;
  std::vector<SpanView> spans;
  uint32_t llmobs_spans = 0;  // spans carrying meta_struct["_llmobs"]

  void Clear() {
    bytes = {};
    header_size = 0;
    end = 0;
    chunks.clear();
    spans.clear();
    llmobs_spans = 0;
  }
  const SpanView* chunk_begin(const ChunkView& c) const { return spans.data() + c.first_span; }
  const SpanView* chunk_end(const ChunkView& c) const {
    return spans.data() + c.first_span + c.span_count;
  }
};

}  // namespace llmobs_edge::decoder
