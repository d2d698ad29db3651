// The codec benchmark program (`bazel run -c opt //tests/bench:codec`): generates the corpus of
// corpus.h, loads two real dd-trace-js payloads, and measures in one run, per file, our codec
// (prefilter, full scan, scan + splice, _llmobs -> JSON) next to its peers (memcpy, memmem,
// msgpack-c, Python msgpack). Prints markdown tables (MB/s and spans/s per cell), the machine
// facts and PASS/MISS for the throughput targets; docs/benchmarks.md explains the numbers.
//
// Flags: --quick (shorter runs, for smoke tests), --no-python (skip the Python peer),
// --profile=OP:FILE[:SECONDS] (only loop one operation, scan|splice|splice-only|json|prefilter,
// on one corpus file, for `perf record`), --dump=DIR (write the corpus files to DIR and exit).

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "decoder/json.h"
#include "decoder/payload.h"
#include "decoder/prefilter.h"
#include "decoder/reader.h"
#include "decoder/splice.h"
#include "msgpack/version.hpp"
#include "tests/bench/breakdown.h"
#include "tests/bench/corpus.h"
#include "tests/bench/machine_stats.h"
#include "tests/bench/peers.h"
#include "tests/bench/timing.h"
#include "tests/bench/workload.h"

namespace llmobs_edge::bench {
namespace {

using decoder::EditList;
using decoder::FindBytes;
using decoder::MayContainLlmobs;
using decoder::Payload;
using decoder::PayloadReader;
using decoder::Splicer;

constexpr uint64_t kSeed = 20261121;
constexpr size_t kSmallPayload = 3 * (size_t{1} << 19);  // 1.5 MiB
constexpr size_t kBigPayload = 20 * (size_t{1} << 20);   // 20 MiB
constexpr int kBigLlmChunkPercent = 10;
// Same length and same first and last byte as "_llmobs", so the SIMD filter sees exactly as many
// candidates, but it occurs nowhere: FindBytes has to scan the whole payload.
constexpr std::string_view kAbsentNeedle = "_llmoBs";
constexpr const char* kPython = "/usr/bin/python3";

// ---------------------------------------------------------------------------------------------
// Files and runfiles.

bool Exists(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

// `bazel run` starts the program in <bin>.runfiles/llmobs_edge, so workspace-relative paths work
// as they are; the other two forms cover running the binary directly.
std::string Runfile(const std::string& rel, const char* argv0) {
  if (Exists(rel)) return rel;
  if (const char* dir = std::getenv("RUNFILES_DIR")) {
    const std::string p = std::string(dir) + "/llmobs_edge/" + rel;
    if (Exists(p)) return p;
  }
  const std::string p = std::string(argv0) + ".runfiles/llmobs_edge/" + rel;
  if (Exists(p)) return p;
  return rel;
}

// ---------------------------------------------------------------------------------------------
// Machine facts.

// ---------------------------------------------------------------------------------------------
// Formatting.

std::string Thousands(double v) {
  std::string digits = std::to_string(static_cast<uint64_t>(v + 0.5));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string Mbps(double v) {
  if (v < 10) return Fixed(v, 2);
  if (v < 100) return Fixed(v, 1);
  return Thousands(v);
}

std::string Rate(double v) {
  if (v >= 1e9) return Fixed(v / 1e9, 2) + "G";
  if (v >= 1e6) return Fixed(v / 1e6, v >= 1e8 ? 0 : (v >= 1e7 ? 1 : 2)) + "M";
  if (v >= 1e3) return Fixed(v / 1e3, v >= 1e5 ? 0 : (v >= 1e4 ? 1 : 2)) + "k";
  return Fixed(v, 0);
}

// ---------------------------------------------------------------------------------------------
// Results.

// One measured cell: what one call processes, and how long it took.
struct Cell {
  bool valid = false;
  double bytes = 0;  // bytes per call (the payload, or the _llmobs bytes for JSON)
  double items = 0;  // spans (or structs) per call
  Timing t;
  bool early_exit = false;  // prefilter answered before the end of the payload
  double mbps() const { return bytes / 1e6 / t.best; }
  double items_per_s() const { return items / t.best; }
};

struct Row {
  std::string label;
  std::vector<Cell> cells;  // one per corpus file
};

// Everything the benchmark needs per corpus file, prepared once.
struct Subject {
  CorpusFile file;
  Payload payload;                      // decoded once for setup (views into file.bytes)
  std::vector<std::string_view> docs;   // the _llmobs documents
  uint64_t doc_bytes = 0;
  size_t prefilter_hit = std::string_view::npos;
  uint32_t edits = 0;                   // edits recorded per scan + splice call
  size_t spliced_bytes = 0;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "codec benchmark: %s\n", what.c_str());
  std::exit(1);
}

// Decodes the file once, checks it against what the generator wrote, and verifies one splice.
void Prepare(Subject* s) {
  PayloadReader reader;
  const absl::Status st = reader.Read(s->file.bytes, &s->payload);
  if (!st.ok()) Die(s->file.name + ": " + std::string(st.message()));
  const Payload& p = s->payload;
  if (s->file.spans != 0 &&
      (p.spans.size() != s->file.spans || p.llmobs_spans != s->file.llmobs_spans)) {
    Die(s->file.name + ": reader and generator disagree on span counts");
  }
  s->file.spans = static_cast<uint32_t>(p.spans.size());
  s->file.chunks = static_cast<uint32_t>(p.chunks.size());
  s->file.llmobs_spans = p.llmobs_spans;
  for (const auto& span : p.spans) {
    if (span.has_llmobs) {
      s->docs.push_back(span.llmobs);
      s->doc_bytes += span.llmobs.size();
    }
  }
  s->file.llmobs_bytes = s->doc_bytes;
  std::string json;
  for (std::string_view d : s->docs) {
    json.clear();
    const absl::Status js = decoder::MsgpackToJson(d, &json);
    if (!js.ok()) Die(s->file.name + ": _llmobs -> JSON failed: " + std::string(js.message()));
  }
  s->prefilter_hit = FindBytes(s->file.bytes, decoder::kLlmobsKey);
  if (s->file.bytes.find(kAbsentNeedle) != std::string::npos) {
    Die(s->file.name + ": the no-match needle occurs in the payload");
  }

  EditList edits;
  RecordEdits(p, &edits);
  s->edits = static_cast<uint32_t>(edits.size());
  std::string out;
  Splicer splicer;
  if (!splicer.Splice(p, edits, &out).ok()) Die(s->file.name + ": splice failed");
  Payload check;
  if (!reader.Read(out, &check).ok()) Die(s->file.name + ": spliced payload does not decode");
  uint32_t submitted = 0;
  for (const auto& span : check.spans) submitted += span.llmobs_already_submitted() ? 1 : 0;
  if (check.spans.size() != p.spans.size() || check.llmobs_spans != 0 ||
      submitted < (p.llmobs_spans > 0 ? p.llmobs_spans : 1)) {
    Die(s->file.name + ": spliced payload is not what the edits asked for");
  }
  s->spliced_bytes = out.size();
}

// ---------------------------------------------------------------------------------------------
// The report.

void PrintCorpusTable(const std::vector<Subject>& subjects) {
  std::printf("| file | what | bytes | chunks | spans | bytes/span | _llmobs spans | "
              "_llmobs bytes | first `_llmobs` at | edits per splice | spliced bytes |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Subject& s : subjects) {
    const CorpusFile& f = s.file;
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f.name.c_str(),
                f.about.c_str(), Thousands(f.bytes.size()).c_str(), Thousands(f.chunks).c_str(),
                Thousands(f.spans).c_str(),
                Thousands(static_cast<double>(f.bytes.size()) / f.spans).c_str(),
                Thousands(f.llmobs_spans).c_str(), Thousands(f.llmobs_bytes).c_str(),
                s.prefilter_hit == std::string_view::npos
                    ? "none"
                    : Thousands(static_cast<double>(s.prefilter_hit)).c_str(),
                Thousands(s.edits).c_str(), Thousands(s.spliced_bytes).c_str());
  }
}

void PrintTable(const std::vector<Subject>& subjects, const std::vector<Row>& rows, bool median) {
  std::printf("| operation |");
  for (const Subject& s : subjects) std::printf(" %s |", s.file.name.c_str());
  std::printf("\n|---|");
  for (size_t i = 0; i < subjects.size(); ++i) std::printf("---:|");
  std::printf("\n");
  for (const Row& r : rows) {
    std::printf("| %s |", r.label.c_str());
    for (const Cell& c : r.cells) {
      if (!c.valid) {
        std::printf(" n/a |");
        continue;
      }
      const double seconds = median ? c.t.median : c.t.best;
      if (c.early_exit) {
        // Stopped at the first hit: a latency, not a throughput.
        std::printf(" † %s µs |", Fixed(seconds * 1e6, 3).c_str());
        continue;
      }
      std::printf(" %s (%s) |", Mbps(c.bytes / 1e6 / seconds).c_str(),
                  Rate(c.items / seconds).c_str());
    }
    std::printf("\n");
  }
}

// One target: a per-file verdict where it applies.
struct Check {
  std::string label;
  std::vector<int> verdict;  // per file: -1 not applicable, 0 MISS, 1 PASS
  std::vector<std::string> value;
};

void PrintChecks(const std::vector<Subject>& subjects, const std::vector<Check>& checks) {
  std::printf("| target |");
  for (const Subject& s : subjects) std::printf(" %s |", s.file.name.c_str());
  std::printf(" verdict |\n|---|");
  for (size_t i = 0; i <= subjects.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (const Check& c : checks) {
    bool all = true, any = false;
    std::printf("| %s |", c.label.c_str());
    for (size_t i = 0; i < subjects.size(); ++i) {
      if (c.verdict[i] < 0) {
        std::printf(" — |");
        continue;
      }
      any = true;
      all &= c.verdict[i] == 1;
      std::printf(" %s %s |", c.verdict[i] == 1 ? "PASS" : "MISS", c.value[i].c_str());
    }
    std::printf(" **%s** |\n", !any ? "n/a" : (all ? "PASS" : "MISS"));
  }
}

struct Options {
  bool quick = false;
  bool python = true;
  std::string profile_op, profile_file;
  double profile_seconds = 10;
  std::string dump_dir;
};

int Main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      opt.quick = true;
    } else if (a == "--no-python") {
      opt.python = false;
    } else if (a.rfind("--profile=", 0) == 0) {
      std::stringstream spec(a.substr(10));
      std::string seconds;
      std::getline(spec, opt.profile_op, ':');
      std::getline(spec, opt.profile_file, ':');
      if (std::getline(spec, seconds)) opt.profile_seconds = std::stod(seconds);
    } else if (a.rfind("--dump=", 0) == 0) {
      opt.dump_dir = a.substr(7);
    } else {
      Die("unknown flag " + a +
          " (flags: --quick, --no-python, --profile=OP:FILE[:SECONDS], --dump=DIR)");
    }
  }
  TimingBudget budget;
  if (opt.quick) budget = {0.01, 0.02, 3};

