#include "tests/crash/edge_child.h"

#include <sstream>

namespace llmobs_edge::crash {

std::string EdgeChild::Start(const EdgeSettings& settings, const std::string& tag,
                             bool wait_ready) {
  testing::EdgeLaunch launch;
  launch.binary = settings.binary;
  launch.config_path = settings.work_dir + "/" + tag + ".yaml";
  launch.log_path = settings.work_dir + "/" + tag + ".log";
  launch.ready_timeout_s = 30;
  launch.wait_ready = wait_ready;
  launch.generated_by = "//tests/crash:crash_test";
  std::ostringstream ingest, sections;
  ingest << "  socket: \"\"\n"
         << "  threads: " << settings.ingest_threads << "\n"
         << "  shutdown_grace_ms: 2000\n";
  sections << "ledger:\n"
           << "  path: " << testing::YamlQuoted(settings.ledger_path) << "\n"
           << "  sync: \"per_commit\"\n"
           << "intake:\n"
           << "  mode: \"agent\"\n"
           << "  flush_interval_ms: " << settings.flush_interval_ms << "\n"
           << "  max_backoff_ms: 500\n";
  launch.ingest = ingest.str();
  launch.agent_url = settings.agent_url;
  launch.sections = sections.str();
  return Launch(launch);
}

}  // namespace llmobs_edge::crash
