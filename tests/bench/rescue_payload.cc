#include "tests/bench/rescue_payload.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>

#include "decoder/msgpack_writer.h"

namespace llmobs_edge::bench::rescue {
namespace {

using decoder::AppendArrayHeader;
using decoder::AppendBin;
using decoder::AppendBool;
using decoder::AppendFloat64;
using decoder::AppendInt;
using decoder::AppendMapHeader;
using decoder::AppendStr;
using decoder::AppendUint;
using decoder::AppendUint64Fixed;

// SplitMix64 (the same on every platform, unlike the std:: distributions).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint32_t Range(uint32_t lo, uint32_t hi) {
    return lo + static_cast<uint32_t>(Next() % (uint64_t{hi} - lo + 1));
  }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Next() % N];
  }

 private:
  uint64_t s_;
};

// Mixed into the high 64 bits of each LLMObs trace id (the low 64 bits are the APM trace id).
constexpr uint64_t kLlmobsTraceHigh = 0x68f0a5c1d2e3f405ull;
constexpr char kTid[] = "68f0a5c100000000";  // _dd.p.tid on the chunk roots

// Prose for the message contents: mostly ASCII, some UTF-8, quotes and newlines (so the
// edge's JSON transcoder escapes and validates as it would on real chat traffic).
constexpr std::string_view kWords[] = {
    "the",       "customer", "order",    "refund",    "policy",    "please",   "summarize",
    "account",   "shipping", "delivery", "within",    "business",  "days",     "invoice",
    "support",   "agent",    "question", "answer",    "context",   "document", "retrieved",
    "according", "to",       "our",      "records",   "you",       "can",      "request",
    "a",         "new",      "password", "by",        "clicking",  "the",      "link",
    "below.",    "Thanks!",  "However,", "if",        "issue",     "persists,", "contact",
    "us",        "at",       "help@example.com",      "café",      "naïve",    "résumé",
    "—",         "→",        "\"quoted\"", "step\n1:", "step\n2:", "{json: true}", "42",
    "3.14",      "é",        "日本語",   "the",       "order",     "was",      "shipped",
};

// Exactly `n` bytes of prose, cut at a UTF-8 boundary and padded with spaces.
std::string Prose(Rng& rng, size_t n) {
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    if (!s.empty()) s.push_back(' ');
    s.append(rng.Pick(kWords));
  }
  size_t cut = n;
  while (cut > 0 && cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  s.resize(cut);
  s.append(n - cut, ' ');
  return s;
}

std::string Hex(Rng& rng, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  uint64_t bits = 0;
  for (int i = 0; i < digits; ++i) {
    if (i % 16 == 0) bits = rng.Next();
    s.push_back(kHex[bits & 15]);
    bits >>= 4;
  }
  return s;
}

std::string Uuid(Rng& rng) {
  const std::string h = Hex(rng, 32);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-4" + h.substr(13, 3) + "-a" + h.substr(17, 3) +
         "-" + h.substr(20, 12);
}

void PutBe64(char* p, uint64_t v) {
  const uint64_t be = __builtin_bswap64(v);
  std::memcpy(p, &be, 8);
}

// A bijection on 64-bit integers (MurmurHash3's finalizer): distinct counters give distinct,
// random-looking ids, as tracers' random span and trace ids are (sequential ids would make the
// ledger's seen-set keys unrealistically compressible). Only 0 maps to 0.
uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

void PutHex64(char* p, uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    p[i] = kHex[v & 15];
    v >>= 4;
  }
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

void AppendStrMap(std::string* out, const Pairs& pairs) {
  AppendMapHeader(out, static_cast<uint32_t>(pairs.size()));
  for (const auto& [k, v] : pairs) {
    AppendStr(out, k);
    AppendStr(out, v);
  }
}

// One LLMObsSpanData document (llmobs.md §1.1-1.2, dd-trace-py's shape and msgpack forms). The
// returned offset is where the 32 hex chars of "trace_id" start inside the document.
struct Struct {
  std::string doc;
  size_t trace_id_at = 0;
};

