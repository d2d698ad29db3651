#pragma once
// Session: one client connection of the HTTP ingest server (server.h), private to this package.
// It reads requests one after the other and routes each by the route table: the trace pipeline
// (session_traces.cc), a buffered or filtered route (session_buffered.cc) or the streaming reverse
// proxy (session_proxy.cc); session.cc has the loop and the answers they share. HttpServer
// (server.cc) creates one per accepted connection.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "plugin/api/plugin.h"
#include "plugin/api/stage.h"
#include "plugin/host/chain.h"
#include "plugin/host/http/agent_exchange.h"
#include "plugin/host/http/any_stream.h"
#include "plugin/host/http/http_metrics.h"
#include "plugin/host/http/server.h"
#include "plugin/host/http/watchdog.h"

namespace llmobs_edge::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace h = boost::beast::http;
using asio::awaitable;
using asio::redirect_error;
using asio::use_awaitable;
using Kind = plugin::AgentOutcome::Kind;

inline std::string_view PathOf(beast::string_view target) {
  const std::string_view t(target.data(), target.size());
  return t.substr(0, t.find('?'));
}

constexpr size_t kRelayBufferSize = 64 * 1024;
// Beast 1.74 compares the length against an empty optional as "over the limit", so "no limit"
// is the largest value, not boost::none.
constexpr uint64_t kNoBodyLimit = ~uint64_t{0};

// One client connection: reads requests one after the other (keep-alive), routes each, and
// closes when the client or the drain says so. Everything runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer& server, AnyStream stream)
      : server_(server), client_(std::move(stream)), dog_(Watchdog::Start(client_.get_executor())) {}

  // Body reads go through buffer_; Beast asks the socket for the buffer's free capacity (at least
  // 512 bytes), so give it room for large reads before the first body (not before: an idle
  // kept-alive connection should stay small).
  void ReserveForBodies() {
    if (buffer_.capacity() < kRelayBufferSize) buffer_.reserve(kRelayBufferSize);
  }

  static awaitable<void> Run(std::shared_ptr<Session> self) { co_await self->Loop(); }

  // Called on the strand by the drain: an idle connection closes now.
  void CloseIfIdle() {
    if (idle_) client_.Close();
  }
  asio::any_io_executor executor() { return client_.get_executor(); }

 private:
  awaitable<void> Loop();
  awaitable<void> HandleTraces(Route route);
  awaitable<void> HandleFilterAnswer(Route route, const plugin::AnswerFilter& filter);
  awaitable<void> HandleBuffered(Route route, const plugin::RouteClaim& claim);
  // Forwards a request whose body was read whole and relays the Agent's answer.
  awaitable<void> ForwardBuffered(Route route, const h::request_header<>& req,
                                  std::string_view body);
  awaitable<void> HandleProxy(Route route);
  // Answers with a body of our own (errors, 413, ...).
  awaitable<void> Reply(Route route, h::status status, std::string_view content_type,
                        std::string body, bool close);
  awaitable<bool> SendContinueIfExpected();
  // Reads a Content-Length body of `n` bytes into a buffer leased from the server's pool (what
  // the header read already holds first, then straight from the socket). The caller armed the
  // watchdog.
  awaitable<boost::system::error_code> ReadLengthBody(size_t n, plugin::BufferLease* lease);
  // The request's header fields as views (for stages and plugin handlers).
  static void HeaderViews(const h::request_header<>& req,
                          std::vector<std::pair<std::string_view, std::string_view>>* out);
  // Relays a buffered Agent answer to the client.
  awaitable<void> RelayBuffered(Route route, ExchangeResult& r, bool translate_429);
  awaitable<void> ReplyUpstreamFailure(Route route, const ExchangeResult& r);
  // Reads and discards the rest of a request body we will not forward (up to a bound), so the
  // connection can stay alive for the tracer's next request; closes it otherwise.
  awaitable<void> DiscardRequestBody();
  void CountUpstreamFailure(Route route, Kind kind);

  HttpServer& server_;
  AnyStream client_;
  std::shared_ptr<Watchdog> dog_;
  beast::flat_buffer buffer_;
  std::optional<h::request_parser<h::empty_body>> header_;
  bool keep_alive_ = true;
  bool idle_ = true;
  unsigned version_ = 11;
  plugin::ChainScratch scratch_;
  plugin::TraceRequest trace_request_;  // reused: its header list keeps its capacity
  std::string chunked_body_;  // a chunked /v0.4/traces body (tracers send Content-Length ones)
  std::unique_ptr<char[]> relay_buffer_;
};

}  // namespace llmobs_edge::http
