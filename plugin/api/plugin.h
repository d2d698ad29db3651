#pragma once
// The plugin interface: what a feature declares to the host (its name, config section, the HTTP
// routes it claims, the trace stages it offers, the durable streams it writes) and the lifecycle
// hooks the host calls (start, ready, drain). The host builds its route table and its stage chain
// from these declarations; every path no plugin claims stays the transparent proxy to the Agent.
// Feature folders (rescue/, later flags/, prompts/) implement it; plugin/host/registration.cc
// names them.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "plugin/api/stage.h"

namespace llmobs_edge::plugin {

// How the host handles a request on a claimed route.
enum class RouteMode : uint8_t {
  // The host's trace pipeline: the body is read whole (ingest.max_payload_bytes), decoded, run
  // through the configured stages, forwarded with their edits, and the Agent's answer relayed.
  kTraceStages,
  // Forwarded to the Agent as is; the Agent's answer body goes through the claim's AnswerFilter.
  kFilterAnswer,
  // Read whole (up to max_body_bytes), then the claim's RouteHandler answers it itself or passes
  // it through to the Agent unchanged.
  kBuffered,
};

std::string_view RouteModeName(RouteMode mode);

// Rewrites the body of the Agent's answer on a kFilterAnswer route. Returns false to relay the
// body unchanged. Called on an io thread: no blocking.
class AnswerFilter {
 public:
  virtual ~AnswerFilter() = default;
  virtual bool FilterAnswer(std::string_view body, std::string* out) const = 0;
};

// A buffered request as the handler sees it (views into the host's buffers, valid during Handle).
struct RouteRequest {
  std::string_view method;
  std::string_view target;  // path and query
  std::string_view path;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
  // The first header of that name, compared case-insensitively; empty when absent.
  std::string_view Header(std::string_view name) const;
};

// The handler's own answer.
struct RouteAnswer {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Length is the host's
  std::string body;
};

enum class RouteOutcome : uint8_t {
  kAnswered,     // RouteAnswer goes to the client
  kPassThrough,  // fail open: the host forwards the request to the Agent unchanged
};

// Handles kBuffered routes. Runs on the pipeline threads, so it may block (a durable commit).
class RouteHandler {
 public:
  virtual ~RouteHandler() = default;
  virtual RouteOutcome Handle(const RouteRequest& request, RouteAnswer* answer) = 0;
};

struct RouteClaim {
  std::string method;  // "GET", "PUT", ...; empty: any method
  std::string path;    // an exact path, or a prefix when `prefix`
  bool prefix = false;
  RouteMode mode = RouteMode::kBuffered;
  uint64_t max_body_bytes = 0;                  // kBuffered: larger requests pass through
  const AnswerFilter* answer_filter = nullptr;  // kFilterAnswer
  RouteHandler* handler = nullptr;              // kBuffered
  std::string description;                      // one line for the route table printout
};

class Plugin {
 public:
  virtual ~Plugin() = default;

  // A short unique name ("rescue", "traces").
  virtual std::string_view name() const = 0;
  // Its settings' message in proto/config.proto ("rescue"); empty when it has none.
  virtual std::string_view config_section() const { return {}; }
  // The HTTP routes it claims. Two plugins claiming one route is a startup error naming both.
  virtual std::vector<RouteClaim> Routes() { return {}; }
  // The trace stages it offers; `pipeline.stages` picks and orders them.
  virtual std::vector<std::string> StageNames() const { return {}; }
  // Builds one of StageNames() (only the configured ones are built).
  virtual absl::StatusOr<std::unique_ptr<Stage>> CreateStage(std::string_view name) {
    return absl::NotFoundError(std::string(name));
  }
  // The durable streams it writes (named in the host's database); the host opens them, and
  // delivers their records, only when a configured stage or route uses the plugin.
  virtual std::vector<std::string> Streams() const { return {}; }

  // Lifecycle: after every listener is bound; joins /ready; before the host stops (finish or
  // persist what is in flight by the deadline).
  virtual absl::Status Start() { return absl::OkStatus(); }
  virtual bool Ready(std::string* why_not) const { return true; }
  virtual void Drain(std::chrono::steady_clock::time_point deadline) {}
};

}  // namespace llmobs_edge::plugin
