// The edge the proxy benchmark starts: exactly what `llmobs-edge --config FILE` runs (the service
// path of main.cc: load the config, set up logging, Service::Create with the product's stages,
// Run until SIGTERM). It exists because //:llmobs-edge and //:main.cc are private to the root
// package; once //:llmobs-edge is visible to //tests/bench, put it in the benchmark's `data`
// instead (proxy_edge_process.cc looks for it first). Keep in step with main.cc.

#include <cstdlib>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "plugin/config/config.h"
#include "plugin/service.h"
#include "plugin/stages.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"llmobs-edge (the service only), for //tests/bench:proxy"};
  std::string config_path;
  app.add_option("--config", config_path, "YAML configuration file (docs/configuration.md)");
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<llmobs_edge::config::Config> config =
      llmobs_edge::config::LoadConfig(config_path, [](const char* v) { return std::getenv(v); });
  if (!config.ok()) {
    std::cerr << "llmobs-edge: invalid configuration: " << config.status().message() << "\n";
    return 2;
  }
  auto logger = spdlog::stderr_logger_mt("llmobs-edge");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config->logging().level()));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");

  absl::StatusOr<std::unique_ptr<llmobs_edge::plugin::Service>> service =
      llmobs_edge::plugin::Service::Create(*config, llmobs_edge::plugin::ProductStages());
  if (!service.ok()) {
    spdlog::critical("{}", std::string(service.status().message()));
    return 2;
  }
  return (*service)->Run();
}
