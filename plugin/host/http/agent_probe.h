#pragma once
// AgentProbe: asks the upstream Agent for GET /info at startup and then periodically. It tells
// /ready whether the Agent is reachable, and keeps the last /info answer (the Agent's version,
// state hash, and the body plugins read the Agent's filters and limits from). Runs on the service's
// io_context.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "plugin/host/http/upstream.h"
#include "plugin/api/metrics.h"

namespace llmobs_edge::http {

class AgentProbe {
 public:
  struct Info {
    unsigned status = 0;          // HTTP status of the last /info answer
    std::string body;             // its body
    std::string agent_version;    // Datadog-Agent-Version
    std::string agent_state;      // Datadog-Agent-State
  };

  AgentProbe(boost::asio::io_context& ioc, AgentPool& pool, std::chrono::milliseconds interval,
             std::chrono::milliseconds timeout, telemetry::Registry& metrics);

  // Starts the probe loop (the first probe runs at once).
  void Start();
  void Stop();

  // The Agent answered the last probe (any HTTP status counts: it is there).
  bool reachable() const { return reachable_.load(); }
  // Whether at least one probe finished (either way).
  bool probed() const { return probed_.load(); }
  std::shared_ptr<const Info> last_info() const;
  // Called with every 200 answer to /info, on the probe's thread (the rescue plugin learns the
  // Agent's trace filters from it). Add before Start().
  void OnInfo(std::function<void(const Info&)> observer) {
    observers_.push_back(std::move(observer));
  }
  // Any Agent answer carries Datadog-Agent-State (a hash of its /info); when it differs from the
  // last /info's, the probe asks again now instead of at the next interval.
  void NoteAgentState(std::string_view state);

 private:
  boost::asio::awaitable<void> Loop();

  boost::asio::io_context& ioc_;
  AgentPool& pool_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds timeout_;
  std::atomic<bool> reachable_{false};
  std::atomic<bool> probed_{false};
  std::atomic<bool> stopped_{false};
  mutable std::mutex mu_;
  std::shared_ptr<const Info> info_;
  std::vector<std::function<void(const Info&)>> observers_;
  std::string state_;  // Datadog-Agent-State of the last /info
  std::atomic<bool> refresh_{false};
  std::shared_ptr<boost::asio::steady_timer> timer_;
  telemetry::Gauge* reachable_gauge_;
  telemetry::Counter* probe_failures_;
};

}  // namespace llmobs_edge::http
