#include "plugin/host/http/server.h"

#include <sys/stat.h>
#include <sys/un.h>

#include <cstdio>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "plugin/host/http/agent_exchange.h"
#include "plugin/host/http/any_stream.h"
#include "plugin/host/http/core_plugins.h"
#include "plugin/host/http/headers.h"
#include "plugin/host/http/info_filter.h"
#include "plugin/host/http/relay.h"
#include "plugin/host/http/watchdog.h"
#include "spdlog/spdlog.h"

namespace llmobs_edge::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace h = boost::beast::http;
using asio::awaitable;
using asio::redirect_error;
using asio::use_awaitable;
using Kind = plugin::AgentOutcome::Kind;

namespace {

std::string_view PathOf(beast::string_view target) {
  const std::string_view t(target.data(), target.size());
  return t.substr(0, t.find('?'));
}

constexpr size_t kRelayBufferSize = 64 * 1024;
// Request headers are read through buffer_ with room for a whole small payload: dd-trace's ~500
// byte header and a 10 KiB body arrive in one recv() instead of 512-byte reads (Beast reads what
// the buffer has room for).
constexpr size_t kHeaderReadBuffer = 16 * 1024;
// A connection keeps a trace body buffer up to this size between requests.
constexpr size_t kKeptBodyCapacity = 1 << 20;
// Beast 1.74 compares the length against an empty optional as "over the limit", so "no limit"
// is the largest value, not boost::none.
constexpr uint64_t kNoBodyLimit = ~uint64_t{0};

}  // namespace

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

awaitable<void> Session::Loop() {
  HttpMetrics& m = server_.metrics_;
  while (keep_alive_ && !server_.draining()) {
    idle_ = true;
    header_.emplace();
    header_->body_limit(kNoBodyLimit);
    header_->header_limit(64 * 1024);
    dog_->Arm(server_.options_.request_timeout, [this] { client_.Close(); });
    boost::system::error_code ec;
    if (buffer_.capacity() < kHeaderReadBuffer) buffer_.reserve(kHeaderReadBuffer);
    co_await h::async_read_header(client_, buffer_, *header_, redirect_error(use_awaitable, ec));
    idle_ = false;
    if (ec) {
      // A client closing an idle connection, or the idle timeout, is the normal end; anything
      // else that is not HTTP gets a 400 like any HTTP server gives.
      if (ec != h::error::end_of_stream && ec != asio::error::eof &&
          ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor &&
          ec != asio::error::connection_reset && header_->got_some() && client_.is_open()) {
        m.bad_requests->Inc();
        co_await Reply(Route::kOther, h::status::bad_request, "text/plain; charset=utf-8",
                       "400 Bad Request\n", true);
      }
      break;
    }
    dog_->Disarm();
    const auto& req = header_->get();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    const std::string_view path = PathOf(req.target());
    const Route route = RouteOf(path);
    m.in_flight->Add(1);
    server_.in_flight_.fetch_add(1);
    const beast::string_view method = req.method_string();
    const plugin::RouteEntry* claim =
        server_.routes().Lookup(std::string_view(method.data(), method.size()), path);
    if (claim == nullptr) {
      co_await HandleProxy(route);
    } else if (claim->claim.mode == plugin::RouteMode::kTraceStages) {
      co_await HandleTraces(route);
    } else if (claim->claim.mode == plugin::RouteMode::kFilterAnswer) {
      co_await HandleFilterAnswer(route, *claim->claim.answer_filter);
    } else {
      co_await HandleBuffered(route, claim->claim);
    }
    server_.in_flight_.fetch_sub(1);
    m.in_flight->Add(-1);
    if (!client_.is_open()) break;
  }
  if (client_.is_open()) {
    client_.ShutdownSend();
    client_.Close();
  }
  dog_->Stop();
  server_.Unregister(this);
}

awaitable<bool> Session::SendContinueIfExpected() {
  const auto& req = header_->get();
  auto it = req.find(h::field::expect);
  if (it == req.end() || !beast::iequals(it->value(), "100-continue") || version_ < 11) {
    co_return true;
  }
  h::response<h::empty_body> cont{h::status::continue_, version_};
  boost::system::error_code ec;
  dog_->Arm(server_.options_.request_timeout, [this] { client_.Close(); });
  co_await h::async_write(client_, cont, redirect_error(use_awaitable, ec));
  dog_->Disarm();
  co_return !ec;
}

