#include "decoder/reader.h"

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "decoder/cursor.h"

namespace llmobs_edge::decoder {
namespace {

// `k` has already been matched on length N-1 by the caller's switch.
template <size_t N>
inline bool Is(std::string_view k, const char (&lit)[N]) {
  return std::memcmp(k.data(), lit, N - 1) == 0;
}

// Length and bytes, the length taken from the literal.
template <size_t N>
inline bool Eq(std::string_view k, const char (&lit)[N]) {
  return k.size() == N - 1 && std::memcmp(k.data(), lit, N - 1) == 0;
}

class SpanScanner {
 public:
  explicit SpanScanner(MsgpackCursor& c) : c_(c) {}

  bool ReadSpan(SpanView* s) {
    uint8_t tag = 0;
    c_.PeekTag(&tag);
    s->header_size = static_cast<uint8_t>(MsgpackCursor::ContainerHeaderSize(tag));
    uint32_t n;
    if (!c_.ReadMapHeader(&n)) return c_.Context("span");
    s->entry_count = n;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t key_at = static_cast<uint32_t>(c_.offset());
      std::string_view k;
      if (!c_.ReadKey(&k)) return c_.Context("span key");
      if (!ReadField(k, key_at, s)) return false;
    }
    s->end = static_cast<uint32_t>(c_.offset());
    return true;
  }

 private:
  bool ReadField(std::string_view k, uint32_t key_at, SpanView* s) {
    switch (k.size()) {
      case 4:
        if (Is(k, "name")) return Str(&s->name, s, kFieldName, "name");
        if (Is(k, "meta")) {
          s->meta_key = key_at;
          if (s->meta_keys < 255) ++s->meta_keys;
          return ReadMeta(s);
        }
        if (Is(k, "type")) return Str(&s->type, s, kFieldType, "type");
        break;
      case 5:
        if (Is(k, "start")) {
          s->fields |= kFieldStart;
          return c_.ReadInt64Tolerant(&s->start) || c_.Context("start");
        }
        if (Is(k, "error")) {
          s->fields |= kFieldError;
          return c_.ReadInt32Tolerant(&s->error) || c_.Context("error");
        }
        break;
      case 7:
        if (Is(k, "service")) return Str(&s->service, s, kFieldService, "service");
        if (Is(k, "span_id")) return Id(&s->span_id, s, kFieldSpanId, "span_id");
        if (Is(k, "metrics")) return ReadMetrics(s);
        break;
      case 8:
        if (Is(k, "resource")) return Str(&s->resource, s, kFieldResource, "resource");
        if (Is(k, "trace_id")) return Id(&s->trace_id, s, kFieldTraceId, "trace_id");
        if (Is(k, "duration")) {
          s->fields |= kFieldDuration;
          return c_.ReadInt64Tolerant(&s->duration) || c_.Context("duration");
        }
        break;
      case 9:
        if (Is(k, "parent_id")) return Id(&s->parent_id, s, kFieldParentId, "parent_id");
        break;
      case 10:
        if (Is(k, "span_links")) return ReadSpanLinks(s);
        break;
      case 11:
        if (Is(k, "meta_struct")) {
          s->meta_struct_key = key_at;
          if (s->meta_struct_keys < 255) ++s->meta_struct_keys;
          return ReadMetaStruct(s);
        }
        if (Is(k, "span_events")) return ReadSpanEvents(s);
        break;
      default:
        break;
    }
    ++s->unknown_keys;
    return c_.Skip() || c_.Context("value of an unknown span key");
  }

  bool Str(std::string_view* out, SpanView* s, SpanField f, const char* what) {
    s->fields |= f;
    return c_.ReadStrOrBin(out) || c_.Context(what);
  }
  bool Id(uint64_t* out, SpanView* s, SpanField f, const char* what) {
    s->fields |= f;
    return c_.ReadIdTolerant(out) || c_.Context(what);
  }

  // Starts a map-valued field; false with *n = 0 for nil (when nil is allowed).
  bool BeginMap(ValueRange* r, uint32_t* n, bool nil_ok, const char* what) {
    r->begin = static_cast<uint32_t>(c_.offset());
    r->present = false;
    r->count = 0;
    *n = 0;
    if (nil_ok && c_.TryReadNil()) {
      r->end = static_cast<uint32_t>(c_.offset());
      return true;
    }
    if (!c_.ReadMapHeader(n)) return c_.Context(what);
    r->present = true;
    r->count = *n;
    return true;
  }

