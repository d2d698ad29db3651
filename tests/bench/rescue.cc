// The rescue benchmark: `bazel run -c opt //tests/bench:rescue` (docs/benchmarks.md, "Rescue").
// A program, not a test; //tests/bench:rescue_smoke_test runs it with --quick.
//
// Flags: --quick (a short smoke run), --seconds=S (load per case, default 10), --repeats=N (runs
// of every case, default 3; 1 with --quick),
// --sync=per_commit,none (ledger.sync values), --sizes=2048,10240 (_llmobs struct bytes; k = KiB),
// --events=50,1 (events per payload), --clients=8 (comma-separated: one case each),
// --threads=N (the edge's ingest.threads; 0 = one per core), --pipeline-threads=N (its
// ingest.pipeline_threads; default: the edge's default), --no-compact (skip the offline
// compaction), --edge=PATH (another edge binary).

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/bench/rescue_bench.h"

namespace {

template <typename T>
bool ParseList(const std::string& text, std::vector<T>* out, T (*parse)(const std::string&)) {
  out->clear();
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const T v = parse(item);
    if (!(v > T{})) return false;
    out->push_back(v);
  }
  return !out->empty();
}

size_t ParseBytes(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || v <= 0) return 0;
  const std::string unit(end);
  if (unit.empty() || unit == "b") return static_cast<size_t>(v);
  if (unit == "k" || unit == "K" || unit == "KB" || unit == "KiB" || unit == "kb") {
    return static_cast<size_t>(v * 1024);
  }
  return 0;
}

int ParseInt(const std::string& s) { return std::atoi(s.c_str()); }

}  // namespace

int main(int argc, char** argv) {
  namespace rescue = llmobs_edge::bench::rescue;
  rescue::Options options;
  options.argv0 = argv[0];
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    bool ok = true;
    if (a == "--quick") {
      options.quick = true;
    } else if (a == "--no-compact") {
      options.compact = false;
    } else if (a.rfind("--seconds=", 0) == 0) {
      options.seconds = std::atof(a.c_str() + 10);
      ok = options.seconds > 0;
    } else if (a.rfind("--repeats=", 0) == 0) {
      options.repeats = std::atoi(a.c_str() + 10);
      ok = options.repeats >= 1;
    } else if (a.rfind("--sync=", 0) == 0) {
      options.syncs.clear();
      std::istringstream in(a.substr(7));
      std::string item;
      while (std::getline(in, item, ',')) {
        ok = ok && (item == "per_commit" || item == "interval" || item == "none");
        options.syncs.push_back(item);
      }
      ok = ok && !options.syncs.empty();
    } else if (a.rfind("--sizes=", 0) == 0) {
      ok = ParseList<size_t>(a.substr(8), &options.struct_sizes, ParseBytes);
    } else if (a.rfind("--events=", 0) == 0) {
      ok = ParseList<int>(a.substr(9), &options.events_per_payload, ParseInt);
    } else if (a.rfind("--clients=", 0) == 0) {
      ok = ParseList<int>(a.substr(10), &options.clients, ParseInt);
    } else if (a.rfind("--pipeline-threads=", 0) == 0) {
      options.edge_pipeline_threads = std::atoi(a.c_str() + 19);
    } else if (a.rfind("--threads=", 0) == 0) {
      options.edge_threads = static_cast<unsigned>(std::atoi(a.c_str() + 10));
    } else if (a.rfind("--edge=", 0) == 0) {
      options.edge_binary = a.substr(7);
      const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
      if (wd && !options.edge_binary.empty() && options.edge_binary[0] != '/') {
        options.edge_binary = std::string(wd) + "/" + options.edge_binary;
      }
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr,
                   "usage: %s [--quick] [--seconds=10] [--repeats=3] [--sync=per_commit,none] "
                   "[--sizes=2k,10k] [--events=50,1] [--clients=8] [--threads=0] "
                   "[--pipeline-threads=8] [--no-compact] "
                   "[--edge=PATH]\n(bad argument: %s)\n",
                   argv[0], a.c_str());
      return 2;
    }
  }
  const rescue::Result r = rescue::Run(options, std::cout);
  if (!r.completed) {
    std::fprintf(stderr, "rescue benchmark failed: %s\n", r.error.c_str());
    return 1;
  }
  if (!r.exactly_once()) {
    std::fprintf(stderr, "rescue benchmark: delivery problems (see the exactly-once table)\n");
    return 1;
  }
  return 0;
}