  const double t_start = Now();
  const std::string load_before = LoadAverage();
  const MachineTicks ticks_before = ReadMachineTicks();

  // Corpus.
  std::vector<Subject> subjects;
  auto add_subject = [&](CorpusFile f) {
    subjects.emplace_back();
    subjects.back().file = std::move(f);
  };
  add_subject(MakeWebCorpus(kSmallPayload, kSeed));
  add_subject(MakeLlmCorpus(kSmallPayload, kSeed + 1));
  add_subject(MakeMixedCorpus(kBigPayload, kSeed + 2, kBigLlmChunkPercent));
  const struct {
    const char* name;
    const char* path;
    const char* about;
  } kReal[] = {
      {"real-web", "tests/golden/real-tracer/web/request-004.body",
       "dd-trace-js 6.21.0 capture: web/request-004 (8 chunks)"},
      {"real-llm", "tests/golden/real-tracer/llmobs-agent-proxy/request-006.body",
       "dd-trace-js 6.21.0 capture: llmobs-agent-proxy/request-006 (LLM APM spans, no "
       "meta_struct)"},
  };
  for (const auto& r : kReal) {
    CorpusFile f;
    f.name = r.name;
    f.about = r.about;
    f.bytes = ReadFile(Runfile(r.path, argv[0]));
    if (f.bytes.empty()) Die(std::string("cannot read ") + r.path + " (run through bazel run)");
    add_subject(std::move(f));
  }
  const double t_corpus = Now() - t_start;
  for (Subject& s : subjects) Prepare(&s);

