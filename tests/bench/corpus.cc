// The corpus generator behind corpus.h. Spans are built from a handful of templates taken from the
// real dd-trace-js 6.21.0 captures in tests/golden/real-tracer (web server / express / pg / redis /
// http client / template / dns spans, and LLM Observability spans whose meta_struct["_llmobs"]
// is a map shaped like LLMObsSpanData). Every random choice comes from one SplitMix64 stream.

#include "tests/bench/corpus.h"

#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "decoder/msgpack_writer.h"

namespace llmobs_edge::bench {
namespace {

using decoder::AppendArrayHeader;
using decoder::AppendBin;
using decoder::AppendBool;
using decoder::AppendFloat64;
using decoder::AppendInt;
using decoder::AppendMapHeader;
using decoder::AppendUint;
using decoder::AppendUint64Fixed;
using decoder::Width;

// SplitMix64: tiny, fast, and the same sequence on every platform and standard library (unlike
// the std:: distributions).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi].
  uint32_t Range(uint32_t lo, uint32_t hi) {
    return lo + static_cast<uint32_t>(Next() % (uint64_t{hi} - lo + 1));
  }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Next() % N];
  }

 private:
  uint64_t s_;
};

// dd-trace-js writes strings shorter than 32 bytes as fixstr and every longer one as str32.
void Str(std::string* out, std::string_view s) {
  decoder::AppendStr(out, s, s.size() < 32 ? Width::kSmallest : Width::k32);
}

std::string Hex(Rng& rng, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(digits);
  uint64_t bits = 0;
  for (int i = 0; i < digits; ++i) {
    if (i % 16 == 0) bits = rng.Next();
    s.push_back(kHex[bits & 15]);
    bits >>= 4;
  }
  return s;
}

std::string Uuid(Rng& rng) {
  std::string h = Hex(rng, 32);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-4" + h.substr(13, 3) + "-9" + h.substr(17, 3) +
         "-" + h.substr(20, 12);
}

// Words for generated prose (LLM messages, error messages): mostly ASCII, with a little UTF-8,
// quotes and newlines so the JSON transcoder's escaping and UTF-8 paths are exercised.
constexpr std::string_view kWords[] = {
    "the",      "customer", "order",    "refund",   "policy",   "please",    "summarize",
    "account",  "shipping", "delivery", "within",   "business", "days",      "invoice",
    "support",  "agent",    "question", "answer",   "context",  "document",  "retrieved",
    "according", "to",      "our",      "records",  "you",      "can",       "request",
    "a",        "new",      "password", "by",       "clicking", "the",       "link",
    "below.",   "Thanks!",  "However,", "if",       "issue",    "persists,", "contact",
    "us",       "at",       "help@example.com", "café", "naïve", "résumé", "—", "→",
    "\"quoted\"", "step\n1:", "step\n2:", "{json: true}", "42", "3.14", "é", "日本語",
};

std::string Prose(Rng& rng, size_t approx_len) {
  std::string s;
  s.reserve(approx_len + 16);
  while (s.size() < approx_len) {
    if (!s.empty()) s.push_back(' ');
    s.append(rng.Pick(kWords));
  }
  return s;
}

// One tracer process: the tags every span of it carries.
struct Process {
  std::string service;
  std::string runtime_id;
  std::string rc_client_id;
  std::string tags_process;
  uint32_t pid;
};

Process MakeProcess(Rng& rng, std::string service) {
  Process p;
  p.service = std::move(service);
  p.runtime_id = Uuid(rng);
  p.rc_client_id = Uuid(rng);
  p.tags_process = "entrypoint.basedir:/srv/" + p.service +
                   ",entrypoint.name:server,entrypoint.type:script,entrypoint.workdir:" +
                   p.service + ",svc.user:true";
  p.pid = rng.Range(1000, 65000);
  return p;
}

// A span before encoding. Metrics values: ints or doubles, as the tracer would write them.
struct Metric {
  std::string key;
  bool is_float;
  int64_t i;
  double d;
};

struct Span {
  std::string type, name, resource, service;
  uint64_t trace_id = 0, span_id = 0, parent_id = 0;
  int64_t start = 0, duration = 0;
  int32_t error = 0;
  std::vector<std::pair<std::string, std::string>> meta;
  std::vector<Metric> metrics;
  std::string llmobs;  // meta_struct["_llmobs"] document, empty for none
};

