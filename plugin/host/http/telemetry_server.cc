#include "plugin/host/http/telemetry_server.h"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"

namespace llmobs_edge::http {
namespace asio = boost::asio;
namespace h = boost::beast::http;
using asio::redirect_error;
using asio::use_awaitable;
using Tcp = asio::ip::tcp;

TelemetryServer::TelemetryServer(asio::io_context& ioc, std::string host, uint16_t port,
                                 const telemetry::Registry& metrics, ReadyCheck ready)
    : ioc_(ioc), host_(std::move(host)), port_(port), metrics_(metrics), ready_(std::move(ready)) {}

absl::Status TelemetryServer::Listen() {
  boost::system::error_code ec;
  Tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(host_, std::to_string(port_), ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry.host = \"", host_, "\": cannot resolve: ", ec.message()));
  }
  const Tcp::endpoint ep = results.begin()->endpoint();
  acceptor_.emplace(ioc_);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("telemetry: cannot listen on ", host_, ":", port_, ": ", ec.message()));
  }
  port_ = acceptor_->local_endpoint().port();
  return absl::OkStatus();
}

void TelemetryServer::Start() { asio::co_spawn(ioc_, AcceptLoop(), asio::detached); }

void TelemetryServer::Stop() {
  asio::post(ioc_, [this] {
    boost::system::error_code ec;
    if (acceptor_) acceptor_->close(ec);
  });
}

asio::awaitable<void> TelemetryServer::AcceptLoop() {
  for (;;) {
    boost::system::error_code ec;
    Tcp::socket socket = co_await acceptor_->async_accept(asio::make_strand(ioc_),
                                                          redirect_error(use_awaitable, ec));
    if (ec) {
      if (!acceptor_->is_open()) co_return;
      continue;
    }
    asio::co_spawn(socket.get_executor(), Serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> TelemetryServer::Serve(Tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    h::request<h::string_body> req;
    boost::system::error_code ec;
    h::request_parser<h::string_body> parser;
    parser.body_limit(64 * 1024);
    co_await h::async_read(socket, buffer, parser, redirect_error(use_awaitable, ec));
    if (ec) break;
    req = parser.release();
    h::response<h::string_body> res{h::status::ok, req.version()};
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    if (req.method() != h::verb::get && req.method() != h::verb::head) {
      res.result(h::status::method_not_allowed);
      res.set(h::field::allow, "GET, HEAD");
      res.set(h::field::content_type, "text/plain; charset=utf-8");
      res.body() = "method not allowed\n";
    } else if (path == "/metrics" || path == "/openmetrics") {
      res.set(h::field::content_type, std::string(telemetry::Registry::kContentType));
      res.body() = metrics_.RenderOpenMetrics();
    } else if (path == "/live") {
      res.set(h::field::content_type, "text/plain; charset=utf-8");
      res.body() = "ok\n";
    } else if (path == "/ready") {
      std::string reason;
      res.set(h::field::content_type, "text/plain; charset=utf-8");
      if (ready_(&reason)) {
        res.body() = "ready\n";
      } else {
        res.result(h::status::service_unavailable);
        res.body() = absl::StrCat("not ready: ", reason, "\n");
      }
    } else {
      res.result(h::status::not_found);
      res.set(h::field::content_type, "text/plain; charset=utf-8");
      res.body() = "not found: try /metrics, /live or /ready\n";
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    if (req.method() == h::verb::head) res.body().clear();
    co_await h::async_write(socket, res, redirect_error(use_awaitable, ec));
    if (ec || !req.keep_alive()) break;
  }
  boost::system::error_code ignored;
  socket.shutdown(Tcp::socket::shutdown_send, ignored);
}

}  // namespace llmobs_edge::http
