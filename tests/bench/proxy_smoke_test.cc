// Keeps //tests/bench:proxy from rotting: runs the benchmark's code with --quick on the 10 KiB
// and 1 MiB payloads (both variants, TCP and Unix socket ingest) against the edge binary, with
// the Agent stand-in (the FastSink, then the integration tests' FakeAgent) keeping whole bodies,
// and checks that every forwarded body is byte for byte what was sent and that the edge exits 0
// on SIGTERM. Timings are not checked.

#include <sstream>

#include "gtest/gtest.h"
#include "tests/bench/proxy_bench.h"

namespace llmobs_edge::bench::proxy {
namespace {

void QuickRun(const std::string& agent) {
  Options options;
  options.agent = agent;
  options.quick = true;
  options.sizes = {10 * 1024, 1024 * 1024};
  options.verify_full_bodies = true;
  options.max_requests_per_client = 8;
  std::ostringstream report;
  const Result r = proxy::Run(options, report);
  ASSERT_TRUE(r.completed) << r.error;
  EXPECT_EQ(r.failed_requests, 0u) << report.str();
  EXPECT_EQ(r.mismatches, 0u) << report.str();
  EXPECT_GT(r.trace_requests, 100u);
  EXPECT_EQ(r.bodies_checked, r.trace_requests);
  EXPECT_EQ(r.bodies_compared_whole, r.bodies_checked);
  EXPECT_EQ(r.edge_exit_code, 0) << report.str();
  for (const char* section :
       {"## Latency at moderate load", "## Throughput at saturation", "## Edge cost", "## Targets",
        "edge UDS", "1 MiB + _llmobs", "edge minor faults/request", "edge µs/request",
        "## Memory after load", "1 MiB: edge CPU <= 0.5 s/GB", "1 MiB: added latency p99 < 1 ms",
        "10 KiB: edge CPU per request <= 40 µs"}) {
    EXPECT_NE(report.str().find(section), std::string::npos) << section << "\n" << report.str();
  }
  // Every target on 10 KiB and 1 MiB was measured (PASS or MISS, not n/a); the 20 MiB ones
  // were not.
  EXPECT_EQ(r.targets_passed + r.targets_missed, 5) << report.str();
}

TEST(ProxyBenchSmokeTest, QuickRunWithFastSink) { QuickRun("sink"); }
TEST(ProxyBenchSmokeTest, QuickRunWithHarnessFakeAgent) { QuickRun("fake"); }

TEST(ProxyBenchSmokeTest, ParseSize) {
  EXPECT_EQ(ParseSize("10k"), 10u * 1024);
  EXPECT_EQ(ParseSize("1MiB"), 1024u * 1024);
  EXPECT_EQ(ParseSize("20m"), 20u * 1024 * 1024);
  EXPECT_EQ(ParseSize("4096"), 4096u);
  EXPECT_EQ(ParseSize("x"), 0u);
  EXPECT_EQ(ParseSize("3q"), 0u);
}

}  // namespace
}  // namespace llmobs_edge::bench::proxy
