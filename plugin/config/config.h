#pragma once
// Building the effective configuration: the embedded defaults, then environment variables in the
// Datadog convention (DD_TRACE_AGENT_URL or DD_AGENT_HOST/DD_TRACE_AGENT_PORT for the Agent,
// DD_LLMOBS_EDGE_* for the edge's own settings), then validation with one clear message naming
// the bad setting. main() calls these once at startup; the environment is injected so tests run
// without touching the process environment.

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "proto/config.pb.h"

namespace llmobs_edge::config {

using v1::Config;

// Every setting with its default value (proto/config.proto documents them).
Config DefaultConfig();

// Returns the value of an environment variable, or nullptr when it is not set.
using EnvLookup = std::function<const char*(const char*)>;

// Overrides `config` with the environment variables that are set. A malformed value (a port that
// is not a number, a bool that is not true/false/1/0) is an error naming the variable.
absl::Status ApplyEnvironment(const EnvLookup& env, Config* config);

// Checks every setting; the first problem found is returned, naming the setting and the value.
absl::Status Validate(const Config& config);

}  // namespace llmobs_edge::config
