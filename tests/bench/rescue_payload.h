#pragma once
// Payloads for the rescue benchmark (docs/benchmarks.md, "Rescue"): v0.4 trace payloads whose
// chunks all have sampling priority 0 (the Agent drops them, so the edge must rescue every LLM
// Observability event), each chunk a web root span plus LLM spans carrying
// meta_struct["_llmobs"]. The structs are shaped like dd-trace-py's LLMObsSpanData
// (shared/reference/llmobs.md §1: trace_id, parent_id, name, ml_app, session_id, a tags dict,
// metrics, meta{span.kind, model, metadata, input/output messages with content}, _dd) in the
// smallest msgpack forms, as dd-trace-py encodes them, and sized to a target (2 KB, 10 KB).
//
// A payload is built once as a template; Stamp() writes a copy with fresh ids in place (APM
// trace ids, span ids, parent ids and the 32-hex LLMObs trace ids have fixed widths), so every
// request of a run carries unique, random-looking event keys without re-encoding anything.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace llmobs_edge::bench::rescue {

struct PayloadSpec {
  size_t struct_bytes = 2048;  // target size of each _llmobs struct
  int events = 50;             // LLM spans (events) in the payload
  int llm_spans_per_chunk = 5; // the last chunk takes what is left
  uint64_t seed = 20261121;
};

class RescuePayload {
 public:
  static RescuePayload Make(const PayloadSpec& spec);

  const std::string& bytes() const { return bytes_; }
  const PayloadSpec& spec() const { return spec_; }
  int events() const { return spec_.events; }
  int chunks() const { return static_cast<int>(chunks_.size()); }
  int spans() const { return spans_; }  // roots + LLM spans: the ids one Stamp() uses
  size_t min_struct_bytes() const { return min_struct_; }
  size_t max_struct_bytes() const { return max_struct_; }
  double avg_struct_bytes() const { return avg_struct_; }
  std::string label() const;  // "2 KB x 50"

  // Writes the template into `out` (reusing its capacity) with the span ids of counters
  // first_id .. first_id + spans() - 1 (roots and LLM spans alike; parents follow) and the APM
  // trace id of counter trace_base + chunk for each chunk; counters go through a bijective mix,
  // so ids are unique per counter and random-looking like a tracer's. The LLMObs trace id is
  // derived from the APM one.
  void Stamp(uint64_t first_id, uint64_t trace_base, std::string* out) const;
  // The span ids of the events (LLM spans) that Stamp(first_id, ...) writes, appended to `out`.
  void EventSpanIds(uint64_t first_id, std::vector<uint64_t>* out) const;

 private:
  struct SpanSlots {
    size_t trace_id = 0, span_id = 0, parent_id = 0;  // offsets of the 8 bytes after 0xcf
    size_t llmobs_trace_id = 0;                       // offset of 32 hex chars, 0 for roots
    int index = 0;                                    // position in the payload, 0-based
    int parent_index = -1;                            // -1: parent_id 0 (a root)
    bool llm = false;
  };
  struct ChunkSlots {
    std::vector<SpanSlots> spans;
  };

  PayloadSpec spec_;
  std::string bytes_;
  std::vector<ChunkSlots> chunks_;
  int spans_ = 0;
  size_t min_struct_ = 0, max_struct_ = 0;
  double avg_struct_ = 0;
};

// The HTTP headers dd-trace-py sends with a v0.4 payload of `chunks` traces.
std::vector<std::pair<std::string, std::string>> TracerHeaders(int chunks);

}  // namespace llmobs_edge::bench::rescue
