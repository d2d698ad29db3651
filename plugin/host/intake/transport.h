#pragma once
// IntakeTransport: one POST of a JSON body to the LLM Observability intake (docs/intake.md,
// shared/reference/llmobs.md §5). The sender (plugin/host/intake/sender.h) owns batching, retries and
// the ledger; a transport only moves one request body and reports the HTTP status it got back.
// Implementations: through the Agent's EVP proxy (agent_evp_transport.h, the default) and
// agentless with libcurl (curl_transport.h); tests use scripted fakes.

#include <string>
#include <string_view>

namespace llmobs_edge::plugin::intake {

struct IntakeResponse {
  int status = 0;     // the HTTP status; 0 = transport failure (connect, send, timeout, TLS, ...)
  // status 0: what went wrong (never contains the API key). Otherwise, for a non-2xx answer,
  // possibly the beginning of the answer's body (for logs); empty on success.
  std::string error;
};

class IntakeTransport {
 public:
  virtual ~IntakeTransport() = default;
  // Blocking; bounded by the transport's timeout. `body` is the complete request body (a JSON
  // array of envelopes). Called by one thread at a time (the sender thread).
  virtual IntakeResponse Post(const std::string& body) = 0;
  // "agent_evp_proxy" / "agentless": for logs.
  virtual std::string_view name() const = 0;
};

}  // namespace llmobs_edge::plugin::intake
