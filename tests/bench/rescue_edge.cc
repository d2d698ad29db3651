#include "tests/bench/rescue_edge.h"

#include <sys/stat.h>

#include <filesystem>
#include <sstream>

namespace llmobs_edge::bench::rescue {

std::string RescueEdge::Start(const EdgeConfig& config, const std::string& dir) {
  testing::EdgeLaunch launch;
  launch.binary = config.binary;
  launch.config_path = dir + "/edge.yaml";
  launch.log_path = dir + "/edge.log";
  launch.generated_by = "//tests/bench:rescue";
  launch.ingest = "  socket: \"\"\n  threads: " + std::to_string(config.threads) + "\n";
  if (config.pipeline_threads >= 0) {
    launch.ingest += "  pipeline_threads: " + std::to_string(config.pipeline_threads) + "\n";
  }
  launch.agent_url = config.agent_url;
  std::ostringstream sections;
  sections << "pipeline:\n"
           << "  stages: [rescue]\n"
           << "ledger:\n"
           << "  path: " << testing::YamlQuoted(config.ledger_path) << "\n"
           << "  sync: " << config.sync << "\n"
           << "intake:\n"
           << "  mode: agent\n"
           << "  flush_interval_ms: " << config.flush_interval_ms << "\n";
  launch.sections = sections.str();
  return Launch(launch);
}

DiskUsage Du(const std::string& path) {
  DiskUsage u;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    ++u.files;
    u.allocated += static_cast<uint64_t>(st.st_blocks) * 512;
    u.apparent += static_cast<uint64_t>(st.st_size);
    const std::string ext = it->path().extension().string();
    if (ext == ".log" && it->path().filename().string().rfind("LOG", 0) != 0) {
      u.wal_apparent += static_cast<uint64_t>(st.st_size);
    }
    if (ext == ".sst") u.sst_apparent += static_cast<uint64_t>(st.st_size);
  }
  return u;
}

}  // namespace llmobs_edge::bench::rescue
