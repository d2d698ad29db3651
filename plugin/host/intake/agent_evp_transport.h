#pragma once
// The default route to the LLMObs intake: through the Agent's EVP proxy
// (shared/reference/agent-protocol.md §7). POST /evp_proxy/v2/api/v2/llmobs with
// `X-Datadog-EVP-Subdomain: llmobs-intake` and `Content-Type: application/json`; the Agent adds
// the API key and forwards to https://llmobs-intake.<site>/api/v2/llmobs, answering with the
// intake's status (or 502 when it could not forward, 405 when its EVP proxy is disabled).

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp needs it
#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "plugin/host/http/upstream.h"
#include "plugin/host/intake/transport.h"

namespace llmobs_edge::plugin::intake {

inline constexpr char kEvpProxyPath[] = "/evp_proxy/v2/api/v2/llmobs";
inline constexpr char kEvpSubdomain[] = "llmobs-intake";

// Runs one http::AgentExchange per Post on `ioc` (which the service's threads run; Post must not
// be called from one of them) over the shared connection pool, and waits for it. `timeout`
// bounds connect + send + the whole answer. `ioc` and `agent` must outlive the transport.
std::unique_ptr<IntakeTransport> NewAgentEvpTransport(boost::asio::io_context& ioc,
                                                      http::AgentPool& agent,
                                                      std::chrono::milliseconds timeout);

}  // namespace llmobs_edge::plugin::intake
