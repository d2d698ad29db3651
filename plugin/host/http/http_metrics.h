#pragma once
// The HTTP ingest and proxy counters (OpenMetrics names llmobs_edge_http_* and
// llmobs_edge_upstream_*), resolved once so a request costs a few relaxed atomic adds. Routes are
// a fixed, low-cardinality set of the Agent's endpoint groups.

#include <array>
#include <atomic>
#include <string_view>

#include "plugin/api/metrics.h"

namespace llmobs_edge::http {

enum class Route : uint8_t {
  kTracesV04,
  kInfo,
  kTracesV05,
  kTracesOther,
  kStats,
  kRemoteConfig,
  kEvpProxy,
  kTelemetry,
  kDogstatsd,
  kProfiling,
  kDebugger,
  kSymdb,
  kTracerFlare,
  kOther,
  kCount,
};

Route RouteOf(std::string_view path);
std::string_view RouteName(Route r);

struct HttpMetrics {
  explicit HttpMetrics(telemetry::Registry& registry);

  // Requests answered, by route and status (the status the tracer got).
  telemetry::Counter& Requests(Route r, unsigned status);

  telemetry::CounterFamily* requests;
  std::array<std::atomic<telemetry::Counter*>, static_cast<size_t>(Route::kCount)> ok_requests{};
  std::array<telemetry::Counter*, static_cast<size_t>(Route::kCount)> bytes_in;
  std::array<telemetry::Counter*, static_cast<size_t>(Route::kCount)> bytes_out;
  std::array<telemetry::Histogram*, static_cast<size_t>(Route::kCount)> upstream_latency;
  std::array<telemetry::Counter*, static_cast<size_t>(Route::kCount)> upstream_unreachable;
  std::array<telemetry::Counter*, static_cast<size_t>(Route::kCount)> upstream_timeout;
  telemetry::Counter* forwarded_trace_bytes;
  telemetry::Counter* payload_too_large;
  // Requests on a plugin's buffered route that went to the Agent unchanged (too big, chunked, or
  // the plugin passed them through).
  telemetry::Counter* buffered_passed_through;
  telemetry::Counter* connections_accepted;
  telemetry::Counter* bad_requests;
  telemetry::Gauge* connections;
  telemetry::Gauge* in_flight;
};

}  // namespace llmobs_edge::http
