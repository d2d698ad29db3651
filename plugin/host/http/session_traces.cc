// The Session's trace route (/v0.4/traces and any route claimed for the trace stages): the body
// is read whole (413 at the limit, like the Agent), run through the stage chain on the pipeline
// threads when there is a pool, forwarded to the Agent, and the Agent's answer relayed. Part of
// Session (session.h), called from its request loop in session.cc.

#include <algorithm>
#include <optional>
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
namespace {

// A connection keeps a trace body buffer up to this size between requests.
constexpr size_t kKeptBodyCapacity = 1 << 20;

}  // namespace

awaitable<void> Session::HandleTraces(Route route) {
  const ServerOptions& opt = server_.options_;
  HttpMetrics& m = server_.metrics_;
  {
    const auto& req = header_->get();
    // A declared length at or over the limit: answer at once, like the Agent's limited reader
    // would after reading that far (a body of exactly the limit is refused too).
    if (req.has_content_length()) {
      const auto len = header_->content_length();
      if (len && *len >= opt.max_payload_bytes) {
        m.payload_too_large->Inc();
        co_await Reply(route, h::status::payload_too_large, "text/plain; charset=utf-8",
                       "payload-too-large\n", true);
        co_return;
      }
    }
  }
  if (!co_await SendContinueIfExpected()) {
    client_.Close();
    co_return;
  }
  // A Content-Length body (what tracers send) is read straight into a pooled buffer, never
  // zero-filled and given back after the Agent's answer; a chunked one goes through the parser.
  boost::system::error_code ec;
  std::optional<h::request_parser<h::string_body>> chunked;
  plugin::BufferLease lease;
  std::string_view body;
  dog_->Arm(opt.request_timeout, [this] { client_.Cancel(); });
  if (const auto len = header_->content_length(); len && !header_->chunked()) {
    ec = co_await ReadLengthBody(static_cast<size_t>(*len), &lease);
    body = lease->view();
  } else {
    ReserveForBodies();
    chunked.emplace(std::move(*header_));
    chunked->body_limit(opt.max_payload_bytes - 1);
    co_await h::async_read(client_, buffer_, *chunked, redirect_error(use_awaitable, ec));
    if (!ec) chunked_body_ = std::move(chunked->get().body());
    body = chunked_body_;
  }
  const bool timed_out = dog_->expired();
  dog_->Disarm();
  if (ec == h::error::body_limit) {
    m.payload_too_large->Inc();
    co_await Reply(route, h::status::payload_too_large, "text/plain; charset=utf-8",
                   "payload-too-large\n", true);
    co_return;
  }
  if (timed_out) {
    co_await Reply(route, h::status::request_timeout, "text/plain; charset=utf-8", "timeout\n",
                   true);
    co_return;
  }
  if (ec) {
    client_.Close();
    co_return;
  }
  // The header (with method, target and fields) is in whichever parser read it.
  const h::request_header<>& req =
      chunked ? static_cast<const h::request_header<>&>(chunked->get())
              : static_cast<const h::request_header<>&>(header_->get());
  m.bytes_in[static_cast<size_t>(route)]->Inc(body.size());

  plugin::TraceRequest& tr = trace_request_;
  tr.headers.clear();
  tr.transport = "http";
  const beast::string_view method = req.method_string();
  const beast::string_view target = req.target();
  tr.method = std::string_view(method.data(), method.size());
  tr.target = std::string_view(target.data(), target.size());
  HeaderViews(req, &tr.headers);
  // Payloads the stages may work on run on the pipeline threads: a rescue commit can wait for an
  // fsync, and the io threads must keep serving every other connection meanwhile.
  const bool decode = server_.chain_.WillDecode(body);
  const bool offload =
      decode && server_.chain_.size() > 0 && server_.pipeline_executor_.has_value();
  plugin::ChainResult result;
  if (offload) {
    result = co_await asio::co_spawn(
        *server_.pipeline_executor_,
        [&]() -> awaitable<plugin::ChainResult> {
          co_return server_.chain_.Run(body, tr, &scratch_, /*will_decode=*/true);
        },
        use_awaitable);
  } else {
    result = server_.chain_.Run(body, tr, &scratch_, decode);
  }

  OutboundRequest up;
  up.method_string(req.method_string());
  up.target(req.target());
  up.version(11);
  CopyEndToEndHeaders(req, &up, /*drop_content_length=*/true);
  const bool tracer_asked_real_status = req.find("Datadog-Send-Real-Http-Status") != req.end();
  const bool translate_429 = result.options.want_real_http_status && !tracer_asked_real_status;
  if (translate_429) up.set("Datadog-Send-Real-Http-Status", "true");
  up.body() = beast::span<const char>(result.body.data(), result.body.size());
  up.prepare_payload();
  m.forwarded_trace_bytes->Inc(result.body.size());

  ExchangeOptions xo;
  xo.timeout = opt.agent_timeout;
  ExchangeResult r = co_await AgentExchange(server_.agent_, client_.get_executor(), *dog_, up, xo);
  if (r.outcome.kind == Kind::kAnswered) {
    m.upstream_latency[static_cast<size_t>(route)]->Observe(
        std::chrono::duration<double>(r.latency).count());
  }
  // A refusal makes the rescue stage commit what the Agent did not take: off the io thread too.
  const bool refused =
      r.outcome.kind != Kind::kAnswered || static_cast<int>(r.outcome.status) >= 300;
  if (offload && refused) {
    co_await asio::co_spawn(
        *server_.pipeline_executor_,
        [&]() -> awaitable<void> {
          server_.chain_.AfterForward(result, tr, r.outcome, &scratch_);
          co_return;
        },
        use_awaitable);
  } else {
    server_.chain_.AfterForward(result, tr, r.outcome, &scratch_);
  }
  if (r.outcome.kind == Kind::kAnswered && server_.agent_state_observer_) {
    const beast::string_view state = r.response["Datadog-Agent-State"];
    server_.agent_state_observer_(std::string_view(state.data(), state.size()));
  }
  // The body is done with: its buffer goes back to the pool for the next payload. A connection
  // keeps a small chunked-body buffer and a small splice buffer; big ones go back to the OS.
  lease.Return();
  if (chunked_body_.capacity() > kKeptBodyCapacity) std::string().swap(chunked_body_);
  if (scratch_.spliced.capacity() > kKeptBodyCapacity) std::string().swap(scratch_.spliced);
  if (r.outcome.kind != Kind::kAnswered) {
    co_await ReplyUpstreamFailure(route, r);
    co_return;
  }
  co_await RelayBuffered(route, r, translate_429);
}

}  // namespace llmobs_edge::http
