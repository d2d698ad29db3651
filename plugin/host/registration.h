#pragma once
// The one file that names the product's plugins: the host's core route owners ("traces",
// "agent-info") and the features ("rescue"; later store-and-forward, flags, prompts). The service
// builds them in this order from a PluginRegistry, handing each what it needs from HostServices;
// tests build registries of their own.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "dedup/ledger.h"
#include "plugin/api/clock.h"
#include "plugin/api/metrics.h"
#include "plugin/api/plugin.h"
#include "proto/config.pb.h"

namespace llmobs_edge::plugin {

// What the host offers the plugins it builds. Streams open on first use, so a plugin whose stage
// or route is not configured costs no database.
struct HostServices {
  const Clock* clock = nullptr;
  telemetry::Registry* metrics = nullptr;
  // The "llmobs" durable stream (the ledger), opened with its delivery on the first call.
  std::function<absl::StatusOr<dedup::Ledger*>()> llmobs_stream;
  // Wakes the "llmobs" stream's delivery after records were enqueued.
  std::function<void()> llmobs_enqueued;
  // Subscribes to the Agent's /info answers (200 bodies).
  std::function<void(std::function<void(std::string_view body)>)> subscribe_agent_info;
};

using PluginFactory = std::function<absl::StatusOr<std::unique_ptr<Plugin>>(
    const config::v1::Config& config, const HostServices& host)>;

class PluginRegistry {
 public:
  void Register(std::string name, PluginFactory factory);
  // Every registered plugin, in registration order.
  absl::StatusOr<std::vector<std::unique_ptr<Plugin>>> Create(const config::v1::Config& config,
                                                             const HostServices& host) const;

 private:
  std::vector<std::pair<std::string, PluginFactory>> factories_;
};

// traces, agent-info, rescue.
const PluginRegistry& ProductPlugins();

// The route table the registry's plugins declare for `config` (what --check-config prints);
// builds the plugins without opening any stream. Errors name conflicting claims.
absl::StatusOr<std::string> DescribeRoutes(const config::v1::Config& config,
                                           const PluginRegistry& registry);

}  // namespace llmobs_edge::plugin
