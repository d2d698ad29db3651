#include "plugin/host/inspect_command.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace llmobs_edge::plugin {

int RunInspect(const std::string& path, const std::string& working_dir,
               const InspectOptions& options, std::ostream& out, std::ostream& err) {
  std::string bytes;
  std::string shown = path;
  if (path == "-") {
    shown = "<stdin>";
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    bytes = ss.str();
  } else {
    std::string full = path;
    if (!working_dir.empty() && !path.empty() && path[0] != '/') full = working_dir + "/" + path;
    std::ifstream in(full, std::ios::binary);
    if (!in) {
      err << "llmobs-edge inspect: cannot read " << full << "\n";
      return 2;
    }
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const absl::StatusOr<std::string> report = BuildInspectReport(bytes, options);
  if (!report.ok()) {
    err << "llmobs-edge inspect: " << shown << " is not a valid v0.4 trace payload: "
        << report.status().message() << "\n";
    return 1;
  }
  out << *report;
  return 0;
}

}  // namespace llmobs_edge::plugin
