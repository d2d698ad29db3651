// The proxy-hop benchmark: `bazel run -c opt //tests/bench:proxy` (docs/benchmarks.md, "Proxy
// hop"). A program, not a test; //tests/bench:proxy_smoke_test runs it with --quick.
//
// Flags: --quick (a short smoke run), --repeats=N (runs of every phase; default 3, 1 with
// --quick), --sizes=10k,1m,20m (payload sizes; k = KiB, m = MiB),
// --no-llmobs (skip the payloads with meta_struct["_llmobs"]), --no-unix (skip the Unix socket
// ingest row), --edge=PATH (another edge binary, e.g. bazel-bin/llmobs-edge), --agent=sink|fake
// (the Agent stand-in: the FastSink, default, or the integration tests' FakeAgent),
// --sink-read=BYTES (the FastSink's largest recv(), default 256k), --pin (clients + stand-in on
// CPU 0, the edge on CPU 1).

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

#include "tests/bench/proxy_bench.h"

int main(int argc, char** argv) {
  namespace proxy = llmobs_edge::bench::proxy;
  proxy::Options options;
  options.argv0 = argv[0];
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      options.quick = true;
    } else if (a == "--no-llmobs") {
      options.with_llmobs_variant = false;
    } else if (a == "--pin") {
      options.pin = true;
    } else if (a == "--no-unix") {
      options.unix_ingest = false;
    } else if (a.rfind("--repeats=", 0) == 0) {
      options.repeats = std::atoi(a.c_str() + 10);
      if (options.repeats < 1) {
        std::fprintf(stderr, "--repeats: want a count >= 1, got \"%s\"\n", a.c_str() + 10);
        return 2;
      }
    } else if (a.rfind("--agent=", 0) == 0) {
      options.agent = a.substr(8);
    } else if (a.rfind("--sink-read=", 0) == 0) {
      options.sink_read_size = proxy::ParseSize(a.substr(12));
      if (options.sink_read_size == 0) {
        std::fprintf(stderr, "--sink-read: cannot read \"%s\"\n", a.c_str() + 12);
        return 2;
      }
    } else if (a.rfind("--edge=", 0) == 0) {
      options.edge_binary = a.substr(7);
      // `bazel run` starts us in the runfiles: a relative path is relative to where it was typed.
      const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
      if (wd && !options.edge_binary.empty() && options.edge_binary[0] != '/') {
        options.edge_binary = std::string(wd) + "/" + options.edge_binary;
      }
    } else if (a.rfind("--sizes=", 0) == 0) {
      std::istringstream in(a.substr(8));
      std::string item;
      while (std::getline(in, item, ',')) {
        const uint64_t s = proxy::ParseSize(item);
        if (s == 0) {
          std::fprintf(stderr, "--sizes: cannot read \"%s\" (examples: 10k, 1m, 20m, 4096)\n",
                       item.c_str());
          return 2;
        }
        options.sizes.push_back(s);
      }
    } else {
      std::fprintf(
          stderr,
          "usage: %s [--quick] [--repeats=3] [--sizes=10k,1m,20m] [--no-llmobs] [--no-unix] "
          "[--edge=PATH] [--agent=sink|fake] [--sink-read=256k] [--pin]\n",
          argv[0]);
      return 2;
    }
  }
  const proxy::Result r = proxy::Run(options, std::cout);
  if (!r.completed) {
    std::fprintf(stderr, "proxy benchmark failed: %s\n", r.error.c_str());
    return 1;
  }
  if (r.mismatches > 0 || r.failed_requests > 0 || r.edge_exit_code != 0) {
    std::fprintf(stderr, "proxy benchmark: correctness problems (see the Correctness section)\n");
    return 1;
  }
  return 0;
}
