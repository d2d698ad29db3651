// The Session's request loop and the pieces its handlers share: the keep-alive read loop that
// routes each request, 100-continue, reading a Content-Length body into a pooled buffer, our own
// replies, relaying a buffered Agent answer and the 502/504 for an Agent that failed. Part of
// Session (session.h); HttpServer (server.cc) starts it.

#include <string_view>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>

#include "absl/strings/str_cat.h"
#include "plugin/host/http/headers.h"
#include "plugin/host/http/session.h"
#include "spdlog/spdlog.h"

namespace llmobs_edge::http {
namespace {

// Request headers are read through buffer_ with room for a whole small payload: dd-trace's ~500
// byte header and a 10 KiB body arrive in one recv() instead of 512-byte reads (Beast reads what
// the buffer has room for).
constexpr size_t kHeaderReadBuffer = 16 * 1024;

}  // namespace

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

awaitable<boost::system::error_code> Session::ReadLengthBody(size_t n,
                                                            plugin::BufferLease* lease) {
  *lease = plugin::BufferLease(&server_.body_pool(), n);
  (*lease)->ResizeUninitialized(n);
  char* const into = (*lease)->data();
  const size_t have = std::min<size_t>(buffer_.size(), n);
  if (have > 0) {
    boost::asio::buffer_copy(asio::buffer(into, have), buffer_.data());
    buffer_.consume(have);
  }
  boost::system::error_code ec;
  if (n > have) {
    co_await asio::async_read(client_, asio::buffer(into + have, n - have),
                              redirect_error(use_awaitable, ec));
  }
  co_return ec;
}

void Session::HeaderViews(const h::request_header<>& req,
                          std::vector<std::pair<std::string_view, std::string_view>>* out) {
  for (const auto& f : req) {
    out->emplace_back(std::string_view(f.name_string().data(), f.name_string().size()),
                      std::string_view(f.value().data(), f.value().size()));
  }
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

}  // namespace llmobs_edge::http
