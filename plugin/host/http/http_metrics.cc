#include "plugin/host/http/http_metrics.h"

#include "absl/strings/match.h"

namespace llmobs_edge::http {

Route RouteOf(std::string_view p) {
  const absl::string_view path(p.data(), p.size());
  if (path == "/v0.4/traces") return Route::kTracesV04;
  if (path == "/info") return Route::kInfo;
  if (path == "/v0.5/traces") return Route::kTracesV05;
  if (absl::EndsWith(path, "/traces") || path == "/spans" || path == "/services" ||
      absl::EndsWith(path, "/services")) {
    return Route::kTracesOther;
  }
  if (path == "/v0.6/stats" || path == "/v0.1/pipeline_stats") return Route::kStats;
  if (path == "/v0.7/config") return Route::kRemoteConfig;
  if (absl::StartsWith(path, "/evp_proxy/")) return Route::kEvpProxy;
  if (absl::StartsWith(path, "/telemetry/proxy")) return Route::kTelemetry;
  if (absl::StartsWith(path, "/dogstatsd/")) return Route::kDogstatsd;
  if (absl::StartsWith(path, "/profiling/")) return Route::kProfiling;
  if (absl::StartsWith(path, "/debugger/")) return Route::kDebugger;
  if (absl::StartsWith(path, "/symdb/")) return Route::kSymdb;
  if (absl::StartsWith(path, "/tracer_flare/")) return Route::kTracerFlare;
  return Route::kOther;
}

std::string_view RouteName(Route r) {
  static constexpr std::string_view kNames[] = {
      "v0.4_traces", "info",     "v0.5_traces", "other_traces", "stats",
      "remote_config", "evp_proxy", "telemetry", "dogstatsd", "profiling",
      "debugger", "symdb", "tracer_flare", "other"};
  return kNames[static_cast<size_t>(r)];
}

HttpMetrics::HttpMetrics(telemetry::Registry& reg) {
  requests = &reg.AddCounterFamily("llmobs_edge_http_requests",
                                   "HTTP requests answered, by route and status sent to the tracer",
                                   {"route", "status"});
  auto& in = reg.AddCounterFamily("llmobs_edge_http_request_body_bytes",
                                  "Request body bytes received from tracers, by route", {"route"});
  auto& out = reg.AddCounterFamily("llmobs_edge_http_response_body_bytes",
                                   "Response body bytes sent to tracers, by route", {"route"});
  auto& lat = reg.AddHistogramFamily(
      "llmobs_edge_upstream_latency_seconds",
      "Time from sending a request to the Agent to having its answer header (buffered routes: the "
      "whole answer), by route",
      telemetry::ExponentialBuckets(0.0001, 2, 18), {"route"});
  auto& unreachable = reg.AddCounterFamily(
      "llmobs_edge_upstream_unreachable",
      "Requests the Agent could not be reached for (answered 502), by route", {"route"});
  auto& timeout = reg.AddCounterFamily(
      "llmobs_edge_upstream_timeouts", "Requests the Agent did not answer in time (504), by route",
      {"route"});
  for (size_t i = 0; i < static_cast<size_t>(Route::kCount); ++i) {
    const std::string_view name = RouteName(static_cast<Route>(i));
    bytes_in[i] = &in.WithLabels({name});
    bytes_out[i] = &out.WithLabels({name});
    upstream_latency[i] = &lat.WithLabels({name});
    upstream_unreachable[i] = &unreachable.WithLabels({name});
    upstream_timeout[i] = &timeout.WithLabels({name});
  }
  forwarded_trace_bytes = &reg.AddCounter(
      "llmobs_edge_forwarded_trace_bytes", "v0.4 payload bytes forwarded to the Agent");
  buffered_passed_through = &reg.AddCounter(
      "llmobs_edge_http_buffered_passed_through",
      "Requests on a plugin's buffered route forwarded to the Agent unchanged (fail open)");
  payload_too_large = &reg.AddCounter(
      "llmobs_edge_payload_too_large",
      "Trace payloads refused with 413 because they reached ingest.max_payload_bytes");
  connections_accepted =
      &reg.AddCounter("llmobs_edge_http_connections_accepted", "Client connections accepted");
  bad_requests = &reg.AddCounter("llmobs_edge_http_bad_requests",
                                 "Requests that were not valid HTTP (answered 400, closed)");
  connections = &reg.AddGauge("llmobs_edge_http_connections", "Open client connections");
  in_flight = &reg.AddGauge("llmobs_edge_http_in_flight", "Requests being handled");
}

telemetry::Counter& HttpMetrics::Requests(Route r, unsigned status) {
  // 200 is nearly every answer: its counter is looked up once per route (a labelled lookup
  // builds a key and takes the family's lock).
  std::atomic<telemetry::Counter*>* cached =
      status == 200 ? &ok_requests[static_cast<size_t>(r)] : nullptr;
  if (cached != nullptr) {
    if (telemetry::Counter* c = cached->load(std::memory_order_acquire)) return *c;
  }
  char buf[8];
  const int n = snprintf(buf, sizeof(buf), "%u", status);
  telemetry::Counter& c =
      requests->WithLabels({RouteName(r), std::string_view(buf, n > 0 ? n : 0)});
  if (cached != nullptr) cached->store(&c, std::memory_order_release);
  return c;
}

}  // namespace llmobs_edge::http
