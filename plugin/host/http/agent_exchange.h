#pragma once
// One buffered request/response exchange with the Agent: used for /v0.4/traces (the payload is
// in memory anyway, since the stage chain needs all of it), /info (the edge filters its body) and
// gRPC ingest. A kept-alive connection that turns out to be dead before the Agent sent a byte of
// its answer is replaced by a fresh one once, so an idle-closed connection never costs a payload.

#include <utility>
#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>

#include "plugin/host/http/upstream.h"
#include "plugin/host/http/watchdog.h"
#include "plugin/api/stage.h"

namespace llmobs_edge::http {

using OutboundRequest = boost::beast::http::request<boost::beast::http::span_body<const char>>;
using BufferedResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct ExchangeResult {
  plugin::AgentOutcome outcome;
  boost::system::error_code error;  // kUnreachable / kTimeout: why
  BufferedResponse response;        // kAnswered: the Agent's answer, headers as sent
  bool keep_alive = false;
  std::chrono::steady_clock::duration latency{};
};

struct ExchangeOptions {
  std::chrono::milliseconds timeout{10000};  // connect + send + the whole answer
  uint64_t max_response_bytes = 64ull << 20;
  bool head = false;  // the request is HEAD: the answer has no body
};

// Sends `request` (framing already prepared) and reads the Agent's whole answer. `dog` is the
// caller's watchdog on `executor`'s strand.
boost::asio::awaitable<ExchangeResult> AgentExchange(AgentPool& pool,
                                                     boost::asio::any_io_executor executor,
                                                     Watchdog& dog, OutboundRequest& request,
                                                     const ExchangeOptions& options);

}  // namespace llmobs_edge::http