  if (!opt.dump_dir.empty()) {
    for (const Subject& s : subjects) {
      const std::string path = opt.dump_dir + "/" + s.file.name + ".msgpack";
      std::ofstream(path, std::ios::binary)
          .write(s.file.bytes.data(), static_cast<long>(s.file.bytes.size()));
      std::printf("%s: %zu bytes\n", path.c_str(), s.file.bytes.size());
    }
    return 0;
  }
  if (!opt.profile_op.empty()) {
    for (const Subject& s : subjects) {
      if (s.file.name != opt.profile_file) continue;
      const uint64_t calls = ProfileLoop(opt.profile_op, s.file.bytes, opt.profile_seconds);
      std::printf("%s on %s: %llu calls in %.1f s\n", opt.profile_op.c_str(),
                  s.file.name.c_str(), static_cast<unsigned long long>(calls),
                  opt.profile_seconds);
      return 0;
    }
    Die("no corpus file named " + opt.profile_file);
  }

  // Measurements.
  const size_t n = subjects.size();
  std::vector<Row> rows;
  rows.reserve(16);  // add_row hands out references: no reallocation
  auto add_row = [&](std::string label) -> Row& {
    rows.push_back({std::move(label), std::vector<Cell>(n)});
    return rows.back();
  };
  Row& r_prefilter = add_row("ours: prefilter `MayContainLlmobs`");
  Row& r_find = add_row("ours: prefilter scan, no match (`FindBytes`)");
  Row& r_scan = add_row("ours: full scan (`PayloadReader::Read`)");
  Row& r_splice = add_row("ours: scan + edits + `Splicer::Splice`");
  Row& r_json = add_row("ours: `_llmobs` -> JSON (MB/s of struct bytes, structs/s)");
  Row& r_memcpy = add_row("peer: memcpy");
  Row& r_memmem = add_row("peer: memmem `_llmobs`");
  Row& r_memmem0 = add_row("peer: memmem, no match");
  Row& r_mp_copy = add_row("peer: msgpack-c unpack (copying) + walk");
  Row& r_mp_ref = add_row("peer: msgpack-c unpack (zero-copy) + walk");
  Row& r_mp_pack = add_row("peer: msgpack-c unpack (zero-copy) + walk + pack");
  Row& r_py = add_row("peer: Python msgpack `unpackb`");
  Row& r_py_pack = add_row("peer: Python msgpack `unpackb` + `packb`");

