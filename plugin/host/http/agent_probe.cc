#include "plugin/host/http/agent_probe.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "plugin/host/http/agent_exchange.h"
#include "plugin/host/http/watchdog.h"
#include "spdlog/spdlog.h"

namespace llmobs_edge::http {
namespace asio = boost::asio;
namespace h = boost::beast::http;

AgentProbe::AgentProbe(asio::io_context& ioc, AgentPool& pool, std::chrono::milliseconds interval,
                       std::chrono::milliseconds timeout, telemetry::Registry& metrics)
    : ioc_(ioc), pool_(pool), interval_(interval), timeout_(timeout) {
  reachable_gauge_ = &metrics.AddGauge("llmobs_edge_agent_reachable",
                                       "1 when the Agent answered the last /info probe");
  probe_failures_ = &metrics.AddCounter("llmobs_edge_agent_probe_failures",
                                        "/info probes the Agent did not answer");
}

void AgentProbe::Start() {
  asio::co_spawn(asio::make_strand(ioc_), Loop(), asio::detached);
}

void AgentProbe::Stop() {
  stopped_.store(true);
  std::shared_ptr<asio::steady_timer> timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    timer = timer_;
  }
  if (timer) asio::post(timer->get_executor(), [timer] { timer->cancel(); });
}

std::shared_ptr<const AgentProbe::Info> AgentProbe::last_info() const {
  std::lock_guard<std::mutex> lock(mu_);
  return info_;
}

void AgentProbe::NoteAgentState(std::string_view state) {
  if (state.empty()) return;
  std::shared_ptr<asio::steady_timer> timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state == state_ || refresh_.load()) return;
    refresh_.store(true);
    timer = timer_;
  }
  if (timer) asio::post(timer->get_executor(), [timer] { timer->cancel(); });
}

asio::awaitable<void> AgentProbe::Loop() {
  auto ex = co_await asio::this_coro::executor;
  auto dog = Watchdog::Start(ex);
  auto timer = std::make_shared<asio::steady_timer>(ex);
  {
    std::lock_guard<std::mutex> lock(mu_);
    timer_ = timer;
  }
  while (!stopped_.load()) {
    OutboundRequest req{h::verb::get, "/info", 11};
    req.set(h::field::host, pool_.address().is_unix ? "localhost" : pool_.address().host);
    req.set(h::field::user_agent, "llmobs-edge");
    ExchangeOptions xo;
    xo.timeout = timeout_;
    ExchangeResult r = co_await AgentExchange(pool_, ex, *dog, req, xo);
    const bool ok = r.outcome.kind == plugin::AgentOutcome::Kind::kAnswered;
    const bool was = reachable_.exchange(ok);
    if (ok && !was) {
      spdlog::info("the Agent at {} answers /info ({}, version {})", pool_.address().url,
                   r.outcome.status, std::string(r.response["Datadog-Agent-Version"]));
    } else if (!ok && (was || !probed_.load())) {
      spdlog::warn("the Agent at {} does not answer /info: {}; not ready", pool_.address().url,
                   r.error.message());
    }
    reachable_gauge_->Set(ok ? 1 : 0);
    if (ok) {
      auto info = std::make_shared<Info>();
      info->status = r.outcome.status;
      info->body = std::move(r.response.body());
      info->agent_version = std::string(r.response["Datadog-Agent-Version"]);
      info->agent_state = std::string(r.response["Datadog-Agent-State"]);
      if (info->status == 200) {
        for (const auto& observe : observers_) observe(*info);
      }
      std::lock_guard<std::mutex> lock(mu_);
      state_ = info->agent_state;
      info_ = std::move(info);
    } else {
      probe_failures_->Inc();
    }
    probed_.store(true);
    refresh_.store(false);
    timer->expires_after(ok ? interval_ : std::min(interval_, std::chrono::milliseconds(1000)));
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  dog->Stop();
}

}  // namespace llmobs_edge::http
