#pragma once
// Streams one HTTP message body from one connection to another through a fixed buffer, never
// holding the whole body: the reverse proxy uses it for request bodies (tracer -> Agent) and for
// answers (Agent -> tracer), so a 100 MiB profile passes in bounded memory. Chunked framing is
// re-emitted by the serializer; Content-Length bodies pass with their length.

#include <utility>
#include <chrono>
#include <cstdint>
#include <functional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include "plugin/host/http/any_stream.h"
#include "plugin/host/http/watchdog.h"

namespace llmobs_edge::http {

struct RelayEnds {
  AnyStream* in;
  boost::beast::flat_buffer* in_buffer;
  AnyStream* out;
  std::chrono::milliseconds read_timeout;   // per read: how long the sender may stall
  std::chrono::milliseconds write_timeout;  // per write: how long the receiver may stall
};

// The parser has read the header (and maybe more into in_buffer); the serializer wraps the
// parser's message. Writes the header and the whole body to `out`. On return `ec` tells the
// first failure; `read_failed` whether it was on the `in` side; `bytes` the body bytes moved.
template <bool kRequest>
boost::asio::awaitable<void> RelayMessage(
    RelayEnds ends, boost::beast::http::parser<kRequest, boost::beast::http::buffer_body>& parser,
    boost::beast::http::serializer<kRequest, boost::beast::http::buffer_body>& serializer,
    Watchdog& dog, char* scratch, size_t scratch_size, boost::system::error_code& ec,
    bool& read_failed, uint64_t& bytes) {
  namespace asio = boost::asio;
  namespace h = boost::beast::http;
  AnyStream* in = ends.in;
  AnyStream* out = ends.out;
  read_failed = false;
  do {
    if (!parser.is_done()) {
      parser.get().body().data = scratch;
      parser.get().body().size = scratch_size;
      dog.Arm(ends.read_timeout, [in] { in->Close(); });
      co_await h::async_read(*in, *ends.in_buffer, parser,
                             asio::redirect_error(asio::use_awaitable, ec));
      if (ec == h::error::need_buffer) ec = {};
      if (ec) {
        read_failed = true;
        break;
      }
      parser.get().body().size = scratch_size - parser.get().body().size;
      parser.get().body().data = scratch;
      parser.get().body().more = !parser.is_done();
      bytes += parser.get().body().size;
    } else {
      parser.get().body().data = nullptr;
      parser.get().body().size = 0;
      parser.get().body().more = false;
    }
    dog.Arm(ends.write_timeout, [out] { out->Close(); });
    co_await h::async_write(*out, serializer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == h::error::need_buffer) ec = {};
    if (ec) break;
  } while (!parser.is_done() || !serializer.is_done());
  dog.Disarm();
}

}  // namespace llmobs_edge::http
