// llmobs-edge: the command-line entry point. main() only parses the command line, builds the
// configuration and hands over: with no subcommand it runs the service; `inspect` decodes a
// payload file; `submit` sends one through the gRPC ingest.

#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "plugin/host/config/config.h"
#include "plugin/host/grpc/submit_command.h"
#include "plugin/host/inspect_command.h"
#include "plugin/host/ledger_command.h"
#include "plugin/host/service.h"
#include "plugin/host/registration.h"
#include "rescue/agent_filters.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace {

const char* WorkingDir() {
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  return wd ? wd : "";
}

std::string Resolve(const std::string& path) {
  if (path.empty() || path[0] == '/' || *WorkingDir() == '\0') return path;
  return std::string(WorkingDir()) + "/" + path;
}

}  // namespace

int main(int argc, char** argv) {
  // The allocator keeps what the hot path frees, so the steady state reuses pages that are
  // already faulted in (a fault costs far more on a virtual machine than the work around it):
  // request bodies have their own pool (plugin/api/buffer_pool.h); everything else — RocksDB's
  // memtable blocks, write batches, intake bodies — comes from malloc's arenas rather than a fresh
  // mmap per block, and arenas are not trimmed on every free. The service gives the memory back
  // with malloc_trim() once it has been idle for a few seconds (docs/operations.md, "Memory").
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_ARENA_MAX, 4);

  CLI::App app{"llmobs-edge: sits in front of the Datadog Agent and makes sure no LLM "
               "Observability event is lost when the Agent drops the APM trace that carries it. "
               "Without a subcommand it runs the service."};

  std::string config_path;
  bool check_config = false;
  app.add_option("--config", config_path, "YAML configuration file (docs/configuration.md)");
  app.add_flag("--check-config", check_config,
               "print the effective configuration (secrets redacted) and exit: 0 if valid, 2 if not");

  llmobs_edge::plugin::InspectOptions inspect_options;
  std::string inspect_path;
  bool compact = false;
  bool no_structs = false;
  bool keep_without_priority = false;
  CLI::App* inspect = app.add_subcommand(
      "inspect", "Decode a v0.4 trace payload and report which _llmobs events would be rescued");
  inspect->add_option("payload", inspect_path, "payload file, or - for stdin")->required();
  inspect->add_flag("--compact", compact, "one-line JSON");
  inspect->add_flag("--no-structs", no_structs, "omit the _llmobs structs from the report");
  inspect->add_flag("--keep-without-priority", keep_without_priority,
                    "treat chunks without a sampling priority as kept (default: rescued)");
  std::string agent_info_path;
  inspect->add_option("--agent-info", agent_info_path,
                      "the Agent's GET /info answer (a file), to apply its ignore_resources and "
                      "filter_tags as the Agent would");

  std::string submit_address = "127.0.0.1:8137";
  std::string submit_path;
  std::vector<std::string> submit_headers;
  CLI::App* submit = app.add_subcommand(
      "submit", "Send a v0.4 payload file through the edge's gRPC ingest and print the answer");
  submit->add_option("--grpc", submit_address, "gRPC ingest address (host:port)")
      ->capture_default_str();
  submit->add_option("--header,-H", submit_headers, "a tracer header to send, 'Name: value'");
  submit->add_option("payload", submit_path, "payload file, or - for stdin")->required();

  llmobs_edge::plugin::LedgerCommandOptions ledger_options;
  CLI::App* ledger = app.add_subcommand(
      "ledger", "Inspect the ledger of a stopped edge: stats, dump, requeue-dead-letters");
  ledger->add_option("action", ledger_options.action, "stats, dump or requeue-dead-letters")
      ->required();
  ledger->add_option("--limit", ledger_options.limit, "dump: at most this many records")
      ->capture_default_str();
  ledger->add_flag("--events", ledger_options.with_events, "dump: include each envelope");

  CLI11_PARSE(app, argc, argv);

  if (inspect->parsed()) {
    inspect_options.pretty = !compact;
    inspect_options.include_structs = !no_structs;
    inspect_options.policy.rescue_without_priority = !keep_without_priority;
    std::shared_ptr<const llmobs_edge::rescue::AgentFilters> filters;
    if (!agent_info_path.empty()) {
      std::ifstream in(Resolve(agent_info_path), std::ios::binary);
      const std::string info((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) {
        std::cerr << "--agent-info " << agent_info_path << ": cannot read the file\n";
        return 2;
      }
      std::vector<std::string> warnings;
      auto parsed = llmobs_edge::rescue::AgentFilters::FromInfo(info, &warnings);
      if (!parsed.ok()) {
        std::cerr << "--agent-info " << agent_info_path << ": " << parsed.status().message()
                  << "\n";
        return 2;
      }
      for (const std::string& w : warnings) std::cerr << "--agent-info: skipped " << w << "\n";
      filters = *parsed;
      inspect_options.policy.filters = filters.get();
    }
    return llmobs_edge::plugin::RunInspect(inspect_path, WorkingDir(), inspect_options, std::cout,
                                           std::cerr);
  }
  if (submit->parsed()) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const std::string& h : submit_headers) {
      const size_t colon = h.find(':');
      if (colon == std::string::npos) {
        std::cerr << "--header \"" << h << "\": expected 'Name: value'\n";
        return 2;
      }
      std::string value = h.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      headers.emplace_back(h.substr(0, colon), value);
    }
    return llmobs_edge::plugin::grpc_ingest::RunSubmit(submit_address, submit_path, WorkingDir(),
                                                       headers, std::cout, std::cerr);
  }

  absl::StatusOr<llmobs_edge::config::Config> config = llmobs_edge::config::LoadConfig(
      config_path.empty() ? "" : Resolve(config_path), [](const char* v) { return std::getenv(v); });
  if (!config.ok()) {
    std::cerr << "llmobs-edge: invalid configuration: " << config.status().message() << "\n";
    return 2;
  }
  if (ledger->parsed()) {
    return llmobs_edge::plugin::RunLedgerCommand(*config, ledger_options, std::cout, std::cerr);
  }
  if (check_config) {
    std::cout << llmobs_edge::config::RenderConfigYaml(*config);
    // The route table, as YAML comments so the output stays the effective config.
    absl::StatusOr<std::string> routes =
        llmobs_edge::plugin::DescribeRoutes(*config, llmobs_edge::plugin::ProductPlugins());
    if (!routes.ok()) {
      std::cerr << "llmobs-edge: invalid configuration: " << routes.status().message() << "\n";
      return 2;
    }
    std::cout << "# routes (which plugin owns which path):\n";
    for (absl::string_view line : absl::StrSplit(*routes, '\n', absl::SkipEmpty())) {
      std::cout << "#   " << line << "\n";
    }
    return 0;
  }

  auto logger = spdlog::stderr_logger_mt("llmobs-edge");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config->logging().level()));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");

  absl::StatusOr<std::unique_ptr<llmobs_edge::plugin::Service>> service =
      llmobs_edge::plugin::Service::Create(*config, llmobs_edge::plugin::ProductPlugins());
  if (!service.ok()) {
    spdlog::critical("{}", std::string(service.status().message()));
    return 2;
  }
  return (*service)->Run();
}
