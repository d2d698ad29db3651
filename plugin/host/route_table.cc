#include "plugin/host/route_table.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace llmobs_edge::plugin {
namespace {

bool MethodsOverlap(const RouteClaim& a, const RouteClaim& b) {
  return a.method.empty() || b.method.empty() || a.method == b.method;
}

bool PathsOverlap(const RouteClaim& a, const RouteClaim& b) {
  if (!a.prefix && !b.prefix) return a.path == b.path;
  if (a.prefix && b.prefix) return a.path == b.path;
  const RouteClaim& p = a.prefix ? a : b;
  const RouteClaim& e = a.prefix ? b : a;
  // An exact path under another plugin's prefix would silently take part of its space.
  return absl::StartsWith(e.path, p.path);
}

std::string Label(const RouteClaim& c) {
  return absl::StrCat(c.method.empty() ? "*" : c.method, " ", c.path, c.prefix ? "*" : "");
}

}  // namespace

absl::StatusOr<RouteTable> RouteTable::Build(const std::vector<Plugin*>& plugins) {
  std::vector<RouteEntry> entries;
  for (Plugin* p : plugins) {
    for (RouteClaim& c : p->Routes()) {
      entries.push_back(RouteEntry{std::string(p->name()), std::move(c)});
    }
  }
  return FromEntries(std::move(entries));
}

absl::StatusOr<RouteTable> RouteTable::FromEntries(std::vector<RouteEntry> entries) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const RouteClaim& c = entries[i].claim;
    if (c.path.empty() || c.path[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("plugin ", entries[i].plugin,
                                                     " claims a route without a path: '",
                                                     c.path, "'"));
    }
    if ((c.mode == RouteMode::kBuffered && c.handler == nullptr) ||
        (c.mode == RouteMode::kFilterAnswer && c.answer_filter == nullptr)) {
      return absl::InvalidArgumentError(absl::StrCat("plugin ", entries[i].plugin, " claims ",
                                                     Label(c), " (", std::string(RouteModeName(c.mode)),
                                                     ") without its handler"));
    }
    for (size_t j = 0; j < i; ++j) {
      const RouteClaim& o = entries[j].claim;
      if (MethodsOverlap(c, o) && PathsOverlap(c, o)) {
        return absl::AlreadyExistsError(
            absl::StrCat("route conflict: plugin ", entries[j].plugin, " claims ", Label(o),
                         " and plugin ", entries[i].plugin, " claims ", Label(c)));
      }
    }
  }
  RouteTable t;
  t.entries_ = std::move(entries);
  return t;
}

const RouteEntry* RouteTable::Lookup(std::string_view method, std::string_view path) const {
  const RouteEntry* best = nullptr;
  for (const RouteEntry& e : entries_) {
    const RouteClaim& c = e.claim;
    if (!c.method.empty() && c.method != method) continue;
    if (!c.prefix) {
      if (c.path == path) return &e;  // claims do not overlap: an exact match is the only one
      continue;
    }
    if (absl::StartsWith(absl::string_view(path.data(), path.size()), c.path) &&
        (best == nullptr || c.path.size() > best->claim.path.size())) {
      best = &e;
    }
  }
  return best;
}

std::string RouteTable::Describe() const {
  std::string out;
  for (const RouteEntry& e : entries_) {
    absl::StrAppend(&out, Label(e.claim), " -> ", e.plugin, " (",
                    std::string(RouteModeName(e.claim.mode)),
                    ")", e.claim.description.empty() ? "" : ": ", e.claim.description, "\n");
  }
  absl::StrAppend(&out,
                  "* (every other path) -> transparent proxy to the Agent (streamed, byte for "
                  "byte)\n");
  return out;
}

}  // namespace llmobs_edge::plugin