awaitable<void> Session::Reply(Route route, h::status status, std::string_view content_type,
                               std::string body, bool close) {
  h::response<h::string_body> res{status, version_};
  res.set(h::field::content_type, beast::string_view(content_type.data(), content_type.size()));
  if (status == h::status::payload_too_large || status == h::status::request_timeout ||
      status == h::status::bad_request) {
    res.set("X-Content-Type-Options", "nosniff");
  }
  const size_t n = body.size();
  res.body() = std::move(body);
  if (close || server_.draining()) keep_alive_ = false;
  res.keep_alive(keep_alive_);
  res.prepare_payload();
  boost::system::error_code ec;
  dog_->Arm(server_.options_.request_timeout, [this] { client_.Close(); });
  server_.metrics_.Requests(route, res.result_int()).Inc();
  server_.metrics_.bytes_out[static_cast<size_t>(route)]->Inc(n);
  co_await h::async_write(client_, res, redirect_error(use_awaitable, ec));
  dog_->Disarm();
  if (ec || close) client_.Close();
}

void Session::CountUpstreamFailure(Route route, Kind kind) {
  uint64_t held_back;
  if (server_.upstream_log_.Allow(&held_back)) {
    spdlog::warn("the Agent at {} {} ({} route); answering {} ({} more since the last warning)",
                 server_.agent_.address().url,
                 kind == Kind::kTimeout ? "did not answer in time" : "is unreachable",
                 RouteName(route), kind == Kind::kTimeout ? 504 : 502, held_back);
  }
  if (kind == Kind::kTimeout) {
    server_.metrics_.upstream_timeout[static_cast<size_t>(route)]->Inc();
  } else {
    server_.metrics_.upstream_unreachable[static_cast<size_t>(route)]->Inc();
  }
}

awaitable<void> Session::ReplyUpstreamFailure(Route route, const ExchangeResult& r) {
  CountUpstreamFailure(route, r.outcome.kind);
  const bool timeout = r.outcome.kind == Kind::kTimeout;
  std::string body = absl::StrCat(
      "{\"error\":\"", timeout ? "agent timeout" : "agent unreachable", "\",\"agent\":\"",
      server_.agent_.address().url, "\"}\n");
  co_await Reply(route, timeout ? h::status::gateway_timeout : h::status::bad_gateway,
                 "application/json", std::move(body), false);
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

awaitable<void> Session::RelayBuffered(Route route, ExchangeResult& r, bool translate_429) {
  h::response<h::string_body> res;
  res.version(version_);
  // We asked for real statuses on the tracer's behalf: give it what the Agent would have said
  // without the header (200 with the same rate_by_service body).
  unsigned status = r.outcome.status;
  if (translate_429 && status == 429) status = 200;
  res.result(status);
  CopyEndToEndHeaders(r.response, &res, /*drop_content_length=*/true);
  res.body() = std::move(r.response.body());
  const size_t n = res.body().size();
  if (server_.draining()) keep_alive_ = false;
  res.keep_alive(keep_alive_);
  res.prepare_payload();
  boost::system::error_code ec;
  dog_->Arm(server_.options_.request_timeout, [this] { client_.Close(); });
  // Counted before the write: a client that has its answer sees it in /metrics.
  server_.metrics_.Requests(route, status).Inc();
  server_.metrics_.bytes_out[static_cast<size_t>(route)]->Inc(n);
  co_await h::async_write(client_, res, redirect_error(use_awaitable, ec));
  dog_->Disarm();
  if (ec) client_.Close();
}

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
    lease = plugin::BufferLease(&server_.body_pool(), *len);
    lease->ResizeUninitialized(*len);
    char* const into = lease->data();
    const size_t have = std::min<size_t>(buffer_.size(), *len);
    if (have > 0) {
      boost::asio::buffer_copy(asio::buffer(into, have), buffer_.data());
      buffer_.consume(have);
    }
    if (*len > have) {
      co_await asio::async_read(client_, asio::buffer(into + have, *len - have),
                                redirect_error(use_awaitable, ec));
    }
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
  for (const auto& f : req) {
    tr.headers.emplace_back(std::string_view(f.name_string().data(), f.name_string().size()),
                            std::string_view(f.value().data(), f.value().size()));
  }
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
  plugin::BufferLease lease(&server_.body_pool(), n);
  lease->ResizeUninitialized(n);
  boost::system::error_code ec;
  dog_->Arm(opt.request_timeout, [this] { client_.Cancel(); });
  const size_t have = std::min<size_t>(buffer_.size(), n);
  if (have > 0) {
    boost::asio::buffer_copy(asio::buffer(lease->data(), have), buffer_.data());
    buffer_.consume(have);
  }
  if (n > have) {
    co_await asio::async_read(client_, asio::buffer(lease->data() + have, n - have),
                              redirect_error(use_awaitable, ec));
  }
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
  for (const auto& f : req) {
    rr.headers.emplace_back(std::string_view(f.name_string().data(), f.name_string().size()),
                            std::string_view(f.value().data(), f.value().size()));
  }
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

HttpServer::HttpServer(asio::io_context& ioc, ServerOptions options,
                       const plugin::StageChain& chain, AgentPool& agent,
                       telemetry::Registry& metrics)
    : ioc_(ioc), options_(std::move(options)), chain_(chain), agent_(agent), metrics_(metrics) {}

HttpServer::~HttpServer() = default;

const plugin::RouteTable& HttpServer::routes() const {
  return routes_ != nullptr ? *routes_ : CoreRouteTable();
}

absl::Status HttpServer::Listen() {
  boost::system::error_code ec;
  if (options_.port.has_value()) {
    auto addr = asio::ip::make_address(options_.host, ec);
    Tcp::endpoint ep;
    if (ec) {
      // A host name: resolve it.
      Tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(options_.host, std::to_string(*options_.port), ec);
      if (ec || results.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("ingest.host = \"", options_.host, "\": cannot resolve: ", ec.message()));
      }
      ep = results.begin()->endpoint();
    } else {
      ep = Tcp::endpoint(addr, *options_.port);
    }
    tcp_.emplace(ioc_);
    tcp_->open(ep.protocol(), ec);
    if (!ec) tcp_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) tcp_->bind(ep, ec);
    if (!ec) tcp_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("ingest: cannot listen on ", options_.host, ":",
                                                 *options_.port, ": ", ec.message()));
    }
    tcp_port_ = tcp_->local_endpoint().port();
  }
  if (!options_.socket_path.empty()) {
    std::error_code fec;
    const std::filesystem::path path(options_.socket_path);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), fec);
    struct stat st;
    if (::stat(options_.socket_path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return absl::FailedPreconditionError(
            absl::StrCat("ingest.socket = \"", options_.socket_path,
                         "\": exists and is not a socket; refusing to replace it"));
      }
      ::unlink(options_.socket_path.c_str());
    }
    if (options_.socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ingest.socket = \"", options_.socket_path, "\": longer than ",
                       sizeof(sockaddr_un::sun_path) - 1, " bytes, the limit of a socket path"));
    }
    unix_.emplace(ioc_);
    unix_->open(Unix(), ec);
    if (!ec) unix_->bind(Unix::endpoint(options_.socket_path), ec);
    if (!ec) unix_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("ingest.socket = \"", options_.socket_path,
                                                 "\": cannot listen: ", ec.message()));
    }
    // Tracers in other containers and users write to it, as to the Agent's socket.
    ::chmod(options_.socket_path.c_str(), 0722);
  }
  return absl::OkStatus();
}

