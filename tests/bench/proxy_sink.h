#pragma once
// The Agent side of the proxy benchmark, behind one interface:
// - FastSink: a minimal HTTP/1.1 trace receiver (one blocking thread per connection) that reads
//   Content-Length bodies in large recv() calls, as the real Agent's Go receiver does, so the
//   "direct" baseline is not held back by the stand-in;
// - the integration tests' FakeAgent (//tests/integration:harness), which reads bodies through
//   Beast in 512-byte recv() calls (its flat_buffer never grows past 512 bytes).
// Both answer /v0.4/traces with 200 and a rate_by_service body and keep, per request, the body's
// size and its first and last bytes (or the whole body, for the smoke test).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmobs_edge::bench::proxy {

struct Received {
  std::string method;
  std::string target;
  uint64_t body_size = 0;
  std::string head;    // the first bytes of the body (all of it when `whole`)
  std::string tail;    // the last bytes of the body; empty when not kept
  bool whole = false;  // `head` is the whole body
};

class Upstream {
 public:
  virtual ~Upstream() = default;
  virtual std::string url() const = 0;  // "http://127.0.0.1:PORT"
  virtual uint16_t port() const = 0;
  // Everything received since the last call, in arrival order (then forgotten).
  virtual std::vector<Received> Take() = 0;
  virtual std::string Describe() const = 0;
};

// `keep_whole_up_to`: bodies up to this size are kept whole; otherwise `edge_bytes` from each end.
// `read_size`: the largest recv() the sink makes (the FastSink only).
std::unique_ptr<Upstream> StartFastSink(uint64_t keep_whole_up_to, size_t edge_bytes,
                                        size_t read_size);
std::unique_ptr<Upstream> StartHarnessFakeAgent(uint64_t keep_whole_up_to, size_t edge_bytes);

}  // namespace llmobs_edge::bench::proxy
