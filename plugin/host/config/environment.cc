#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "plugin/host/config/config.h"

namespace llmobs_edge::config {
namespace {

absl::Status Bad(const char* var, const char* value, const char* expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("environment variable ", var, "=\"", value, "\": expected ", expected));
}

// Each helper applies one variable if it is set.
class Env {
 public:
  explicit Env(const EnvLookup& lookup) : lookup_(lookup) {}

  const char* Get(const char* var) const {
    const char* v = lookup_(var);
    return (v != nullptr && *v != '\0') ? v : nullptr;
  }
  // For settings where "" means "off" (the Unix socket, the gRPC address): a variable that is
  // set but empty turns the listener off.
  template <typename Setter>
  absl::Status StringOrOff(const char* var, Setter set) const {
    const char* v = lookup_(var);
    if (v != nullptr) set(std::string(v));
    return absl::OkStatus();
  }
  template <typename Setter>
  absl::Status String(const char* var, Setter set) const {
    if (const char* v = Get(var)) set(std::string(v));
    return absl::OkStatus();
  }
  template <typename Setter>
  absl::Status Uint(const char* var, uint64_t max, Setter set) const {
    const char* v = Get(var);
    if (v == nullptr) return absl::OkStatus();
    uint64_t n;
    if (!absl::SimpleAtoi(v, &n) || n > max) {
      return Bad(var, v, absl::StrCat("an integer from 0 to ", max).c_str());
    }
    set(n);
    return absl::OkStatus();
  }
  template <typename Setter>
  absl::Status Bool(const char* var, Setter set) const {
    const char* v = Get(var);
    if (v == nullptr) return absl::OkStatus();
    const std::string s = absl::AsciiStrToLower(v);
    if (s == "true" || s == "1") {
      set(true);
    } else if (s == "false" || s == "0") {
      set(false);
    } else {
      return Bad(var, v, "true, false, 1 or 0");
    }
    return absl::OkStatus();
  }

 private:
  const EnvLookup& lookup_;
};

}  // namespace

