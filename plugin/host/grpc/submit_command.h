#pragma once
// `llmobs-edge submit --grpc ADDR [--header 'Name: value']... FILE`: sends one v0.4 trace payload
// file through the edge's gRPC ingest (llmobs_edge.v1.TraceIngest/Submit) and prints the Agent's
// answer as one JSON object. A tool for operators and tracer authors checking a deployment; main()
// parses the flags and calls RunSubmit.

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace llmobs_edge::plugin::grpc_ingest {

// Reads `path` (relative paths against `working_dir`, as Bazel's BUILD_WORKING_DIRECTORY; "-" is
// stdin), submits it to `grpc_address` (a gRPC target: "host:port", "unix:/path") with `headers`
// and a 30 s deadline, and writes to `out`:
//   {"status": 200, "headers": [["Content-Type", "application/json"], ...],
//    "body": "...", "rate_by_service": {"service:,env:": 1.0}}
// Returns 0 when the Agent answered 2xx, 1 when it answered otherwise, 2 on a local or transport
// error (file unreadable, edge unreachable, or a gRPC error status such as UNAVAILABLE when the
// Agent is down), which is described on `err`.
int RunSubmit(const std::string& grpc_address, const std::string& path,
              const std::string& working_dir,
              const std::vector<std::pair<std::string, std::string>>& headers, std::ostream& out,
              std::ostream& err);

}  // namespace llmobs_edge::plugin::grpc_ingest
