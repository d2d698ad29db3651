// llmobs-edge: the command-line entry point. main() only parses the command line and hands over
// to the library that implements each subcommand.

#include <cstdlib>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "plugin/inspect_command.h"

int main(int argc, char** argv) {
  CLI::App app{"llmobs-edge: makes sure no LLM Observability event is lost when the Datadog "
               "Agent drops the APM trace that carries it."};
  app.require_subcommand(1);

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

  CLI11_PARSE(app, argc, argv);

  if (inspect->parsed()) {
    inspect_options.pretty = !compact;
    inspect_options.include_structs = !no_structs;
    inspect_options.policy.rescue_without_priority = !keep_without_priority;
    const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
    return llmobs_edge::plugin::RunInspect(inspect_path, wd ? wd : "", inspect_options,
                                           std::cout, std::cerr);
  }
  return 0;
}
