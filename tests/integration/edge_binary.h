#pragma once
// Locating the real `llmobs-edge` binary in a test's or benchmark's runfiles, and picking free
// loopback ports for the processes they start. Shared by the service tests, the crash test and
// the benchmarks that spawn the edge as a child process.

#include <cstdint>
#include <string>

namespace llmobs_edge::testing {

// //:llmobs-edge in the runfiles of the program started as `argv0`, or "" (tries RUNFILES_DIR,
// TEST_SRCDIR, argv0.runfiles, then the workspace directory `bazel run/test` starts in).
std::string FindEdgeBinary(const std::string& argv0);

// Whether `path` is a regular file this process may execute.
bool IsExecutableFile(const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), 0 on error.
uint16_t PickFreePort();

}  // namespace llmobs_edge::testing
