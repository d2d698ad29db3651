// Crash test of the real `llmobs-edge` binary (tests/crash/README.md): tracer clients send
// payloads of LLM spans continuously while the edge is SIGKILLed at random moments and restarted
// on the same ledger, 20+ times; the last incarnation drains its outbox and is stopped with
// SIGTERM. Then, from what the in-process fake Agent / EVP intake recorded:
//
//  (1) every rescued event (an `_llmobs` span of a chunk with priority <= 0 or none, in a payload
//      a client got a 200 for) reached the intake; nothing else did; and an event reached it more
//      than once ONLY as a redelivery after a crash between the intake's POST and the sender's
//      Ack: the batch holding its first copy is the last intake request of a SIGKILLed
//      incarnation, and the very next intake request (the first of a later incarnation) repeats
//      that batch's envelopes byte for byte as its prefix;
//  (2) every trace request the Agent received decodes, carries exactly one payload's spans, and
//      each span's sampling fields equal what the client sent; spans the edge does not edit are
//      byte-identical; rescued spans carry `_dd.llmobs.submitted`="1", no `_llmobs`, their
//      metrics map byte-identical and their meta = the sent meta + that one tag;
//  (3) the figures are printed (and written to $TEST_UNDECLARED_OUTPUTS_DIR/crash_figures.txt).
//
// Each incarnation gets its own FakeAgent (Agent + EVP intake), so every recorded request is
// attributed to the process that sent it without any timing guess.
//
// Knobs (environment, e.g. --test_env=CRASH_CYCLES=40): CRASH_CYCLES (SIGKILLs, default 25),
// CRASH_CLIENTS (tracer threads, default 4), CRASH_SEED (default: from the clock; printed),
// CRASH_MIN_MS / CRASH_MAX_MS (load time per incarnation before the kill, default 200 / 1500),
// CRASH_FLUSH_MS (intake.flush_interval_ms, default 20), CRASH_EARLY_EVERY (before every N-th
// cycle an extra incarnation is SIGKILLed 0-150 ms after its spawn, while it starts; default 5,
// 0 = never), CRASH_SELF_CHECK (negative controls that must make the test fail: intake_503,
// wipe_ledger; see below).

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "decoder/map_iterators.h"
#include "decoder/payload.h"
#include "decoder/reader.h"
#include "decoder/test_payloads.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/crash/edge_child.h"
#include "tests/integration/edge_binary.h"
#include "tests/integration/edge_process.h"
#include "tests/integration/fake_agent.h"
#include "tests/integration/test_client.h"

