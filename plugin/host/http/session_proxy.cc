// The Session's transparent reverse proxy, for every path no plugin claims: the request and the
// Agent's answer are streamed through a fixed buffer (relay.h), byte for byte apart from hop-by-hop
// headers, on a pooled Agent connection. Part of Session (session.h); also where a request body
// that will not be forwarded is read and dropped.

#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "plugin/host/http/headers.h"
#include "plugin/host/http/relay.h"
#include "plugin/host/http/session.h"

namespace llmobs_edge::http {

awaitable<void> Session::HandleProxy(Route route) {
  const ServerOptions& opt = server_.options_;
  HttpMetrics& m = server_.metrics_;
  if (!relay_buffer_) relay_buffer_.reset(new char[kRelayBufferSize]);
  ReserveForBodies();

  boost::system::error_code ec;
  std::unique_ptr<UpstreamConnection> conn =
      co_await server_.agent_.Acquire(client_.get_executor(), opt.agent_timeout, ec);
  if (ec || !conn) {
    ExchangeResult failed;
    failed.outcome.kind = ec == asio::error::timed_out ? Kind::kTimeout : Kind::kUnreachable;
    co_await DiscardRequestBody();
    co_await ReplyUpstreamFailure(route, failed);
    co_return;
  }
  if (!co_await SendContinueIfExpected()) {
    client_.Close();
    co_return;
  }
  const auto start = std::chrono::steady_clock::now();
  // Request: tracer -> Agent, header then body, streamed.
  h::request_parser<h::buffer_body> req_parser{std::move(*header_)};
  req_parser.body_limit(kNoBodyLimit);
  const bool head = req_parser.get().method() == h::verb::head;
  StripHopByHop(&req_parser.get());
  if (req_parser.get().version() < 11) req_parser.get().version(11);
  req_parser.get().keep_alive(true);
  h::request_serializer<h::buffer_body> req_ser{req_parser.get()};
  bool read_failed = false;
  uint64_t in_bytes = 0;
  co_await RelayMessage<true>({&client_, &buffer_, &conn->stream, opt.request_timeout,
                               opt.agent_timeout},
                              req_parser, req_ser, *dog_, relay_buffer_.get(), kRelayBufferSize,
                              ec, read_failed, in_bytes);
  m.bytes_in[static_cast<size_t>(route)]->Inc(in_bytes);
  if (ec) {
    conn->stream.Close();
    if (read_failed) {
      client_.Close();  // the tracer went away or stalled mid-body
      co_return;
    }
    ExchangeResult failed;
    failed.outcome.kind = dog_->expired() ? Kind::kTimeout : Kind::kUnreachable;
    keep_alive_ = false;  // the rest of the request body is unread
    co_await ReplyUpstreamFailure(route, failed);
    co_return;
  }

  // Answer: Agent -> tracer, skipping interim 1xx answers.
  std::optional<h::response_parser<h::buffer_body>> res_parser;
  for (;;) {
    res_parser.emplace();
    res_parser->body_limit(kNoBodyLimit);
    res_parser->header_limit(64 * 1024);
    if (head) res_parser->skip(true);
    dog_->Arm(opt.agent_timeout, [c = conn.get()] { c->stream.Close(); });
    co_await h::async_read_header(conn->stream, conn->buffer, *res_parser,
                                  redirect_error(use_awaitable, ec));
    if (ec) break;
    const unsigned s = res_parser->get().result_int();
    if (s < 100 || s >= 200 || s == 101) break;
  }
  const bool header_timed_out = dog_->expired();
  dog_->Disarm();
  if (ec) {
    conn->stream.Close();
    ExchangeResult failed;
    failed.outcome.kind = header_timed_out ? Kind::kTimeout : Kind::kUnreachable;
    co_await ReplyUpstreamFailure(route, failed);
    co_return;
  }
  m.upstream_latency[static_cast<size_t>(route)]->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  auto& res = res_parser->get();
  const unsigned status = res.result_int();
  const bool upstream_keep_alive = res.keep_alive();
  StripHopByHop(&res);
  res.version(version_);
  // A body delimited by the Agent closing the connection: re-frame it for a kept-alive client.
  const bool has_body = !head && status != 204 && status != 304;
  if (has_body && !res.has_content_length() && !res.chunked()) {
    if (version_ >= 11) {
      res.chunked(true);
    } else {
      keep_alive_ = false;
    }
  }
  if (server_.draining()) keep_alive_ = false;
  res.keep_alive(keep_alive_);
  h::response_serializer<h::buffer_body> res_ser{res};
  if (head) res_ser.split(true);
  uint64_t out_bytes = 0;
  co_await RelayMessage<false>({&conn->stream, &conn->buffer, &client_, opt.agent_timeout,
                                opt.request_timeout},
                               *res_parser, res_ser, *dog_, relay_buffer_.get(), kRelayBufferSize,
                               ec, read_failed, out_bytes);
  m.bytes_out[static_cast<size_t>(route)]->Inc(out_bytes);
  m.Requests(route, status).Inc();
  if (ec) {
    // Mid-answer failure: nothing sensible can be sent any more.
    conn->stream.Close();
    client_.Close();
    co_return;
  }
  if (upstream_keep_alive && res_parser->is_done()) {
    server_.agent_.Release(std::move(conn));
  } else {
    conn->stream.Close();
  }
}

awaitable<void> Session::DiscardRequestBody() {
  if (header_->is_done()) co_return;
  constexpr uint64_t kMaxDiscard = 1 << 20;
  const auto len = header_->content_length();
  const bool expects_continue = beast::iequals(header_->get()[h::field::expect], "100-continue");
  if (expects_continue || !len || *len > kMaxDiscard) {
    // Chunked, large, or a client waiting for 100-continue: do not read it, close after answering.
    keep_alive_ = false;
    co_return;
  }
  ReserveForBodies();
  h::request_parser<h::buffer_body> p{std::move(*header_)};
  p.body_limit(kNoBodyLimit);
  char sink[8192];
  boost::system::error_code ec;
  dog_->Arm(server_.options_.request_timeout, [this] { client_.Close(); });
  while (!ec && !p.is_done()) {
    p.get().body().data = sink;
    p.get().body().size = sizeof(sink);
    co_await h::async_read(client_, buffer_, p, redirect_error(use_awaitable, ec));
    if (ec == h::error::need_buffer) ec = {};
  }
  dog_->Disarm();
  if (ec) keep_alive_ = false;
}

}  // namespace llmobs_edge::http