  bool ReadMeta(SpanView* s) {
    s->fields |= kFieldMeta;
    // A repeated key replaces the earlier map entirely (last wins), facts included.
    s->has_tid = s->has_dm = s->has_error_type = s->has_llmobs_submitted = false;
    uint32_t n;
    if (!BeginMap(&s->meta, &n, /*nil_ok=*/true, "meta")) return false;
    for (uint32_t i = 0; i < n; ++i) {
      std::string_view k, v;
      if (!c_.ReadStrOrBin(&k)) return c_.Context("meta key");
      if (!c_.ReadStrOrBin(&v)) return c_.Context("meta value");
      // Keys of interest are rare: one length test rejects almost every key.
      if (k.size() < 8 || k.size() > 20) continue;
      if (Eq(k, "_dd.p.dm")) {
        s->has_dm = true;
        s->dm = v;
      } else if (Eq(k, "_dd.p.tid")) {
        s->has_tid = true;
        s->tid = v;
      } else if (Eq(k, "error.type")) {
        s->has_error_type = true;
        s->error_type = v;
      } else if (Eq(k, "_dd.llmobs.submitted")) {
        s->has_llmobs_submitted = true;
        s->llmobs_submitted = v;
      }
    }
    s->meta.end = static_cast<uint32_t>(c_.offset());
    return true;
  }

  bool ReadMetrics(SpanView* s) {
    s->fields |= kFieldMetrics;
    s->has_priority = s->has_span_sampling = false;
    uint32_t n;
    if (!BeginMap(&s->metrics, &n, /*nil_ok=*/true, "metrics")) return false;
    for (uint32_t i = 0; i < n; ++i) {
      std::string_view k;
      double v;
      if (!c_.ReadStrOrBin(&k)) return c_.Context("metrics key");
      if (!c_.ReadFloat64Tolerant(&v)) return c_.Context("metrics value");
      if (Eq(k, "_sampling_priority_v1")) {
        s->has_priority = true;
        s->priority = v;
      } else if (Eq(k, "_dd.span_sampling.mechanism")) {
        s->has_span_sampling = true;
        s->span_sampling_mechanism = v;
      }
    }
    s->metrics.end = static_cast<uint32_t>(c_.offset());
    return true;
  }

  // The Agent is strict here: no nil map, str keys only, bin values only.
  bool ReadMetaStruct(SpanView* s) {
    s->fields |= kFieldMetaStruct;
    s->has_llmobs = false;
    uint32_t n;
    if (c_.TryReadNil()) return c_.FailAt(c_.offset() - 1, "the Agent rejects a nil meta_struct");
    if (!BeginMap(&s->meta_struct, &n, /*nil_ok=*/false, "meta_struct")) return false;
    for (uint32_t i = 0; i < n; ++i) {
      std::string_view k, v;
      if (!c_.ReadStr(&k)) return c_.Context("meta_struct key");
      if (!c_.ReadBin(&v)) return c_.Context("meta_struct value");
      if (Eq(k, "_llmobs")) {
        s->has_llmobs = true;
        s->llmobs = v;
      }
    }
    s->meta_struct.end = static_cast<uint32_t>(c_.offset());
    return true;
  }

  bool BeginArray(ValueRange* r, uint32_t* n, const char* what) {
    r->begin = static_cast<uint32_t>(c_.offset());
    r->present = false;
    r->count = 0;
    *n = 0;
    if (c_.TryReadNil()) {
      r->end = static_cast<uint32_t>(c_.offset());
      return true;
    }
    if (!c_.ReadArrayHeader(n)) return c_.Context(what);
    r->present = true;
    r->count = *n;
    return true;
  }

  // Links: [{trace_id, trace_id_high, span_id, attributes{str:str}, tracestate, flags}], nil
  // elements allowed, with the converted path's tolerance for the scalar sub-fields.
  bool ReadSpanLinks(SpanView* s) {
    s->fields |= kFieldSpanLinks;
    uint32_t n;
    if (!BeginArray(&s->span_links, &n, "span_links")) return false;
    for (uint32_t i = 0; i < n; ++i) {
      if (c_.TryReadNil()) continue;
      uint32_t m;
      if (!c_.ReadMapHeader(&m)) return c_.Context("span link");
      for (uint32_t j = 0; j < m; ++j) {
        std::string_view k;
        if (!c_.ReadKey(&k)) return c_.Context("span link key");
        uint64_t id;
        std::string_view str;
        if (k == "trace_id" || k == "trace_id_high" || k == "span_id") {
          if (!c_.ReadIdTolerant(&id)) return c_.Context("span link id");
        } else if (k == "flags") {
          const size_t at = c_.offset();
          if (!c_.ReadIdTolerant(&id)) return c_.Context("span link flags");
          if (id > std::numeric_limits<uint32_t>::max()) {
            return c_.FailAt(at, "span link flags overflow uint32");
          }
        } else if (k == "tracestate") {
          if (!c_.ReadStrOrBin(&str)) return c_.Context("span link tracestate");
        } else if (k == "attributes") {
          if (c_.TryReadNil()) continue;
          uint32_t a;
          if (!c_.ReadMapHeader(&a)) return c_.Context("span link attributes");
          for (uint32_t q = 0; q < a; ++q) {
            std::string_view ak, av;
            if (!c_.ReadStrOrBin(&ak) || !c_.ReadStrOrBin(&av)) {
              return c_.Context("span link attribute");
            }
          }
        } else if (!c_.Skip()) {
          return c_.Context("span link value");
        }
      }
    }
    s->span_links.end = static_cast<uint32_t>(c_.offset());
    return true;
  }

