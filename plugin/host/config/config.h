#pragma once
// Building the effective configuration: the embedded defaults, then the YAML file given with
// --config, then environment variables in the Datadog convention (DD_TRACE_AGENT_URL or
// DD_AGENT_HOST/DD_TRACE_AGENT_PORT for the Agent, DD_LLMOBS_EDGE_* for the edge's own settings),
// then validation with one clear message naming the bad setting. main() calls LoadConfig() once at
// startup and RenderConfigYaml() for --check-config; the environment is injected so tests run
// without touching the process environment.

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
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

// Overlays a YAML document onto `config` (yaml.cc). Mapping keys are the proto field names
// (`ingest: {port: 8136}`), scalars are converted to the field's type, sequences replace repeated
// fields, nested mappings fill nested messages. An empty document or `~` changes nothing. Errors
// name the source, the line and the setting, e.g.
//   config.yaml:3: ingest.port = "abc": expected an integer from 0 to 4294967295
//   config.yaml:5: unknown setting "ingest.prot"; did you mean "ingest.port"?
// On error `config` is left unchanged. The value ranges checked here are the field types'; the
// service's own limits (a port up to 65535, ...) are Validate()'s.
absl::Status ApplyYaml(std::string_view yaml_text, std::string_view source_name, Config* config);

// The same for any protobuf message: the walk only follows the message's descriptor. Tests use it
// to exercise field kinds proto/config.proto does not have yet (enums, maps, repeated messages).
absl::Status ApplyYamlToMessage(std::string_view yaml_text, std::string_view source_name,
                                google::protobuf::Message* message);

// The effective configuration: DefaultConfig(), then the YAML file at `yaml_path` (none when
// empty; an unreadable file is an error naming the path), then ApplyEnvironment(), then
// Validate(). When the setting Validate() rejects came from the file, the message names its line.
absl::StatusOr<Config> LoadConfig(const std::string& yaml_path, const EnvLookup& env);

// The configuration as a YAML document that ApplyYaml() reads back to the same message (render.cc):
// every field in proto order, defaults included. A field that is not set (an `optional` scalar, a
// section) prints commented out with its default value, `# port: 0` or `# pipeline:` and its
// fields, so it reads back as still unset. Secrets are redacted: a non-empty string field for
// which IsSecretField() holds prints as "<redacted>", and the password of a URL's userinfo
// (`http://user:pass@host`) as <redacted>; a configuration holding either does not round-trip.
std::string RenderConfigYaml(const Config& config);

// RenderConfigYaml() for any protobuf message.
std::string RenderMessageYaml(const google::protobuf::Message& message);

// Whether a field holds a secret: its name is, or ends with, api_key, app_key, token, password or
// secret (case-insensitive).
bool IsSecretField(std::string_view field_name);

}  // namespace llmobs_edge::config