namespace llmobs_edge::crash {
namespace {

using decoder::testing::EncodeLlmobsStruct;
using decoder::testing::EncodePayload;
using decoder::testing::TestSpan;
using testing::FakeAgent;
using testing::FindEdgeBinary;
using testing::FirstSample;
using testing::MetricMap;
using testing::ParseMetrics;
using testing::RecordedRequest;
using testing::TestClient;
using testing::TestRequest;
using testing::TestResponse;
using Clock = std::chrono::steady_clock;

constexpr char kEvpPath[] = "/evp_proxy/v2/api/v2/llmobs";
constexpr char kTracesPath[] = "/v0.4/traces";

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---------------------------------------------------------------------------------------------
// What the clients send.

enum class Kind : uint8_t {
  kPlain,    // no _llmobs
  kRescued,  // _llmobs in a chunk with priority <= 0 or none: the edge must rescue it
  kKept,     // _llmobs in a chunk with priority > 0: rides the trace, never sent to the intake
};

struct SentSpan {
  uint64_t span_id = 0;
  Kind kind = Kind::kPlain;
  std::string llm_trace_id;  // the _llmobs struct's trace_id (the event key's first half)
  std::string llm_name;
};

struct SentPayload {
  std::string body;
  uint32_t chunks = 0;
  std::vector<SentSpan> spans;  // in payload order
  int attempts = 0;             // sends until the 200
};

// One chunk: a root (priority and _dd.p.dm on it, as tracers do) and children.
void AddChunk(std::mt19937_64& rng, std::atomic<uint64_t>& ids, std::optional<int> priority,
              int llm_spans, Kind llm_kind, std::vector<std::vector<TestSpan>>* chunks,
              std::vector<std::vector<SentSpan>>* sent) {
  auto coin = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  const uint64_t trace_id = ids.fetch_add(1);
  const std::string llm_trace = absl::StrFormat("6a1f%028x", trace_id);
  static const char* kDm[] = {"-0", "-1", "-3", "-4"};
  std::vector<TestSpan> spans;
  std::vector<SentSpan> out;

  TestSpan root;
  root.trace_id = trace_id;
  root.span_id = ids.fetch_add(1);
  root.parent_id = 0;
  root.service = "chat-api";
  root.name = "web.request";
  root.resource = "POST /chat";
  root.type = "web";
  root.start = 1795260216842026240 + static_cast<int64_t>(trace_id) * 1000;
  root.duration = 41458008 + static_cast<int64_t>(rng() % 1000000);
  root.meta = {{"env", "prod"}, {"component", "express"}, {"_dd.p.tid", "6a1f000000000000"}};
  root.metrics = {{"_dd.top_level", 1}, {"_dd.measured", 1}};
  if (priority) {
    root.meta.emplace_back("_dd.p.dm", kDm[rng() % 4]);
    root.metrics.emplace_back("_sampling_priority_v1", *priority);
    root.metrics.emplace_back("_dd.agent_psr", 0.25);
  }
  root.wide = coin(0.5);
  SentSpan root_sent{root.span_id, Kind::kPlain, "", ""};
  int llm_left = llm_spans;
  if (llm_left > 0 && coin(0.3)) {  // the root itself is an LLM span
    root_sent = {root.span_id, llm_kind, llm_trace, absl::StrCat("chat-", root.span_id)};
    root.meta_struct = {{"_llmobs", EncodeLlmobsStruct(llm_trace, root_sent.llm_name)}};
    --llm_left;
  }
  spans.push_back(std::move(root));
  out.push_back(std::move(root_sent));

  const int plain_children = static_cast<int>(rng() % 3);
  std::vector<bool> order(llm_left, true);
  order.resize(llm_left + plain_children, false);
  std::shuffle(order.begin(), order.end(), rng);
  for (const bool llm : order) {
    TestSpan s;
    s.trace_id = trace_id;
    s.span_id = ids.fetch_add(1);
    s.parent_id = spans.front().span_id;
    s.service = "chat-api";
    s.start = spans.front().start + 1000 + static_cast<int64_t>(rng() % 1000);
    s.duration = 1000000 + static_cast<int64_t>(rng() % 1000000);
    s.wide = coin(0.5);
    SentSpan ss{s.span_id, Kind::kPlain, "", ""};
    if (llm) {
      s.name = "openai.request";
      s.resource = "createChatCompletion";
      s.type = "llm";
      s.meta = {{"component", "openai"}, {"span.kind", "llm"}, {"env", "prod"}};
      s.metrics = {{"_dd.measured", 1}, {"openai.response.usage.total_tokens", 57}};
      ss = {s.span_id, llm_kind, llm_trace, absl::StrCat("chat-", s.span_id)};
      s.meta_struct = {{"_llmobs", EncodeLlmobsStruct(llm_trace, ss.llm_name)}};
    } else {
      s.name = "http.request";
      s.resource = "GET";
      s.type = "http";
      s.meta = {{"http.method", "GET"}, {"http.status_code", "200"}};
      s.metrics = {{"_dd.measured", 0}};
    }
    spans.push_back(std::move(s));
    out.push_back(std::move(ss));
  }
  chunks->push_back(std::move(spans));
  sent->push_back(std::move(out));
}

// 1..5 rescued _llmobs spans in one or two predicted-drop chunks (priority 0, -1 or none),
// sometimes a kept chunk (priority 1 or 2) with _llmobs spans and a chunk of plain spans.
SentPayload MakePayload(std::mt19937_64& rng, std::atomic<uint64_t>& ids) {
  auto coin = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto drop_priority = [&]() -> std::optional<int> {
    switch (rng() % 3) {
      case 0: return 0;
      case 1: return -1;
      default: return std::nullopt;
    }
  };
  std::vector<std::vector<TestSpan>> chunks;
  std::vector<std::vector<SentSpan>> sent;
  const int rescued = 1 + static_cast<int>(rng() % 5);
  if (rescued >= 2 && coin(0.4)) {
    const int first = 1 + static_cast<int>(rng() % rescued);  // the second may get 0
    AddChunk(rng, ids, drop_priority(), first, Kind::kRescued, &chunks, &sent);
    AddChunk(rng, ids, drop_priority(), rescued - first, Kind::kRescued, &chunks, &sent);
  } else {
    AddChunk(rng, ids, drop_priority(), rescued, Kind::kRescued, &chunks, &sent);
  }
  if (coin(0.25)) {
    AddChunk(rng, ids, 1 + static_cast<int>(rng() % 2), 1 + static_cast<int>(rng() % 2),
             Kind::kKept, &chunks, &sent);
  }
  if (coin(0.25)) {
    static const std::optional<int> kAny[] = {std::nullopt, -1, 0, 1, 2};
    AddChunk(rng, ids, kAny[rng() % 5], 0, Kind::kPlain, &chunks, &sent);
  }
  // Shuffle chunks and their descriptions together.
  std::vector<size_t> perm(chunks.size());
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<std::vector<TestSpan>> ordered;
  SentPayload p;
  for (size_t i : perm) {
    ordered.push_back(chunks[i]);
    for (SentSpan& s : sent[i]) p.spans.push_back(std::move(s));
  }
  p.chunks = static_cast<uint32_t>(ordered.size());
  p.body = EncodePayload(ordered);
  return p;
}

// ---------------------------------------------------------------------------------------------
// The edge's availability as the clients see it.

struct EdgeGate {
  std::mutex mu;
  std::condition_variable cv;
  bool up = false;
  bool abort = false;
  uint64_t epoch = 0;
  uint16_t port = 0;