// Field order and forms of dd-trace-js 6.21.0 (see tests/golden/real-tracer/*/request-*.decoded
// .json): fixmap span, [type], ids uint64, start uint64, duration and error smallest uint, meta
// and metrics map32, meta_struct map32 -> bin32.
void EncodeSpan(const Span& s, std::string* out) {
  const uint32_t n = 11 + (s.type.empty() ? 0 : 1) + (s.llmobs.empty() ? 0 : 1);
  AppendMapHeader(out, n, 1);
  if (!s.type.empty()) {
    Str(out, "type");
    Str(out, s.type);
  }
  Str(out, "trace_id");
  AppendUint64Fixed(out, s.trace_id);
  Str(out, "span_id");
  AppendUint64Fixed(out, s.span_id);
  Str(out, "parent_id");
  AppendUint64Fixed(out, s.parent_id);
  Str(out, "name");
  Str(out, s.name);
  Str(out, "resource");
  Str(out, s.resource);
  Str(out, "service");
  Str(out, s.service);
  Str(out, "error");
  AppendInt(out, s.error);
  Str(out, "start");
  AppendUint64Fixed(out, static_cast<uint64_t>(s.start));
  Str(out, "duration");
  AppendInt(out, s.duration);
  Str(out, "meta");
  AppendMapHeader(out, static_cast<uint32_t>(s.meta.size()), 5);
  for (const auto& [k, v] : s.meta) {
    Str(out, k);
    Str(out, v);
  }
  Str(out, "metrics");
  AppendMapHeader(out, static_cast<uint32_t>(s.metrics.size()), 5);
  for (const Metric& m : s.metrics) {
    Str(out, m.key);
    if (m.is_float) {
      AppendFloat64(out, m.d);
    } else {
      AppendInt(out, m.i);
    }
  }
  if (!s.llmobs.empty()) {
    Str(out, "meta_struct");
    AppendMapHeader(out, 1, 5);
    Str(out, "_llmobs");
    AppendBin(out, s.llmobs, Width::k32);
  }
}

