#include "plugin/host/http/upstream.h"

#include <sys/un.h>

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "plugin/host/http/watchdog.h"

namespace llmobs_edge::http {

absl::StatusOr<UpstreamAddress> ParseAgentUrl(const std::string& url) {
  UpstreamAddress a;
  a.url = url;
  if (absl::StartsWith(url, "unix://")) {
    a.is_unix = true;
    a.path = url.substr(7);
    if (a.path.empty() || a.path[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("agent.url = \"", url, "\": no socket path"));
    }
    if (a.path.size() >= sizeof(sockaddr_un::sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "agent.url = \"", url, "\": socket path longer than ",
          sizeof(sockaddr_un::sun_path) - 1, " bytes"));
    }
    return a;
  }
  if (!absl::StartsWith(url, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("agent.url = \"", url, "\": expected http:// or unix://"));
  }
  std::string rest = url.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  a.port = "80";
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("agent.url = \"", url, "\": bad IPv6 host"));
    }
    a.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') a.port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    a.host = rest.substr(0, colon);
    if (colon != std::string::npos) a.port = rest.substr(colon + 1);
  }
  if (a.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("agent.url = \"", url, "\": no host"));
  }
  return a;
}

AgentPool::AgentPool(UpstreamAddress address, Options options)
    : address_(std::move(address)), options_(options) {}

boost::asio::awaitable<std::unique_ptr<UpstreamConnection>> AgentPool::Acquire(
    boost::asio::any_io_executor executor, std::chrono::milliseconds timeout,
    boost::system::error_code& ec) {
  const auto now = std::chrono::steady_clock::now();
  for (;;) {
    std::unique_ptr<UpstreamConnection> c;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_.empty()) break;
      c = std::move(idle_.back());
      idle_.pop_back();
    }
    if (now - c->idle_since < options_.max_idle_time && !c->stream.PeerClosedOrDirty()) {
      c->reused = true;
      ec = {};
      co_return c;
    }
    c->stream.Close();
  }
  co_return co_await Connect(std::move(executor), timeout, ec);
}

boost::asio::awaitable<std::unique_ptr<UpstreamConnection>> AgentPool::Connect(
    boost::asio::any_io_executor executor, std::chrono::milliseconds timeout,
    boost::system::error_code& ec) {
  namespace asio = boost::asio;
  auto dog = Watchdog::Start(executor);
  std::unique_ptr<UpstreamConnection> result;
  if (address_.is_unix) {
    Unix::socket s(executor);
    dog->Arm(timeout, [&s] {
      boost::system::error_code ignored;
      s.close(ignored);
    });
    co_await s.async_connect(Unix::endpoint(address_.path),
                             asio::redirect_error(asio::use_awaitable, ec));
    dog->Stop();
    if (!ec) result = std::make_unique<UpstreamConnection>(AnyStream(std::move(s)));
  } else {
    Tcp::resolver resolver(executor);
    Tcp::socket s(executor);
    dog->Arm(timeout, [&] {
      resolver.cancel();
      boost::system::error_code ignored;
      s.close(ignored);
    });
    auto endpoints = co_await resolver.async_resolve(address_.host, address_.port,
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_await asio::async_connect(s, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    dog->Stop();
    if (!ec) {
      s.set_option(Tcp::no_delay(true), ec);
      ec = {};
      result = std::make_unique<UpstreamConnection>(AnyStream(std::move(s)));
    }
  }
  if (dog->expired() && ec) ec = boost::asio::error::timed_out;
  co_return result;
}

void AgentPool::Release(std::unique_ptr<UpstreamConnection> c) {
  if (!c || !c->stream.is_open()) return;
  c->idle_since = std::chrono::steady_clock::now();
  c->buffer.consume(c->buffer.size());
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() >= options_.max_idle) {
    c->stream.Close();
    return;
  }
  idle_.push_back(std::move(c));
}

void AgentPool::CloseIdle() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : idle_) c->stream.Close();
  idle_.clear();
}

}  // namespace llmobs_edge::http
