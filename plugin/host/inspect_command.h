#pragma once
// `llmobs-edge inspect FILE|-`: reads a payload from a file or stdin, prints the inspect report
// (inspect_report.h) to `out`, and returns the process exit code: 0 on success, 1 when the
// payload cannot be decoded, 2 when the input cannot be read. main() wires it to the CLI.

#include <ostream>
#include <string>

#include "plugin/host/inspect_report.h"

namespace llmobs_edge::plugin {

// Relative paths resolve against `working_dir` when it is not empty (for `bazel run`, which
// passes the user's directory in BUILD_WORKING_DIRECTORY).
int RunInspect(const std::string& path, const std::string& working_dir,
               const InspectOptions& options, std::ostream& out, std::ostream& err);

}  // namespace llmobs_edge::plugin
