#include "plugin/host/http/core_plugins.h"

#include "plugin/host/http/info_filter.h"

namespace llmobs_edge::http {

std::vector<plugin::RouteClaim> TracesPlugin::Routes() {
  plugin::RouteClaim c;
  c.path = "/v0.4/traces";  // any method: the Agent takes PUT and POST
  c.mode = plugin::RouteMode::kTraceStages;
  c.description = "v0.4 payloads: decoded when they hold _llmobs, the configured stages, forwarded "
                  "with their edits";
  return {c};
}

std::vector<plugin::RouteClaim> AgentInfoPlugin::Routes() {
  plugin::RouteClaim c;
  c.method = "GET";
  c.path = "/info";
  c.mode = plugin::RouteMode::kFilterAnswer;
  c.answer_filter = this;
  c.description = "the Agent's answer without the trace endpoints the edge cannot process";
  return {c};
}

bool AgentInfoPlugin::FilterAnswer(std::string_view body, std::string* out) const {
  return FilterInfoEndpoints(body, out);
}

const plugin::RouteTable& CoreRouteTable() {
  static const plugin::RouteTable* table = [] {
    static TracesPlugin traces;
    static AgentInfoPlugin info;
    return new plugin::RouteTable(*plugin::RouteTable::Build({&traces, &info}));
  }();
  return *table;
}

}  // namespace llmobs_edge::http
