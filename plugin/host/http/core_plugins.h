#pragma once
// The host's own two route owners, declared through the plugin interface like any feature:
// "traces" claims /v0.4/traces for the trace pipeline (decode, the configured stages, forward
// with their edits), and "agent-info" claims GET /info, forwarded with the trace endpoints the
// edge cannot process removed from the Agent's answer (info_filter.h). The registration file
// (plugin/host/registration.cc) lists them first; HttpServer uses them when given no table.

#include <string>
#include <string_view>
#include <vector>

#include "plugin/api/plugin.h"
#include "plugin/host/route_table.h"

namespace llmobs_edge::http {

class TracesPlugin final : public plugin::Plugin {
 public:
  std::string_view name() const override { return "traces"; }
  std::vector<plugin::RouteClaim> Routes() override;
};

class AgentInfoPlugin final : public plugin::Plugin, private plugin::AnswerFilter {
 public:
  std::string_view name() const override { return "agent-info"; }
  std::vector<plugin::RouteClaim> Routes() override;

 private:
  bool FilterAnswer(std::string_view body, std::string* out) const override;
};

// The table of the two core plugins alone (tests, and a server built without the service).
const plugin::RouteTable& CoreRouteTable();

}  // namespace llmobs_edge::http
