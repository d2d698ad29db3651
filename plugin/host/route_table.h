#pragma once
// The route table: which plugin owns which HTTP path. Built once at startup from every plugin's
// RouteClaims; a path no claim matches is the transparent proxy's. Two claims that can match the
// same request (same method or one of them any-method, and the same exact path, the same prefix,
// or an exact path under a prefix) are a startup error naming both plugins. The HTTP ingest looks
// every request up here; `--check-config` and docs/architecture.md print it.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "plugin/api/plugin.h"

namespace llmobs_edge::plugin {

struct RouteEntry {
  std::string plugin;
  RouteClaim claim;
};

class RouteTable {
 public:
  RouteTable() = default;
  // Claims of each plugin, in registration order.
  static absl::StatusOr<RouteTable> Build(const std::vector<Plugin*>& plugins);
  static absl::StatusOr<RouteTable> FromEntries(std::vector<RouteEntry> entries);

  // The claim for this request, or null (the transparent proxy). An exact path wins over a
  // prefix; among prefixes, the longest.
  const RouteEntry* Lookup(std::string_view method, std::string_view path) const;

  const std::vector<RouteEntry>& entries() const { return entries_; }
  // One line per claim, then the proxy's line: "METHOD PATH -> plugin (mode): description".
  std::string Describe() const;

 private:
  std::vector<RouteEntry> entries_;
};

}  // namespace llmobs_edge::plugin
