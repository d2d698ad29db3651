#include "plugin/host/ledger_command.h"

#include <ostream>

#include "dedup/rocks_ledger.h"
#include "nlohmann/json.hpp"
#include "plugin/api/clock.h"
#include "plugin/host/ledger_config.h"

namespace llmobs_edge::plugin {

int RunLedgerCommand(const config::v1::Config& config, const LedgerCommandOptions& options,
                     std::ostream& out, std::ostream& err) {
  const auto& l = config.ledger();
  SystemClock clock;
  auto ledger = dedup::OpenRocksLedger(LedgerOptionsFromConfig(l), &clock, nullptr);
  if (!ledger.ok()) {
    err << "llmobs-edge ledger: " << ledger.status().message()
        << " (a running edge holds the ledger; stop it first)\n";
    return 2;
  }
  if (options.action == "stats") {
    const dedup::Ledger::Stats s = (*ledger)->GetStats();
    nlohmann::ordered_json j;
    j["path"] = l.path();
    j["outbox_records"] = s.outbox_records;
    j["outbox_bytes"] = s.outbox_bytes;
    j["oldest_enqueued_unix_ms"] = s.oldest_enqueued_unix_ms;
    j["dead_letters"] = s.dead_letters;
    j["seen_keys_estimate"] = s.seen_keys_estimate;
    out << j.dump(2) << "\n";
    return 0;
  }
  if (options.action == "dump") {
    auto records = (*ledger)->PeekOutbox(options.limit, ~size_t{0});
    if (!records.ok()) {
      err << "llmobs-edge ledger dump: " << records.status().message() << "\n";
      return 1;
    }
    for (const dedup::OutboxRecord& r : *records) {
      nlohmann::ordered_json j;
      j["seq"] = r.seq;
      j["trace_id"] = r.key.trace_id;
      j["span_id"] = std::to_string(r.key.span_id);
      j["enqueued_unix_ms"] = r.enqueued_unix_ms;
      j["attempts"] = r.attempts;
      j["bytes"] = r.event_json.size();
      if (options.with_events) {
        j["envelope"] = nlohmann::json::parse(r.event_json, nullptr, false);
      }
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return 0;
  }
  if (options.action == "requeue-dead-letters") {
    auto n = (*ledger)->RequeueDeadLetters();
    if (!n.ok()) {
      err << "llmobs-edge ledger requeue-dead-letters: " << n.status().message() << "\n";
      return 1;
    }
    out << "requeued " << *n << " dead letters; the next start delivers them\n";
    return 0;
  }
  err << "llmobs-edge ledger: unknown action \"" << options.action
      << "\" (stats, dump or requeue-dead-letters)\n";
  return 2;
}

}  // namespace llmobs_edge::plugin