template <typename Acceptor>
awaitable<void> HttpServer::AcceptLoop(Acceptor& acceptor) {
  asio::steady_timer wait(ioc_);
  while (!draining_.load()) {
    // At the connection limit, stop accepting until a connection closes (the kernel's backlog
    // holds new ones meanwhile), like a limited listener.
    while (connections_.load() >= static_cast<int64_t>(options_.max_connections) &&
           !draining_.load()) {
      wait.expires_after(std::chrono::milliseconds(5));
      boost::system::error_code ignored;
      co_await wait.async_wait(redirect_error(use_awaitable, ignored));
    }
    boost::system::error_code ec;
    auto strand = asio::make_strand(ioc_);
    auto socket = co_await acceptor.async_accept(strand, redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
      // EMFILE and friends: back off briefly instead of spinning.
      wait.expires_after(std::chrono::milliseconds(50));
      co_await wait.async_wait(redirect_error(use_awaitable, ec));
      continue;
    }
    if constexpr (std::is_same_v<decltype(socket), Tcp::socket>) {
      socket.set_option(Tcp::no_delay(true), ec);
    }
    connections_.fetch_add(1);
    metrics_.connections->Add(1);
    metrics_.connections_accepted->Inc();
    auto session = std::make_shared<Session>(*this, AnyStream(std::move(socket)));
    Register(session);
    asio::co_spawn(session->executor(), Session::Run(session), asio::detached);
  }
}

void HttpServer::Start() {
  if (tcp_) asio::co_spawn(ioc_, AcceptLoop(*tcp_), asio::detached);
  if (unix_) asio::co_spawn(ioc_, AcceptLoop(*unix_), asio::detached);
}

void HttpServer::Register(const std::shared_ptr<Session>& s) {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  // Drop entries of sessions that ended, so the list stays the size of the open connections.
  sessions_.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
  sessions_.push_back(s);
}

void HttpServer::Unregister(Session*) {
  connections_.fetch_sub(1);
  metrics_.connections->Add(-1);
}

void HttpServer::BeginShutdown() {
  draining_.store(true);
  asio::post(ioc_, [this] {
    boost::system::error_code ec;
    if (tcp_) tcp_->close(ec);
    if (unix_) {
      unix_->close(ec);
      ::unlink(options_.socket_path.c_str());
    }
  });
  std::lock_guard<std::mutex> lock(sessions_mu_);
  for (auto& w : sessions_) {
    if (auto s = w.lock()) asio::post(s->executor(), [s] { s->CloseIfIdle(); });
  }
}

}  // namespace llmobs_edge::http