absl::Status ApplyEnvironment(const EnvLookup& lookup, Config* c) {
  const Env env(lookup);
  v1::Ingest* in = c->mutable_ingest();
  v1::Agent* agent = c->mutable_agent();
  constexpr uint64_t kPort = 65535;
  constexpr uint64_t kU32 = UINT32_MAX;
  absl::Status st;
#define LLMOBS_EDGE_APPLY(expr) \
  st = (expr);                  \
  if (!st.ok()) return st
  LLMOBS_EDGE_APPLY(env.String("DD_LLMOBS_EDGE_HOST", [&](std::string v) { in->set_host(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_PORT", kPort, [&](uint64_t v) { in->set_port(v); }));
  LLMOBS_EDGE_APPLY(
      env.StringOrOff("DD_LLMOBS_EDGE_SOCKET", [&](std::string v) { in->set_socket(v); }));
  LLMOBS_EDGE_APPLY(env.StringOrOff("DD_LLMOBS_EDGE_GRPC_ADDRESS",
                               [&](std::string v) { in->set_grpc_address(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_MAX_PAYLOAD_BYTES", UINT64_MAX,
                             [&](uint64_t v) { in->set_max_payload_bytes(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_MAX_CONNECTIONS", kU32,
                             [&](uint64_t v) { in->set_max_connections(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_REQUEST_TIMEOUT_MS", kU32,
                             [&](uint64_t v) { in->set_request_timeout_ms(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_SHUTDOWN_GRACE_MS", kU32,
                             [&](uint64_t v) { in->set_shutdown_grace_ms(v); }));
  LLMOBS_EDGE_APPLY(
      env.Uint("DD_LLMOBS_EDGE_THREADS", 1024, [&](uint64_t v) { in->set_threads(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_PIPELINE_THREADS", 1024,
                             [&](uint64_t v) { in->set_pipeline_threads(v); }));
  if (const char* stages = env.Get("DD_LLMOBS_EDGE_STAGES")) {
    v1::Pipeline* p = c->mutable_pipeline();
    p->clear_stages();
    if (absl::AsciiStrToLower(stages) != "none") {
      for (absl::string_view s : absl::StrSplit(stages, ',', absl::SkipWhitespace())) {
        p->add_stages(std::string(absl::StripAsciiWhitespace(s)));
      }
    }
  }

  // The Agent: DD_TRACE_AGENT_URL wins; else DD_AGENT_HOST / DD_TRACE_AGENT_PORT, as tracers do.
  if (const char* url = env.Get("DD_TRACE_AGENT_URL")) {
    agent->set_url(url);
  } else if (env.Get("DD_AGENT_HOST") != nullptr || env.Get("DD_TRACE_AGENT_PORT") != nullptr) {
    std::string host = "localhost";
    uint64_t port = 8126;
    if (const char* h = env.Get("DD_AGENT_HOST")) host = h;
    LLMOBS_EDGE_APPLY(env.Uint("DD_TRACE_AGENT_PORT", kPort, [&](uint64_t v) { port = v; }));
    // An IPv6 literal needs brackets in a URL.
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    agent->set_url(absl::StrCat("http://", host, ":", port));
  }
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_AGENT_TIMEOUT_MS", kU32,
                             [&](uint64_t v) { agent->set_timeout_ms(v); }));

  v1::Telemetry* tel = c->mutable_telemetry();
  LLMOBS_EDGE_APPLY(
      env.String("DD_LLMOBS_EDGE_TELEMETRY_HOST", [&](std::string v) { tel->set_host(v); }));
  LLMOBS_EDGE_APPLY(
      env.Uint("DD_LLMOBS_EDGE_TELEMETRY_PORT", kPort, [&](uint64_t v) { tel->set_port(v); }));
  LLMOBS_EDGE_APPLY(env.Bool("DD_LLMOBS_EDGE_RESCUE_WITHOUT_PRIORITY", [&](bool v) {
    c->mutable_rescue()->set_rescue_without_priority(v);
  }));
  LLMOBS_EDGE_APPLY(env.String("DD_LOG_LEVEL", [&](std::string v) {
    c->mutable_logging()->set_level(absl::AsciiStrToLower(v));
  }));
  v1::Ledger* ledger = c->mutable_ledger();
  LLMOBS_EDGE_APPLY(
      env.String("DD_LLMOBS_EDGE_LEDGER_PATH", [&](std::string v) { ledger->set_path(v); }));
  LLMOBS_EDGE_APPLY(env.String("DD_LLMOBS_EDGE_LEDGER_SYNC", [&](std::string v) {
    ledger->set_sync(absl::AsciiStrToLower(v));
  }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_LEDGER_SYNC_INTERVAL_MS", kU32,
                             [&](uint64_t v) { ledger->set_sync_interval_ms(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_LEDGER_SEEN_TTL_HOURS", kU32,
                             [&](uint64_t v) { ledger->set_seen_ttl_hours(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_LEDGER_MAX_OUTBOX_BYTES", UINT64_MAX,
                             [&](uint64_t v) { ledger->set_max_outbox_bytes(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_LEDGER_MAX_DEAD_LETTER_BYTES", UINT64_MAX,
                             [&](uint64_t v) { ledger->set_max_dead_letter_bytes(v); }));
  v1::Intake* intake = c->mutable_intake();
  LLMOBS_EDGE_APPLY(env.Bool("DD_LLMOBS_AGENTLESS_ENABLED", [&](bool v) {
    intake->set_mode(v ? "agentless" : "agent");
  }));
  LLMOBS_EDGE_APPLY(env.String("DD_SITE", [&](std::string v) { intake->set_site(v); }));
  LLMOBS_EDGE_APPLY(env.String("DD_API_KEY", [&](std::string v) { intake->set_api_key(v); }));
  LLMOBS_EDGE_APPLY(
      env.String("DD_LLMOBS_EDGE_INTAKE_URL", [&](std::string v) { intake->set_url(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_INTAKE_MAX_BATCH_BYTES", UINT64_MAX,
                             [&](uint64_t v) { intake->set_max_batch_bytes(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_INTAKE_FLUSH_INTERVAL_MS", kU32,
                             [&](uint64_t v) { intake->set_flush_interval_ms(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_INTAKE_TIMEOUT_MS", kU32,
                             [&](uint64_t v) { intake->set_timeout_ms(v); }));
  LLMOBS_EDGE_APPLY(env.Uint("DD_LLMOBS_EDGE_INTAKE_MAX_BACKOFF_MS", kU32,
                             [&](uint64_t v) { intake->set_max_backoff_ms(v); }));
#undef LLMOBS_EDGE_APPLY
  return absl::OkStatus();
}

}  // namespace llmobs_edge::config