Struct EncodeStruct(const std::vector<std::string>& contents, const std::string& session_id,
                    uint32_t in_tokens, uint32_t out_tokens, double ttft) {
  Struct s;
  std::string& d = s.doc;
  AppendMapHeader(&d, 9);
  AppendStr(&d, "trace_id");
  AppendStr(&d, std::string(32, '0'));
  s.trace_id_at = d.size() - 32;
  AppendStr(&d, "parent_id");
  AppendStr(&d, "undefined");
  AppendStr(&d, "name");
  AppendStr(&d, "openai.createChatCompletion");
  AppendStr(&d, "ml_app");
  AppendStr(&d, "support-bot");
  AppendStr(&d, "session_id");
  AppendStr(&d, session_id);

  AppendStr(&d, "tags");
  AppendStrMap(&d, {{"env", "prod"},
                    {"service", "support-api"},
                    {"version", "1.4.2"},
                    {"team", "cx-platform"},
                    {"source", "integration"},
                    {"ml_app", "support-bot"},
                    {"agent_service", "support-bot"},
                    {"ddtrace.version", "4.12.0"},
                    {"language", "python"},
                    {"session_id", session_id}});

  AppendStr(&d, "metrics");
  AppendMapHeader(&d, 8);
  AppendStr(&d, "input_tokens");
  AppendUint(&d, in_tokens);
  AppendStr(&d, "output_tokens");
  AppendUint(&d, out_tokens);
  AppendStr(&d, "total_tokens");
  AppendUint(&d, in_tokens + out_tokens);
  AppendStr(&d, "cache_read_input_tokens");
  AppendUint(&d, in_tokens / 4);
  AppendStr(&d, "input_cost");
  AppendFloat64(&d, in_tokens * 0.15e-6);
  AppendStr(&d, "output_cost");
  AppendFloat64(&d, out_tokens * 0.6e-6);
  AppendStr(&d, "total_cost");
  AppendFloat64(&d, in_tokens * 0.15e-6 + out_tokens * 0.6e-6);
  AppendStr(&d, "time_to_first_token");
  AppendFloat64(&d, ttft);

  AppendStr(&d, "meta");
  AppendMapHeader(&d, 6);
  AppendStr(&d, "span");
  AppendMapHeader(&d, 1);
  AppendStr(&d, "kind");
  AppendStr(&d, "llm");
  AppendStr(&d, "model_name");
  AppendStr(&d, "gpt-4o-mini");
  AppendStr(&d, "model_provider");
  AppendStr(&d, "openai");
  AppendStr(&d, "metadata");
  AppendMapHeader(&d, 5);
  AppendStr(&d, "temperature");
  AppendFloat64(&d, 0.2);
  AppendStr(&d, "max_tokens");
  AppendUint(&d, 1024);
  AppendStr(&d, "top_p");
  AppendFloat64(&d, 1.0);
  AppendStr(&d, "n");
  AppendUint(&d, 1);
  AppendStr(&d, "stream");
  AppendBool(&d, false);
  const size_t in_messages = contents.size() - 1;
  AppendStr(&d, "input");
  AppendMapHeader(&d, 1);
  AppendStr(&d, "messages");
  AppendArrayHeader(&d, static_cast<uint32_t>(in_messages));
  for (size_t i = 0; i < in_messages; ++i) {
    AppendMapHeader(&d, 2);
    AppendStr(&d, "role");
    AppendStr(&d, i == 0 ? "system" : (i % 2 == 1 ? "user" : "assistant"));
    AppendStr(&d, "content");
    AppendStr(&d, contents[i]);
  }
  AppendStr(&d, "output");
  AppendMapHeader(&d, 1);
  AppendStr(&d, "messages");
  AppendArrayHeader(&d, 1);
  AppendMapHeader(&d, 2);
  AppendStr(&d, "role");
  AppendStr(&d, "assistant");
  AppendStr(&d, "content");
  AppendStr(&d, contents[in_messages]);

  AppendStr(&d, "_dd");
  AppendStrMap(&d, {{"sample_rate", "1"}, {"sampling_decision", "1"}});
  return s;
}

// A struct of exactly `target` bytes (when the fixed fields leave room): the message contents
// share what is left, the system prompt and the answer taking the larger parts.
Struct MakeStruct(Rng& rng, size_t target) {
  const size_t in_messages = target >= 6000 ? 4 : 2;
  const std::string session_id = Uuid(rng);
  const uint32_t in_tokens = rng.Range(200, 4000);
  const uint32_t out_tokens = rng.Range(20, 800);
  const double ttft = 0.05 + rng.Range(0, 2000) / 1000.0;
  std::vector<std::string> contents(in_messages + 1);
  const size_t fixed = EncodeStruct(contents, session_id, in_tokens, out_tokens, ttft).doc.size();
  const size_t room = target > fixed + 16 * contents.size() ? target - fixed : 16 * contents.size();
  // Shares in percent: system, user[, assistant, user], answer.
  std::vector<size_t> share = in_messages == 2 ? std::vector<size_t>{30, 25, 45}
                                               : std::vector<size_t>{25, 15, 20, 10, 30};
  std::vector<size_t> len(contents.size());
  size_t used = 0;
  for (size_t i = 0; i + 1 < contents.size(); ++i) {
    len[i] = room * (share[i] + rng.Range(0, 6) - 3) / 100;
    used += len[i];
  }
  len.back() = room > used ? room - used : 8;
  for (size_t i = 0; i < contents.size(); ++i) contents[i] = Prose(rng, len[i]);
  // String headers grow at 32, 256 and 65536 bytes: adjust the answer until the size is exact.
  Struct s = EncodeStruct(contents, session_id, in_tokens, out_tokens, ttft);
  for (int i = 0; i < 4 && s.doc.size() != target; ++i) {
    const long diff = static_cast<long>(target) - static_cast<long>(s.doc.size());
    const long want = std::max<long>(8, static_cast<long>(contents.back().size()) + diff);
    contents.back() = Prose(rng, static_cast<size_t>(want));
    s = EncodeStruct(contents, session_id, in_tokens, out_tokens, ttft);
  }
  return s;
}

