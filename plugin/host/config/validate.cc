#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "plugin/host/config/config.h"

namespace llmobs_edge::config {
namespace {

absl::Status Bad(absl::string_view setting, absl::string_view value, absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(setting, " = \"", value, "\": expected ", expected));
}

// "host:port" or "[v6]:port" with a port from 1 to 65535.
bool ValidHostPort(absl::string_view s) {
  const size_t colon = s.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  uint32_t port;
  if (!absl::SimpleAtoi(s.substr(colon + 1), &port) || port == 0 || port > 65535) return false;
  const absl::string_view host = s.substr(0, colon);
  if (host.find(':') != absl::string_view::npos) {
    return host.front() == '[' && host.back() == ']';
  }
  return true;
}

absl::Status ValidateAgentUrl(const std::string& url) {
  constexpr absl::string_view kExpected = "http://host[:port] or unix:///path/to/socket";
  if (absl::StartsWith(url, "unix://")) {
    if (url.size() <= 7 || url[7] != '/') return Bad("agent.url", url, kExpected);
    return absl::OkStatus();
  }
  if (!absl::StartsWith(url, "http://")) return Bad("agent.url", url, kExpected);
  absl::string_view rest = absl::string_view(url).substr(7);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != absl::string_view::npos) {
    return Bad("agent.url", url, kExpected);
  }
  const bool has_port = rest.back() != ']' && rest.find(':') != absl::string_view::npos &&
                        (rest.front() != '[' || rest.rfind("]:") != absl::string_view::npos);
  if (has_port && !ValidHostPort(rest)) return Bad("agent.url", url, kExpected);
  return absl::OkStatus();
}

}  // namespace

absl::Status Validate(const Config& c) {
  const v1::Ingest& in = c.ingest();
  if (in.port() > 65535) return Bad("ingest.port", std::to_string(in.port()), "0 to 65535");
  if (in.port() > 0 && in.host().empty()) {
    return Bad("ingest.host", in.host(), "an address to listen on (the TCP port is enabled)");
  }
  if (!in.grpc_address().empty() && !ValidHostPort(in.grpc_address())) {
    return Bad("ingest.grpc_address", in.grpc_address(), "host:port with a port from 1 to 65535");
  }
  if (in.port() == 0 && in.socket().empty() && in.grpc_address().empty()) {
    return absl::InvalidArgumentError(
        "ingest: every listener is disabled (ingest.port = 0, ingest.socket and "
        "ingest.grpc_address empty); enable at least one");
  }
  if (in.max_payload_bytes() == 0 || in.max_payload_bytes() >= (uint64_t{1} << 32)) {
    return Bad("ingest.max_payload_bytes", std::to_string(in.max_payload_bytes()),
               "1 to 4294967295");
  }
  if (in.max_connections() == 0) return Bad("ingest.max_connections", "0", "at least 1");
  if (in.request_timeout_ms() == 0) return Bad("ingest.request_timeout_ms", "0", "at least 1");

  if (in.threads() > 1024) return Bad("ingest.threads", std::to_string(in.threads()), "0 to 1024");
  if (in.pipeline_threads() > 1024) {
    return Bad("ingest.pipeline_threads", std::to_string(in.pipeline_threads()), "0 to 1024");
  }

  if (absl::Status st = ValidateAgentUrl(c.agent().url()); !st.ok()) return st;
  if (c.agent().timeout_ms() == 0) return Bad("agent.timeout_ms", "0", "at least 1");

  const v1::Telemetry& tel = c.telemetry();
  if (tel.port() > 65535) return Bad("telemetry.port", std::to_string(tel.port()), "0 to 65535");
  if (tel.port() > 0 && tel.port() == in.port() && tel.host() == in.host()) {
    return Bad("telemetry.port", std::to_string(tel.port()),
               "a port other than ingest.port on the same host");
  }

  const v1::Ledger& ledger = c.ledger();
  if (ledger.path().empty()) return Bad("ledger.path", "", "a directory for the ledger");
  if (ledger.sync() != "per_commit" && ledger.sync() != "interval" && ledger.sync() != "none") {
    return Bad("ledger.sync", ledger.sync(), "per_commit, interval or none");
  }
  if (ledger.sync_interval_ms() == 0) return Bad("ledger.sync_interval_ms", "0", "at least 1");
  if (ledger.seen_ttl_hours() == 0) return Bad("ledger.seen_ttl_hours", "0", "at least 1");
  if (ledger.max_outbox_bytes() < (1u << 20)) {
    return Bad("ledger.max_outbox_bytes", std::to_string(ledger.max_outbox_bytes()),
               "at least 1048576 (1 MiB)");
  }
  const v1::Intake& intake = c.intake();
  if (intake.mode() != "agent" && intake.mode() != "agentless") {
    return Bad("intake.mode", intake.mode(), "agent or agentless");
  }
  if (intake.mode() == "agentless" && intake.api_key().empty()) {
    return absl::InvalidArgumentError(
        "intake.api_key: required when intake.mode = \"agentless\" (set DD_API_KEY)");
  }
  if (intake.mode() == "agentless" && intake.url().empty() && intake.site().empty()) {
    return Bad("intake.site", "", "a Datadog site such as datadoghq.com");
  }
  if (!intake.url().empty() && !absl::StartsWith(intake.url(), "http://") &&
      !absl::StartsWith(intake.url(), "https://")) {
    return Bad("intake.url", intake.url(), "an http:// or https:// URL");
  }
  if (intake.max_batch_bytes() < 1024) {
    return Bad("intake.max_batch_bytes", std::to_string(intake.max_batch_bytes()),
               "at least 1024");
  }
  if (intake.flush_interval_ms() == 0) return Bad("intake.flush_interval_ms", "0", "at least 1");
  if (intake.timeout_ms() == 0) return Bad("intake.timeout_ms", "0", "at least 1");
  if (intake.max_backoff_ms() == 0) return Bad("intake.max_backoff_ms", "0", "at least 1");

  const std::string& level = c.logging().level();
  if (level != "trace" && level != "debug" && level != "info" && level != "warn" &&
      level != "error" && level != "critical" && level != "off") {
    return Bad("logging.level", level, "trace, debug, info, warn, error, critical or off");
  }
  return absl::OkStatus();
}

}  // namespace llmobs_edge::config
