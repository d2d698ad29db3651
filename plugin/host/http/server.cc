// The HTTP ingest server's listeners (server.h): binding TCP and the Unix socket, the accept
// loops with the connection limit, the set of open sessions and the graceful drain. Each accepted
// connection becomes a Session (session.h) that serves its requests.

#include "plugin/host/http/server.h"

#include <sys/stat.h>
#include <sys/un.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "absl/strings/str_cat.h"
#include "plugin/host/http/core_plugins.h"
#include "plugin/host/http/session.h"

namespace llmobs_edge::http {

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