  // Per-file working state: readers, buffers and peers are reused across calls, as a worker
  // would, and must outlive bench.Run() because the operations refer to them.
  struct Workspace {
    PayloadReader reader;
    Payload payload;
    EditList edits;
    Splicer splicer;
    std::string out, json, copy;
    std::unique_ptr<MsgpackCPeer> peer;
  };
  std::vector<std::unique_ptr<Workspace>> workspaces;
  Interleaved bench;
  // glibc declares memmem pure: hide the loop-invariant pointer, or the call is hoisted.
  auto opaque = [](const char* p) {
    asm volatile("" : "+r"(p));
    return p;
  };
  for (size_t i = 0; i < n; ++i) {
    const Subject& s = subjects[i];
    const std::string_view bytes = s.file.bytes;
    Workspace& w = *workspaces.emplace_back(std::make_unique<Workspace>());
    w.copy.assign(bytes.size(), '\0');
    w.peer = std::make_unique<MsgpackCPeer>(bytes.size());
    // Registers one cell; `b` and `items` default to the payload's bytes and spans.
    auto add = [&](Row& row, auto op, double b = -1, double items = -1) {
      Cell& c = row.cells[i];
      c.valid = true;
      c.bytes = b < 0 ? static_cast<double>(bytes.size()) : b;
      c.items = items < 0 ? s.file.spans : items;
      bench.Add(op, &c.t);
    };

    add(r_prefilter, [bytes] { return MayContainLlmobs(bytes) ? 1 : 0; });
    r_prefilter.cells[i].early_exit = s.prefilter_hit != std::string_view::npos;
    add(r_find, [bytes] { return FindBytes(bytes, kAbsentNeedle); });
    add(r_scan, [bytes, &w] {
      (void)w.reader.Read(bytes, &w.payload);
      return w.payload.spans.size();
    });
    add(r_splice, [bytes, &w] {
      (void)w.reader.Read(bytes, &w.payload);
      RecordEdits(w.payload, &w.edits);
      (void)w.splicer.Splice(w.payload, w.edits, &w.out);
      return w.out.size();
    });
    if (!s.docs.empty()) {
      add(
          r_json,
          [&s, &w] {
            size_t total = 0;
            for (std::string_view d : s.docs) {
              w.json.clear();
              (void)decoder::MsgpackToJson(d, &w.json);
              total += w.json.size();
            }
            return total;
          },
          static_cast<double>(s.doc_bytes), static_cast<double>(s.docs.size()));
    }
    add(r_memcpy, [bytes, &w] {
      std::memcpy(w.copy.data(), bytes.data(), bytes.size());
      DoNotOptimize(w.copy.data());
      return static_cast<unsigned char>(w.copy[bytes.size() / 2]);
    });
    add(r_memmem, [bytes, opaque] {
      return memmem(opaque(bytes.data()), bytes.size(), decoder::kLlmobsKey.data(),
                    decoder::kLlmobsKey.size()) != nullptr;
    });
    r_memmem.cells[i].early_exit = r_prefilter.cells[i].early_exit;
    add(r_memmem0, [bytes, opaque] {
      return memmem(opaque(bytes.data()), bytes.size(), kAbsentNeedle.data(),
                    kAbsentNeedle.size()) != nullptr;
    });
    add(r_mp_copy, [bytes, &w] { return w.peer->UnpackCopyWalk(bytes); });
    add(r_mp_ref, [bytes, &w] { return w.peer->UnpackRefWalk(bytes); });
    add(r_mp_pack, [bytes, &w] { return w.peer->UnpackRefWalkPack(bytes); });
  }
  std::fprintf(stderr, "measuring %zu files...\n", n);
  bench.Run(budget, "main table");
  std::vector<double> cpu_shares;
  for (const Row& r : rows) {
    for (const Cell& c : r.cells) {
      if (c.valid) cpu_shares.push_back(c.t.cpu_share);
    }
  }
  workspaces.clear();

