#pragma once
// `llmobs-edge ledger stats|dump|requeue-dead-letters`: operator tools on the ledger of a stopped
// edge (the running edge holds the database lock). stats prints the outbox and dead-letter
// counts as JSON, dump prints outbox records oldest first as JSON lines, requeue-dead-letters
// moves every dead letter back to the outbox for the next start to deliver. main() calls it.

#include <cstddef>
#include <iosfwd>
#include <string>

#include "proto/config.pb.h"

namespace llmobs_edge::plugin {

struct LedgerCommandOptions {
  std::string action;  // "stats", "dump" or "requeue-dead-letters"
  size_t limit = 100;  // dump: at most this many records
  bool with_events = false;  // dump: include each record's envelope JSON
};

// Exit code: 0 done, 1 the ledger reported an error, 2 it could not be opened.
int RunLedgerCommand(const config::v1::Config& config, const LedgerCommandOptions& options,
                     std::ostream& out, std::ostream& err);

}  // namespace llmobs_edge::plugin
