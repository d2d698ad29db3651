// The Session's buffered routes: a plugin's route read whole and handed to its handler (which
// answers, or passes the request on to the Agent), and a route whose Agent answer a plugin
// filters (GET /info). Part of Session (session.h), called from its request loop in session.cc;
// what does not fit a buffered route goes to the streaming proxy (session_proxy.cc).

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>

#include "plugin/api/buffer_pool.h"
#include "plugin/host/http/headers.h"
#include "plugin/host/http/session.h"

namespace llmobs_edge::http {

awaitable<void> Session::HandleFilterAnswer(Route route, const plugin::AnswerFilter& filter) {
  const ServerOptions& opt = server_.options_;
  const auto& req = header_->get();
  if (!header_->is_done()) {
    // A request with a body (GET /info never has one): stream it like any other request.
    co_await HandleProxy(route);
    co_return;
  }
  OutboundRequest up;
  up.method_string(req.method_string());
  up.target(req.target());
  up.version(11);
  CopyEndToEndHeaders(req, &up, /*drop_content_length=*/false);
  ExchangeOptions xo;
  xo.timeout = opt.agent_timeout;
  xo.head = req.method() == h::verb::head;
  ExchangeResult r = co_await AgentExchange(server_.agent_, client_.get_executor(), *dog_, up, xo);
  if (r.outcome.kind != Kind::kAnswered) {
    co_await ReplyUpstreamFailure(route, r);
    co_return;
  }
  server_.metrics_.upstream_latency[static_cast<size_t>(route)]->Observe(
      std::chrono::duration<double>(r.latency).count());
  if (r.outcome.status == 200) {
    std::string filtered;
    if (filter.FilterAnswer(r.response.body(), &filtered)) r.response.body() = std::move(filtered);
  }
  co_await RelayBuffered(route, r, false);
}

awaitable<void> Session::HandleBuffered(Route route, const plugin::RouteClaim& claim) {
  const ServerOptions& opt = server_.options_;
  HttpMetrics& m = server_.metrics_;
  const auto len = header_->content_length();
  // Only Content-Length bodies within the claim's limit are buffered; anything else (chunked,
  // too big) passes through to the Agent as a stream, unchanged (fail open).
  if (header_->chunked() || (len && *len > claim.max_body_bytes)) {
    m.buffered_passed_through->Inc();
    co_await HandleProxy(route);
    co_return;
  }
  if (!co_await SendContinueIfExpected()) {
    client_.Close();
    co_return;
  }
  const size_t n = len ? static_cast<size_t>(*len) : 0;
  plugin::BufferLease lease;
  dog_->Arm(opt.request_timeout, [this] { client_.Cancel(); });
  boost::system::error_code ec = co_await ReadLengthBody(n, &lease);
  const bool timed_out = dog_->expired();
  dog_->Disarm();
  if (timed_out) {
    co_await Reply(route, h::status::request_timeout, "text/plain; charset=utf-8", "timeout\n",
                   true);
    co_return;
  }
  if (ec) {
    client_.Close();
    co_return;
  }
  const auto& req = header_->get();
  m.bytes_in[static_cast<size_t>(route)]->Inc(n);
  plugin::RouteRequest rr;
  const beast::string_view method = req.method_string();
  const beast::string_view target = req.target();
  rr.method = std::string_view(method.data(), method.size());
  rr.target = std::string_view(target.data(), target.size());
  rr.path = PathOf(target);
  HeaderViews(req, &rr.headers);
  rr.body = lease->view();
  plugin::RouteAnswer answer;
  plugin::RouteOutcome outcome;
  // Handlers may block (a durable commit): off the io threads when there is a pipeline pool.
  if (server_.pipeline_executor_.has_value()) {
    outcome = co_await asio::co_spawn(
        *server_.pipeline_executor_,
        [&]() -> awaitable<plugin::RouteOutcome> { co_return claim.handler->Handle(rr, &answer); },
        use_awaitable);
  } else {
    outcome = claim.handler->Handle(rr, &answer);
  }
  if (outcome == plugin::RouteOutcome::kPassThrough) {
    m.buffered_passed_through->Inc();
    co_await ForwardBuffered(route, req, lease->view());
    co_return;
  }
  lease.Return();
  h::response<h::string_body> res{static_cast<h::status>(answer.status), version_};
  for (const auto& [name, value] : answer.headers) res.insert(name, value);
  res.body() = std::move(answer.body);
  const size_t out = res.body().size();
  if (server_.draining()) keep_alive_ = false;
  res.keep_alive(keep_alive_);
  res.prepare_payload();
  m.Requests(route, answer.status).Inc();
  m.bytes_out[static_cast<size_t>(route)]->Inc(out);
  dog_->Arm(opt.request_timeout, [this] { client_.Close(); });
  co_await h::async_write(client_, res, redirect_error(use_awaitable, ec));
  dog_->Disarm();
  if (ec) client_.Close();
}

awaitable<void> Session::ForwardBuffered(Route route, const h::request_header<>& req,
                                         std::string_view body) {
  OutboundRequest up;
  up.method_string(req.method_string());
  up.target(req.target());
  up.version(11);
  CopyEndToEndHeaders(req, &up, /*drop_content_length=*/true);
  up.body() = beast::span<const char>(body.data(), body.size());
  up.prepare_payload();
  ExchangeOptions xo;
  xo.timeout = server_.options_.agent_timeout;
  ExchangeResult r = co_await AgentExchange(server_.agent_, client_.get_executor(), *dog_, up, xo);
  if (r.outcome.kind != Kind::kAnswered) {
    co_await ReplyUpstreamFailure(route, r);
    co_return;
  }
  server_.metrics_.upstream_latency[static_cast<size_t>(route)]->Observe(
      std::chrono::duration<double>(r.latency).count());
  co_await RelayBuffered(route, r, false);
}

}  // namespace llmobs_edge::http
