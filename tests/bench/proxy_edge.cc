#include "tests/bench/proxy_edge.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace llmobs_edge::bench::proxy {

ProxyEdge::~ProxyEdge() {
  Kill();
  Cleanup();
}

void ProxyEdge::Cleanup() {
  if (dir_.empty()) return;
  for (const std::string& p : {config_path_, log_path_, socket_path_}) {
    if (!p.empty()) ::unlink(p.c_str());
  }
  ::rmdir(dir_.c_str());
  dir_.clear();
}

std::string ProxyEdge::Start(const std::string& binary, const std::string& agent_url) {
  if (!testing::IsExecutableFile(binary)) return "no edge binary at \"" + binary + "\"";
  // A short path: a Unix socket path must fit in 108 bytes.
  char tmpl[] = "/tmp/llmobs-proxy-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return std::string("mkdtemp: ") + std::strerror(errno);
  dir_ = tmpl;
  socket_path_ = dir_ + "/edge.sock";
  config_path_ = dir_ + "/edge.yaml";
  log_path_ = dir_ + "/edge.log";
  testing::EdgeLaunch launch;
  launch.binary = binary;
  launch.config_path = config_path_;
  launch.log_path = log_path_;
  launch.generated_by = "//tests/bench:proxy";
  launch.ingest = "  socket: " + testing::YamlQuoted(socket_path_) + "\n  threads: 0\n";
  launch.agent_url = agent_url;
  // The proxy hop alone: no stage (the rescue benchmark measures the rescue path).
  launch.sections = "pipeline:\n  stages: []\n";
  return Launch(launch);
}

}  // namespace llmobs_edge::bench::proxy
