#include "plugin/host/http/agent_exchange.h"

#include <optional>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace llmobs_edge::http {
namespace asio = boost::asio;
namespace h = boost::beast::http;
using Kind = plugin::AgentOutcome::Kind;

boost::asio::awaitable<ExchangeResult> AgentExchange(AgentPool& pool,
                                                     boost::asio::any_io_executor executor,
                                                     Watchdog& dog, OutboundRequest& request,
                                                     const ExchangeOptions& options) {
  ExchangeResult r;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + options.timeout;
  auto remaining = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                  std::chrono::steady_clock::now());
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    boost::system::error_code ec;
    // (Not a conditional expression: GCC 12 mishandles co_await inside one.)
    std::unique_ptr<UpstreamConnection> c;
    if (attempt == 0) {
      c = co_await pool.Acquire(executor, remaining(), ec);
    } else {
      c = co_await pool.Connect(executor, remaining(), ec);
    }
    if (ec || !c) {
      r.outcome.kind = ec == asio::error::timed_out ? Kind::kTimeout : Kind::kUnreachable;
      r.error = ec;
      break;
    }
    UpstreamConnection* conn = c.get();
    dog.Arm(remaining(), [conn] { conn->stream.Close(); });
    co_await h::async_write(conn->stream, request, asio::redirect_error(asio::use_awaitable, ec));
    std::optional<h::response_parser<h::string_body>> parser;
    auto fresh_parser = [&] {
      parser.emplace();
      parser->body_limit(options.max_response_bytes);
      parser->header_limit(64 * 1024);
      if (options.head) parser->skip(true);
    };
    fresh_parser();
    bool got_bytes = false;
    while (!ec) {
      co_await h::async_read_header(conn->stream, conn->buffer, *parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
      got_bytes = got_bytes || parser->got_some();
      if (ec) break;
      // Interim 1xx answers (the edge never sends Expect, so none is expected) are skipped.
      const unsigned status = parser->get().result_int();
      if (status >= 100 && status < 200 && status != 101) {
        fresh_parser();
        continue;
      }
      co_await h::async_read(conn->stream, conn->buffer, *parser,
                             asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
    const bool timed_out = dog.expired();
    dog.Disarm();
    if (!ec) {
      r.outcome.kind = Kind::kAnswered;
      r.outcome.status = parser->get().result_int();
      r.keep_alive = parser->get().keep_alive();
      r.response = parser->release();
      r.error = {};
      if (r.keep_alive) pool.Release(std::move(c));
      break;
    }
    conn->stream.Close();
    // A reused connection that died before answering: the Agent closed it while idle. Retry once
    // on a fresh connection (the request was not processed: no byte of an answer came back).
    if (attempt == 0 && c->reused && !got_bytes && !timed_out) continue;
    r.outcome.kind = timed_out ? Kind::kTimeout : Kind::kUnreachable;
    r.error = timed_out ? asio::error::timed_out : ec;
    break;
  }
  r.latency = std::chrono::steady_clock::now() - start;
  co_return r;
}

}  // namespace llmobs_edge::http
