#pragma once
// Event building: turns the LLMObsSpanData a tracer left in meta_struct["_llmobs"] of a v0.4 span,
// together with that host APM span and its chunk, into the LLM Observability intake event, field by
// field as shared/reference/llmobs.md §2 prescribes (with §5.4's truncation of oversized events),
// and wraps events into intake request bodies (§5.2). The rescue stage calls EventBuilder::Build
// for each span it rescues (an error means the struct stays on the span and is counted as
// unrescuable); the intake sender calls BuildIntakeBody.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "decoder/cursor.h"
#include "decoder/json.h"
#include "decoder/payload.h"

namespace llmobs_edge::rescue {

// dd-trace-py's DD_LLMOBS_EVENT_SIZE_BYTES default (llmobs.md §5.3). Measured on the JSON this
// builder emits (compact, UTF-8), which is never longer than the SDK's own measure of the same
// event, and leaves 242,880 bytes of the 5 MiB payload limit for the envelope.
inline constexpr size_t kDefaultMaxEventBytes = 5'000'000;
// §5.4, verbatim (DROPPED_VALUE_TEXT and DROPPED_IO_COLLECTION_ERROR), whatever the configured
// limit.
inline constexpr std::string_view kDroppedValueText =
    "[This value has been dropped because this span's size exceeds the 5MB size limit.]";
inline constexpr std::string_view kDroppedIoCollectionError = "dropped_io";

// Dedup identity (llmobs.md §3.3): the LLMObs trace id of the struct and the APM span id.
struct EventKey {
  std::string trace_id;
  uint64_t span_id = 0;
  bool operator==(const EventKey& o) const {
    return span_id == o.span_id && trace_id == o.trace_id;
  }
};

struct BuiltEvent {
  EventKey key;
  // The event object (one element of an envelope's "spans"), compact UTF-8 JSON. Every object's
  // keys are in byte order and unique (the last of duplicated keys wins), as dd-trace-py's
  // json.dumps(sort_keys=True) of a Python dict writes them (§6.4); arrays keep their order.
  std::string json;
  bool truncated = false;         // §5.4 applied
  size_t untruncated_bytes = 0;   // size before truncation (json.size() when not truncated)
  std::string tracer_version;     // the struct's tags["ddtrace.version"], "" when absent
  bool experiments_scope = false; // _dd.scope == "experiments": the envelope gets "_dd.scope"
  decoder::JsonStats json_stats;  // what the transcoder had to repair (0 for SDK documents)
  uint32_t duplicate_keys = 0;    // struct map keys seen more than once (last kept; 0 for SDKs)
};

// Builds events; reuses its buffers across calls, so one builder per worker thread keeps the hot
// path free of allocations beyond the caller's BuiltEvent strings (reused as well when the caller
// reuses the BuiltEvent). Not thread-safe.
class EventBuilder {
 public:
  struct Options {
    // Events whose JSON is >= this many bytes are truncated (§5.4).
    size_t max_event_bytes = kDefaultMaxEventBytes;
    // Nesting limit for the documents under each struct field (meta, metrics, config, ...).
    int max_depth = 64;
  };

  EventBuilder() : EventBuilder(Options{}) {}
  explicit EventBuilder(Options options);

  // `span` must carry meta_struct["_llmobs"] and belong to `chunk` of `payload`. On success `out`
  // holds the event. InvalidArgument (with the reason and byte offset inside the struct) when the
  // struct is not a complete msgpack map, a field has a type §1.1 does not allow, a nested value
  // cannot be transcoded, or `trace_id` is missing or empty; `out` is then cleared, never partial.
  absl::Status Build(const decoder::Payload& payload, const decoder::ChunkView& chunk,
                     const decoder::SpanView& span, BuiltEvent* out);

 private:
  struct Parsed;
  struct TagEntry {
    uint32_t offset, size, key_size, seq;
  };
  // One member of a map being written: a key (in the struct document, or in Level::keys when it
  // had to be repaired or converted) and either the struct's value or a computed one (`extra`).
  struct MapEntry {
    uint32_t key_offset, key_size, seq, value_begin;
    int32_t extra;  // -1: the struct's value at value_begin; else an Extra id
    bool key_in_arena;
  };
  struct Level {  // the scratch of the maps open at one nesting level
    std::vector<MapEntry> entries;
    std::string keys;
  };
  struct Extra {
    std::string_view key;
    int32_t id;
  };

  static absl::Status Parse(std::string_view doc, Parsed* f, uint32_t* duplicates);
  absl::Status Collect(const decoder::SpanView& span, BuiltEvent* out);
  absl::Status Emit(const decoder::SpanView& span, bool truncate, BuiltEvent* out);
  // Sorted, deduplicated JSON of the map at `c` (nullptr: an empty one) plus `extras`, which win
  // over struct keys of the same name. `open` = containers already open around it.
  bool AppendMap(decoder::MsgpackCursor* c, int open, const Extra* extras, size_t extra_count,
                 BuiltEvent* ev);
  bool AppendValue(decoder::MsgpackCursor& c, int open, BuiltEvent* ev);
  void AppendExtra(int32_t id, std::string* out);
  bool Failed(const decoder::MsgpackCursor& c) {
    failed_ = c;
    return false;
  }

  Options options_;
  decoder::JsonOptions json_options_;
  std::string arena_;  // tags rendered "key:value", UTF-8 repaired
  std::vector<TagEntry> tags_;
  std::vector<Level> levels_;  // one per nesting level, max_depth of them
  std::string apm_trace_id_;
  std::string span_id_text_;
  std::string scratch_;
  const Parsed* parsed_ = nullptr;  // the struct of the Build in progress
  decoder::MsgpackCursor failed_{std::string_view()};  // where a nested value failed
};

// The APM trace id of §2.2: 32 lower-hex chars when the chunk's `_dd.p.tid` (16 hex digits,
// non-zero) gives the id high bits, else the decimal low 64 bits (the span's trace_id). The tid is
// taken from the chunk's first span, else from `span`, else from the first other span carrying it.
void AppendApmTraceId(const decoder::Payload& payload, const decoder::ChunkView& chunk,
                      const decoder::SpanView& span, std::string* out);

// One event as the intake sender sees it.
struct IntakeEvent {
  std::string_view json;            // BuiltEvent::json
  std::string_view tracer_version;  // BuiltEvent::tracer_version ("" → the body's default)
  bool experiments_scope = false;   // BuiltEvent::experiments_scope
};

inline IntakeEvent AsIntakeEvent(const BuiltEvent& e) {
  return IntakeEvent{e.json, e.tracer_version, e.experiments_scope};
}

// Appends one envelope (§5.2): {"_dd.scope":"experiments" (only for that scope),"_dd.stage":"raw",
// "_dd.tracer_version":...,"event_type":"span","spans":[<event>]}.
void AppendIntakeEnvelope(const IntakeEvent& event, std::string_view default_tracer_version,
                          std::string* out);

// The request body: a JSON array with one envelope per event, in order. `default_tracer_version`
// is used for events without a tracer version of their own (e.g. the request's
// Datadog-Meta-Tracer-Version, else "llmobs-edge/<version>").
std::string BuildIntakeBody(const std::vector<IntakeEvent>& events,
                            std::string_view default_tracer_version);

}  // namespace llmobs_edge::rescue
