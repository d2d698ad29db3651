#pragma once
// PayloadReader decodes a v0.4 trace payload (array of chunks, each an array of span maps) into
// the zero-copy views of payload.h in a single pass. It accepts everything the Datadog Agent's Go
// decoder accepts (str or bin keys and strings, nil as zero, signed ids, int/uint/float64 metrics,
// unknown keys skipped, invalid UTF-8 left for the Agent to repair) and rejects, with the offset
// and the reason, what the Agent would answer 400 for. Used by ingest, inspect and the fuzzers.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "decoder/payload.h"

namespace llmobs_edge::decoder {

struct ReaderLimits {
  // Payloads above this size are refused before parsing (the Agent's default limit is 25 MiB;
  // the views use 32-bit offsets, so never more than 4 GiB - 1).
  size_t max_payload_bytes = (size_t{1} << 32) - 1;
  // Bounds the memory of the views (about 300 bytes per span) against payloads of tiny spans.
  uint32_t max_spans = 2'000'000;
  uint32_t max_chunks = 2'000'000;
};

class PayloadReader {
 public:
  explicit PayloadReader(ReaderLimits limits = {}) : limits_(limits) {}

  // Decodes `bytes` into `out` (cleared first; its vectors keep their capacity, so reusing one
  // Payload per worker makes steady-state decoding allocation-free). On error `out` is left
  // partially filled and must not be used.
  absl::Status Read(std::string_view bytes, Payload* out) const;

 private:
  ReaderLimits limits_;
};

}  // namespace llmobs_edge::decoder
