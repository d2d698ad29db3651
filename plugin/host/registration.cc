#include "plugin/host/registration.h"

#include "absl/strings/str_cat.h"
#include "plugin/host/http/core_plugins.h"
#include "plugin/host/route_table.h"
#include "rescue/rescue_plugin.h"

namespace llmobs_edge::plugin {

void PluginRegistry::Register(std::string name, PluginFactory factory) {
  factories_.emplace_back(std::move(name), std::move(factory));
}

absl::StatusOr<std::vector<std::unique_ptr<Plugin>>> PluginRegistry::Create(
    const config::v1::Config& config, const HostServices& host) const {
  std::vector<std::unique_ptr<Plugin>> plugins;
  for (const auto& [name, factory] : factories_) {
    absl::StatusOr<std::unique_ptr<Plugin>> p = factory(config, host);
    if (!p.ok()) {
      return absl::Status(p.status().code(),
                          absl::StrCat("plugin ", name, ": ", p.status().message()));
    }
    plugins.push_back(*std::move(p));
  }
  return plugins;
}

absl::StatusOr<std::string> DescribeRoutes(const config::v1::Config& config,
                                           const PluginRegistry& registry) {
  HostServices host;  // no clock, metrics or streams: only the declarations are read
  auto plugins = registry.Create(config, host);
  if (!plugins.ok()) return plugins.status();
  std::vector<Plugin*> all;
  for (const auto& p : *plugins) all.push_back(p.get());
  auto table = RouteTable::Build(all);
  if (!table.ok()) return table.status();
  return table->Describe();
}

const PluginRegistry& ProductPlugins() {
  static const PluginRegistry* registry = [] {
    auto* r = new PluginRegistry();
    r->Register("traces", [](const config::v1::Config&, const HostServices&)
                              -> absl::StatusOr<std::unique_ptr<Plugin>> {
      return std::make_unique<http::TracesPlugin>();
    });
    r->Register("agent-info", [](const config::v1::Config&, const HostServices&)
                                  -> absl::StatusOr<std::unique_ptr<Plugin>> {
      return std::make_unique<http::AgentInfoPlugin>();
    });
    r->Register("rescue", [](const config::v1::Config& config, const HostServices& host)
                              -> absl::StatusOr<std::unique_ptr<Plugin>> {
      rescue::RescueStage::Options options;
      options.rescue_without_priority = config.rescue().rescue_without_priority();
      rescue::RescuePlugin::Deps d;
      d.metrics = host.metrics;
      d.ledger = host.llmobs_stream;
      d.subscribe_agent_info = host.subscribe_agent_info;
      d.on_enqueued = host.llmobs_enqueued;
      return std::make_unique<rescue::RescuePlugin>(std::move(options), std::move(d));
    });
    return r;
  }();
  return *registry;
}

}  // namespace llmobs_edge::plugin