// Builds traces one chunk at a time and assembles the payload.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {
    for (const char* svc : {"checkout-api", "users-api", "catalog-web", "support-bot"}) {
      processes_.push_back(MakeProcess(rng_, svc));
    }
  }

  // Appends one web chunk of 1-10 spans.
  void WebChunk() {
    BeginChunk();
    const uint32_t n = rng_.Range(1, 10);
    if (n == 1 && rng_.Chance(0.5)) {
      // Lone infrastructure roots, as in the real capture (dns.lookup, tcp.connect).
      Emit(rng_.Chance(0.5) ? DnsSpan(0) : TcpSpan(0));
    } else {
      const uint64_t root = ServerSpan();
      for (uint32_t i = 1; i < n; ++i) Emit(WebChild(ParentFor(root)));
    }
    EndChunk();
  }

  // Appends one LLM chunk: a web root and 1-8 LLM Observability spans under it.
  void LlmChunk() {
    BeginChunk();
    const uint64_t root = ServerSpan();
    const uint32_t n = rng_.Range(1, 8);
    uint64_t workflow = root;
    for (uint32_t i = 0; i < n; ++i) {
      Span s = LlmSpan(i == 0 ? root : workflow, /*with_struct=*/rng_.Chance(0.8));
      if (i == 0) workflow = s.span_id;
      Emit(std::move(s));
    }
    EndChunk();
  }

  size_t size() const { return body_.size(); }

  CorpusFile Finish(std::string name, std::string about) {
    CorpusFile f;
    f.name = std::move(name);
    f.about = std::move(about);
    AppendArrayHeader(&f.bytes, chunks_, 5);
    f.bytes += body_;
    f.spans = spans_;
    f.chunks = chunks_;
    f.llmobs_spans = llmobs_spans_;
    f.llmobs_bytes = llmobs_bytes_;
    return f;
  }

 private:
  void BeginChunk() {
    proc_ = &processes_[rng_.Next() % processes_.size()];
    trace_id_ = rng_.Next();
    tid_ = Hex(rng_, 8) + "00000000";
    clock_ += rng_.Range(1'000'000, 50'000'000);
    chunk_spans_.clear();
    chunk_.clear();
  }
  void EndChunk() {
    AppendArrayHeader(&body_, static_cast<uint32_t>(chunk_spans_.size()), 5);
    body_ += chunk_;
    ++chunks_;
  }
  void Emit(Span s) {
    chunk_spans_.push_back(s.span_id);
    if (!s.llmobs.empty()) {
      ++llmobs_spans_;
      llmobs_bytes_ += s.llmobs.size();
    }
    ++spans_;
    EncodeSpan(s, &chunk_);
  }
  uint64_t ParentFor(uint64_t root) {
    return rng_.Chance(0.6) ? root : chunk_spans_[rng_.Next() % chunk_spans_.size()];
  }

  // Fields and tags common to every span of the current chunk's process.
  Span Base(std::string name, std::string resource, std::string type, uint64_t parent) {
    Span s;
    s.name = std::move(name);
    s.resource = std::move(resource);
    s.type = std::move(type);
    s.service = proc_->service;
    s.trace_id = trace_id_;
    s.span_id = rng_.Next();
    s.parent_id = parent;
    s.start = clock_ + rng_.Range(0, 5'000'000);
    s.duration = rng_.Range(20'000, 80'000'000);
    if (chunk_spans_.empty()) {
      // Only a chunk's first span carries the process and propagation tags.
      s.meta.emplace_back("_dd.tags.process", proc_->tags_process);
      s.meta.emplace_back("_dd.p.tid", tid_);
      s.meta.emplace_back("_dd.p.dm", "-0");
    }
    s.meta.emplace_back("service", proc_->service);
    s.meta.emplace_back("env", "prod");
    s.meta.emplace_back("version", "2.14.1");
    s.meta.emplace_back("runtime-id", proc_->runtime_id);
    s.meta.emplace_back("_dd.rc.client_id", proc_->rc_client_id);
    return s;
  }
  // Tags and metrics every span ends with.
  void FinishSpan(Span* s, const std::string& integration, bool top_level) {
    // 2% errors; as in the real capture, only the span that threw carries the error.* tags
    // (a server root that answered 500 just has error = 1).
    if (rng_.Chance(0.02)) s->error = 1;
    if (s->error != 0 && !top_level) {
      s->meta.emplace_back("error.type", "TypeError");
      s->meta.emplace_back("error.message", "Cannot read properties of undefined (reading '" +
                                                 Hex(rng_, 6) + "')");
      std::string stack = "TypeError: Cannot read properties of undefined\n";
      const uint32_t frames = rng_.Range(6, 18);
      for (uint32_t i = 0; i < frames; ++i) {
        stack += "    at handler (/srv/" + proc_->service + "/node_modules/lib/" + Hex(rng_, 6) +
                 ".js:" + std::to_string(rng_.Range(1, 900)) + ":" +
                 std::to_string(rng_.Range(1, 80)) + ")\n";
      }
      s->meta.emplace_back("error.stack", stack);
    }
    s->meta.emplace_back("_dd.integration", integration);
    s->meta.emplace_back("language", "javascript");
    if (top_level) s->metrics.push_back({"_dd.top_level", false, 1, 0});
    s->metrics.push_back({"_dd.measured", false, 1, 0});
    s->metrics.push_back({"process_id", false, proc_->pid, 0});
    s->metrics.push_back({"_sampling_priority_v1", false, 1, 0});
  }

  uint64_t ServerSpan() {
    static constexpr const char* kRoutes[] = {"/v1/users/:id", "/v1/orders/:id/items",
                                              "/checkout", "/api/catalog/search",
                                              "/v2/support/conversations/:id/messages"};
    const std::string route = rng_.Pick(kRoutes);
    const char* method = rng_.Chance(0.7) ? "GET" : "POST";
    Span s = Base("web.request", std::string(method) + " " + route, "web", 0);
    s.meta.emplace_back("component", "express");
    s.meta.emplace_back("span.kind", "server");
    s.meta.emplace_back("http.url", "http://" + proc_->service + ".internal:8080" + route +
                                        "?page=" + std::to_string(rng_.Range(1, 40)));
    s.meta.emplace_back("http.method", method);
    s.meta.emplace_back("http.route", route);
    s.meta.emplace_back("http.status_code", rng_.Chance(0.95) ? "200" : "404");
    s.meta.emplace_back("http.useragent",
                        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "Chrome/131.0.0.0 Safari/537.36");
    s.meta.emplace_back("http.client_ip", "10.0." + std::to_string(rng_.Range(0, 255)) + "." +
                                              std::to_string(rng_.Range(1, 254)));
    s.meta.emplace_back("_dd.sdk.otlp_export", "false");
    FinishSpan(&s, "express", /*top_level=*/true);
    s.metrics.push_back({"_dd.agent_psr", false, 1, 0});
    if (rng_.Chance(0.5)) s.metrics.push_back({"_dd.rule_psr", true, 0, 0.25});
    const uint64_t id = s.span_id;
    Emit(std::move(s));
    return id;
  }

  Span WebChild(uint64_t parent) {
    switch (rng_.Range(0, 5)) {
      case 0: {
        Span s = Base("express.middleware", rng_.Chance(0.5) ? "jsonParser" : "authenticate",
                      "web", parent);
        s.meta.emplace_back("component", "express");
        s.meta.emplace_back("express.type", "middleware");
        s.meta.emplace_back("span.kind", "internal");
        FinishSpan(&s, "express", false);
        return s;
      }
      case 1: {
        static constexpr const char* kSql[] = {
            "SELECT id, email, created_at FROM users WHERE id = $1",
            "SELECT o.id, o.total, i.sku, i.qty FROM orders o JOIN order_items i ON i.order_id = "
            "o.id WHERE o.customer_id = $1 ORDER BY o.created_at DESC LIMIT 20",
            "UPDATE carts SET updated_at = now() WHERE session_id = $1",
            "INSERT INTO audit_log (actor, action, payload) VALUES ($1, $2, $3)"};
        Span s = Base("pg.query", rng_.Pick(kSql), "sql", parent);
        s.service = proc_->service + "-postgres";
        s.meta.emplace_back("component", "pg");
        s.meta.emplace_back("span.kind", "client");
        s.meta.emplace_back("db.system", "postgres");
        s.meta.emplace_back("db.name", "shop");
        s.meta.emplace_back("db.user", "app_rw");
        s.meta.emplace_back("out.host", "pg-primary.db.internal");
        s.meta.emplace_back("network.destination.port", "5432");
        s.meta.emplace_back("peer.service", "shop-db");
        s.meta.emplace_back("_dd.base_service", proc_->service);
        FinishSpan(&s, "pg", false);
        s.metrics.push_back({"db.row_count", false, rng_.Range(0, 200), 0});
        return s;
      }
      case 2: {
        Span s = Base("redis.command", "GET", "redis", parent);
        s.service = proc_->service + "-redis";
        s.meta.emplace_back("component", "redis");
        s.meta.emplace_back("span.kind", "client");
        s.meta.emplace_back("db.system", "redis");
        s.meta.emplace_back("redis.raw_command", "GET session:" + Hex(rng_, 24));
        s.meta.emplace_back("out.host", "cache.internal");
        s.meta.emplace_back("network.destination.port", "6379");
        FinishSpan(&s, "redis", false);
        s.metrics.push_back({"db.redis.database_index", false, 0, 0});
        return s;
      }
      case 3: {
        Span s = Base("http.request", "POST", "http", parent);
        s.meta.emplace_back("component", "http");
        s.meta.emplace_back("span.kind", "client");
        s.meta.emplace_back("http.url", "https://payments.example.com/v3/charges/" +
                                            Hex(rng_, 16) + "/capture");
        s.meta.emplace_back("http.method", "POST");
        s.meta.emplace_back("http.status_code", "201");
        s.meta.emplace_back("out.host", "payments.example.com");
        s.meta.emplace_back("peer.service", "payments");
        FinishSpan(&s, "http", false);
        s.metrics.push_back({"network.destination.port", false, 443, 0});
        return s;
      }
      case 4: {
        Span s = Base("template.render", "orders/list.hbs", "", parent);
        s.meta.emplace_back("component", "handlebars");
        s.meta.emplace_back("template.engine", "handlebars");
        s.meta.emplace_back("template.cached", rng_.Chance(0.5) ? "true" : "false");
        FinishSpan(&s, "handlebars", false);
        s.metrics.push_back({"template.render_ms", true, 0, 12.5 + rng_.Range(0, 300) / 8.0});
        return s;
      }
      default:
        return rng_.Chance(0.5) ? DnsSpan(parent) : TcpSpan(parent);
    }
  }

  Span DnsSpan(uint64_t parent) {
    Span s = Base("dns.lookup", "payments.example.com", "", parent);
    s.meta.emplace_back("component", "dns");
    s.meta.emplace_back("span.kind", "client");
    s.meta.emplace_back("dns.hostname", "payments.example.com");
    s.meta.emplace_back("dns.address", "93.184.216.34");
    s.meta.emplace_back("dns.addresses", "93.184.216.34,93.184.216.35");
    FinishSpan(&s, "dns", parent == 0);
    return s;
  }

  Span TcpSpan(uint64_t parent) {
    Span s = Base("tcp.connect", "pg-primary.db.internal:5432", "", parent);
    s.meta.emplace_back("component", "net");
    s.meta.emplace_back("span.kind", "client");
    s.meta.emplace_back("tcp.family", "IPv4");
    s.meta.emplace_back("tcp.local.address", "10.0.3.17");
    s.meta.emplace_back("tcp.remote.host", "pg-primary.db.internal");
    s.meta.emplace_back("out.host", "pg-primary.db.internal");
    FinishSpan(&s, "net", parent == 0);
    s.metrics.push_back({"tcp.local.port", false, rng_.Range(30000, 60000), 0});
    s.metrics.push_back({"tcp.remote.port", false, 5432, 0});
    return s;
  }

  Span LlmSpan(uint64_t parent, bool with_struct) {
    static constexpr const char* kKinds[] = {"llm", "llm", "llm", "workflow", "agent",
                                             "tool", "retrieval", "embedding", "task"};
    const std::string kind = rng_.Pick(kKinds);
    const std::string name = kind == "llm" ? "chat-completion" : kind + "-step";
    Span s = Base(kind == "llm" ? "openai.request" : "llmobs." + kind, name, "", parent);
    const uint32_t in_tokens = rng_.Range(50, 4000);
    const uint32_t out_tokens = rng_.Range(10, 800);
    s.meta.emplace_back("component", kind == "llm" ? "openai" : "llmobs");
    s.meta.emplace_back("span.kind", "client");
    s.meta.emplace_back("openai.request.model", "gpt-4o-mini");
    s.meta.emplace_back("openai.request.endpoint", "/v1/chat/completions");
    s.meta.emplace_back("openai.request.method", "POST");
    s.meta.emplace_back("openai.api_base", "https://api.openai.com/v1");
    FinishSpan(&s, kind == "llm" ? "openai" : "llmobs", false);
    s.metrics.push_back({"openai.response.usage.prompt_tokens", false, in_tokens, 0});
    s.metrics.push_back({"openai.response.usage.completion_tokens", false, out_tokens, 0});
    if (with_struct) {
      s.llmobs = LlmobsStruct(s, kind, name, in_tokens, out_tokens, rng_.Range(1024, 8192));
    }
    return s;
  }

  // A msgpack map shaped like dd-trace-js's LLMObsSpanData, about `target` bytes long; nested
  // maps and arrays are map32 / array32, as the tracer's encoder writes them. The message
  // contents take whatever the other fields leave of the target size.
  std::string LlmobsStruct(const Span& s, const std::string& kind, const std::string& name,
                           uint32_t in_tokens, uint32_t out_tokens, size_t target) {
    const uint32_t in_messages = rng_.Range(1, 5);
    // The 128-bit trace id in hex: _dd.p.tid (high 64 bits) + the span's trace_id (low 64 bits).
    char low[17];
    std::snprintf(low, sizeof(low), "%016llx", static_cast<unsigned long long>(s.trace_id));
    const std::string trace_id = tid_ + low;
    const std::string session_id = Uuid(rng_);
    const double ttft = 0.05 + rng_.Range(0, 2000) / 1000.0;
    auto encode = [&](const std::vector<std::string>& contents) {
      std::string d;
      AppendMapHeader(&d, 13, 5);
      Str(&d, "trace_id");
      Str(&d, trace_id);
      Str(&d, "span_id");
      Str(&d, std::to_string(s.span_id));
      Str(&d, "parent_id");
      Str(&d, s.parent_id == 0 ? "undefined" : std::to_string(s.parent_id));
      Str(&d, "name");
      Str(&d, name);
      Str(&d, "ml_app");
      Str(&d, "support-bot");
      Str(&d, "session_id");
      Str(&d, session_id);
      Str(&d, "start_ns");
      AppendUint64Fixed(&d, static_cast<uint64_t>(s.start));
      Str(&d, "duration");
      AppendUint(&d, static_cast<uint64_t>(s.duration));
      Str(&d, "status");
      Str(&d, "ok");

      Str(&d, "tags");
      AppendMapHeader(&d, 8, 5);
      for (const auto& [k, v] : std::initializer_list<std::pair<const char*, std::string>>{
               {"env", "prod"},
               {"service", proc_->service},
               {"version", "2.14.1"},
               {"source", "integration"},
               {"ml_app", "support-bot"},
               {"ddtrace.version", "6.21.0"},
               {"language", "javascript"},
               {"error", "0"}}) {
        Str(&d, k);
        Str(&d, v);
      }

      Str(&d, "metrics");
      AppendMapHeader(&d, 5, 5);
      Str(&d, "input_tokens");
      AppendUint(&d, in_tokens);
      Str(&d, "output_tokens");
      AppendUint(&d, out_tokens);
      Str(&d, "total_tokens");
      AppendUint(&d, in_tokens + out_tokens);
      Str(&d, "time_to_first_token");
      AppendFloat64(&d, ttft);
      Str(&d, "estimated_total_cost");
      AppendFloat64(&d, (in_tokens * 0.15 + out_tokens * 0.6) / 1e6);

      Str(&d, "meta");
      AppendMapHeader(&d, 6, 5);
      Str(&d, "span");
      AppendMapHeader(&d, 1, 5);
      Str(&d, "kind");
      Str(&d, kind);
      Str(&d, "model_name");
      Str(&d, "gpt-4o-mini");
      Str(&d, "model_provider");
      Str(&d, "openai");
      Str(&d, "metadata");
      AppendMapHeader(&d, 3, 5);
      Str(&d, "temperature");
      AppendFloat64(&d, 0.2);
      Str(&d, "max_tokens");
      AppendUint(&d, 512);
      Str(&d, "stream");
      AppendBool(&d, false);
      Str(&d, "input");
      AppendMapHeader(&d, 1, 5);
      Str(&d, "messages");
      AppendArrayHeader(&d, in_messages, 5);
      for (uint32_t i = 0; i < in_messages; ++i) {
        AppendMapHeader(&d, 2, 5);
        Str(&d, "role");
        Str(&d, i == 0 ? "system" : (i % 2 == 1 ? "user" : "assistant"));
        Str(&d, "content");
        Str(&d, contents[i]);
      }
      Str(&d, "output");
      AppendMapHeader(&d, 1, 5);
      Str(&d, "messages");
      AppendArrayHeader(&d, 1, 5);
      AppendMapHeader(&d, 2, 5);
      Str(&d, "role");
      Str(&d, "assistant");
      Str(&d, "content");
      Str(&d, contents[in_messages]);

      Str(&d, "_dd");
      AppendMapHeader(&d, 2, 5);
      Str(&d, "sample_rate");
      AppendFloat64(&d, 1.0);
      Str(&d, "sampling_decision");
      AppendUint(&d, 1);
      return d;
    };
    // Empty contents are fixstr (1 byte); real ones are str32 (5 bytes).
    std::vector<std::string> contents(in_messages + 1);
    const size_t fixed = encode(contents).size() + 4 * contents.size();
    const size_t per_message = target > fixed + 64 ? (target - fixed) / contents.size() : 32;
    for (std::string& c : contents) c = Prose(rng_, per_message);
    return encode(contents);
  }

  Rng rng_;
  std::vector<Process> processes_;
  const Process* proc_ = nullptr;
  uint64_t trace_id_ = 0;
  std::string tid_;
  int64_t clock_ = 1795260181315009280;
  std::vector<uint64_t> chunk_spans_;
  std::string chunk_;
  std::string body_;
  uint32_t chunks_ = 0, spans_ = 0, llmobs_spans_ = 0;
  uint64_t llmobs_bytes_ = 0;
};

}  // namespace

CorpusFile MakeWebCorpus(size_t target_bytes, uint64_t seed) {
  Generator g(seed);
  while (g.size() < target_bytes) g.WebChunk();
  return g.Finish("web", "web spans only, chunks of 1-10 spans, 10-20 meta tags");
}

CorpusFile MakeLlmCorpus(size_t target_bytes, uint64_t seed) {
  Generator g(seed);
  while (g.size() < target_bytes) g.LlmChunk();
  return g.Finish("llm", "LLM chunks: web root + 1-8 LLM spans, 80% with a 1-8 KB _llmobs");
}

CorpusFile MakeMixedCorpus(size_t target_bytes, uint64_t seed, int llm_chunk_percent) {
  Generator g(seed);
  Rng pick(seed ^ 0x5eed);
  while (g.size() < target_bytes) {
    if (pick.Range(1, 100) <= static_cast<uint32_t>(llm_chunk_percent)) {
      g.LlmChunk();
    } else {
      g.WebChunk();
    }
  }
  return g.Finish("big", "one ~20 MiB payload: web chunks with " +
                             std::to_string(llm_chunk_percent) + "% LLM chunks");
}

}  // namespace llmobs_edge::bench