  PythonResults py;
  if (opt.python) {
    std::fprintf(stderr, "running the Python peer...\n");
    std::vector<std::pair<std::string, std::string_view>> files;
    for (const Subject& s : subjects) files.emplace_back(s.file.name, s.file.bytes);
    py = RunPythonPeer(kPython, Runfile("tests/bench/python_peer.py", argv[0]), files,
                       budget.run_seconds, budget.runs);
    if (!py.ok) std::fprintf(stderr, "Python peer unavailable: %s\n", py.error.c_str());
    for (size_t i = 0; i < n && py.ok; ++i) {
      const auto it = py.files.find(subjects[i].file.name);
      if (it == py.files.end()) continue;
      for (auto [row, t] : {std::pair{&r_py, it->second.unpack},
                            std::pair{&r_py_pack, it->second.unpack_pack}}) {
        Cell& c = row->cells[i];
        c.valid = true;
        c.bytes = static_cast<double>(subjects[i].file.bytes.size());
        c.items = subjects[i].file.spans;
        c.t.best = t.best;
        c.t.median = t.median;
      }
    }
  }

  const MachineTicks ticks_after = ReadMachineTicks();
  const double total_ticks = static_cast<double>(ticks_after.all - ticks_before.all);
  const double steal = total_ticks > 0
                           ? static_cast<double>(ticks_after.steal - ticks_before.steal) /
                                 total_ticks
                           : 0;
  std::sort(cpu_shares.begin(), cpu_shares.end());

