#pragma once
// The Agent stand-in of the rescue benchmark: a minimal HTTP/1.1 server (one blocking thread per
// connection, Content-Length bodies read in large recv() calls, like the proxy benchmark's
// FastSink) that answers
//   PUT/POST /v0.4/traces                  200 {"rate_by_service":...}; counts the payloads and
//                                          checks that no `_llmobs` struct is left in them;
//   POST /evp_proxy/v2/api/v2/llmobs       202 {}; counts the envelopes and keeps each event's
//                                          APM span id (the first "span_id" after each
//                                          "spans":[, i.e. _dd.span_id) for the exactly-once
//                                          check;
//   GET /info                              200 with the integration tests' FakeAgent /info body;
//   anything else                          200 OK.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmobs_edge::bench::rescue {

struct SinkCounts {
  uint64_t trace_payloads = 0;      // /v0.4/traces requests
  uint64_t trace_bytes = 0;
  uint64_t unscrubbed_payloads = 0; // trace payloads still holding "_llmobs"
  uint64_t intake_requests = 0;     // EVP proxy requests
  uint64_t intake_bytes = 0;
  uint64_t events = 0;              // envelopes received
  uint64_t bad_envelopes = 0;       // an envelope without a readable span_id
  uint64_t bad_subdomain = 0;       // EVP requests without X-Datadog-EVP-Subdomain: llmobs-intake
  uint64_t other_requests = 0;
  std::chrono::steady_clock::time_point last_event{};  // when the last envelope arrived
};

class RescueSink {
 public:
  virtual ~RescueSink() = default;
  virtual std::string url() const = 0;  // "http://127.0.0.1:PORT"
  virtual SinkCounts counts() const = 0;
  // The span ids received since the last call (then forgotten), in arrival order.
  virtual std::vector<uint64_t> TakeEventIds() = 0;
};

std::unique_ptr<RescueSink> StartRescueSink();

}  // namespace llmobs_edge::bench::rescue