// Span map (dd-trace-py's keys; ids as uint64 so they can be rewritten in place). Returns the
// offsets of the three id bodies and of the _llmobs document (or npos) inside `out`.
struct SpanOffsets {
  size_t trace_id, span_id, parent_id, llmobs = std::string::npos;
};

struct MetricValue {
  std::string key;
  bool is_float;
  double value;
};

SpanOffsets AppendSpan(std::string* out, const std::string& name, const std::string& resource,
                       const std::string& type, int64_t start, int64_t duration,
                       const Pairs& meta, const std::vector<MetricValue>& metrics,
                       const std::string* llmobs) {
  SpanOffsets o;
  AppendMapHeader(out, llmobs ? 13 : 12);
  AppendStr(out, "trace_id");
  AppendUint64Fixed(out, 1);
  o.trace_id = out->size() - 8;
  AppendStr(out, "span_id");
  AppendUint64Fixed(out, 1);
  o.span_id = out->size() - 8;
  AppendStr(out, "parent_id");
  AppendUint64Fixed(out, 0);
  o.parent_id = out->size() - 8;
  AppendStr(out, "service");
  AppendStr(out, "support-api");
  AppendStr(out, "resource");
  AppendStr(out, resource);
  AppendStr(out, "name");
  AppendStr(out, name);
  AppendStr(out, "error");
  AppendUint(out, 0);
  AppendStr(out, "start");
  AppendInt(out, start);
  AppendStr(out, "duration");
  AppendInt(out, duration);
  AppendStr(out, "meta");
  AppendStrMap(out, meta);
  AppendStr(out, "metrics");
  AppendMapHeader(out, static_cast<uint32_t>(metrics.size()));
  for (const MetricValue& m : metrics) {
    AppendStr(out, m.key);
    if (m.is_float) {
      AppendFloat64(out, m.value);
    } else {
      AppendInt(out, static_cast<int64_t>(m.value));
    }
  }
  AppendStr(out, "type");
  AppendStr(out, type);
  if (llmobs) {
    AppendStr(out, "meta_struct");
    AppendMapHeader(out, 1);
    AppendStr(out, "_llmobs");
    AppendBin(out, *llmobs);
    o.llmobs = out->size() - llmobs->size();
  }
  return o;
}

}  // namespace

std::string RescuePayload::label() const {
  char buf[64];
  if (spec_.struct_bytes % 1024 == 0) {
    std::snprintf(buf, sizeof(buf), "%zu KB x %d", spec_.struct_bytes / 1024, spec_.events);
  } else {
    std::snprintf(buf, sizeof(buf), "%zu B x %d", spec_.struct_bytes, spec_.events);
  }
  return buf;
}

