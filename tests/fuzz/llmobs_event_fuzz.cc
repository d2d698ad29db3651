// Fuzz target: the intake event builder on an untrusted meta_struct["_llmobs"] document. The
// input is placed in a span of a one-chunk v0.4 payload (with a 128-bit _dd.p.tid) and built
// twice: with the default limit and with a tiny one that forces truncation. Either both fail (an
// undecodable struct is refused whole, nothing partial) or both succeed with a JSON object that
// parses, a non-empty trace id key, the span's decimal span_id, and, for the tiny limit, the
// truncation mark; the envelope around the event parses as well.

#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "decoder/reader.h"
#include "decoder/test_payloads.h"
#include "rescue/llmobs_event.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace dec = llmobs_edge::decoder;
namespace res = llmobs_edge::rescue;

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "llmobs_event_fuzz: %s\n", what);
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dec::testing::TestSpan span;
  span.trace_id = 7;
  span.span_id = 123456789;
  span.meta = {{"_dd.p.tid", "6a1f000000000000"}};
  span.meta_struct = {{"_llmobs", std::string(reinterpret_cast<const char*>(data), size)}};
  const std::string bytes = dec::testing::EncodePayload({{span}});
  dec::Payload payload;
  if (!dec::PayloadReader().Read(bytes, &payload).ok()) return 0;  // not our parser's input
  Check(payload.spans.size() == 1 && payload.spans[0].has_llmobs, "the span lost its struct");

  static res::EventBuilder normal;
  static res::EventBuilder tiny(res::EventBuilder::Options{.max_event_bytes = 64});
  res::BuiltEvent a, b;
  const bool ok_a = normal.Build(payload, payload.chunks[0], payload.spans[0], &a).ok();
  const bool ok_b = tiny.Build(payload, payload.chunks[0], payload.spans[0], &b).ok();
  Check(ok_a == ok_b, "the size limit changed whether the struct builds");
  if (!ok_a) {
    Check(a.json.empty() && b.json.empty(), "a failed build left a partial event");
    return 0;
  }
  const nlohmann::json ea = nlohmann::json::parse(a.json, nullptr, false);
  const nlohmann::json eb = nlohmann::json::parse(b.json, nullptr, false);
  Check(ea.is_object() && eb.is_object(), "the event is not a JSON object");
  Check(!a.key.trace_id.empty() && a.key == b.key, "the event key is empty or differs");
  Check(a.key.span_id == 123456789, "the event key lost the APM span id");
  Check(ea.value("span_id", "") == "123456789", "span_id is not the APM span id in decimal");
  Check(b.truncated, "the tiny limit did not truncate");
  std::string envelope;
  res::AppendIntakeEnvelope(res::AsIntakeEvent(a), "fuzz", &envelope);
  Check(nlohmann::json::parse(envelope, nullptr, false).is_object(), "the envelope is not JSON");
  return 0;
}