  // Events: [{name, time_unix_nano, attributes{str: any}}]; only the structure and the name are
  // checked (dd-trace-js writes time_unix_nano as float64, so any number is accepted).
  bool ReadSpanEvents(SpanView* s) {
    s->fields |= kFieldSpanEvents;
    uint32_t n;
    if (!BeginArray(&s->span_events, &n, "span_events")) return false;
    for (uint32_t i = 0; i < n; ++i) {
      if (c_.TryReadNil()) continue;
      uint32_t m;
      if (!c_.ReadMapHeader(&m)) return c_.Context("span event");
      for (uint32_t j = 0; j < m; ++j) {
        std::string_view k;
        if (!c_.ReadKey(&k)) return c_.Context("span event key");
        if (k == "name") {
          std::string_view name;
          if (!c_.ReadStrOrBin(&name)) return c_.Context("span event name");
        } else if (k == "attributes") {
          if (c_.TryReadNil()) continue;
          uint32_t a;
          if (!c_.ReadMapHeader(&a)) return c_.Context("span event attributes");
          for (uint32_t q = 0; q < a; ++q) {
            std::string_view ak;
            if (!c_.ReadStrOrBin(&ak)) return c_.Context("span event attribute key");
            if (!c_.Skip()) return c_.Context("span event attribute value");
          }
        } else if (!c_.Skip()) {
          return c_.Context("span event value");
        }
      }
    }
    s->span_events.end = static_cast<uint32_t>(c_.offset());
    return true;
  }

  MsgpackCursor& c_;
};

absl::Status Located(const absl::Status& status, size_t chunk, size_t span) {
  return absl::InvalidArgumentError(
      absl::StrCat("chunk ", chunk, ", span ", span, ": ", status.message()));
}

}  // namespace

absl::Status PayloadReader::Read(std::string_view bytes, Payload* out) const {
  out->Clear();
  out->bytes = bytes;
  if (bytes.size() > limits_.max_payload_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("payload of ", bytes.size(),
                                                     " bytes exceeds the reader limit of ",
                                                     limits_.max_payload_bytes));
  }
  MsgpackCursor c(bytes);
  uint8_t tag = 0;
  c.PeekTag(&tag);
  out->header_size = static_cast<uint8_t>(MsgpackCursor::ContainerHeaderSize(tag));
  uint32_t chunk_count;
  if (!c.ReadArrayHeader(&chunk_count)) {
    c.Context("payload (an array of chunks)");
    return c.status();
  }
  if (chunk_count > limits_.max_chunks) {
    return absl::ResourceExhaustedError(absl::StrCat("payload announces ", chunk_count,
                                                     " chunks, above the limit of ",
                                                     limits_.max_chunks));
  }
  SpanScanner scanner(c);
  for (uint32_t ci = 0; ci < chunk_count; ++ci) {
    ChunkView& chunk = out->chunks.emplace_back();
    chunk.begin = static_cast<uint32_t>(c.offset());
    chunk.first_span = static_cast<uint32_t>(out->spans.size());
    c.PeekTag(&tag);
    chunk.header_size = static_cast<uint8_t>(MsgpackCursor::ContainerHeaderSize(tag));
    if (tag == 0xc0) {
      return absl::InvalidArgumentError(
          absl::StrCat("chunk ", ci, ": offset ", c.offset(), ": the Agent rejects a nil chunk"));
    }
    uint32_t span_count;
    if (!c.ReadArrayHeader(&span_count)) {
      c.Context("chunk (an array of spans)");
      return Located(c.status(), ci, 0);
    }
    chunk.entry_count = span_count;
    for (uint32_t si = 0; si < span_count; ++si) {
      if (c.TryReadNil()) {
        ++chunk.nil_spans;
        continue;
      }
      if (out->spans.size() >= limits_.max_spans) {
        return absl::ResourceExhaustedError(
            absl::StrCat("payload has more than ", limits_.max_spans, " spans"));
      }
      SpanView& span = out->spans.emplace_back();
      span.begin = static_cast<uint32_t>(c.offset());
      span.index = static_cast<uint32_t>(out->spans.size() - 1);
      span.chunk = ci;
      if (!scanner.ReadSpan(&span)) return Located(c.status(), ci, si);
      if (span.has_llmobs) ++out->llmobs_spans;
      ++chunk.span_count;
    }
    chunk.end = static_cast<uint32_t>(c.offset());
  }
  out->end = static_cast<uint32_t>(c.offset());
  return absl::OkStatus();
}

}  // namespace llmobs_edge::decoder
