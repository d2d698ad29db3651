#pragma once
// The stage interface: a stage looks at one decoded /v0.4/traces payload and records edits (set a
// meta tag, remove a meta_struct key) that the encoder splices into the forwarded bytes; it may
// also act once the Agent has answered. The rescue stage (issue 4) implements it; the chain
// (chain.h) runs stages in configured order and the ingest paths (HTTP, gRPC) drive the chain.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "decoder/payload.h"
#include "decoder/splice.h"

namespace llmobs_edge::plugin {

// The tracer's request as the stages see it: the ingest path and the tracer's metadata headers
// (names as sent, in the order sent). Views into the ingest path's request, valid for the call.
struct TraceRequest {
  std::string_view transport;  // "http" or "grpc"
  std::string_view method;     // "PUT" / "POST"
  std::string_view target;     // "/v0.4/traces?..."
  std::vector<std::pair<std::string_view, std::string_view>> headers;

  // The first header of that name, compared case-insensitively; empty when absent.
  std::string_view Header(std::string_view name) const {
    for (const auto& [n, value] : headers) {
      if (absl::EqualsIgnoreCase(absl::string_view(n.data(), n.size()),
                                 absl::string_view(name.data(), name.size()))) {
        return value;
      }
    }
    return {};
  }
};

// What a stage may change about the forwarded request besides the payload.
struct ForwardOptions {
  // Ask the Agent for real refusal statuses (Datadog-Send-Real-Http-Status: true). The forwarder
  // gives the tracer the answer it would have got without asking (agent-protocol.md §3.2).
  bool want_real_http_status = false;
};

// What became of the forwarded payload, for stages that act after the Agent answered.
struct AgentOutcome {
  enum class Kind : uint8_t {
    kAnswered,     // the Agent answered with `status`
    kUnreachable,  // connecting or sending failed
    kTimeout,      // no answer within agent.timeout_ms
  };
  Kind kind = Kind::kAnswered;
  unsigned status = 0;
  bool taken() const { return kind == Kind::kAnswered && status >= 200 && status < 300; }
};

class Stage {
 public:
  virtual ~Stage() = default;

  // Stable, low-cardinality name (config, counters).
  virtual std::string_view name() const = 0;

  // Whether the stage needs payloads that contain no "_llmobs" bytes at all. When no stage does,
  // the chain skips decoding those payloads (the common case costs one memory scan).
  virtual bool NeedsEveryPayload() const { return false; }

  // Before forwarding. `edits` collects this and earlier stages' edits; keys and values must stay
  // alive until the payload is forwarded (string literals, or bytes of the payload). An error
  // makes the whole chain fail open: the original bytes are forwarded and the failure counted.
  virtual absl::Status Process(const decoder::Payload& payload, const TraceRequest& request,
                               decoder::EditList* edits, ForwardOptions* options) = 0;

  // After the Agent answered, or failed to, and before the tracer gets its answer. `payload` is
  // the payload as the tracer sent it; `forwarded_edits` false when the chain failed open.
  virtual absl::Status AfterForward(const decoder::Payload& payload, const TraceRequest& request,
                                    const AgentOutcome& outcome, bool forwarded_edits) {
    return absl::OkStatus();
  }
};

}  // namespace llmobs_edge::plugin
