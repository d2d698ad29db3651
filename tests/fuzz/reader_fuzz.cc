// Fuzz target: PayloadReader::Read on untrusted bytes, then every structural invariant of the
// decoded views (tests/fuzz/fuzz_util.h: CheckPayload), every map walked with the iterators of
// map_iterators.h with each byte touched, reader limits, and the prefilter (MayContainLlmobs /
// FindBytes) against std::string_view::find.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "decoder/cursor.h"
#include "decoder/payload.h"
#include "decoder/prefilter.h"
#include "decoder/reader.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using llmobs_edge::decoder::FindBytes;
using llmobs_edge::decoder::MayContainLlmobs;
using llmobs_edge::decoder::MsgpackCursor;
using llmobs_edge::decoder::Payload;
using llmobs_edge::decoder::PayloadReader;
using llmobs_edge::decoder::ReaderLimits;

void CheckPrefilter(std::string_view bytes) {
  FUZZ_CHECK(MayContainLlmobs(bytes) == (bytes.find("_llmobs") != std::string_view::npos));
  // Other needle lengths and haystack alignments (the SIMD paths and their scalar tails): the
  // needle is taken from the input itself, so it is often found.
  if (bytes.size() >= 2) {
    const size_t k = 1 + static_cast<uint8_t>(bytes[0]) % 40;
    const std::string_view needle = bytes.substr(1, k);
    for (size_t shift = 0; shift < 3 && shift <= bytes.size(); ++shift) {
      const std::string_view hay = bytes.substr(shift);
      FUZZ_CHECKF(FindBytes(hay, needle) == hay.find(needle), "needle length %zu shift %zu",
                  needle.size(), shift);
    }
  }
  FUZZ_CHECK(FindBytes(bytes, std::string_view()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckPrefilter(bytes);

  // Reused across inputs, as a worker reuses its Payload: stale state from an earlier input must
  // not leak into this one.
  static Payload* reused = new Payload();
  const PayloadReader reader;
  const absl::Status status = reader.Read(bytes, reused);
  if (!status.ok()) {
    FUZZ_CHECK(!status.message().empty());
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument ||
               status.code() == absl::StatusCode::kResourceExhausted);
    // A fresh Payload gives the same answer.
    Payload fresh;
    FUZZ_CHECK(reader.Read(bytes, &fresh) == status);
    return 0;
  }
  const Payload& p = *reused;
  llmobs_edge::fuzz::CheckPayload(bytes, p);

  // The payload is one complete msgpack value; whatever follows it is trailing bytes.
  {
    MsgpackCursor c(bytes);
    FUZZ_CHECK(c.Skip() && c.offset() == p.end);
  }
  // A carrier of meta_struct["_llmobs"] always passes the prefilter.
  if (p.llmobs_spans > 0) FUZZ_CHECK(MayContainLlmobs(bytes));

  // Same result from a fresh Payload.
  {
    Payload fresh;
    FUZZ_CHECK(reader.Read(bytes, &fresh).ok());
    FUZZ_CHECK(fresh.chunks.size() == p.chunks.size() && fresh.spans.size() == p.spans.size());
    FUZZ_CHECK(fresh.end == p.end && fresh.llmobs_spans == p.llmobs_spans);
    for (size_t i = 0; i < p.spans.size(); ++i) {
      const auto& a = p.spans[i];
      const auto& b = fresh.spans[i];
      FUZZ_CHECK(a.begin == b.begin && a.end == b.end && a.fields == b.fields &&
                 a.meta.begin == b.meta.begin && a.meta_struct.begin == b.meta_struct.begin &&
                 a.has_llmobs == b.has_llmobs && a.trace_id == b.trace_id &&
                 a.span_id == b.span_id && a.service == b.service);
    }
  }

  // Limits: a payload over a limit is refused with kResourceExhausted, one within is read alike.
  {
    ReaderLimits limits;
    limits.max_spans = 3;
    limits.max_chunks = 2;
    Payload limited;
    const absl::Status s = PayloadReader(limits).Read(bytes, &limited);
    if (p.spans.size() > 3 || p.chunks.size() > 2) {
      FUZZ_CHECK(s.code() == absl::StatusCode::kResourceExhausted);
    } else {
      FUZZ_CHECK(s.ok() && limited.spans.size() == p.spans.size());
    }
    limits = ReaderLimits();
    limits.max_payload_bytes = size - 1;
    FUZZ_CHECK(PayloadReader(limits).Read(bytes, &limited).code() ==
               absl::StatusCode::kResourceExhausted);
  }
  return 0;
}
