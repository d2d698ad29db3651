#include "plugin/host/config/config.h"

namespace llmobs_edge::config {

Config DefaultConfig() {
  Config c;
  v1::Ingest* ingest = c.mutable_ingest();
  ingest->set_host("127.0.0.1");
  ingest->set_port(8136);
  ingest->set_socket("/var/run/datadog/llmobs-edge.socket");
  ingest->set_grpc_address("127.0.0.1:8137");
  ingest->set_max_payload_bytes(25ull * 1024 * 1024);
  ingest->set_max_connections(2000);
  ingest->set_request_timeout_ms(5000);
  ingest->set_shutdown_grace_ms(10000);
  ingest->set_threads(0);
  ingest->set_pipeline_threads(8);
  c.mutable_pipeline()->add_stages("rescue");
  c.mutable_agent()->set_url("http://localhost:8126");
  c.mutable_agent()->set_timeout_ms(10000);
  c.mutable_telemetry()->set_host("127.0.0.1");
  c.mutable_telemetry()->set_port(8138);
  c.mutable_rescue()->set_rescue_without_priority(true);
  c.mutable_logging()->set_level("info");
  v1::Ledger* ledger = c.mutable_ledger();
  ledger->set_path("/var/lib/llmobs-edge/ledger");
  ledger->set_sync("per_commit");
  ledger->set_sync_interval_ms(1000);
  ledger->set_seen_ttl_hours(24);
  ledger->set_max_outbox_bytes(1ull << 30);
  ledger->set_max_dead_letter_bytes(64ull << 20);
  v1::Intake* intake = c.mutable_intake();
  intake->set_mode("agent");
  intake->set_site("datadoghq.com");
  intake->set_api_key("");
  intake->set_url("");
  intake->set_max_batch_bytes(5ull << 20);
  intake->set_flush_interval_ms(1000);
  intake->set_timeout_ms(10000);
  intake->set_max_backoff_ms(60000);
  return c;
}

}  // namespace llmobs_edge::config