  // Report.
  utsname uts{};
  uname(&uts);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::printf("# llmobs-edge codec benchmark\n\n");
  std::printf("- date: %s\n", date);
  std::printf("- machine: %ld online CPUs (nproc), CPU `%s`, kernel %s %s\n",
              sysconf(_SC_NPROCESSORS_ONLN),
              FirstLineWith("/proc/cpuinfo", "model name").c_str(), uts.sysname, uts.release);
  std::printf("- compiler: %s %s, %s\n",
#if defined(__clang__)
              "clang",
#else
              "gcc",
#endif
              __VERSION__,
#if defined(__OPTIMIZE__) && defined(NDEBUG)
              "optimized build with NDEBUG (bazel -c opt)"
#elif defined(__OPTIMIZE__)
              "optimized build WITHOUT NDEBUG"
#else
              "UNOPTIMIZED build: run with `bazel run -c opt`"
#endif
  );
  std::printf("- peers: msgpack-c %s (header-only, API v3); %s\n", MSGPACK_VERSION,
              py.ok ? py.version.c_str() : ("Python peer not run: " + py.error).c_str());
  std::printf("- timing: per cell %d runs of ~%.2f s after a %.2f s warm-up; cells show the best "
              "run, the median table below shows the median run\n",
              budget.runs, budget.run_seconds, budget.warmup_seconds);
  std::printf("- contention: load average %s before, %s after; thread CPU / wall per cell: min "
              "%.3f, median %.3f; steal %.1f%% of CPU ticks\n",
              load_before.c_str(), LoadAverage().c_str(),
              cpu_shares.empty() ? 0.0 : cpu_shares.front(),
              cpu_shares.empty() ? 0.0 : cpu_shares[cpu_shares.size() / 2], 100 * steal);
  std::printf("- corpus: generated in %.2f s from seed %llu\n\n", t_corpus,
              static_cast<unsigned long long>(kSeed));

  std::printf("## Corpus\n\n");
  PrintCorpusTable(subjects);
  std::printf("\n## Throughput: MB/s (spans/s), best run\n\n");
  PrintTable(subjects, rows, /*median=*/false);
  std::printf(
      "\n† `MayContainLlmobs` / memmem stop at the first `_llmobs` (offset in the corpus "
      "table): the cell is the time to that answer, not a throughput. The no-match rows scan "
      "every byte of the same payload.\n");
  std::printf("\n## Throughput: MB/s (spans/s), median run\n\n");
  PrintTable(subjects, rows, /*median=*/true);

