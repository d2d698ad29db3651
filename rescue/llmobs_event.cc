// Building one intake event and wrapping events for the intake: EventBuilder::Build reads the
// struct, writes the event and, over the size limit, writes it again truncated (§5.4); the APM
// trace id of §2.2; the envelope and request body of §5.2. The rescue stage calls Build, the intake
// sender BuildIntakeBody (llmobs_event.h); reading and writing are in llmobs_event_parse.cc and
// llmobs_event_emit.cc.

#include "rescue/llmobs_event.h"

#include <algorithm>

#include "rescue/llmobs_event_internal.h"

namespace llmobs_edge::rescue {
namespace {

using decoder::JsonStats;
using event_internal::kStructName;
using event_internal::AppendRepairedUtf8;
using event_internal::AppendInteger;
using event_internal::Cat;

constexpr char kHex[] = "0123456789abcdef";

void AppendHex16(uint64_t v, std::string* out) {
  char buf[16];
  for (int i = 15; i >= 0; --i, v >>= 4) buf[i] = kHex[v & 15];
  out->append(buf, 16);
}

// `_dd.p.tid`: exactly 16 hex digits (either case), as tracers write it; anything else is ignored.
bool ParseTid(std::string_view tid, uint64_t* high) {
  if (tid.size() != 16) return false;
  uint64_t v = 0;
  for (const char ch : tid) {
    int d;
    if (ch >= '0' && ch <= '9') {
      d = ch - '0';
    } else if (ch >= 'a' && ch <= 'f') {
      d = ch - 'a' + 10;
    } else if (ch >= 'A' && ch <= 'F') {
      d = ch - 'A' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *high = v;
  return true;
}

}  // namespace

EventBuilder::EventBuilder(Options options) : options_(options) {
  options_.max_depth = std::max(1, options_.max_depth);
  json_options_.max_depth = options_.max_depth;
  levels_.resize(static_cast<size_t>(options_.max_depth));
}

absl::Status EventBuilder::Build(const decoder::Payload& payload, const decoder::ChunkView& chunk,
                                 const decoder::SpanView& span, BuiltEvent* out) {
  auto reset = [out] {
    out->key.trace_id.clear();
    out->key.span_id = 0;
    out->json.clear();
    out->truncated = false;
    out->untruncated_bytes = 0;
    out->tracer_version.clear();
    out->experiments_scope = false;
    out->json_stats = {};
    out->duplicate_keys = 0;
  };
  reset();
  auto fail = [&](absl::Status st) {
    parsed_ = nullptr;
    reset();
    return st;
  };
  if (!span.has_llmobs) {
    return fail(absl::InvalidArgumentError(Cat({"the span carries no ", kStructName})));
  }
  Parsed f;
  if (absl::Status st = Parse(span.llmobs, &f, &out->duplicate_keys); !st.ok()) return fail(st);
  parsed_ = &f;
  span_id_text_.clear();
  AppendInteger(span.span_id, &span_id_text_);
  apm_trace_id_.clear();
  AppendApmTraceId(payload, chunk, span, &apm_trace_id_);
  if (absl::Status st = Collect(span, out); !st.ok()) return fail(st);
  const JsonStats collected_stats = out->json_stats;
  const uint32_t collected_duplicates = out->duplicate_keys;
  if (absl::Status st = Emit(span, /*truncate=*/false, out); !st.ok()) return fail(st);
  out->untruncated_bytes = out->json.size();
  if (out->json.size() >= options_.max_event_bytes) {
    out->json_stats = collected_stats;
    out->duplicate_keys = collected_duplicates;
    if (absl::Status st = Emit(span, /*truncate=*/true, out); !st.ok()) return fail(st);
    out->truncated = true;
  }
  AppendRepairedUtf8(f.trace_id.value, &out->key.trace_id, nullptr);
  out->key.span_id = span.span_id;
  parsed_ = nullptr;
  return absl::OkStatus();
}

void AppendApmTraceId(const decoder::Payload& payload, const decoder::ChunkView& chunk,
                      const decoder::SpanView& span, std::string* out) {
  uint64_t high = 0;
  auto usable = [&high](const decoder::SpanView& s) {
    return s.has_tid && ParseTid(s.tid, &high) && high != 0;
  };
  bool found = chunk.span_count > 0 && usable(*payload.chunk_begin(chunk));
  if (!found) found = usable(span);
  for (const decoder::SpanView* s = payload.chunk_begin(chunk);
       !found && s != payload.chunk_end(chunk); ++s) {
    found = usable(*s);
  }
  if (found) {
    AppendHex16(high, out);
    AppendHex16(span.trace_id, out);
  } else {
    AppendInteger(span.trace_id, out);
  }
}

void AppendIntakeEnvelope(const IntakeEvent& event, std::string_view default_tracer_version,
                          std::string* out) {
  out->append(event.experiments_scope ? "{\"_dd.scope\":\"experiments\",\"_dd.stage\":\"raw\""
                                      : "{\"_dd.stage\":\"raw\"");
  out->append(",\"_dd.tracer_version\":");
  decoder::AppendJsonString(
      event.tracer_version.empty() ? default_tracer_version : event.tracer_version, out);
  out->append(",\"event_type\":\"span\",\"spans\":[");
  out->append(event.json);
  out->append("]}");
}

std::string BuildIntakeBody(const std::vector<IntakeEvent>& events,
                            std::string_view default_tracer_version) {
  size_t size = 2;
  for (const IntakeEvent& e : events) size += e.json.size() + e.tracer_version.size() + 128;
  std::string body;
  body.reserve(size);
  body.push_back('[');
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) body.push_back(',');
    AppendIntakeEnvelope(events[i], default_tracer_version, &body);
  }
  body.push_back(']');
  return body;
}

}  // namespace llmobs_edge::rescue