  // Waits until the edge is up; false on abort.
  bool Wait(uint16_t* port_out, uint64_t* epoch_out) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return up || abort; });
    if (abort) return false;
    *port_out = port;
    *epoch_out = epoch;
    return true;
  }
  void Open(uint16_t p) {
    {
      std::lock_guard<std::mutex> lock(mu);
      up = true;
      port = p;
      ++epoch;
    }
    cv.notify_all();
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu);
    up = false;
  }
  void Abort() {
    {
      std::lock_guard<std::mutex> lock(mu);
      abort = true;
    }
    cv.notify_all();
  }
};

struct LoadStats {
  std::mutex mu;
  std::vector<SentPayload> done;  // answered 200
  std::vector<std::string> unexpected;  // non-200 answers (examples)
  std::atomic<uint64_t> failed_attempts{0};   // no answer: the edge was killed (or reset)
  std::atomic<uint64_t> unexpected_status{0};
  std::atomic<uint64_t> in_flight{0};          // payloads generated but not yet answered 200
  std::atomic<int> exited{0};                  // client threads that returned
};

// A tracer: sends payload after payload; on a network error it resends the same payload once the
// edge is back (dd-trace retries on network errors), until the payload is answered.
void ClientLoop(int index, uint64_t seed, std::atomic<uint64_t>& ids, EdgeGate& gate,
                std::atomic<bool>& stop, LoadStats& stats) {
  struct Exit {
    std::atomic<int>& n;
    ~Exit() { n.fetch_add(1); }
  } on_exit{stats.exited};
  std::mt19937_64 rng(seed * 1000003 + index);
  std::unique_ptr<TestClient> conn;
  uint64_t conn_epoch = 0;
  while (!stop.load()) {
    stats.in_flight.fetch_add(1);
    SentPayload p = MakePayload(rng, ids);
    TestRequest req;
    req.method = "PUT";
    req.target = kTracesPath;
    req.headers = {{"Content-Type", "application/msgpack"},
                   {"X-Datadog-Trace-Count", std::to_string(p.chunks)},
                   {"Datadog-Meta-Lang", "nodejs"},
                   {"Datadog-Meta-Tracer-Version", "5.99.0-crash"}};
    req.body = p.body;
    for (;;) {
      uint16_t port = 0;
      uint64_t epoch = 0;
      if (!gate.Wait(&port, &epoch)) return;
      if (!conn || conn_epoch != epoch || !conn->connected()) {
        conn = TestClient::Tcp(port);
        conn_epoch = epoch;
      }
      ++p.attempts;
      const TestResponse r = conn->Send(req);
      if (r.status == 200) {
        if (!r.keep_alive) conn.reset();
        break;
      }
      conn.reset();
      if (r.status == 0) {
        stats.failed_attempts.fetch_add(1);
      } else {
        stats.unexpected_status.fetch_add(1);
        std::lock_guard<std::mutex> lock(stats.mu);
        if (stats.unexpected.size() < 10) {
          stats.unexpected.push_back(absl::StrCat(r.status, " ", r.body.substr(0, 200)));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    {
      std::lock_guard<std::mutex> lock(stats.mu);
      stats.done.push_back(std::move(p));
    }
    stats.in_flight.fetch_sub(1);
  }
}

// Counters of one incarnation, scraped from its /metrics just before the SIGKILL (so what it did
// in the last moment before the kill is missing) or after the last one drained.
struct Scrape {
  double rescued = 0, deduplicated = 0, lost = 0, unrescuable = 0, dead_lettered = 0,
         outbox_dropped = 0, intake_transport_errors = 0;
  bool ok = false;
  void Add(const std::string& m) {
    if (m.empty()) return;
    ok = true;
    const MetricMap parsed = ParseMetrics(m);
    auto v = [&](const std::string& name) { return std::max(0.0, FirstSample(parsed, name, -1)); };
    rescued += v("llmobs_edge_rescue_events_total{outcome=\"rescued\"}");
    deduplicated += v("llmobs_edge_rescue_events_total{outcome=\"deduplicated\"}");
    lost += v("llmobs_edge_rescue_events_total{outcome=\"lost\"}");
    unrescuable += v("llmobs_edge_rescue_events_total{outcome=\"unrescuable\"}");
    dead_lettered += v("llmobs_edge_intake_events_dead_lettered_total");
    outbox_dropped += v("llmobs_edge_ledger_outbox_dropped_total");
    intake_transport_errors += v("llmobs_edge_intake_requests_total{class=\"transport_error\"}");
  }
};

// ---------------------------------------------------------------------------------------------
// Checks.

struct Failures {
  std::map<std::string, uint64_t> counts;
  std::vector<std::string> examples;
  void Add(const std::string& what, const std::string& example) {
    if (counts[what]++ < 5) examples.push_back(what + ": " + example);
  }
  uint64_t total() const {
    uint64_t n = 0;
    for (const auto& [k, v] : counts) n += v;
    return n;
  }
};

std::vector<std::pair<std::string, std::string>> MetaPairs(const decoder::Payload& p,
                                                           const decoder::SpanView& s) {
  std::vector<std::pair<std::string, std::string>> out;
  decoder::StringMapIterator it(p.bytes, s.meta);
  std::string_view k, v;
  while (it.Next(&k, &v)) out.emplace_back(std::string(k), std::string(v));
  std::sort(out.begin(), out.end());
  return out;
}

std::string_view Range(const decoder::Payload& p, uint32_t begin, uint32_t end) {
  return p.bytes.substr(begin, end - begin);
}

struct EvpBatch {
  size_t incarnation = 0;
  bool last_of_incarnation = false;
  std::string body;
  std::vector<std::string> span_ids;  // in body order
};

// Whether `a`'s envelopes are, byte for byte, the first envelopes of `b`.
bool IsPrefixBatch(const std::string& a, const std::string& b) {
  if (a.size() < 2 || a.back() != ']') return false;
  const std::string head = a.substr(0, a.size() - 1);  // "[e1,...,eN"
  if (b.size() <= head.size() || b.compare(0, head.size(), head) != 0) return false;
  return b[head.size()] == ']' || b[head.size()] == ',';
}

TEST(CrashTest, SigkillUnderLoadDeliversEveryRescuedEventAndKeepsSampling) {
  const auto t0 = Clock::now();
  const uint64_t cycles = EnvOr("CRASH_CYCLES", 25);
  const int clients = static_cast<int>(EnvOr("CRASH_CLIENTS", 4));
  const uint64_t clock_seed = static_cast<uint64_t>(
      std::chrono::system_clock::now().time_since_epoch().count() % 1000000007);
  const uint64_t seed = EnvOr("CRASH_SEED", clock_seed);
  const uint64_t min_ms = EnvOr("CRASH_MIN_MS", 200), max_ms = EnvOr("CRASH_MAX_MS", 1500);
  const uint64_t early_every = EnvOr("CRASH_EARLY_EVERY", 5);
  std::printf("crash_test: cycles=%llu clients=%d seed=%llu load per incarnation %llu..%llu ms\n",
              (unsigned long long)cycles, clients, (unsigned long long)seed,
              (unsigned long long)min_ms, (unsigned long long)max_ms);

  char self[4096] = {0};
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  EdgeSettings settings;
  settings.binary = FindEdgeBinary(n > 0 ? std::string(self, n) : "");
  ASSERT_FALSE(settings.binary.empty()) << "//:llmobs-edge not found in the runfiles";
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/crash-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  settings.work_dir = tmpl;
  settings.ledger_path = tmpl + "/ledger";
  settings.flush_interval_ms = static_cast<uint32_t>(EnvOr("CRASH_FLUSH_MS", 20));

  std::mt19937_64 driver_rng(seed);
  std::atomic<uint64_t> ids{1};
  EdgeGate gate;
  std::atomic<bool> stop{false};
  LoadStats stats;
  std::vector<std::unique_ptr<FakeAgent>> agents;  // one per incarnation
  FakeAgent::Options agent_options;
  agent_options.max_stored_body = 16ull << 20;  // EVP batches are whole JSON arrays
  // Negative controls (the test must then FAIL): "intake_503" makes the intake record every 10th
  // batch and answer 503 (a redelivery no crash explains); "wipe_ledger" deletes the ledger
  // directory once, after the middle kill (undelivered events are lost, as on an emptyDir).
  const char* self_check_env = std::getenv("CRASH_SELF_CHECK");
  const std::string self_check = self_check_env ? self_check_env : "";
  std::atomic<uint64_t> evp_seen{0};
  FakeAgent::Handler handler = nullptr;
  if (self_check == "intake_503") {
    handler = [&evp_seen](const RecordedRequest& r) {
      if (r.target == kEvpPath && evp_seen.fetch_add(1) % 10 == 9) {
        testing::FakeResponse res;
        res.status = 503;
        return res;
      }
      return FakeAgent::AgentLikeAnswer(r);
    };
  }
  if (!self_check.empty()) {
    std::printf("crash_test: SELF-CHECK %s: expect failures\n", self_check.c_str());
  }

  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back(ClientLoop, i, seed, std::ref(ids), std::ref(gate), std::ref(stop),
                         std::ref(stats));
  }
  auto abort_clients = [&] {
    stop = true;
    gate.Abort();
    for (std::thread& t : threads) {
      if (t.joinable()) t.join();
    }
  };

  // --- SIGKILL cycles -------------------------------------------------------------------------
  double startup_seconds = 0;
  std::string final_metrics;
  int final_exit = -1;
  bool drained = false;
  double drain_seconds = 0;
  EdgeChild edge;
  Scrape scraped;  // summed over the incarnations
  uint64_t scrapes_missing = 0;
  uint64_t early_kills = 0;
  std::set<size_t> early_incarnations;
  for (uint64_t cycle = 0; cycle <= cycles; ++cycle) {
    if (early_every > 0 && cycle > 0 && cycle % early_every == 0) {
      // An extra incarnation killed while it starts (RocksDB recovery, the sender's first batch
      // of what the previous kill left in the outbox); no client traffic reaches it.
      agents.push_back(std::make_unique<FakeAgent>(agent_options, handler));
      settings.agent_url = agents.back()->url();
      EdgeChild early;
      const std::string err = early.Start(settings, absl::StrCat("early-", cycle), false);
      if (!err.empty()) {
        abort_clients();
        FAIL() << "early incarnation before cycle " << cycle << ": " << err;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(driver_rng() % 151));
      early.Kill();
      ++early_kills;
      early_incarnations.insert(agents.size() - 1);
    }
    agents.push_back(std::make_unique<FakeAgent>(agent_options, handler));
    settings.agent_url = agents.back()->url();
    const auto s0 = Clock::now();
    const std::string err = edge.Start(settings, absl::StrCat("edge-", cycle));
    startup_seconds += Seconds(Clock::now() - s0);
    if (!err.empty()) {
      abort_clients();
      FAIL() << "incarnation " << cycle << ": " << err;
    }
    gate.Open(edge.port());
    if (cycle < cycles) {
      const uint64_t ms = min_ms + driver_rng() % (max_ms - min_ms + 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      const std::string m = edge.Metrics();
      scraped.Add(m);
      scrapes_missing += m.empty();
      gate.Close();
      edge.Kill();
      if (self_check == "wipe_ledger" && cycle == cycles / 2) {
        std::error_code ec;
        std::filesystem::remove_all(settings.ledger_path, ec);
      }
      continue;
    }
    // --- The last incarnation: finish the load, drain, SIGTERM ----------------------------------
    stop = true;
    const auto load_deadline = Clock::now() + std::chrono::seconds(60);
    while (stats.exited.load() < clients && Clock::now() < load_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (stats.exited.load() < clients) {
      std::string tail = edge.LogTail(3000);
      edge.Kill();
      abort_clients();
      FAIL() << stats.in_flight.load() << " payloads still unanswered after 60 s; edge log: "
             << tail;
    }
    for (std::thread& t : threads) t.join();
    const auto d0 = Clock::now();
    const auto drain_deadline = d0 + std::chrono::seconds(60);
    size_t last_count = ~size_t{0};
    auto stable_since = Clock::now();
    while (Clock::now() < drain_deadline) {
      size_t count = 0;
      for (const RecordedRequest& r : agents.back()->requests()) count += r.target == kEvpPath;
      if (count != last_count) {
        last_count = count;
        stable_since = Clock::now();
      }
      const std::string m = edge.Metrics();
      const MetricMap parsed = ParseMetrics(m);
      const double outbox = FirstSample(parsed, "llmobs_edge_intake_outbox_records", -1);
      const double ledger_outbox = FirstSample(parsed, "llmobs_edge_ledger_outbox_records", -1);
      if (!m.empty() && outbox == 0 && ledger_outbox <= 0 &&
          Clock::now() - stable_since >= std::chrono::milliseconds(500)) {
        drained = true;
        final_metrics = m;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    drain_seconds = Seconds(Clock::now() - d0);
    if (final_metrics.empty()) final_metrics = edge.Metrics();
    scraped.Add(final_metrics);
    scrapes_missing += final_metrics.empty();
    final_exit = edge.Terminate();
  }
  const double elapsed = Seconds(Clock::now() - t0);

  EXPECT_TRUE(drained) << "the last incarnation's outbox did not drain within 60 s";
  EXPECT_EQ(final_exit, 0) << "SIGTERM exit code of the last incarnation; log: "
                           << edge.LogTail(3000);
  EXPECT_EQ(stats.unexpected_status.load(), 0u)
      << "non-200 answers, e.g. " << (stats.unexpected.empty() ? "" : stats.unexpected[0]);

  // --- What was sent and answered ---------------------------------------------------------------
  std::vector<SentPayload>& payloads = stats.done;
  struct Owner {
    size_t payload;
    size_t span;
  };
  std::unordered_map<uint64_t, Owner> owner;
  std::set<std::string> rescued;  // span ids (decimal) the intake must receive, once
  std::set<std::string> kept;     // _llmobs span ids that must NOT reach the intake
  uint64_t spans_sent = 0, attempts = 0;
  for (size_t i = 0; i < payloads.size(); ++i) {
    attempts += payloads[i].attempts;
    for (size_t j = 0; j < payloads[i].spans.size(); ++j) {
      const SentSpan& s = payloads[i].spans[j];
      ++spans_sent;
      ASSERT_TRUE(owner.emplace(s.span_id, Owner{i, j}).second) << "span id reused " << s.span_id;
      if (s.kind == Kind::kRescued) rescued.insert(std::to_string(s.span_id));
      if (s.kind == Kind::kKept) kept.insert(std::to_string(s.span_id));
    }
  }

  Failures failures;

  // --- (1) The intake: exactly once, duplicates only as crash redeliveries ---------------------
  std::vector<EvpBatch> batches;
  for (size_t inc = 0; inc < agents.size(); ++inc) {
    std::vector<RecordedRequest> reqs = agents[inc]->requests();
    for (const RecordedRequest& r : reqs) {
      if (r.target != kEvpPath) continue;
      if (r.method != "POST" || r.Header("X-Datadog-EVP-Subdomain") != "llmobs-intake") {
        failures.Add("evp request malformed", r.method + " " + r.Header("X-Datadog-EVP-Subdomain"));
      }
      if (r.body_size != r.body.size()) {
        failures.Add("evp body truncated by the fake (raise max_stored_body)",
                     std::to_string(r.body_size));
      }
      EvpBatch b;
      b.incarnation = inc;
      b.body = r.body;
      nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
      if (!j.is_array()) {
        failures.Add("evp body is not a JSON array", r.body.substr(0, 200));
        continue;
      }
      for (const auto& env : j) {
        if (!env.contains("spans") || !env["spans"].is_array()) {
          failures.Add("envelope without spans", env.dump().substr(0, 200));
          continue;
        }
        for (const auto& span : env["spans"]) {
          const std::string id = span.value("span_id", "");
          b.span_ids.push_back(id);
          auto it = owner.find(std::strtoull(id.c_str(), nullptr, 10));
          if (it == owner.end()) continue;  // counted as unexpected below
          const SentSpan& s = payloads[it->second.payload].spans[it->second.span];
          if (span.value("trace_id", "") != s.llm_trace_id ||
              span.value("name", "") != s.llm_name) {
            failures.Add("event content differs from the span's _llmobs",
                         span.dump().substr(0, 300));
          }
        }
      }
      batches.push_back(std::move(b));
    }
    if (!batches.empty() && batches.back().incarnation == inc) {
      batches.back().last_of_incarnation = true;
    }
  }

  std::map<std::string, std::vector<size_t>> deliveries;  // span id -> batch indexes
  uint64_t delivered = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    for (const std::string& id : batches[b].span_ids) {
      deliveries[id].push_back(b);
      ++delivered;
    }
  }
  uint64_t lost = 0, unexpected = 0, kept_delivered = 0, duplicates = 0, unexplained = 0;
  std::set<size_t> redelivered_batches;  // index of the batch whose copy came again
  for (const std::string& id : rescued) {
    if (!deliveries.count(id)) {
      ++lost;
      failures.Add("LOST: rescued event never reached the intake", "span_id " + id);
    }
  }
  for (const auto& [id, where] : deliveries) {
    if (!rescued.count(id)) {
      ++unexpected;
      if (kept.count(id)) ++kept_delivered;
      failures.Add(kept.count(id) ? "kept-chunk event sent to the intake"
                                  : "intake received an event nobody rescued",
                   "span_id " + id);
    }
    for (size_t k = 1; k < where.size(); ++k) {
      ++duplicates;
      const size_t a = where[k - 1], b = where[k];
      const bool explained = b == a + 1 && batches[a].last_of_incarnation &&
                             batches[a].incarnation + 1 < agents.size() &&  // a killed one
                             batches[b].incarnation > batches[a].incarnation &&
                             IsPrefixBatch(batches[a].body, batches[b].body);
      if (explained) {
        redelivered_batches.insert(a);
      } else {
        ++unexplained;
        failures.Add("DUPLICATE not explained by a crash between POST and Ack",
                     absl::StrCat("span_id ", id, " in batches ", a, " (incarnation ",
                                  batches[a].incarnation, ") and ", b, " (incarnation ",
                                  batches[b].incarnation, ")"));
      }
    }
  }

  // --- (2) The Agent: every trace decodes, sampling untouched, rescued spans stamped ------------
  uint64_t trace_requests = 0, sampling_mismatches = 0, identical_spans = 0, stamped_spans = 0;
  std::vector<uint32_t> copies(payloads.size(), 0);
  decoder::PayloadReader reader;
  for (size_t inc = 0; inc < agents.size(); ++inc) {
    for (const RecordedRequest& r : agents[inc]->requests()) {
      if (r.target != kTracesPath) continue;
      ++trace_requests;
      if (r.body_size != r.body.size()) {
        failures.Add("trace body truncated by the fake", std::to_string(r.body_size));
        continue;
      }
      decoder::Payload got;
      if (absl::Status st = reader.Read(r.body, &got); !st.ok()) {
        failures.Add("trace does not decode", std::string(st.message()));
        continue;
      }
      if (got.spans.empty()) {
        failures.Add("trace without spans", "");
        continue;
      }
      auto first = owner.find(got.spans[0].span_id);
      if (first == owner.end()) {
        failures.Add("trace of a payload never answered 200",
                     std::to_string(got.spans[0].span_id));
        continue;
      }
      const size_t pi = first->second.payload;
      const SentPayload& sent = payloads[pi];
      decoder::Payload want;
      if (!reader.Read(sent.body, &want).ok() || want.spans.size() != got.spans.size() ||
          got.chunks.size() != want.chunks.size()) {
        failures.Add("trace does not hold exactly its payload's spans",
                     absl::StrCat("payload ", pi, ": ", got.spans.size(), " spans vs ",
                                  want.spans.size()));
        continue;
      }
      ++copies[pi];
      for (size_t k = 0; k < got.spans.size(); ++k) {
        const decoder::SpanView& g = got.spans[k];
        const decoder::SpanView& w = want.spans[k];
        const SentSpan& s = sent.spans[k];
        const std::string where = absl::StrCat("span ", w.span_id, " (incarnation ", inc, ")");
        if (g.span_id != w.span_id || g.trace_id != w.trace_id || g.parent_id != w.parent_id ||
            g.service != w.service || g.name != w.name || g.resource != w.resource ||
            g.type != w.type || g.start != w.start || g.duration != w.duration ||
            g.error != w.error) {
          failures.Add("span fields differ", where);
        }
        if (g.has_priority != w.has_priority || g.priority != w.priority ||
            g.has_dm != w.has_dm || g.dm != w.dm) {
          ++sampling_mismatches;
          failures.Add("SAMPLING FIELDS differ", where);
        }
        if (s.kind != Kind::kRescued) {
          // Not edited: byte-identical (kept chunks keep their _llmobs for the trace path).
          if (Range(got, g.begin, g.end) != Range(want, w.begin, w.end)) {
            failures.Add(s.kind == Kind::kKept ? "kept _llmobs span not byte-identical"
                                               : "plain span not byte-identical",
                         where);
          } else {
            ++identical_spans;
          }
          continue;
        }
        // Rescued: stamped and scrubbed, metrics untouched, meta = sent + the stamp.
        bool ok = true;
        if (g.has_llmobs || !g.llmobs_already_submitted()) {
          ok = false;
          failures.Add("rescued span not stamped/scrubbed", where);
        }
        if (Range(got, g.metrics.begin, g.metrics.end) !=
            Range(want, w.metrics.begin, w.metrics.end)) {
          ok = false;
          failures.Add("rescued span's metrics not byte-identical", where);
        }
        auto want_meta = MetaPairs(want, w);
        want_meta.emplace_back("_dd.llmobs.submitted", "1");
        std::sort(want_meta.begin(), want_meta.end());
        if (MetaPairs(got, g) != want_meta) {
          ok = false;
          failures.Add("rescued span's meta is not the sent meta + the stamp", where);
        }
        if (g.meta_struct.present) {
          decoder::MetaStructIterator it(got.bytes, g.meta_struct);
          std::string_view key, bin;
          while (it.Next(&key, &bin)) {
            if (key == "_llmobs") {
              ok = false;
              failures.Add("rescued span still has _llmobs", where);
            }
          }
        }
        stamped_spans += ok;
      }
    }
  }
  uint64_t never_forwarded = 0, resent_traces = 0;
  for (size_t i = 0; i < payloads.size(); ++i) {
    if (copies[i] == 0) {
      ++never_forwarded;
      failures.Add("payload answered 200 but never reached the Agent", std::to_string(i));
    }
    if (copies[i] > 1) resent_traces += copies[i] - 1;
  }

  // --- (3) Figures ------------------------------------------------------------------------------
  const double final_delivered =
      FirstSample(ParseMetrics(final_metrics), "llmobs_edge_intake_events_delivered", -1);
  const std::string figures = absl::StrFormat(
      "CRASH_TEST_FIGURES: cycles=%d sigkills under load (+%d while starting), %d incarnations, "
      "%d clients; payloads=%d "
      "(%d spans, %d sends, %d sends cut by a kill and retried); events_rescued=%d "
      "delivered=%d unique=%d duplicates=%d (redeliveries after a crash between POST and Ack, "
      "%d batches) unexplained_duplicates=%d lost=%d unexpected=%d kept_events_sent_to_intake=%d; "
      "agent trace requests=%d (%d resends of a payload whose answer a kill cut), "
      "sampling_mismatches=%d, unedited spans byte-identical=%d, rescued spans stamped=%d; "
      "evp batches=%d; edge counters (scraped before each kill, so lower bounds): rescued>=%.0f "
      "deduplicated_by_seen_set>=%.0f lost=%.0f unrescuable=%.0f dead_lettered=%.0f "
      "outbox_dropped=%.0f intake_transport_errors=%.0f; last edge: drained in %.1f s, "
      "delivered %.0f, SIGTERM exit %d; "
      "startup total %.1f s; time=%.1f s; seed=%d",
      cycles, early_kills, agents.size(), clients, payloads.size(), spans_sent, attempts,
      stats.failed_attempts.load(), rescued.size(), delivered, deliveries.size(), duplicates,
      redelivered_batches.size(), unexplained, lost, unexpected, kept_delivered, trace_requests,
      resent_traces, sampling_mismatches, identical_spans, stamped_spans, batches.size(),
      scraped.rescued, scraped.deduplicated, scraped.lost, scraped.unrescuable,
      scraped.dead_lettered, scraped.outbox_dropped, scraped.intake_transport_errors,
      drain_seconds, final_delivered, final_exit, startup_seconds, elapsed, seed);
  std::printf("%s\n", figures.c_str());
  for (size_t a : redelivered_batches) {
    std::printf("  redelivered: batch %zu (%zu events), the last intake request of incarnation "
                "%zu%s, SIGKILLed before its Ack; repeated as the prefix of batch %zu "
                "(incarnation %zu)\n",
                a, batches[a].span_ids.size(), batches[a].incarnation,
                early_incarnations.count(batches[a].incarnation) ? " (killed while starting)" : "",
                a + 1, batches[a + 1].incarnation);
  }
  if (const char* out = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    std::ofstream(std::string(out) + "/crash_figures.txt") << figures << "\n";
  }
  std::fflush(stdout);

  for (const std::string& e : failures.examples) ADD_FAILURE() << e;
  for (const auto& [what, count] : failures.counts) {
    ADD_FAILURE() << count << " x " << what;
  }
  EXPECT_GE(cycles, 20u);
  // The edge's own accounting agrees: nothing failed open, refused or dropped.
  EXPECT_EQ(scrapes_missing, 0u) << "an incarnation did not answer /metrics";
  EXPECT_EQ(scraped.lost, 0) << "llmobs_edge_rescue_events_total{outcome=\"lost\"}";
  EXPECT_EQ(scraped.unrescuable, 0);
  EXPECT_EQ(scraped.dead_lettered, 0);
  EXPECT_EQ(scraped.outbox_dropped, 0);
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(unexpected, 0u);
  EXPECT_EQ(unexplained, 0u);
  EXPECT_EQ(sampling_mismatches, 0u);
  EXPECT_EQ(never_forwarded, 0u);
  EXPECT_EQ(deliveries.size(), rescued.size());
  EXPECT_EQ(delivered, rescued.size() + duplicates);
  EXPECT_GT(rescued.size(), 1000u) << "too little load to mean anything";
  if (failures.total() == 0 && !HasFailure()) {
    std::error_code ec;
    std::filesystem::remove_all(settings.work_dir, ec);
  } else {
    std::printf("edge logs and the ledger are kept in %s\n", settings.work_dir.c_str());
  }
}

}  // namespace
}  // namespace llmobs_edge::crash