  // Targets.
  std::vector<Check> checks;
  auto check = [&](std::string label, auto&& per_file) {
    Check c;
    c.label = std::move(label);
    for (size_t i = 0; i < n; ++i) {
      std::string value;
      const int v = per_file(i, &value);
      c.verdict.push_back(v);
      c.value.push_back(value);
    }
    checks.push_back(std::move(c));
  };
  auto gbps = [](double mbps) { return Fixed(mbps / 1000, 2) + " GB/s"; };
  auto ratio = [&](const Row& a, const Row& b, size_t i, double want, std::string* value) {
    if (!a.cells[i].valid || !b.cells[i].valid) return -1;
    const double r = b.cells[i].t.best / a.cells[i].t.best;
    *value = Fixed(r, r < 10 ? 2 : 1) + "x";
    return r >= want ? 1 : 0;
  };
  check("prefilter `MayContainLlmobs` >= 5 GB/s (payloads without `_llmobs`)",
        [&](size_t i, std::string* v) {
          if (subjects[i].prefilter_hit != std::string_view::npos) return -1;
          *v = gbps(r_prefilter.cells[i].mbps());
          return r_prefilter.cells[i].mbps() >= 5000 ? 1 : 0;
        });
  check("prefilter full scan, no match (`FindBytes`) >= 5 GB/s", [&](size_t i, std::string* v) {
    *v = gbps(r_find.cells[i].mbps());
    return r_find.cells[i].mbps() >= 5000 ? 1 : 0;
  });
  check("full scan >= 2 GB/s on web", [&](size_t i, std::string* v) {
    if (subjects[i].file.name != "web") return -1;
    *v = gbps(r_scan.cells[i].mbps());
    return r_scan.cells[i].mbps() >= 2000 ? 1 : 0;
  });
  check("full scan >= 1.5x msgpack-c zero-copy unpack + walk",
        [&](size_t i, std::string* v) { return ratio(r_scan, r_mp_ref, i, 1.5, v); });
  check("scan + splice >= 1 GB/s", [&](size_t i, std::string* v) {
    *v = gbps(r_splice.cells[i].mbps());
    return r_splice.cells[i].mbps() >= 1000 ? 1 : 0;
  });
  check("scan + splice >= 2x msgpack-c zero-copy unpack + walk + pack",
        [&](size_t i, std::string* v) { return ratio(r_splice, r_mp_pack, i, 2, v); });
  check("scan + splice >= 10x Python unpackb + packb",
        [&](size_t i, std::string* v) { return ratio(r_splice, r_py_pack, i, 10, v); });
  std::printf("\n## Targets (best runs)\n\n");
  PrintChecks(subjects, checks);

  // Where the scan's time goes: per span and per byte, next to the peers' per-span cost.
  std::printf("\n## Cost per span and per byte (best runs)\n\n");
  std::printf("| file | bytes/span | scan ns/span | scan ns/KB | scan + splice ns/span | "
              "msgpack-c zero-copy unpack + walk ns/span | msgpack-c unpack + walk + pack "
              "ns/span | Python unpackb + packb ns/span | memcpy ns/span |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  auto per_span = [&](const Row& r, size_t i) -> std::string {
    if (!r.cells[i].valid) return "n/a";
    return Fixed(r.cells[i].t.best / subjects[i].file.spans * 1e9, 0);
  };
  for (size_t i = 0; i < n; ++i) {
    const double kb = subjects[i].file.bytes.size() / 1024.0;
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", subjects[i].file.name.c_str(),
                Thousands(static_cast<double>(subjects[i].file.bytes.size()) /
                          subjects[i].file.spans)
                    .c_str(),
                per_span(r_scan, i).c_str(), Fixed(r_scan.cells[i].t.best / kb * 1e9, 0).c_str(),
                per_span(r_splice, i).c_str(), per_span(r_mp_ref, i).c_str(),
                per_span(r_mp_pack, i).c_str(), per_span(r_py_pack, i).c_str(),
                per_span(r_memcpy, i).c_str());
  }

  std::printf("\n## Where the time goes (best runs)\n\n");
  std::vector<NamedPayload> named;
  for (const Subject& s : subjects) named.push_back({s.file.name, s.file.bytes});
  PrintBreakdown(named, budget);

  std::printf("\nTotal benchmark time: %.1f s\n", Now() - t_start);
  return 0;
}

}  // namespace
}  // namespace llmobs_edge::bench

int main(int argc, char** argv) { return llmobs_edge::bench::Main(argc, argv); }
