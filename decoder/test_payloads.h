#pragma once
// Test helper: loads the real tracer requests bundled in tests/golden/real-tracer (raw bodies,
// their metadata and the capture tool's decoding) so decoder tests can run on genuine traffic.

#include <string>
#include <vector>

namespace llmobs_edge::decoder::testing {

struct GoldenRequest {
  std::string name;          // "web/request-004"
  std::string path;          // HTTP path, e.g. "/v0.4/traces"
  std::string body;          // raw body bytes
  std::string decoded_json;  // request-NNN.decoded.json
};

// Every request of every scenario, in name order.
std::vector<GoldenRequest> AllRealTracerRequests();
// Only the PUT /v0.4/traces requests.
std::vector<GoldenRequest> RealTracerTracePayloads();

std::string ReadFileOrDie(const std::string& path);

}  // namespace llmobs_edge::decoder::testing

#include <cstdint>
#include <utility>

#include "decoder/msgpack_writer.h"

namespace llmobs_edge::decoder::testing {

// A span to encode in tests, with the fields dd-trace-js writes by default. Metrics that hold
// integral values are written as ints, others as float64 (as tracers do).
struct TestSpan {
  uint64_t trace_id = 1;
  uint64_t span_id = 1;
  uint64_t parent_id = 0;
  std::string service = "svc";
  std::string name = "op";
  std::string resource = "res";
  std::string type;
  int64_t start = 1795260216842026240;
  int64_t duration = 41458008;
  int32_t error = 0;
  std::vector<std::pair<std::string, std::string>> meta;
  std::vector<std::pair<std::string, double>> metrics;
  std::vector<std::pair<std::string, std::string>> meta_struct;  // key -> bin bytes
  // Map forms: dd-trace-js style (map32 maps, str32 long strings) when true.
  bool wide = false;
};

std::string EncodeSpan(const TestSpan& span);
std::string EncodePayload(const std::vector<std::vector<TestSpan>>& chunks);

// A small LLMObsSpanData document (msgpack map) for meta_struct["_llmobs"].
std::string EncodeLlmobsStruct(const std::string& trace_id, const std::string& name);

}  // namespace llmobs_edge::decoder::testing
