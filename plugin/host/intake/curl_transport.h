#pragma once
// Agentless route to the LLMObs intake, with libcurl: POST https://llmobs-intake.<site>/api/v2/llmobs
// with `DD-API-KEY` (shared/reference/llmobs.md §5.1). TLS peer and host verification stay on
// (system CA bundle); proxies come from the environment the libcurl way (https_proxy /
// HTTPS_PROXY, http_proxy, all_proxy, no_proxy; uppercase HTTP_PROXY is ignored by libcurl on
// purpose). One CURL handle is kept, so the connection is reused between requests.

#include <chrono>
#include <memory>
#include <string>

#include "plugin/host/intake/transport.h"

namespace llmobs_edge::plugin::intake {

// "https://llmobs-intake." + site + "/api/v2/llmobs".
std::string AgentlessUrl(const std::string& site);

// `url`: the intake URL (AgentlessUrl(site), or an override such as intake.url). `timeout` bounds
// the whole request (connect, TLS, send, answer). Redirects are not followed.
std::unique_ptr<IntakeTransport> NewCurlTransport(std::string url, std::string api_key,
                                                  std::chrono::milliseconds timeout);

}  // namespace llmobs_edge::plugin::intake