RescuePayload RescuePayload::Make(const PayloadSpec& spec) {
  RescuePayload p;
  p.spec_ = spec;
  Rng rng(spec.seed ^ (spec.struct_bytes * 0x9e37ull) ^ static_cast<uint64_t>(spec.events));
  const std::string runtime_id = Uuid(rng);
  const int per_chunk = std::max(1, spec.llm_spans_per_chunk);
  const int n_chunks = std::max(1, (spec.events + per_chunk - 1) / per_chunk);
  std::string& b = p.bytes_;
  AppendArrayHeader(&b, static_cast<uint32_t>(n_chunks), 5);
  int64_t clock = 1795260181315009280;
  int index = 0;
  int left = spec.events;
  size_t struct_total = 0;
  p.min_struct_ = SIZE_MAX;
  for (int c = 0; c < n_chunks; ++c) {
    const int llm = std::min(per_chunk, left);
    left -= llm;
    ChunkSlots chunk;
    AppendArrayHeader(&b, static_cast<uint32_t>(1 + llm), 5);
    // The root: a Flask request whose trace the sampler rejected (priority 0).
    const int64_t root_start = clock;
    const int64_t root_duration = 900'000'000 + rng.Range(0, 400'000'000);
    {
      const SpanOffsets o = AppendSpan(
          &b, "flask.request", "POST /v1/chat", "web", root_start, root_duration,
          {{"_dd.p.tid", kTid},
           {"component", "flask"},
           {"span.kind", "server"},
           {"http.method", "POST"},
           {"http.route", "/v1/chat"},
           {"http.url", "https://support.example.com/v1/chat"},
           {"http.status_code", "200"},
           {"http.useragent", "python-requests/2.32.3"},
           {"language", "python"},
           {"runtime-id", runtime_id},
           {"env", "prod"},
           {"version", "1.4.2"}},
          {{"_sampling_priority_v1", false, 0},
           {"_dd.top_level", false, 1},
           {"_dd.tracer_kr", true, 1.0},
           {"process_id", false, 4242}},
          nullptr);
      SpanSlots s;
      s.trace_id = o.trace_id;
      s.span_id = o.span_id;
      s.parent_id = o.parent_id;
      s.index = index++;
      s.parent_index = -1;
      chunk.spans.push_back(s);
    }
    const int root_index = chunk.spans.back().index;
    for (int k = 0; k < llm; ++k) {
      const Struct st = MakeStruct(rng, spec.struct_bytes);
      struct_total += st.doc.size();
      p.min_struct_ = std::min(p.min_struct_, st.doc.size());
      p.max_struct_ = std::max(p.max_struct_, st.doc.size());
      const SpanOffsets o = AppendSpan(
          &b, "openai.request", "createChatCompletion", "llm",
          root_start + 1'000'000 + k * 150'000'000, 120'000'000 + rng.Range(0, 30'000'000),
          {{"component", "openai"},
           {"span.kind", "client"},
           {"openai.request.model", "gpt-4o-mini"},
           {"openai.request.endpoint", "/v1/chat/completions"},
           {"openai.request.method", "POST"},
           {"openai.response.model", "gpt-4o-mini-2024-07-18"},
           {"language", "python"},
           {"runtime-id", runtime_id},
           {"env", "prod"},
           {"version", "1.4.2"}},
          {{"_dd.measured", false, 1}, {"process_id", false, 4242}}, &st.doc);
      SpanSlots s;
      s.trace_id = o.trace_id;
      s.span_id = o.span_id;
      s.parent_id = o.parent_id;
      s.llmobs_trace_id = o.llmobs + st.trace_id_at;
      s.index = index++;
      s.parent_index = root_index;
      s.llm = true;
      chunk.spans.push_back(s);
    }
    clock += 2'000'000'000;
    p.chunks_.push_back(std::move(chunk));
  }
  p.spans_ = index;
  p.avg_struct_ = spec.events > 0 ? static_cast<double>(struct_total) / spec.events : 0;
  if (spec.events == 0) p.min_struct_ = 0;
  return p;
}

void RescuePayload::Stamp(uint64_t first_id, uint64_t trace_base, std::string* out) const {
  out->assign(bytes_);
  char* d = out->data();
  for (size_t c = 0; c < chunks_.size(); ++c) {
    const uint64_t trace_id = Mix(trace_base + c);
    for (const SpanSlots& s : chunks_[c].spans) {
      PutBe64(d + s.trace_id, trace_id);
      PutBe64(d + s.span_id, Mix(first_id + static_cast<uint64_t>(s.index)));
      PutBe64(d + s.parent_id,
              s.parent_index < 0 ? 0 : Mix(first_id + static_cast<uint64_t>(s.parent_index)));
      if (s.llm) {
        PutHex64(d + s.llmobs_trace_id, Mix(trace_id ^ kLlmobsTraceHigh));
        PutHex64(d + s.llmobs_trace_id + 16, trace_id);
      }
    }
  }
}

void RescuePayload::EventSpanIds(uint64_t first_id, std::vector<uint64_t>* out) const {
  for (const ChunkSlots& c : chunks_) {
    for (const SpanSlots& s : c.spans) {
      if (s.llm) out->push_back(Mix(first_id + static_cast<uint64_t>(s.index)));
    }
  }
}

std::vector<std::pair<std::string, std::string>> TracerHeaders(int chunks) {
  return {{"Content-Type", "application/msgpack"},
          {"X-Datadog-Trace-Count", std::to_string(chunks)},
          {"Datadog-Meta-Lang", "python"},
          {"Datadog-Meta-Lang-Version", "3.12.4"},
          {"Datadog-Meta-Lang-Interpreter", "CPython"},
          {"Datadog-Meta-Tracer-Version", "4.12.0"}};
}

}  // namespace llmobs_edge::bench::rescue
